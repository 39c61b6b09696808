"""Reading parameter and scenario files, and writing outputs atomically.

Every write goes to a temporary name in the target folder and is renamed into place,
so an interrupted run never leaves a half-written file where a good one stood.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim.model.errors import InputError
from sim.model.parameter_set import ParameterSet
from sim.model.scenario import Scenario, build_scenario, check_structure

#: the project's top level (params/, scenarios/ sit beside the sim package)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARAMS_DIR = PROJECT_ROOT / "params"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
BASELINE_SCENARIO = SCENARIOS_DIR / "baseline.toml"


def read_toml(path: Path | str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "", "file not found", "an existing TOML file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), "", f"not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "", "not a UTF-8 text file", "a TOML file") from None


def load_parameter_set(path: Path | str) -> ParameterSet:
    return ParameterSet.from_document(read_toml(path), str(path))


def resolve_scenario_path(name: str | Path | None) -> Path:
    """A scenario path; None means the built-in baseline, and a bare name is looked
    up in scenarios/ ("baseline" -> scenarios/baseline.toml)."""
    if name is None:
        return BASELINE_SCENARIO
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (SCENARIOS_DIR / path, SCENARIOS_DIR / f"{path}.toml"):
        if candidate.is_file():
            return candidate
    return path  # read_toml reports it as missing


def load_scenario(name: str | Path | None = None) -> Scenario:
    """Read and validate a scenario and its base parameter file."""
    path = resolve_scenario_path(name)
    doc = read_toml(path)
    check_structure(doc, str(path))
    base_name = doc.get("scenario", {}).get("base", "../params/defaults.toml")
    if not isinstance(base_name, str):
        raise InputError(str(path), "scenario.base", f"expected a file path, got {base_name!r}")
    base_path = (path.parent / base_name).resolve()
    if not base_path.is_file():
        raise InputError(str(path), "scenario.base", f"parameter file {base_name!r} not found",
                         "a path relative to the scenario file")
    base = load_parameter_set(base_path)
    return build_scenario(doc, str(path), base)


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path: Path | str, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def json_safe(obj: Any) -> Any:
    """A JSON-ready copy: NaN and infinities become None, numpy scalars plain numbers,
    dict keys strings (JSON has no NaN, and ``json.dumps(allow_nan=False)`` is used)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def check_out_dir(out: Path) -> None:
    """The output folder exists or can be made (checked before simulating)."""
    if out.exists() and not out.is_dir():
        raise InputError("command line", "--out", f"{str(out)!r} exists and is not a folder", "a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("command line", "--out", f"cannot create folder {str(out)!r} ({exc.strerror})") from None
