"""Time two versions of the engine in one run: a git revision and the working tree.

``bench_kernel.py --compare REV`` and ``bench_des.py --compare REV`` use this module.
The revision's ``sim/``, ``params/`` and ``scenarios/`` are extracted with
``git archive`` into ``~/.cache/cartsim/bench-versions/<commit>/`` (kept for the
next run, so that numba compiles each version once). Each version runs in its own
long-lived worker process (``PYTHONPATH`` = that version's root) that answers timing
requests over a pipe; the caller interleaves the two workers call by call, so that a
load passing over the shared machine hits both alike, and reports per-pair ratios.
No second copy of the engine ever lives in ``sim/``.

Run as a script (``python versions.py --serve``) this file is the worker; it uses only
entry points that every version has (``run_kernel``, ``run_des``, ``api.as_scenario``).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cartsim" / "bench-versions"
FOLDERS = ("sim", "params", "scenarios")
DES_SEED = 20261121


def checkout(rev: str) -> tuple[Path, str]:
    """(root folder, full commit hash) of ``rev``'s engine, extracted once and cached."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                         capture_output=True, text=True, check=True).stdout.strip()
    dest = CACHE / sha
    if not (dest / "sim").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=CACHE))
        with tempfile.TemporaryFile() as fh:
            subprocess.run(["git", "-C", str(ROOT), "archive", sha, *FOLDERS], stdout=fh, check=True)
            fh.seek(0)
            with tarfile.open(fileobj=fh) as tar:
                tar.extractall(tmp, filter="data")
        tmp.rename(dest)  # whole or not at all
    return dest, sha


class Worker:
    """One engine version in a child process; :meth:`call` times one request there."""

    def __init__(self, label: str, root: Path) -> None:
        self.label = label
        self.root = root
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root)

    def call(self, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label} ({self.root}) died; see its stderr above")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"worker {self.label}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def pair(rev: str) -> tuple[Worker, Worker, str]:
    """(worker of ``rev``, worker of the working tree, commit hash of ``rev``)."""
    old_root, sha = checkout(rev)
    return Worker(f"old {sha[:10]}", old_root), Worker("new (working tree)", ROOT), sha


def interleaved(old: Worker, new: Worker, repeat: int, **request: Any) -> dict[str, Any]:
    """Time ``request`` ``repeat`` times on each worker, alternating which goes first;
    best times, and the medians of the per-pair ratios old/new of wall and of CPU time
    (> 1: new is faster)."""
    times: dict[str, list[float]] = {"old": [], "new": []}
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    digests: dict[str, str] = {}
    for r in range(repeat):
        order = (("old", old), ("new", new)) if r % 2 == 0 else (("new", new), ("old", old))
        for name, w in order:
            a = w.call(**request, digest=r == 0)
            times[name].append(a["seconds"])
            cpu[name].append(a["cpu_seconds"])
            if r == 0:
                digests[name] = a["digest"]
    ratios = [o / n for o, n in zip(times["old"], times["new"], strict=True)]
    # CPU time suffers less than wall time from other processes taking the cores
    cpu_ratios = [o / n for o, n in zip(cpu["old"], cpu["new"], strict=True)]
    return {**request, "old_times_s": times["old"], "new_times_s": times["new"],
            "old_best_s": min(times["old"]), "new_best_s": min(times["new"]),
            "old_cpu_s": cpu["old"], "new_cpu_s": cpu["new"],
            "median_speed_ratio_new_over_old": statistics.median(ratios),
            "best_speed_ratio_new_over_old": min(times["old"]) / min(times["new"]),
            "median_cpu_ratio_new_over_old": statistics.median(cpu_ratios),
            "identical_output": digests["old"] == digests["new"]}


# --- the worker ------------------------------------------------------------------------------

def _digest(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(a.tobytes())
    return h.hexdigest()


def _serve() -> None:
    import numpy as np  # noqa: PLC0415 - the worker imports the version it was started with

    from sim import api  # noqa: PLC0415
    from sim.engine.des import run_des  # noqa: PLC0415
    from sim.engine.kernel import run_kernel  # noqa: PLC0415
    from sim.model.scenario import Capacity  # noqa: PLC0415

    base = api.as_scenario(None)
    des_cases = {"unlimited": replace(base, capacity=Capacity(accrual_per_month=4.0)),
                 "binding": api.as_scenario("capacity_constrained")}
    warm: set[Any] = set()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["op"] == "kernel":
                theta, seed, horizon = base.params.theta(), int(base.run.seed), float(base.run.horizon_days)
                if ("kernel", req["threads"]) not in warm:
                    run_kernel(theta, seed, 1000, horizon, threads=req["threads"])
                    warm.add(("kernel", req["threads"]))
                c0, t0 = time.process_time(), time.perf_counter()
                f, i = run_kernel(theta, seed, req["n"], horizon, threads=req["threads"])
            else:
                sc = des_cases[req["case"]]
                theta = sc.params.theta()
                if ("des", req["case"]) not in warm:
                    run_des(theta, DES_SEED, 200, sc.run.horizon_days, sc.capacity)
                    warm.add(("des", req["case"]))
                c0, t0 = time.process_time(), time.perf_counter()
                out = run_des(theta, DES_SEED, req["n"], sc.run.horizon_days, sc.capacity)
                f, i = out.fout, out.iout
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            digest = _digest(np.ascontiguousarray(f), np.ascontiguousarray(i)) if req.get("digest") else ""
            del f, i
            answer: dict[str, Any] = {"seconds": seconds, "cpu_seconds": cpu, "digest": digest}
        except Exception as exc:  # reported to the parent, which stops
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
