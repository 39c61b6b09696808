"""Patient-level Parquet files with provenance (seed, scenario, parameter hash) in
the file metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.io.files import atomic_write
from sim.model.errors import InputError

METADATA_KEY = b"cartsim"


def write_patients(path: Path | str, table: pd.DataFrame, provenance: dict[str, Any]) -> Path:
    """Write a patient table with ``provenance`` (JSON) under the 'cartsim' metadata key."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(provenance, sort_keys=True).encode()
    arrow = arrow.replace_schema_metadata(meta)
    return atomic_write(path, lambda tmp: pq.write_table(arrow, tmp, compression="zstd"))


def write_events(path: Path | str, table: pd.DataFrame, provenance: dict[str, Any]) -> Path:
    """Write the SimPy engine's event log (same provenance metadata as the patients)."""
    return write_patients(path, table, provenance)


def read_patients(path: Path | str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a patient table and its provenance; a missing or corrupt file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "", "file not found", "a Parquet file written by cartsim")
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(str(path), "", f"not a readable Parquet file ({exc})") from None
    raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
    try:
        provenance = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(str(path), "metadata.cartsim", "provenance metadata is not valid JSON",
                         "a file written by cartsim") from None
    if not isinstance(provenance, dict):
        raise InputError(str(path), "metadata.cartsim", "provenance metadata is not a JSON object")
    return arrow.to_pandas(), provenance
