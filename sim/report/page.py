"""``cartsim report DIR``: one self-contained HTML page from an output folder of ``run``,
``compare``, ``sweep``, ``power`` or ``validate``, the kind told by the files present.

Each kind gets its summary tables (every number with its interval, or the reason it
has none), its figures and its provenance (cartsim version, seed, scenario, parameter
hash: from the Parquet metadata key ``cartsim`` and the JSON)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sim.io.files import OutputSet
from sim.model.errors import InputError
from sim.report import sections
from sim.report.html import page, read_json

#: kind -> the file whose presence tells it (checked in this order)
MARKERS: tuple[tuple[str, str], ...] = (
    ("compare", "compare.json"), ("power", "power.json"), ("validate", "validation.json"),
    ("sweep", "sweep.parquet"), ("run", "patients.parquet"), ("run", "summary.json"),
)
ORDER = ("run", "compare", "sweep", "power", "validate")
SWEEP_KINDS = ("oneway", "twoway", "psa", "sobol", "morris")
REPORT_NAME = "report.html"


def detect_kinds(folder: Path) -> list[str]:
    """The outputs in ``folder``, in report order: run, compare, sweep, power, validate
    (one folder may hold several: they share the default ``cartsim_output``)."""
    if not folder.is_dir():
        raise InputError(str(folder), "", "not a folder", "an output folder of cartsim run, compare, sweep, "
                         "power or validate")
    found = []
    for kind, name in MARKERS:
        if (folder / name).is_file():
            is_sweep = name == "summary.json" and read_json(folder / name).get("kind") in SWEEP_KINDS
            found.append("sweep" if is_sweep else kind)
    if not found:
        raise InputError(str(folder), "", "no cartsim output found", "a folder holding one of "
                         + ", ".join(dict.fromkeys(name for _, name in MARKERS)))
    return [k for k in ORDER if k in found]


BUILDERS: dict[str, Callable[[Path], tuple[str, str, list[str]]]] = {
    "run": sections.run_report, "compare": sections.compare_report, "sweep": sections.sweep_report,
    "power": sections.power_report, "validate": sections.validate_report,
}


def build_report(folder: Path | str) -> tuple[list[str], str]:
    """(kinds found, HTML text) of the report of an output folder."""
    folder = Path(folder)
    kinds = detect_kinds(folder)
    blocks = [BUILDERS[kind](folder) for kind in kinds]
    title = blocks[0][0] if len(blocks) == 1 else f"cartsim report: {folder.name or folder.resolve().name}"
    return kinds, page(title, blocks)


def write_report(folder: Path | str, out: Path | str | None = None) -> Path:
    """Write the report of ``folder`` to ``out`` (default ``folder/report.html``),
    atomically; returns its path."""
    folder = Path(folder)
    _, text = build_report(folder)
    target = Path(out) if out is not None else folder / REPORT_NAME
    if target.is_dir():
        raise InputError("command line", "--out", f"{str(target)!r} is a folder", "a file path for the HTML page")
    # the folder's lock and staging, like every other command's outputs
    with OutputSet(target.parent if str(target.parent) else Path(".")) as outs:
        outs.stage(target.name).write_text(text, encoding="utf-8")
    return target
