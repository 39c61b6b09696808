"""Sweep throughput: PSA (1,000 draws x 10,000 patients) and Sobol (10 parameters,
N = 1,024: N (D + 2) = 12,288 sets x 10,000 patients), locally and on a 2-worker Dask
LocalCluster, with the bare kernel's throughput measured in the same process as the
reference (ratios travel between machines better than absolute rates).

    python benchmarks/bench_sweeps.py                      # the full benchmark (minutes)
    python benchmarks/bench_sweeps.py --draws 100 --sobol-n 64 --no-cluster   # a quick look

Timings include chunk files (64 sets each) and the final assembly, not compilation
(a warm-up run compiles first). Dask timings include starting the LocalCluster.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim import api
from sim.engine.kernel import run_kernel
from sim.sweeps import designs as sweep_designs
from sim.sweeps.runner import run_sweep

SOBOL_PARAMS = ["response.p_cr.first.cd19", "response.p_cr.first.tandem", "response.or_high_risk",
                "remission.p_cure.mrd_neg", "remission.p_cure.mrd_pos", "remission.relapse.median_days",
                "salvage.survival.median_days", "nrm.p_year1", "crs.p_death.g4", "hsct.p_trm"]


def kernel_rate(patients: int) -> float:
    sc = api.as_scenario(None)
    run_kernel(sc.params.theta(), 1, 10_000, sc.run.horizon_days)
    t0 = time.perf_counter()
    run_kernel(sc.params.theta(), 1, patients, sc.run.horizon_days)
    return patients / (time.perf_counter() - t0)


def timed(design: sweep_designs.Design, out: Path, patients: int, cluster: str | None) -> tuple[float, float]:
    sc = design.scenario
    t0 = time.perf_counter()
    run_sweep(design, out, patients=patients, seed=sc.run.seed, horizon_days=sc.run.horizon_days,
              cluster=cluster, workers=2 if cluster == "local" else None)
    wall = time.perf_counter() - t0
    return wall, design.sets * patients / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--sobol-n", type=int, default=1024)
    ap.add_argument("--no-cluster", action="store_true")
    args = ap.parse_args()
    sc = api.as_scenario(None)
    designs = {"psa": sweep_designs.psa_design(sc, args.draws, prior=True),
               "sobol": sweep_designs.sobol_design(sc, SOBOL_PARAMS, n=args.sobol_n)}
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(sweep_designs.psa_design(sc, 4, prior=True), Path(tmp) / "warm", patients=1000, seed=1,
                  horizon_days=sc.run.horizon_days)  # compile
        rows = []
        for name, design in designs.items():
            for cluster in (None, *(() if args.no_cluster else ("local",))):
                ref = kernel_rate(1_000_000)  # measured beside each row: the cores are shared
                wall, rate = timed(design, Path(tmp) / f"{name}-{cluster}", args.patients, cluster)
                rows.append((name, design.sets, cluster or "local process (numba threads)", wall, rate, ref))
                print(f"{name} {cluster}: {wall:.1f} s, {rate:,.0f} patients/s (kernel {ref:,.0f}/s)", flush=True)
    print("\n| sweep | sets x patients | where | wall (s) | patients/s | kernel just before (patients/s) | ratio |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name, sets, where, wall, rate, ref in rows:
        print(f"| {name} | {sets:,} x {args.patients:,} | {where} | {wall:.1f} | {rate:,.0f} | {ref:,.0f} | "
              f"{rate / ref:.2f} |")


if __name__ == "__main__":
    main()
