"""Benchmark of ``cartsim compare``: baseline vs tandem for everyone.

Run from the project root::

    python benchmarks/bench_compare.py                          # 100,000 patients, 200 replicates
    python benchmarks/bench_compare.py --patients 1e6 --bootstrap 200 --threads 2 --json OUT.json

What it measures:

1. wall time of ``sim.whatif.compare.compare`` (best of ``--repeat``, after a warm-up
   that loads or compiles the numba code), split into simulation and analysis
   (summaries, delta method, paired bootstrap);
2. the reference in the same process: two plain runs (``sim.api.run``) of the same
   scenarios and size, i.e. what a user would pay for the two point estimates
   without paired intervals; the ratio compare / reference is the price of the
   intervals;
3. the variance-reduction factors common random numbers gave for CR, OS 12 m and
   EFS 12 m, and the key differences with their paired 95% intervals.

The machine may be shared: the script prints the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from sim import api
from sim.api import compare

KEY_OUTCOMES = ("cr_rate", "mrd_neg_cr_rate", "os_m12", "os_m24", "efs_m12", "lfs_m24", "cir_m24", "nrm_m24",
                "os_median_days", "os_rmst_m24_days", "itt_os_m12", "infusions_per_patient", "hsct_per_patient")
VRF_OUTCOMES = ("cr_rate", "os_m12", "efs_m12")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=float, default=1e5)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    n = int(args.patients)
    scenarios = ["baseline", "tandem_for_all"]
    load_before = os.getloadavg()

    t0 = time.perf_counter()
    compare(scenarios, patients=1000, seed=args.seed, threads=args.threads, bootstrap=20)
    warmup_s = time.perf_counter() - t0

    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = compare(scenarios, patients=n, seed=args.seed, threads=args.threads, bootstrap=args.bootstrap)
        runs.append((time.perf_counter() - t0, result.simulate_s))
        t0 = time.perf_counter()
        for name in scenarios:
            api.run(name, patients=n, seed=args.seed, threads=args.threads)
        runs[-1] += (time.perf_counter() - t0,)
    best = min(runs)
    wall_s, sim_s, reference_s = best
    load_after = os.getloadavg()

    print(f"cartsim compare baseline tandem_for_all: {n:,} patients per scenario, {args.bootstrap} bootstrap "
          f"replicates, threads {args.threads or 'all'}, seed {args.seed}")
    print(f"  warm-up (numba cache load or compile): {warmup_s:.1f} s")
    print(f"  compare wall time (best of {args.repeat}): {wall_s:.2f} s "
          f"(simulation {sim_s:.2f} s, analysis {wall_s - sim_s:.2f} s)")
    print(f"  reference, two `sim.api.run` of the same size: {reference_s:.2f} s; ratio {wall_s / reference_s:.2f}")
    print(f"  load average before/after: {load_before[0]:.2f}/{load_after[0]:.2f} on {os.cpu_count()} cores")
    print("  variance reduction from common random numbers:")
    for name in VRF_OUTCOMES:
        print(f"    {name:10s} {result.row(name)['variance_reduction']:.1f}x")
    print(f"  {'outcome':24s} {'baseline':>10s} {'tandem':>10s} {'diff':>10s}  95% CI (paired)")
    for name in KEY_OUTCOMES:
        r = result.row(name)
        print(f"  {name:24s} {r['reference_value']:10.4f} {r['value']:10.4f} {r['diff']:+10.4f}  "
              f"[{r['diff_low']:+.4f}, {r['diff_high']:+.4f}]")
    if args.json:
        doc = {"patients": n, "bootstrap": args.bootstrap, "threads": args.threads, "seed": args.seed,
               "warmup_s": warmup_s, "runs_s": runs, "wall_s": wall_s, "simulate_s": sim_s,
               "reference_s": reference_s, "load_before": load_before, "load_after": load_after,
               "variance_reduction": {k: result.row(k)["variance_reduction"] for k in VRF_OUTCOMES},
               "differences": [result.row(k) for k in KEY_OUTCOMES]}
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)


if __name__ == "__main__":
    main()
