"""Chunk files of a sweep: what survives an interruption.

Layout under the sweep's output folder::

    chunks/manifest.json        the sweep spec, its hash, sets and chunk size
    chunks/design.parquet       the parameter sets (set_id, design and parameter columns)
    chunks/chunk_00012.parquet  outcome rows of sets 12*chunk_sets .. (one per set)

Every file is written to a temporary name and renamed into place (``atomic_write``), so
a process killed at any moment leaves each chunk either complete or absent. A chunk
records the spec hash and its chunk id in its metadata; on resume a chunk is trusted
only if it is readable, carries the manifest's hash and holds the expected set ids.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.io.files import atomic_write, write_json
from sim.model.errors import InputError

METADATA_KEY = b"cartsim"
_CHUNK = re.compile(r"^chunk_(\d{5,})\.parquet$")


def _with_meta(frame: pd.DataFrame, meta: dict[str, Any]) -> pa.Table:
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    md = dict(arrow.schema.metadata or {})
    md[METADATA_KEY] = json.dumps(meta, sort_keys=True, allow_nan=False).encode()
    return arrow.replace_schema_metadata(md)


def write_table(path: Path | str, frame: pd.DataFrame, meta: dict[str, Any]) -> Path:
    """A Parquet file with ``meta`` (JSON) under the 'cartsim' metadata key, atomically."""
    arrow = _with_meta(frame, meta)
    return atomic_write(path, lambda tmp: pq.write_table(arrow, tmp, compression="zstd"))


def read_table(path: Path | str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table written by :func:`write_table` and its metadata; unreadable is an InputError."""
    path = Path(path)
    try:
        arrow = pq.read_table(path)
        raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
        meta = json.loads(raw) if raw else {}
        frame = arrow.to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:  # JSON and Unicode errors are ValueErrors
        raise InputError(str(path), "", f"not a readable sweep file ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(str(path), "metadata.cartsim", "metadata is not a JSON object", "a file written by cartsim")
    return frame, meta


def _sound(frame: pd.DataFrame, set_ids: list[int]) -> bool:
    """A chunk's rows are the expected sets and every other column is a float column
    (outcomes and their SEs: finite, or NaN where an outcome is undefined); a chunk
    edited or damaged by hand fails and is recomputed."""
    if "set_id" not in frame.columns or frame["set_id"].tolist() != set_ids:
        return False
    values = frame.drop(columns="set_id")
    if not all(pd.api.types.is_float_dtype(t) for t in values.dtypes):
        return False
    return not np.isinf(values.to_numpy()).any()


class ChunkStore:
    """The ``chunks/`` folder of one sweep output folder."""

    def __init__(self, out_dir: Path | str) -> None:
        self.dir = Path(out_dir) / "chunks"
        self.manifest_path = self.dir / "manifest.json"
        self.design_path = self.dir / "design.parquet"

    def chunk_path(self, chunk_id: int) -> Path:
        return self.dir / f"chunk_{chunk_id:05d}.parquet"

    def read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.is_file():
            return None
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(self.manifest_path), "", f"not a readable sweep manifest ({exc})",
                             "a manifest written by cartsim sweep, or another --out") from None
        if not isinstance(manifest, dict) or "spec_hash" not in manifest:
            raise InputError(str(self.manifest_path), "spec_hash", "missing from the sweep manifest",
                             "a manifest written by cartsim sweep, or another --out")
        return manifest

    def start(self, manifest: dict[str, Any], design: pd.DataFrame) -> None:
        """A fresh sweep: earlier chunks are removed, then the manifest and design written."""
        self.clear()
        self.dir.mkdir(parents=True, exist_ok=True)
        write_table(self.design_path, design, {"spec_hash": manifest["spec_hash"]})
        write_json(self.manifest_path, manifest)

    def clear(self) -> None:
        if not self.dir.is_dir():
            return
        for path in self.dir.iterdir():
            if _CHUNK.match(path.name) or path.name in ("manifest.json", "design.parquet"):
                path.unlink()

    def write_chunk(self, chunk_id: int, frame: pd.DataFrame, spec_hash: str) -> Path:
        return write_table(self.chunk_path(chunk_id), frame, {"spec_hash": spec_hash, "chunk_id": chunk_id})

    def read_chunk(self, chunk_id: int) -> pd.DataFrame:
        return read_table(self.chunk_path(chunk_id))[0]

    def finished(self, spec_hash: str, expected_ids: dict[int, list[int]]) -> set[int]:
        """Chunk ids whose file is readable, belongs to this spec and holds the expected
        set ids (``expected_ids``: chunk id -> set ids); anything else is recomputed."""
        done: set[int] = set()
        if not self.dir.is_dir():
            return done
        for path in self.dir.iterdir():
            m = _CHUNK.match(path.name)
            if not m or int(m.group(1)) not in expected_ids:
                continue
            cid = int(m.group(1))
            try:
                frame, meta = read_table(path)
            except InputError:
                continue
            if meta.get("spec_hash") == spec_hash and meta.get("chunk_id") == cid and _sound(frame, expected_ids[cid]):
                done.add(cid)
        return done

    def assemble(self, n_chunks: int) -> pd.DataFrame:
        """Every chunk's rows, in chunk order (hence set order)."""
        return pd.concat([self.read_chunk(c) for c in range(n_chunks)], ignore_index=True)
