"""Throughput of the SimPy engine, and the kernel-to-SimPy speed ratio in the same run.

    python benchmarks/bench_des.py [--sizes 1e4 1e5] [--repeat 2] [--json OUT.json]

Scenarios: the baseline with unlimited capacity (4 new patients a month), and
scenarios/capacity_constrained.toml (3 manufacturing slots, 1 ICU bed, 1 transplant
bed: queues bind). Each size is timed best-of-`repeat` after a warm-up; the kernel runs
the same scenario, seed and size in the same process (2 threads).

``--compare REV`` instead times a git revision's SimPy engine against the working
tree's in one run (``versions.py``: each in its own worker process, calls interleaved),
e.g. ``python benchmarks/bench_des.py --compare HEAD~1 --sizes 2e4 --repeat 3``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace

import numba

from sim import api
from sim.engine.des import run_des
from sim.engine.kernel import run_kernel
from sim.model.scenario import Capacity

SEED = 20261121


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def compare(rev: str, sizes: list[int], repeat: int, json_out: str | None) -> int:
    """SimPy-engine throughput of ``rev`` and of the working tree, interleaved."""
    import versions  # noqa: PLC0415 - a sibling script module, only needed here

    old, new, sha = versions.pair(rev)
    rows = []
    print(f"old = {rev} ({sha[:10]}), new = working tree; best of {repeat}, calls interleaved; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'case':10s} {'patients':>9s} {'old pts/s':>10s} {'new pts/s':>10s} {'new/old best':>13s} "
          f"{'new/old median pair':>20s} {'cpu new/old':>12s} {'same records':>13s}")
    try:
        for case in ("unlimited", "binding"):
            for n in sizes:
                r = versions.interleaved(old, new, repeat, op="des", case=case, n=n)
                rows.append(r)
                print(f"{case:10s} {n:9,d} {n / r['old_best_s']:10,.0f} {n / r['new_best_s']:10,.0f} "
                      f"{r['best_speed_ratio_new_over_old']:13.3f} {r['median_speed_ratio_new_over_old']:20.3f} "
                      f"{r['median_cpu_ratio_new_over_old']:12.3f} "
                      f"{'yes' if r['identical_output'] else 'NO':>13s}", flush=True)
    finally:
        old.close()
        new.close()
    print(f"load average (1 min) at end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if json_out:
        with open(json_out, "w") as fh:
            json.dump({"old": rev, "old_commit": sha, "rows": rows}, fh, indent=2)
    return 0 if all(r["identical_output"] for r in rows) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--compare", metavar="REV",
                        help="time git revision REV's SimPy engine against the working tree's, interleaved, and stop")
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(args.compare, [int(s) for s in args.sizes], args.repeat, args.json_out))

    base = api.as_scenario(None)
    constrained = api.as_scenario("capacity_constrained")
    cases = {
        "unlimited": replace(base, capacity=Capacity(accrual_per_month=4.0)),
        "binding (capacity_constrained)": constrained,
    }
    # warm-up: compile and cache everything once
    for sc in cases.values():
        run_des(sc.params.theta(), SEED, 200, sc.run.horizon_days, sc.capacity)
        run_kernel(sc.params.theta(), SEED, 200, sc.run.horizon_days)

    print(f"cores {os.cpu_count()}, numba {numba.__version__}, threading layer {numba.threading_layer()}")
    print(f"{'case':32s} {'patients':>9s} {'SimPy s':>8s} {'SimPy pts/s':>12s} {'kernel pts/s':>13s} "
          f"{'kernel/SimPy':>13s}")
    rows = []
    for name, sc in cases.items():
        theta = sc.params.theta()
        for size in args.sizes:
            n = int(size)
            t_des = best_of(args.repeat, lambda theta=theta, sc=sc, n=n: run_des(theta, SEED, n, sc.run.horizon_days,
                                                                                  sc.capacity))
            t_kernel = best_of(args.repeat, lambda theta=theta, sc=sc, n=n: run_kernel(theta, SEED, n,
                                                                                        sc.run.horizon_days, threads=2))
            row = {"case": name, "patients": n, "des_s": t_des, "des_patients_per_s": n / t_des,
                   "kernel_patients_per_s": n / t_kernel, "kernel_over_des": t_des / t_kernel}
            rows.append(row)
            print(f"{name:32s} {n:9,d} {t_des:8.2f} {n / t_des:12,.0f} {n / t_kernel:13,.0f} {t_des / t_kernel:12.0f}x")
    print("goals (SimPy engine issue): SimPy >= 30,000 patients/s; kernel >= 100x faster than SimPy")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
