"""``cartsim compare``: what-if scenarios with common random numbers and paired intervals."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sim.api import CompareResult, as_scenario, compare
from sim.commands.common import NOT_ESTIMABLE, err, progress_bar, stdout_console
from sim.io.files import OutputSet, write_json
from sim.model.errors import InputError
from sim.model.limits import check_option
from sim.whatif.estimators import DEFAULT_BOOTSTRAP


def register(app: typer.Typer) -> None:
    app.command(name="compare")(compare_command)


def _fmt(x: float | None, unit: str, signed: bool = False) -> str:
    if x is None:
        return NOT_ESTIMABLE
    sign = "+" if signed else ""
    if unit == "probability":
        return f"{100 * x:{sign}.1f}" + (" pp" if signed else "%")
    if unit == "days":
        return f"{x:{sign}.0f} d"
    return f"{x:{sign}.3f}"


def _table(result: CompareResult, k: int) -> Table:
    ref, sc = result.scenarios[0].name, result.scenarios[k].name
    table = Table(title=f"cartsim compare: {sc} vs {ref} ({result.patients:,} patients each, seed {result.seed}, "
                  "common random numbers)", title_justify="left")
    table.add_column("outcome (first infusion; times from infusion)")
    table.add_column(ref, justify="right")
    table.add_column(sc, justify="right")
    table.add_column("difference", justify="right")
    table.add_column(f"{100 * result.level:.0f}% CI (paired)", justify="right")
    table.add_column("CRN gain", justify="right")
    for row in result.differences:
        if row["scenario_index"] != k:
            continue
        unit = row["unit"]
        ci = (row.get("not_estimable") or NOT_ESTIMABLE) if row["diff_low"] is None else (
            f"{_fmt(row['diff_low'], unit, True)} to {_fmt(row['diff_high'], unit, True)}")
        gain = row["variance_reduction"]
        if gain is not None:
            gain_text = f"{gain:.1f}x"
        else:  # a paired SE of exactly 0: the change cannot reach this outcome
            gain_text = "identical" if row["se_paired"] == 0.0 else "-"
        # a median with no value was not reached (the curve stays above 1/2)
        values = ["not reached" if x is None and row["outcome"].endswith("_median_days") else _fmt(x, unit)
                  for x in (row["reference_value"], row["value"])]
        table.add_row(row["label"], *values, _fmt(row["diff"], unit, True), ci, gain_text)
    return table


def compare_command(
    scenarios: Annotated[list[str], typer.Argument(help="two or more scenario TOML files or names in scenarios/; "
                                                   "differences are against the first")],
    patients: Annotated[int | None, typer.Option(help="patients per scenario (default: the first scenario's)")] = None,
    seed: Annotated[int | None, typer.Option(help="root seed shared by all scenarios (default: the first "
                                             "scenario's)")] = None,
    threads: Annotated[int | None, typer.Option(help="kernel threads (default: all cores)")] = None,
    bootstrap: Annotated[int, typer.Option(help="paired bootstrap replicates for survival outcomes")]
    = DEFAULT_BOOTSTRAP,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("cartsim_output"),
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Compare scenarios with common random numbers: paired differences against the first with 95% CIs and the
    variance reduction; writes compare.json and compare.png."""
    from sim.report.compare_figures import compare_figure  # noqa: PLC0415 - matplotlib only when needed

    if len(scenarios) < 2:
        raise InputError("command line", "SCENARIOS", f"need at least 2 scenarios to compare, got {len(scenarios)}",
                         "two or more scenario files or names")
    check_option("--patients", patients, "patients")
    check_option("--bootstrap", bootstrap, "bootstrap")
    loaded = [as_scenario(name) for name in scenarios]  # bad input is reported before the folder is taken
    outs = OutputSet(out).open()  # locked and checked before simulating
    kwargs: dict[str, Any] = {"patients": patients, "seed": seed, "threads": threads, "bootstrap": bootstrap}
    if err.is_terminal:
        with progress_bar() as bar:
            task = bar.add_task("simulating", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = compare(loaded, progress=tick, **kwargs)
    else:  # no bar when stderr is a file or a pipe
        result = compare(loaded, **kwargs)
    for note in result.notes:
        err.print(f"cartsim: note: {note}", highlight=False, soft_wrap=True)
    doc = result.to_dict()
    write_json(outs.stage("compare.json"), doc)
    compare_figure(result, outs.stage("compare.png"))
    outs.commit()
    if json_out:
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
        return
    console = stdout_console()
    for k in range(1, len(result.scenarios)):
        console.print(_table(result, k))
    console.print(f"CI method: rates and means by the delta method on paired patients; survival outcomes by a paired "
                  f"bootstrap over patient ids ({result.bootstrap} replicates). CRN gain = variance of the "
                  f"independent-samples difference / variance of the paired difference.")
    console.print(f"compared in {result.elapsed_s:.1f} s (simulation {result.simulate_s:.1f} s); wrote "
                  + ", ".join(map(str, outs.written)))
