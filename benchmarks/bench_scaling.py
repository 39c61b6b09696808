"""The scaling table of benchmarks/README.md, measured in one run.

Run from the project root::

    python benchmarks/bench_scaling.py                        # 10^5 .. 10^7, 1 and 2 threads
    python benchmarks/bench_scaling.py --big --workflows      # + 10^8 streamed, PSA, power grid, calibration
    python benchmarks/bench_scaling.py --compare ec307ec      # + the same rows of a previous version
    python benchmarks/bench_scaling.py --json scaling.json

Each measurement runs in a fresh process (its peak resident memory is the process's
``ru_maxrss``, read with ``os.wait4``), with that version's root first on PYTHONPATH:

* ``kernel``: the kernel alone on chunks of 10^6 patients (``run_kernel``, each chunk
  dropped): the kernel's own time; numba's compilation is done before the timing.
* ``run``: what ``cartsim run --patients N`` does after parsing: simulate, summarise and
  write patients.parquet, summary.json and km.png (past the streaming threshold, the
  streamed run of :func:`sim.api.runs.run_streamed`), timed from inside the process after
  a 2,000-patient run has compiled the code and imported matplotlib; peak memory of the
  whole process.
* workflows (``--workflows``, the current version only: its code paths are those of the
  previous one but the study statistics): ``cartsim sweep psa --draws 1000 --patients
  10000``, ``cartsim power`` on a 10-point grid of 5,000 trials each, and ``cartsim
  calibrate`` at its defaults, wall time of the command (compilation included).

The versions' rows are interleaved (new, previous, new, ...) so that the load of the
shared machine hits both alike; the load average is recorded with every row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SIZES = (100_000, 1_000_000, 10_000_000)
BIG = 100_000_000
CHUNK = 1_000_000


def child(kind: str, patients: int, threads: int, out: str) -> None:
    """One measurement inside a fresh process; prints its JSON line."""
    from sim import api  # noqa: PLC0415 - the version under test is first on PYTHONPATH
    from sim.engine.kernel import run_kernel  # noqa: PLC0415

    sc = api.as_scenario(None).with_run(patients=patients)
    theta = sc.params.theta()
    run_kernel(theta, sc.run.seed, 1, sc.run.horizon_days, threads=threads)  # compile outside the timing
    if kind == "run":  # and the summaries' code, matplotlib's import and first figure
        with tempfile.TemporaryDirectory() as warm:
            api.write_outputs(api.run(sc.with_run(patients=2000), threads=threads), warm)
    t0 = time.perf_counter()
    c0 = time.process_time()
    if kind == "kernel":
        for start in range(0, patients, CHUNK):
            run_kernel(theta, sc.run.seed, min(CHUNK, patients - start), sc.run.horizon_days,
                       first_patient_id=start, threads=threads)
    elif patients > getattr(api, "STREAM_ABOVE_PATIENTS", patients):
        from sim.io.files import OutputSet  # noqa: PLC0415

        with OutputSet(out, retire=api.RUN_FILES) as outs:
            api.run_streamed(sc, outs, threads=threads)
    else:
        api.write_outputs(api.run(sc, threads=threads), out)
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}))


def measure(cmd: list[str], root: Path) -> dict[str, Any]:
    """Run ``cmd`` with ``root`` first on PYTHONPATH: wall seconds, peak RSS (MB), its JSON line."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.strip()[-400:]}")
    last = [line for line in out.splitlines() if line.startswith("{")]
    inner = json.loads(last[-1]) if last and cmd[1].endswith("bench_scaling.py") else {}
    return {"wall_s": wall, "seconds": inner.get("seconds", wall), "peak_mb": usage.ru_maxrss / 1024,
            "cpu_s": inner.get("cpu_seconds", usage.ru_utime + usage.ru_stime), "load": load}


def table_rows(versions: dict[str, Path], sizes: list[int], threads: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for t in threads:
            for kind in ("kernel", "run"):
                for name, root in versions.items():
                    if n > 20_000_000 and name != "current":
                        continue  # the previous version holds every record: 8 GB and more
                    with tempfile.TemporaryDirectory() as tmp:
                        cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_scaling.py"), "--child", kind,
                               "--patients", str(n), "--threads", str(t), "--out", tmp]
                        r = measure(cmd, root)
                    r.update(version=name, kind=kind, patients=n, threads=t, patients_per_s=n / r["seconds"])
                    rows.append(r)
                    print(f"{name:>8} {kind:>6} {n:>11,} patients {t} thread(s): {r['seconds']:7.2f} s "
                          f"({r['patients_per_s']:>11,.0f}/s, cpu {r['cpu_s']:7.2f} s), "
                          f"peak {r['peak_mb']:6.0f} MB, load {r['load']:.1f}", flush=True)
    return rows


def workflows(root: Path) -> list[dict[str, Any]]:
    """PSA, power grid and calibration through the CLI (wall time of each command)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "power10.toml"
        base = (root / "scenarios" / "trials" / "single_arm_cr_rate.toml").read_text()
        spec.write_text(_ten_point_grid(base).replace('"../', f'"{root / "scenarios"}/'))  # its scenario, absolute
        for name, args in (
                ("PSA 1,000 draws x 10,000 patients", ["sweep", "psa", "--draws", "1000", "--patients", "10000"]),
                ("power: 10 sizes x 5,000 trials", ["power", str(spec), "--trials", "5000"]),
                ("calibration (defaults)", ["calibrate", "--posterior", f"{tmp}/posterior.parquet",
                                            "--calibrated", f"{tmp}/calibrated.toml"])):
            r = measure([sys.executable, "-m", "sim.cli", *args, "--out", f"{tmp}/{len(rows)}"], root)
            r.update(kind=name)
            rows.append(r)
            print(f"{name}: {r['wall_s']:.1f} s, peak {r['peak_mb']:.0f} MB, load {r['load']:.1f}", flush=True)
    return rows


def _ten_point_grid(spec: str) -> str:
    """The spec with its [grid] replaced by ten sample sizes."""
    head, _, tail = spec.partition("[grid]")
    rest = tail.split("\n[", 1)
    after = "\n[" + rest[1] if len(rest) > 1 else ""
    return head + "[grid]\nn = [20, 30, 40, 50, 60, 70, 80, 90, 100, 110]\n" + after


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", choices=("kernel", "run"), help=argparse.SUPPRESS)
    ap.add_argument("--patients", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    ap.add_argument("--big", action="store_true", help="add the 10^8-patient rows (streamed; current version)")
    ap.add_argument("--sizes", default="", help="comma-separated patient counts instead of 10^5,10^6,10^7")
    ap.add_argument("--thread-counts", default="1,2", help="empty: no table rows (e.g. only --workflows)")
    ap.add_argument("--workflows", action="store_true", help="add PSA, power grid and calibration")
    ap.add_argument("--compare", default=None, help="git revision of the previous version")
    ap.add_argument("--json", dest="json_path", default=None)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.patients, args.threads, args.out)
        return
    versions = {"current": ROOT}
    if args.compare:
        from versions import checkout  # noqa: PLC0415

        versions["previous"] = checkout(args.compare)[0]
    sizes = [int(float(s)) for s in args.sizes.split(",")] if args.sizes else list(SIZES)
    if args.big:
        sizes.append(BIG)
    threads = [int(t) for t in args.thread_counts.split(",")] if args.thread_counts else []
    out: dict[str, Any] = {"cpus": os.cpu_count(), "compare": args.compare,
                           "rows": table_rows(versions, sizes, threads)}
    if args.workflows:
        out["workflows"] = workflows(ROOT)
    out["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
