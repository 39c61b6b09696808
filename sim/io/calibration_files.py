"""Writing the calibration's outputs: the posterior sample (``params/posterior.parquet``,
read back by :mod:`sim.model.posterior`) and the point values (``params/calibrated.toml``,
a copy of the defaults with the calibrated values replaced)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.io.files import atomic_write
from sim.model.posterior import METADATA_KEY


def write_posterior(path: Path | str, labels: list[str], values: np.ndarray, meta: dict[str, Any]) -> Path:
    """One row per draw: draw_id and one float64 column per calibrated theta slot."""
    cols = {"draw_id": pa.array(np.arange(values.shape[0], dtype=np.int64))}
    cols.update({lab: pa.array(values[:, j].astype(np.float64)) for j, lab in enumerate(labels)})
    table = pa.table(cols)
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _toml_value(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(f"{x:.6g}" for x in v) + "]"
    return f"{v:.6g}"


def write_calibrated(defaults_path: Path | str, out_path: Path | str, points: dict[str, Any], header: str,
                     notes: dict[str, str]) -> Path:
    """A copy of the defaults file with each calibrated parameter's ``value`` replaced
    by ``points[name]`` and a comment saying where it came from (``notes[name]``)."""
    text = Path(defaults_path).read_text(encoding="utf-8")
    body_start = text.index("\n[")  # the defaults' own header comment is replaced
    text = text[body_start + 1:]
    for name, value in points.items():
        pattern = re.compile(r"(^\[" + re.escape(name) + r"\]\n)value = [^\n]*\n", re.MULTILINE)
        if not pattern.search(text):
            raise ValueError(f"{defaults_path}: no value line for [{name}]")

        def calibrated(m: re.Match[str], v: Any = value, n: str = name) -> str:
            return f"{m.group(1)}# calibrated: {notes[n]}\nvalue = {_toml_value(v)}\n"

        text = pattern.sub(calibrated, text, count=1)
    content = header.rstrip("\n") + "\n\n" + text

    def write(tmp: Path) -> None:
        tmp.write_text(content, encoding="utf-8")

    return atomic_write(out_path, write)
