"""Chunked, resumable execution of a sweep, locally or on a Dask cluster.

The parameter sets of a design are cut into chunks of ``chunk_sets`` consecutive sets.
Each chunk is simulated and reduced (:func:`compute_chunk`) and its outcome rows are
written as one file (``sim.io.chunks``) by the process that runs the sweep, as soon as
the chunk is done; the final table is the chunks read back in chunk order. A chunk's
result depends only on its parameter sets, their set ids, the seed, the number of
patients, the horizon and the common-random-numbers switch, never on where or in which
order it ran: a resumed, a local and a Dask run give the same table, bit for bit.

What a sweep is (and so what ``--resume`` must find unchanged) is its *spec*: kind,
scenario and parameter hash, seed, patients, horizon, CRN, chunk size, the design's
options, a hash of the parameter-set matrix and a hash of the simulation code. The
manifest stores the spec and its SHA-256; a resume with a different spec is refused.

Dask: ``cluster="tcp://host:port"`` connects to a running scheduler (short connect
timeout; unreachable is an InputError), ``cluster="local"`` starts a ``LocalCluster`` of
one single-threaded worker process per core. Workers run each chunk serially without
numba's thread pool (one task per worker thread), so cores are not oversubscribed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.io.chunks import ChunkStore
from sim.model.errors import InputError
from sim.model.limits import check_option
from sim.outcomes.sets import OUTCOME_NAMES, simulate_sets
from sim.sweeps.designs import Design

CHUNK_SETS = 64
CONNECT_TIMEOUT_S = 5
#: the Dask handshake's deadline, inside CONNECT_TIMEOUT_S with room for importing Dask
HANDSHAKE_TIMEOUT_S = 4.0
#: a sweep whose scheduler has had no worker this long stops with an error
WORKER_LOSS_TIMEOUT_S = 120.0
POLL_S = 1.0  # how often a Dask sweep looks at its workers while it waits
_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$")
SetsProgress = Callable[[int, int], None]
ChunkHook = Callable[[int, int], None]  # (chunk id, chunks finished so far)
#: what a chunk computes: (theta rows, set ids, seed, patients, horizon days, crn, threads=) -> (values, SEs),
#: each shaped (sets, len(names)); a module-level function, so that Dask can send it to workers
ChunkTask = Callable[..., tuple[np.ndarray, np.ndarray]]


def code_hash() -> str:
    """SHA-256 (16 hex) of the simulation code: engine, model, the statistics it inlines and
    the sweep reduction."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in [*sorted((root / "engine").glob("*.py")), *sorted((root / "model").glob("*.py")),
                 *sorted((root / "stats").glob("*.py")), root / "outcomes" / "sets.py"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _task_hash(task: ChunkTask) -> str:
    """SHA-256 (16 hex) of the source file of a chunk task other than the sweep's own."""
    module = __import__(task.__module__, fromlist=["_"])
    return hashlib.sha256(Path(module.__file__ or "").read_bytes()).hexdigest()[:16]


def sweep_spec(design: Design, patients: int, seed: int, horizon_days: float, crn: bool,
               chunk_sets: int, task: ChunkTask | None = None,
               names: Sequence[str] = OUTCOME_NAMES) -> dict[str, Any]:
    """Everything that determines a sweep's results (JSON-ready); a ``task`` other than
    :func:`compute_chunk` adds its name and the hash of its module's source."""
    sc = design.scenario
    extra = {} if task is None else {"task": f"{task.__module__}.{task.__qualname__}", "task_hash": _task_hash(task)}
    return {
        "kind": design.kind,
        "scenario": sc.name,
        "scenario_file": sc.file,
        "parameter_hash": sc.params.digest(),
        "seed": int(seed),
        "patients": int(patients),
        "horizon_days": float(horizon_days),
        "crn": bool(crn),
        "chunk_sets": int(chunk_sets),
        "sets": design.sets,
        "design": design.options,
        "thetas_hash": hashlib.sha256(np.ascontiguousarray(design.thetas).tobytes()).hexdigest()[:16],
        "outcomes": list(names),
        "code_hash": code_hash(),
        **extra,
    }


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def compute_chunk(thetas: np.ndarray, set_ids: np.ndarray, seed: int, patients: int, horizon_days: float,
                  crn: bool, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One chunk's outcome rows and MC SEs (the task sent to Dask workers)."""
    return simulate_sets(thetas, set_ids, seed, patients, horizon_days, crn=crn, threads=threads)


def outcome_frame(set_ids: np.ndarray, out: np.ndarray, se: np.ndarray,
                  names: Sequence[str] = OUTCOME_NAMES) -> pd.DataFrame:
    data: dict[str, Any] = {"set_id": np.asarray(set_ids, dtype=np.int64)}
    for k, name in enumerate(names):
        data[name] = out[:, k]
    for k, name in enumerate(names):
        data[f"{name}_se"] = se[:, k]
    return pd.DataFrame(data)


def check_cluster(cluster: str | None) -> None:
    if cluster is None or cluster == "local" or _ADDRESS.match(cluster):
        return
    raise InputError("command line", "--cluster", f"not a scheduler address: {cluster!r}",
                     "tcp://HOST:PORT (a running `dask scheduler`) or local")


_SCHEDULER_HINT = "the address printed by `dask scheduler` (tcp://HOST:8786), or local"


def check_scheduler(address: str, timeout_s: float = HANDSHAKE_TIMEOUT_S) -> None:
    """The Dask handshake within ``timeout_s``: connect, ask the server who it is and
    expect a scheduler's answer. ``distributed.Client`` alone can wait for ever on a
    server that accepts connections but never answers, and fails with a MemoryError on
    one that answers in another protocol (its first bytes are read as a frame length)."""
    from distributed.comm import connect  # noqa: PLC0415 - Dask only when asked for

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout_s)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def handshake() -> Any:
        return asyncio.run(asyncio.wait_for(identity(), timeout_s))

    host, port = address.split("://", 1)[1].rsplit(":", 1)
    try:  # first a plain connection: nothing listening is said apart from a server that is not Dask
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise InputError("command line", "--cluster", f"cannot reach a Dask scheduler at {address} within "
                         f"{timeout_s:g} s ({type(exc).__name__})", _SCHEDULER_HINT) from None
    # a thread of its own: the caller may already run an event loop (a notebook)
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            reply = pool.submit(handshake).result()
        except OSError as exc:  # TimeoutError included
            raise InputError("command line", "--cluster", f"no Dask scheduler answered at {address} within "
                             f"{timeout_s:g} s (the server accepts connections but gives no Dask handshake: "
                             f"{type(exc).__name__})", _SCHEDULER_HINT) from None
        except Exception as exc:  # whatever another protocol's bytes make of the decoder
            raise InputError("command line", "--cluster", f"{address} is not a Dask scheduler (its answer could "
                             f"not be read: {type(exc).__name__})", _SCHEDULER_HINT) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise InputError("command line", "--cluster", f"{address} answered as {kind!r}, not as a Dask scheduler",
                         _SCHEDULER_HINT)


@contextmanager
def dask_client(cluster: str, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` on a running scheduler, or on a LocalCluster started
    here (``"local"``: ``workers`` processes, default one per core, 1 thread each)."""
    check_cluster(cluster)
    from distributed import Client, LocalCluster  # noqa: PLC0415 - Dask only when asked for

    if cluster == "local":
        n = workers or os.cpu_count() or 1
        local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                             silence_logs=logging.ERROR, env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
        client = Client(local)
        try:
            yield client
        finally:
            client.close()
            local.close()
        return
    check_scheduler(cluster)
    try:
        client = Client(cluster, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise InputError("command line", "--cluster", f"cannot reach a Dask scheduler at {cluster} "
                         f"within {CONNECT_TIMEOUT_S} s ({type(exc).__name__})", _SCHEDULER_HINT) from None
    try:
        yield client
    finally:
        client.close()


def run_sweep(design: Design, out_dir: Path | str, *, patients: int, seed: int, horizon_days: float,
              crn: bool = True, chunk_sets: int = CHUNK_SETS, resume: bool = False, cluster: str | None = None,
              workers: int | None = None, threads: int | None = None, progress: SetsProgress | None = None,
              on_chunk: ChunkHook | None = None, task: ChunkTask | None = None,
              names: Sequence[str] = OUTCOME_NAMES) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Simulate every parameter set of ``design`` in chunks written under ``out_dir/chunks``.

    Returns the results table (the design table joined with outcomes and MC SEs, one
    row per set, in set order) and run information (spec, hash, chunks computed and
    resumed, timing). ``resume`` keeps the finished chunks of an earlier run with the same
    spec (a different spec is an InputError); without it, earlier chunks are replaced.
    ``on_chunk(chunk_id, finished)`` is called after each chunk file is written (a hook
    for progress reports and for tests that interrupt a sweep).
    """
    for key, value, limit in (("--patients", patients, "patients"), ("--chunk-sets", chunk_sets, "chunk_sets"),
                              ("--seed", seed, "seed"), ("--workers", workers, "workers")):
        check_option(key, value, limit)
    check_cluster(cluster)
    spec = sweep_spec(design, patients, seed, horizon_days, crn, chunk_sets, task, names)
    compute = compute_chunk if task is None else task
    digest = spec_hash(spec)
    n_sets = design.sets
    n_chunks = (n_sets + chunk_sets - 1) // chunk_sets
    ids = {c: list(range(c * chunk_sets, min(n_sets, (c + 1) * chunk_sets))) for c in range(n_chunks)}
    store = ChunkStore(out_dir)
    manifest = {"spec_hash": digest, "spec": spec, "sets": n_sets, "chunks": n_chunks, "chunk_sets": chunk_sets}
    done: set[int] = set()
    old = store.read_manifest() if resume else None
    if old is not None:
        if old["spec_hash"] != digest:
            raise InputError(str(store.manifest_path), "spec_hash",
                             f"--resume found a different sweep ({_first_difference(old.get('spec', {}), spec)})",
                             "the command line of the interrupted run, or another --out")
        done = store.finished(digest, ids)
    else:
        store.start(manifest, design.table)
    resumed = len(done)
    todo = [c for c in range(n_chunks) if c not in done]
    finished = len(done)
    sets_done = sum(len(ids[c]) for c in done)
    if progress is not None:
        progress(sets_done, n_sets)
    t0 = time.perf_counter()

    def record(cid: int, out: np.ndarray, se: np.ndarray) -> None:
        nonlocal finished, sets_done
        store.write_chunk(cid, outcome_frame(np.array(ids[cid]), out, se, names), digest)
        finished += 1
        sets_done += len(ids[cid])
        if progress is not None:
            progress(sets_done, n_sets)
        if on_chunk is not None:
            on_chunk(cid, finished)

    def args(cid: int) -> tuple[np.ndarray, np.ndarray, int, int, float, bool]:
        rows = np.array(ids[cid])
        return design.thetas[rows], rows, int(seed), int(patients), float(horizon_days), bool(crn)

    if cluster is None:
        for cid in todo:
            record(cid, *compute(*args(cid), threads=threads))
    elif todo:
        _run_on_dask(cluster, workers, todo, args, record, digest, compute)
    elapsed = time.perf_counter() - t0
    outcomes = store.assemble(n_chunks)
    if outcomes["set_id"].tolist() != list(range(n_sets)):
        raise RuntimeError("chunks do not cover the parameter sets")  # cannot happen: checked chunk by chunk
    results = pd.concat([design.table.reset_index(drop=True), outcomes.drop(columns="set_id")], axis=1)
    computed_sets = n_sets - sum(len(ids[c]) for c in done)
    info = {"spec": spec, "spec_hash": digest, "sets": n_sets, "chunks": n_chunks, "resumed_chunks": resumed,
            "computed_chunks": len(todo), "elapsed_s": elapsed, "cluster": cluster,
            "patients_per_s": computed_sets * patients / elapsed if elapsed > 0 and computed_sets else None}
    return results, info


def _run_on_dask(cluster: str, workers: int | None, todo: list[int], args: Callable[[int], tuple[Any, ...]],
                 record: Callable[[int, np.ndarray, np.ndarray], None], digest: str,
                 compute: ChunkTask = compute_chunk) -> None:
    from distributed import wait  # noqa: PLC0415

    if cluster == "local":
        # compile (or load from the per-user numba cache) once here, so that the
        # worker processes load the serial variant from the disk cache
        first = args(todo[0])
        compute(first[0][:1], first[1][:1], first[2], 1, first[4], first[5], threads=1)
    with dask_client(cluster, workers) as client:
        futures = {}
        for cid in todo:
            fut = client.submit(compute, *args(cid), threads=1, key=f"cartsim-sweep-{digest}-{cid:05d}")
            futures[fut] = cid
        pending = set(futures)
        last_worker = time.monotonic()
        try:
            while pending:
                try:
                    done, left = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done, left = set(), pending
                for fut in sorted(done, key=lambda f: futures[f]):
                    out, se = fut.result()
                    record(futures[fut], out, se)
                pending = set(left)
                if client.scheduler_info().get("workers"):
                    last_worker = time.monotonic()
                elif time.monotonic() - last_worker > WORKER_LOSS_TIMEOUT_S:
                    raise InputError("command line", "--cluster", f"the Dask scheduler at {cluster} has had no "
                                     f"worker for {WORKER_LOSS_TIMEOUT_S:g} s ({len(pending)} chunk(s) left); "
                                     "finished chunks are kept", "a cluster with live workers; then rerun with "
                                     "--resume")
        except BaseException:
            client.cancel(list(futures))
            raise


def _first_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    for key, value in new.items():
        if old.get(key) != value:
            if isinstance(value, (dict, list)) or key.endswith("_hash"):
                return f"{key} differs"
            return f"{key} was {old.get(key)!r}, now {value!r}"
    return "spec differs"
