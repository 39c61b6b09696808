"""Patient-level Parquet files with provenance (seed, scenario, parameter hash) in
the file metadata."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.io.files import atomic_write
from sim.model.errors import InputError

METADATA_KEY = b"cartsim"
#: rows per Parquet row group of a patient file (the writer holds one group at a time)
ROW_GROUP_PATIENTS = 1 << 20


class PatientWriter:
    """A patient Parquet file written a row group at a time from record columns (any
    mapping of column name to array, e.g. :class:`sim.model.outputs.Records`), straight
    from the arrays: no pandas. Written to a temporary name beside ``path`` and renamed
    into place when the ``with`` block ends without an error (removed otherwise).
    NaN in a float column is stored as null, as pandas' conversion stores it."""

    def __init__(self, path: Path | str, names: list[str], provenance: dict[str, Any]) -> None:
        self.path = Path(path)
        self.names = names
        self.provenance = provenance
        self._tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> PatientWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(name)
        return self

    def write(self, cols: Mapping[str, np.ndarray]) -> None:
        """Append the rows of ``cols`` (one or more row groups)."""
        n = len(np.asarray(cols[self.names[0]]))
        for start in range(0, max(n, 1), ROW_GROUP_PATIENTS):
            stop = min(n, start + ROW_GROUP_PATIENTS)
            arrays = [_arrow(np.asarray(cols[c])[start:stop]) for c in self.names]
            if self._writer is None:
                schema = self._schema(cols, arrays)
                # no dictionaries: float times are nearly all distinct, and trying a dictionary
                # per column page cost more than the compression (2x the write time, larger files)
                self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd", use_dictionary=False)
            self._writer.write_batch(pa.record_batch(arrays, schema=self._writer.schema))

    def _schema(self, cols: Mapping[str, np.ndarray], arrays: list[pa.Array]) -> pa.Schema:
        # the pandas metadata of the equivalent DataFrame: read back, the file gives the same table
        empty = pd.DataFrame({c: np.asarray(cols[c])[:0] for c in self.names})
        meta = dict(pa.Schema.from_pandas(empty, preserve_index=False).metadata or {})
        meta[METADATA_KEY] = json.dumps(self.provenance, sort_keys=True).encode()
        return pa.schema([pa.field(c, a.type) for c, a in zip(self.names, arrays, strict=True)], metadata=meta)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._tmp is not None
        try:
            if self._writer is not None:
                self._writer.close()
            if kind is None:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp creates 0600
                os.replace(self._tmp, self.path)
        finally:
            if self._tmp.exists():
                self._tmp.unlink()


def _arrow(values: np.ndarray) -> pa.Array:
    """An Arrow array of a record column, NaN as null (an explicit mask: a third cheaper
    than pandas-style conversion)."""
    return pa.array(values, mask=np.isnan(values)) if values.dtype.kind == "f" else pa.array(values)


def write_patients(path: Path | str, table: pd.DataFrame | Mapping[str, np.ndarray],
                   provenance: dict[str, Any]) -> Path:
    """Write a patient table with ``provenance`` (JSON) under the 'cartsim' metadata key:
    record columns in row groups (:class:`PatientWriter`), or a DataFrame."""
    if not isinstance(table, pd.DataFrame):
        with PatientWriter(path, list(table), provenance) as writer:
            writer.write(table)
        return Path(path)
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
