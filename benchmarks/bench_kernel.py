"""Benchmark of the Monte Carlo kernel on the built-in baseline scenario.

Run from the project root::

    python benchmarks/bench_kernel.py                      # sizes 1e5 1e6 1e7, threads 1 2, best of 3
    python benchmarks/bench_kernel.py --sizes 1e5 1e6 --threads 1 2 --repeat 5 --json bench.json

What it measures (see benchmarks/README.md for the meaning of every figure):

1. throughput of ``run_kernel`` per size and thread count (best of ``--repeat`` wall
   times, after a warm-up call whose time -- compilation or numba cache load -- is
   reported separately), patients/s and the speed-up over 1 thread;
2. memory: bytes per patient of the output arrays, and the peak resident-memory growth
   per patient of ``run_kernel`` and of the full ``sim.api.run`` (patient DataFrame +
   summary), each measured in a fresh subprocess;
3. reference ratios: the same per-patient code (``pathway.walk.py_func``, the kernel's
   walk as plain Python) driven from a Python loop, once with numba disabled everywhere (``NUMBA_DISABLE_JIT=1``,
   subprocess) and once calling the compiled stage functions;
4. a table of all figures against the targets of the foundation issue.

``--compare REV`` instead times a git revision's kernel against the working tree's in
one run (``versions.py``: each in its own worker process, calls interleaved), e.g.
``python benchmarks/bench_kernel.py --compare HEAD~1 --sizes 1e6 1e7``.

The script has no test framework; it writes nothing but the ``--json`` file (the
optional ``--cold-compile`` compiles into a throw-away numba cache directory).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from sim.engine import kernel, pathway
from sim.engine.kernel import run_kernel
from sim.engine.rng import make_key, patient_key
from sim.io.files import load_scenario

# --- targets (foundation issue) and published reference --------------------------------
TARGET_PATIENTS_PER_S_2_THREADS = 5_000_000  # >= 5 million baseline patients/s on 2 threads
TARGET_OUTPUT_BYTES_PER_PATIENT = 200  # < 200 bytes per patient of patient-level output
HESIM_TRAJECTORIES_PER_S = 170_000  # hesim's published ~170,000 patient trajectories/s

DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
DEFAULT_THREADS = (1, 2)
WARMUP_PATIENTS = 1_000
SUBPROCESS_TIMEOUT_S = 1800
SCRIPT = Path(__file__).resolve()


# --- helpers -------------------------------------------------------------------------------

def _count(text: str, minimum: int = 1) -> int:
    """A whole number written as 100000, 1e5 or 1_000_000, at least ``minimum``."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_integer() or value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return int(value)


def _size(text: str) -> int:
    return _count(text, 1)


def _size_or_zero(text: str) -> int:
    return _count(text, 0)


def _maxrss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes (``ru_maxrss``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) if sys.platform == "darwin" else int(rss) * 1024  # Linux reports KiB


def _proc_status_bytes(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (Linux), in bytes."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def _current_rss_bytes() -> int | None:
    rss = _proc_status_bytes("VmRSS")
    if rss is not None:
        return rss
    with contextlib.suppress(ImportError):
        import psutil  # noqa: PLC0415 - optional, only where /proc is missing

        return int(psutil.Process().memory_info().rss)
    return None


def _peak_start() -> tuple[int, Callable[[], int], str]:
    """Start a peak-memory measurement: (baseline bytes, peak-reading function, method).

    A plain ``ru_maxrss`` before/after difference reads ~0 here: ``ru_maxrss`` is a
    high-water mark, importing numba and loading the compiled kernel peak higher than
    a 10^5-patient run, and on Linux a child started by fork+exec even inherits its
    parent's mark. So on Linux the process's own mark (VmHWM) is reset through
    /proc/self/clear_refs and read back after the run; elsewhere the baseline is the
    current RSS and the peak ``ru_maxrss`` (exact whenever the run sets a new mark).
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        base = _proc_status_bytes("VmHWM")
        if base is not None:
            return base, lambda: _proc_status_bytes("VmHWM") or 0, "VmHWM growth after reset via clear_refs"
    now = _current_rss_bytes()
    if now is not None:
        return now, _maxrss_bytes, "ru_maxrss after minus current RSS before"
    return _maxrss_bytes(), _maxrss_bytes, "ru_maxrss after minus before (may under-read small runs)"


def _digest(fout: np.ndarray, iout: np.ndarray) -> str:
    """Hash of a block of patient records (NaN written as -1 so that equal means equal)."""
    h = hashlib.sha256()
    h.update(np.where(np.isnan(fout), np.float32(-1.0), fout).astype(np.float32).tobytes())
    h.update(np.ascontiguousarray(iout).tobytes())
    return h.hexdigest()


def _baseline() -> tuple[np.ndarray, int, float]:
    """(theta, seed, horizon_days) of the built-in baseline scenario."""
    scenario = load_scenario(None)
    return scenario.params.theta(), int(scenario.run.seed), float(scenario.run.horizon_days)


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


@contextlib.contextmanager
def _quiet_numpy() -> Iterator[None]:
    """Silence numpy's integer-overflow RuntimeWarnings of the uint64 arithmetic that the
    pure-Python generator path does on purpose (wrap-around is the algorithm)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _patient_loop() -> Callable[[np.ndarray, np.uint64, np.uint64, int, int, float, np.ndarray, np.ndarray], None]:
    """A Python loop over the walk's plain-Python body (``.py_func``; the function
    itself when numba is disabled) in unlimited mode, calling the compiled stages."""
    walk = getattr(pathway.walk, "py_func", pathway.walk)

    def body(theta: np.ndarray, pkey: np.uint64, horizon: float, frow: np.ndarray, irow: np.ndarray) -> None:
        walk(theta, pkey, horizon, frow, irow, None, 0, None)

    def loop(theta: np.ndarray, k0: np.uint64, k1: np.uint64, first: int, n: int, horizon: float,
             fout: np.ndarray, iout: np.ndarray) -> None:
        for j in range(n):
            # compiled patient_key returns a Python int: keep it a uint64 for the stages
            pkey = np.uint64(patient_key(k0, k1, first + j))
            body(theta, pkey, horizon, fout[j], iout[j])
    return loop


def _python_reference(n: int, first: int = 1) -> dict[str, Any]:
    """Time ``n`` patients through the Python patient loop (compiled or plain stages,
    whichever this process has). Patient 0 goes first as the warm-up."""
    theta, seed, horizon = _baseline()
    k0, k1 = make_key(seed)
    loop = _patient_loop()
    fout = np.empty((first + n, kernel.N_FLOAT), np.float32)
    iout = np.empty((first + n, kernel.N_INT), np.int8)
    with _quiet_numpy():
        t0 = time.perf_counter()
        loop(theta, k0, k1, 0, first, horizon, fout[:first], iout[:first])
        t1 = time.perf_counter()
        loop(theta, k0, k1, first, n, horizon, fout[first:], iout[first:])
        t2 = time.perf_counter()
    return {"patients": n, "warmup_s": t1 - t0, "seconds": t2 - t1, "patients_per_s": n / (t2 - t1),
            "digest": _digest(fout, iout), "digest_patients": first + n}


def _run_child(kind: str, n: int, threads: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run this script in a fresh interpreter in child mode; return its JSON answer."""
    cmd = [sys.executable, str(SCRIPT), "--child", kind, str(n), "--threads", str(threads)]
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child {kind} {n} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- child modes (each runs in a fresh interpreter) -----------------------------------------

def child(kind: str, n: int, threads: int) -> dict[str, Any]:
    theta, seed, horizon = _baseline()
    if kind == "kernel-memory":
        run_kernel(theta, seed, WARMUP_PATIENTS, horizon, threads=threads)  # load/compile first
        before, peak, method = _peak_start()
        t0 = time.perf_counter()
        fout, iout = run_kernel(theta, seed, n, horizon, threads=threads)
        seconds = time.perf_counter() - t0
        after = peak()
        return {"patients": n, "threads": threads, "baseline_bytes": before, "peak_bytes": after,
                "peak_growth_bytes": after - before, "method": method,
                "output_bytes": fout.nbytes + iout.nbytes, "seconds": seconds}
    if kind == "api-memory":
        from sim import api  # noqa: PLC0415 - pandas and the analysis code only in this child

        api.run(None, patients=WARMUP_PATIENTS, threads=threads)  # imports, compilation, caches
        before, peak, method = _peak_start()
        t0 = time.perf_counter()
        result = api.run(None, patients=n, threads=threads)
        seconds = time.perf_counter() - t0
        after = peak()
        return {"patients": n, "threads": threads, "baseline_bytes": before, "peak_bytes": after,
                "peak_growth_bytes": after - before, "method": method,
                "dataframe_bytes": int(result.patients.memory_usage(index=True, deep=True).sum()),
                "seconds": seconds, "kernel_seconds": result.elapsed_s}
    if kind == "python-reference":
        return {**_python_reference(n), "numba_disable_jit": bool(nb.config.DISABLE_JIT)}
    if kind == "cold-compile":
        t0 = time.perf_counter()
        run_kernel(theta, seed, WARMUP_PATIENTS, horizon, threads=threads)
        return {"first_call_s": time.perf_counter() - t0, "cache_dir": os.environ.get("NUMBA_CACHE_DIR")}
    raise SystemExit(f"unknown child mode {kind!r}")


# --- the benchmark ---------------------------------------------------------------------------

def _cache_stats() -> dict[str, int] | None:
    stats = getattr(getattr(kernel, "_simulate_range", None), "stats", None)
    if stats is None:
        return None
    return {"cache_hits": sum(stats.cache_hits.values()), "cache_misses": sum(stats.cache_misses.values())}


def machine_info() -> dict[str, Any]:
    try:
        layer = nb.threading_layer()
    except ValueError:  # no parallel region has run yet
        layer = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numba": nb.__version__,
        "numpy": np.__version__,
        "numba_threading_layer": layer,
        "numba_num_threads": nb.config.NUMBA_NUM_THREADS,
    }


def bench_throughput(sizes: list[int], threads: list[int], repeat: int) -> dict[str, Any]:
    theta, seed, horizon = _baseline()
    warm: dict[str, Any] = {}
    for i, t in enumerate(sorted(set(threads))):
        t0 = time.perf_counter()
        run_kernel(theta, seed, WARMUP_PATIENTS, horizon, threads=t)
        key = "first_call_s" if i == 0 else f"first_call_{t}_threads_s"
        warm[key] = time.perf_counter() - t0
    warm["numba_cache"] = _cache_stats()

    rows: list[dict[str, Any]] = []
    identical = True
    for n in sizes:
        reference_digest = None
        times: dict[int, list[float]] = {t: [] for t in threads}
        cpu: dict[int, list[float]] = {t: [] for t in threads}
        # thread counts interleaved within each repetition, so that a passing load on the
        # machine hits them alike and the speed-up stays fair
        for _ in range(repeat):
            for t in threads:
                c0, t0 = time.process_time(), time.perf_counter()
                fout, iout = run_kernel(theta, seed, n, horizon, threads=t)
                times[t].append(time.perf_counter() - t0)
                cpu[t].append(time.process_time() - c0)
                if n == min(sizes):  # thread-count independence check, on the smallest size
                    d = _digest(fout, iout)
                    reference_digest = reference_digest or d
                    identical &= d == reference_digest
                del fout, iout  # never hold two 10^7 blocks at once
        base_seconds = min(times[threads[0]])
        for t in threads:
            best = min(times[t])
            cpu_per_wall = cpu[t][times[t].index(best)] / best
            rows.append({"patients": n, "threads": t, "effective_threads": max(1, min(t, nb.config.NUMBA_NUM_THREADS)),
                         "best_s": best, "times_s": times[t], "patients_per_s": n / best,
                         "cpu_per_wall": cpu_per_wall, "speedup_vs_first": base_seconds / best})
            print(f"  n={n:>11,}  threads={t}  best {best:8.3f} s  {n / best:>13,.0f} patients/s  "
                  f"cpu/wall {cpu_per_wall:.2f}", flush=True)
    return {"warmup": warm, "rows": rows, "baseline_threads": threads[0],
            "identical_across_threads": identical, "repeat": repeat}


def bench_memory(sizes: list[int], threads: int, api_patients: int) -> dict[str, Any]:
    per_size = []
    for n in sizes:
        r = _run_child("kernel-memory", n, threads)
        r["output_bytes_per_patient"] = r["output_bytes"] / n
        r["peak_growth_bytes_per_patient"] = r["peak_growth_bytes"] / n
        per_size.append(r)
        print(f"  kernel n={n:>11,}: peak growth {r['peak_growth_bytes'] / 2**20:9.1f} MiB "
              f"= {r['peak_growth_bytes_per_patient']:6.1f} B/patient", flush=True)
    api = None
    if api_patients:
        api = _run_child("api-memory", api_patients, threads)
        api["peak_growth_bytes_per_patient"] = api["peak_growth_bytes"] / api_patients
        api["dataframe_bytes_per_patient"] = api["dataframe_bytes"] / api_patients
        print(f"  sim.api.run n={api_patients:,}: peak growth {api['peak_growth_bytes'] / 2**20:.1f} MiB "
              f"= {api['peak_growth_bytes_per_patient']:.1f} B/patient", flush=True)
    return {"kernel": per_size, "api_run": api}


def bench_reference(python_patients: int, hybrid_patients: int) -> dict[str, Any]:
    theta, seed, horizon = _baseline()
    out: dict[str, Any] = {}
    if python_patients:
        r = _run_child("python-reference", python_patients, 1, env={"NUMBA_DISABLE_JIT": "1"})
        f, i = run_kernel(theta, seed, r["digest_patients"], horizon, threads=1)
        r["identical_to_kernel"] = r["digest"] == _digest(f, i)
        out["pure_python"] = r
        print(f"  pure Python (NUMBA_DISABLE_JIT=1), {python_patients:,} patients: "
              f"{r['patients_per_s']:,.0f} patients/s", flush=True)
    if hybrid_patients:
        r = _python_reference(hybrid_patients)
        f, i = run_kernel(theta, seed, r["digest_patients"], horizon, threads=1)
        r["identical_to_kernel"] = r["digest"] == _digest(f, i)
        out["python_loop_compiled_stages"] = r
        print(f"  Python loop + compiled stages, {hybrid_patients:,} patients: "
              f"{r['patients_per_s']:,.0f} patients/s (first patient {r['warmup_s']:.2f} s)", flush=True)
    return out


def bench_cold_compile(threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
        return _run_child("cold-compile", WARMUP_PATIENTS, threads, env={"NUMBA_CACHE_DIR": cache_dir})


# --- report ------------------------------------------------------------------------------

def _fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "",
        "=" * 78,
        "cartsim kernel benchmark - built-in baseline scenario",
        "=" * 78,
        f"date {m['date']}   cores (os.cpu_count) {m['cpu_count']}   usable {m['cpus_usable']}",
        f"cpu {m['cpu_model']}",
        f"python {m['python']}   numba {m['numba']}   numpy {m['numpy']}   "
        f"threading layer {m['numba_threading_layer']}   NUMBA_NUM_THREADS {m['numba_num_threads']}",
        f"load average (1 min) at start {res['load_start']:.2f}, at end {res['load_end']:.2f}",
    ]
    rows = (res.get("throughput") or {}).get("rows", [])
    starved = [r for r in rows if r["cpu_per_wall"] < 0.8 * r["effective_threads"]]
    if res["load_start"] > 0.5 * (m["cpu_count"] or 1) or starved:
        lines.append("WARNING: other processes were using the CPUs (load at start, or cpu/wall below 0.8 x "
                     "threads in some rows): throughput is understated and so is the speed-up")
    thr = res.get("throughput")
    if thr:
        w = thr["warmup"]
        cache = w.get("numba_cache")
        cache_txt = f" (numba cache hits {cache['cache_hits']}, misses {cache['cache_misses']})" if cache else ""
        lines += ["", f"1. Throughput: run_kernel, best of {thr['repeat']} (seed {res['seed']}, "
                      f"horizon {res['horizon_days']} days)",
                  f"   warm-up: first call {w['first_call_s']:.2f} s{cache_txt}"]
        if res.get("cold_compile"):
            lines.append(f"   cold compile (empty numba cache): first call {res['cold_compile']['first_call_s']:.1f} s")
        base = thr["baseline_threads"]
        lines += ["", f"   {'patients':>12} {'threads':>7} {'best s':>9} {'patients/s':>13} "
                      f"{'speed-up vs ' + str(base) + ' thr':>18} {'cpu/wall':>9}"]
        for r in thr["rows"]:
            sp = "-" if r["threads"] == base or r["speedup_vs_first"] is None else f"{r['speedup_vs_first']:.2f}x"
            t_txt = str(r["threads"])
            if r["effective_threads"] != r["threads"]:  # clamped to NUMBA_NUM_THREADS
                t_txt += f"({r['effective_threads']})"
            lines.append(f"   {r['patients']:>12,} {t_txt:>7} {r['best_s']:>9.3f} "
                         f"{r['patients_per_s']:>13,.0f} {sp:>18} {r['cpu_per_wall']:>9.2f}")
        lines.append(f"   identical records whatever the thread count: "
                     f"{'yes' if thr['identical_across_threads'] else 'NO'}")
    mem = res.get("memory")
    if mem:
        method = (mem["kernel"] or [mem.get("api_run") or {}])[0].get("method", "?")
        lines += ["", "2. Memory: output arrays, and peak RSS growth in a fresh subprocess per size",
                  f"   (peak growth = {method})",
                  f"   {'patients':>12} {'output B/pt':>12} {'peak MiB':>10} {'peak B/pt':>10}"]
        for r in mem["kernel"]:
            lines.append(f"   {r['patients']:>12,} {r['output_bytes_per_patient']:>12.1f} "
                         f"{r['peak_growth_bytes'] / 2**20:>10.1f} {r['peak_growth_bytes_per_patient']:>10.1f}")
        a = mem.get("api_run")
        if a:
            lines.append(f"   sim.api.run at {a['patients']:,} patients (DataFrame + summary): peak growth "
                         f"{a['peak_growth_bytes'] / 2**20:.1f} MiB = {a['peak_growth_bytes_per_patient']:.1f} "
                         f"B/patient; DataFrame {a['dataframe_bytes_per_patient']:.1f} B/patient; "
                         f"{a['seconds']:.2f} s")
    ref = res.get("reference")
    if ref:
        lines += ["", "3. Reference: the same per-patient code driven from Python"]
        k = res.get("kernel_1_thread")
        for key, label in (("pure_python", "pure Python (NUMBA_DISABLE_JIT=1)"),
                           ("python_loop_compiled_stages", "Python loop + compiled stages")):
            r = ref.get(key)
            if not r:
                continue
            ratio = f"kernel/this = {k['patients_per_s'] / r['patients_per_s']:,.0f}x" if k else ""
            lines.append(f"   {label:<36} {r['patients']:>7,} patients {r['patients_per_s']:>10,.0f} patients/s  "
                         f"{ratio}  same records as kernel: {'yes' if r['identical_to_kernel'] else 'NO'}")
        if k:
            lines.append(f"   (kernel figure: {k['patients_per_s']:,.0f} patients/s, the best {k['threads']}-thread "
                         f"figure of step 1, at {k['patients']:,} patients)")
    tg = res.get("targets")
    if tg:
        lines += ["", "4. Targets (foundation issue)"]
        if "throughput" in tg:
            t = tg["throughput"]
            lines.append(f"   >= {TARGET_PATIENTS_PER_S_2_THREADS:,} patients/s with {t['threads']} threads: "
                         f"best {t['patients_per_s']:,.0f} (at {t['patients']:,} patients) -> "
                         f"{t['fraction_of_target']:.0%} of target, {_verdict(t['met'])}")
        if "output_bytes" in tg:
            t = tg["output_bytes"]
            lines.append(f"   < {TARGET_OUTPUT_BYTES_PER_PATIENT} bytes/patient of patient-level output: "
                         f"{t['bytes_per_patient']:.0f} B (arrays), peak growth {t['peak_bytes_per_patient']:.0f} B "
                         f"-> {_verdict(t['met'])}")
        if "hesim" in tg:
            t = tg["hesim"]
            lines.append(f"   for scale, hesim ~{HESIM_TRAJECTORIES_PER_S:,} trajectories/s: kernel "
                         f"{t['patients_per_s']:,.0f} patients/s = {t['ratio']:.1f}x")
    lines += ["", f"total benchmark wall time {res['wall_s']:.0f} s", "=" * 78]
    return "\n".join(lines)


def targets(res: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    thr = res.get("throughput")
    if thr:
        rows = thr["rows"]
        # noise (other processes, page faults) only ever slows a run down: the best
        # figure over the sizes is the kernel's throughput
        most = 2 if any(r["threads"] == 2 for r in rows) else max(r["threads"] for r in rows)
        two = [r for r in rows if r["threads"] == most]
        best = max(two, key=lambda r: r["patients_per_s"])
        out["throughput"] = {"patients": best["patients"], "threads": best["threads"],
                             "patients_per_s": best["patients_per_s"],
                             "fraction_of_target": best["patients_per_s"] / TARGET_PATIENTS_PER_S_2_THREADS,
                             "met": best["patients_per_s"] >= TARGET_PATIENTS_PER_S_2_THREADS}
        out["hesim"] = {"patients_per_s": best["patients_per_s"],
                        "ratio": best["patients_per_s"] / HESIM_TRAJECTORIES_PER_S}
    mem = res.get("memory")
    if mem and mem["kernel"]:
        big = max(mem["kernel"], key=lambda r: r["patients"])
        out["output_bytes"] = {"bytes_per_patient": big["output_bytes_per_patient"],
                               "peak_bytes_per_patient": big["peak_growth_bytes_per_patient"],
                               "met": big["output_bytes_per_patient"] < TARGET_OUTPUT_BYTES_PER_PATIENT}
    return out


def compare(rev: str, sizes: list[int], threads: list[int], repeat: int, json_out: Path | None) -> int:
    """Kernel throughput of ``rev`` and of the working tree, interleaved (see ``versions.py``)."""
    import versions  # noqa: PLC0415 - a sibling script module, only needed here

    old, new, sha = versions.pair(rev)
    load_start = os.getloadavg()[0]
    rows = []
    print(f"old = {rev} ({sha[:10]}), new = working tree; best of {repeat}, calls interleaved")
    print(f"{'patients':>12} {'threads':>7} {'old pts/s':>13} {'new pts/s':>13} {'new/old best':>13} "
          f"{'new/old median pair':>20} {'cpu new/old':>12} {'same records':>13}")
    try:
        for n in sizes:
            for t in threads:
                r = versions.interleaved(old, new, repeat, op="kernel", n=n, threads=t)
                rows.append(r)
                print(f"{n:>12,} {t:>7} {n / r['old_best_s']:>13,.0f} {n / r['new_best_s']:>13,.0f} "
                      f"{r['best_speed_ratio_new_over_old']:>13.3f} {r['median_speed_ratio_new_over_old']:>20.3f} "
                      f"{r['median_cpu_ratio_new_over_old']:>12.3f} "
                      f"{'yes' if r['identical_output'] else 'NO':>13}", flush=True)
    finally:
        old.close()
        new.close()
    load_end = os.getloadavg()[0]
    print(f"load average (1 min) at start {load_start:.2f}, at end {load_end:.2f} on {os.cpu_count()} cores")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"old": rev, "old_commit": sha, "rows": rows, "machine": machine_info(),
                                        "load_start": load_start, "load_end": load_end}, indent=2) + "\n")
    return 0 if all(r["identical_output"] for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=_size, default=list(DEFAULT_SIZES),
                    help="patient counts (1e5 notation allowed); default 1e5 1e6 1e7")
    ap.add_argument("--threads", nargs="+", type=_size, default=list(DEFAULT_THREADS),
                    help="thread counts; the first is the speed-up baseline; default 1 2")
    ap.add_argument("--repeat", type=_size, default=3, help="timed calls per cell; the best counts")
    ap.add_argument("--json", type=Path, metavar="OUT.json", help="also write every figure as JSON")
    ap.add_argument("--api-patients", type=_size_or_zero, default=1_000_000,
                    help="cohort size of the sim.api.run memory measurement (0 skips it)")
    ap.add_argument("--python-patients", type=_size_or_zero, default=2_000,
                    help="patients of the pure-Python reference (0 skips it)")
    ap.add_argument("--hybrid-patients", type=_size_or_zero, default=20_000,
                    help="patients of the Python-loop + compiled-stages reference (0 skips it)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--cold-compile", action="store_true",
                    help="also time compilation from an empty numba cache (subprocess, ~1 min)")
    ap.add_argument("--compare", metavar="REV",
                    help="time git revision REV's kernel against the working tree's, interleaved, and stop")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child[0], _size(args.child[1]), args.threads[0])))
        return 0

    if args.compare:
        return compare(args.compare, args.sizes, args.threads, args.repeat, args.json)

    t_start = time.perf_counter()
    _, seed, horizon = _baseline()
    res: dict[str, Any] = {"scenario": "baseline", "seed": seed, "horizon_days": horizon,
                           "sizes": args.sizes, "threads": args.threads,
                           "load_start": os.getloadavg()[0]}
    print("throughput ...", flush=True)
    res["throughput"] = bench_throughput(args.sizes, args.threads, args.repeat)
    res["machine"] = machine_info()  # after a parallel call, so the threading layer is known
    ones = [r for r in res["throughput"]["rows"] if r["threads"] == min(args.threads)]
    res["kernel_1_thread"] = max(ones, key=lambda r: r["patients_per_s"])  # best over sizes, as for the target
    if args.cold_compile:
        print("cold compile ...", flush=True)
        res["cold_compile"] = bench_cold_compile(max(args.threads))
    if not args.no_memory:
        print("memory ...", flush=True)
        res["memory"] = bench_memory(args.sizes, max(args.threads), args.api_patients)
    print("reference ...", flush=True)
    res["reference"] = bench_reference(args.python_patients, args.hybrid_patients)
    res["targets"] = targets(res)
    res["load_end"] = os.getloadavg()[0]
    res["wall_s"] = time.perf_counter() - t_start
    print(report(res))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
