"""Sweeps in chunks that survive interruption: every finished chunk stays readable,
``--resume`` skips finished chunks and gives the table of an uninterrupted run, a
changed spec is refused, and the chunk size does not change results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim import api
from sim.io.chunks import ChunkStore, read_table, write_table
from sim.io.files import LOCK_NAME
from sim.model.errors import InputError
from sim.outcomes.sets import OUTCOME_NAMES
from sim.sweeps import designs
from sim.sweeps.runner import run_sweep

SC = api.as_scenario(None)
HORIZON = SC.run.horizon_days
PATIENTS = 1500
OUTCOME_COLS = ["set_id", *OUTCOME_NAMES, *(f"{n}_se" for n in OUTCOME_NAMES)]


class Interrupted(Exception):
    pass


def design():
    return designs.psa_design(SC, 20, prior=True, seed=2)


def run(out: Path, **kw):
    return run_sweep(design(), out, patients=kw.pop("patients", PATIENTS), seed=5, horizon_days=HORIZON,
                     chunk_sets=kw.pop("chunk_sets", 3), **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return run(tmp_path_factory.mktemp("ref"))[0]


def test_interrupt_then_resume_gives_the_uninterrupted_table(tmp_path, reference):
    def stop_after_third(chunk_id: int, finished: int) -> None:
        if finished == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        run(tmp_path, on_chunk=stop_after_third)
    store = ChunkStore(tmp_path)
    files = sorted(store.dir.glob("chunk_*.parquet"))
    assert [f.name for f in files] == ["chunk_00000.parquet", "chunk_00001.parquet", "chunk_00002.parquet"]
    for f in files:  # every finished chunk is a complete, readable table
        frame, meta = read_table(f)
        assert len(frame) == 3
        assert meta["spec_hash"] == store.read_manifest()["spec_hash"]
    assert not list(store.dir.glob(".*tmp"))  # no half-written temporaries
    computed = []
    results, info = run(tmp_path, resume=True, on_chunk=lambda c, n: computed.append(c))
    assert info["resumed_chunks"] == 3
    assert computed == [3, 4, 5, 6]  # 20 sets in chunks of 3: chunks 3..6 were left
    pd.testing.assert_frame_equal(results, reference, check_exact=True)


def test_resume_without_earlier_chunks_starts_afresh_and_rerun_replaces(tmp_path, reference):
    results, info = run(tmp_path, resume=True)
    assert info["resumed_chunks"] == 0
    pd.testing.assert_frame_equal(results, reference, check_exact=True)
    again, info = run(tmp_path, resume=True)  # all chunks finished: nothing recomputed
    assert info["computed_chunks"] == 0
    pd.testing.assert_frame_equal(again, reference, check_exact=True)
    fresh, info = run(tmp_path)  # without --resume the chunks are replaced
    assert info["computed_chunks"] == 7
    pd.testing.assert_frame_equal(fresh, reference, check_exact=True)


def test_resume_with_a_different_spec_is_refused(tmp_path):
    run(tmp_path)
    with pytest.raises(InputError, match="patients was 1500, now 1600"):
        run(tmp_path, resume=True, patients=1600)
    with pytest.raises(InputError, match="chunk_sets was 3, now 4"):
        run(tmp_path, resume=True, chunk_sets=4)


def test_a_damaged_chunk_is_recomputed_on_resume(tmp_path, reference):
    run(tmp_path)
    store = ChunkStore(tmp_path)
    store.chunk_path(2).write_bytes(b"not parquet")
    store.chunk_path(5).unlink()
    computed = []
    results, _ = run(tmp_path, resume=True, on_chunk=lambda c, n: computed.append(c))
    assert sorted(computed) == [2, 5]
    pd.testing.assert_frame_equal(results, reference, check_exact=True)


@pytest.mark.parametrize("damage", ["text-column", "infinite-outcome", "truncated"])
def test_a_chunk_with_valid_metadata_but_bad_values_is_recomputed(tmp_path, reference, damage):
    """A chunk that reads and carries the right spec hash is still not trusted when an
    outcome column holds text or an infinity, or the file is cut short."""
    run(tmp_path)
    store = ChunkStore(tmp_path)
    path = store.chunk_path(1)
    frame, meta = read_table(path)
    if damage == "text-column":
        frame["os_m12"] = frame["os_m12"].map(lambda x: f"{x:.3f}")
    elif damage == "infinite-outcome":
        frame.loc[0, "os_m12"] = float("inf")
    if damage == "truncated":
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    else:
        write_table(path, frame, meta)
    computed = []
    results, _ = run(tmp_path, resume=True, on_chunk=lambda c, n: computed.append(c))
    assert computed == [1]
    pd.testing.assert_frame_equal(results, reference, check_exact=True)


def test_chunk_size_does_not_change_results(tmp_path, reference):
    results, info = run(tmp_path, chunk_sets=8)
    assert info["chunks"] == 3
    pd.testing.assert_frame_equal(results[OUTCOME_COLS], reference[OUTCOME_COLS], check_exact=True)


# --- a killed process ------------------------------------------------------------------------

@pytest.mark.slow  # three cartsim processes: ~35 s on 2 shared cores
def test_killed_process_resumes_to_the_same_table(tmp_path):
    """SIGKILL a real `cartsim sweep psa` once some chunks exist (no chance to clean up);
    `--resume` then finishes it and the table equals an uninterrupted run's."""
    args = ["sweep", "psa", "--prior", "--draws", "240", "--patients", "3000", "--chunk-sets", "4", "--seed", "8"]
    cmd = [sys.executable, "-m", "sim.cli", *args]
    proc = subprocess.Popen([*cmd, "--out", "killed"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    chunks = tmp_path / "killed" / "chunks"
    deadline = time.monotonic() + 300  # a cold numba cache costs ~40 s of compilation
    try:
        while time.monotonic() < deadline and proc.poll() is None and len(list(chunks.glob("chunk_*.parquet"))) < 2:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    n_before = len(list(chunks.glob("chunk_*.parquet")))
    assert 2 <= n_before < 60
    assert (tmp_path / "killed" / LOCK_NAME).is_file()  # the kill left its lock file; the lock itself died with it
    resumed = subprocess.run([*cmd, "--out", "killed", "--resume", "--json"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f'"resumed_chunks": {n_before}' in resumed.stdout
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == [  # nothing hidden left behind
        "chunks", "psa.png", "summary.json", "sweep.parquet"]
    whole = subprocess.run([*cmd, "--out", "whole"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           check=False)
    assert whole.returncode == 0, whole.stderr
    a, meta_a = read_table(tmp_path / "killed" / "sweep.parquet")
    b, meta_b = read_table(tmp_path / "whole" / "sweep.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert meta_a["spec_hash"] == meta_b["spec_hash"]
