"""The message of an interrupted chunked command (sweep, psa): how many finished chunks
stay and how to continue; one helper serves both commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.commands import common
from sim.io.chunks import ChunkStore


def test_the_message_counts_the_finished_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(common.err, "print", lambda text, **_: said.append(text))
    common.say_chunks_kept(tmp_path)  # nothing started yet: no chunk folder
    store = ChunkStore(tmp_path)
    store.dir.mkdir(parents=True, exist_ok=True)
    for k in range(2):
        (store.dir / f"chunk_{k:05d}.parquet").write_bytes(b"")
    (store.dir / "other.txt").write_text("not a chunk")
    common.say_chunks_kept(tmp_path)
    assert said[0].startswith("cartsim: 0 finished chunk(s) kept in ")
    assert said[1] == f"cartsim: 2 finished chunk(s) kept in {store.dir}; rerun the same command with --resume"
