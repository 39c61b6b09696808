"""The package layering: imports run downward only, and no module is over 500 lines.

Every module of ``sim`` is parsed (``ast``, nothing imported) and each ``import sim...``
is checked against the layers below. A package may import its own modules and any
layer strictly below its own; a sideways import (another package of the same layer) or
an upward one fails. The few known exceptions are listed with their reasons; an entry
that no longer applies fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"
MAX_LINES = 500

# layer of each top-level package (or module) of sim; higher may import lower
LAYER = {
    "model": 0,     # what the pathway is; plain Python
    "stats": 0,     # survival, Cox, proportions: knows nothing of the pathway
    "engine": 1,    # how the pathway is simulated
    "io": 1,        # every file read and written (parses into model objects)
    "outcomes": 2,  # endpoints from patient records
    "whatif": 3,    # feature packages: receive parsed data, never read files
    "sweeps": 3,
    "calibration": 3,
    "trials": 3,
    "economics": 3,  # decision analysis and value of information: pure functions of arrays
    "report": 4,    # figures and the HTML page of the features' results
    "api": 5,       # joins io to the features, one module per workflow
    "commands": 6,  # options, progress bars and tables
    "cli": 7,
    "__init__": 8,  # sim itself re-exports the api
}
FEATURES = {"whatif", "sweeps", "calibration", "trials", "economics"}
STATS_MAY_IMPORT = {"sim.model.errors"}

# (importing module, imported module) -> why it is allowed for now
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("sim.sweeps.runner", "sim.io.chunks"):
        "the resumable runner writes each finished chunk as it goes (resuming needs it on disk)",
    ("sim.whatif.result", "sim.io.files"): "json_safe (JSON-ready numbers, no file access) lives in sim.io.files",
}
# module -> why it may exceed MAX_LINES for now
LONG_MODULES: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SIM.rglob("*.py")):
        parts = path.relative_to(SIM.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, name: str) -> set[str]:
    """Every sim module or package the file imports (``from sim import api`` -> sim.api)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name == "sim" or a.name.startswith("sim.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            if base == "sim":
                found |= {f"sim.{a.name}" for a in node.names}
            elif base.startswith("sim."):
                found.add(base)
    return found


def _layer_key(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_layer():
    keys = {_layer_key(m) for m in _modules()}
    assert keys <= set(LAYER), f"packages without a layer: {sorted(keys - set(LAYER))}"


def violations() -> dict[tuple[str, str], str]:
    bad = {}
    for name, path in _modules().items():
        own = _layer_key(name)
        for target in _imports(path, name):
            other = _layer_key(target)
            if other == own:
                continue
            if own == "stats" and target not in STATS_MAY_IMPORT:
                bad[name, target] = "stats imports nothing of sim but sim.model.errors"
            elif LAYER[other] >= LAYER[own]:
                side = "sideways" if LAYER[other] == LAYER[own] else "upward"
                bad[name, target] = f"{side} import: {own} (layer {LAYER[own]}) -> {other} (layer {LAYER[other]})"
    return bad


def feature_file_access() -> set[tuple[str, str]]:
    """Feature packages never read files: any import of sim.io from them."""
    return {(name, target) for name, path in _modules().items() if _layer_key(name) in FEATURES
            for target in _imports(path, name) if _layer_key(target) == "io"}


def test_imports_run_downward_only():
    bad = {k: v for k, v in violations().items() if k not in EXCEPTIONS}
    assert not bad, "\n".join(f"{a} imports {b}: {why}" for (a, b), why in sorted(bad.items()))


def test_feature_packages_read_no_files():
    bad = feature_file_access() - set(EXCEPTIONS)
    assert not bad, f"feature modules importing sim.io: {sorted(bad)}"


def test_exceptions_are_still_needed():
    used = feature_file_access() | set(violations())
    stale = set(EXCEPTIONS) - used
    assert not stale, f"exceptions that no longer apply (remove them): {sorted(stale)}"


def test_no_module_over_500_lines():
    lengths = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    long = {n: k for n, k in lengths.items() if k > MAX_LINES and n not in LONG_MODULES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    stale = {n for n in LONG_MODULES if lengths.get(n, 0) <= MAX_LINES}
    assert not stale, f"no longer over {MAX_LINES} lines (remove from LONG_MODULES): {sorted(stale)}"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The rule itself: an engine module importing the api is caught."""
    path = tmp_path / "bad.py"
    path.write_text("from sim.api.runs import run\nfrom sim import report\n")
    assert _imports(path, "sim.engine.bad") == {"sim.api.runs", "sim.report"}
    assert LAYER[_layer_key("sim.api.runs")] > LAYER[_layer_key("sim.engine.bad")]


def test_the_compile_cache_hash_covers_every_compiled_package():
    """A stale numba cache appears when compiled code inlines a changed file the hash misses."""
    from sim.engine import COMPILED_PACKAGES

    compiled = {_layer_key(name) for name, path in _modules().items() if "njit" in path.read_text()}
    assert compiled <= set(COMPILED_PACKAGES), f"compiled code outside the hashed packages: {compiled}"


def test_test_folders_mirror_the_packages():
    """tests/<package>/ for the packages of sim; tests/cli/ for README, terminal and CLI-process tests."""
    tests = Path(__file__).resolve().parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    packages = {p.name for p in SIM.iterdir() if (p / "__init__.py").is_file()}
    assert folders <= packages | {"cli"}, f"test folders without a package: {sorted(folders - packages - {'cli'})}"
    assert not [p.name for p in tests.glob("test_*.py") if p.name not in {"test_layering.py", "test_lint.py",
                                                                        "test_types.py"}]


def test_every_package_says_what_it_holds():
    """Each package's __init__.py has a docstring (what it holds, what it may import)."""
    bare = [p.parent.name for p in SIM.rglob("__init__.py") if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not bare, f"packages without a docstring: {bare}"
