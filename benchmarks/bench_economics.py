"""Probabilistic cost-effectiveness: a PSA of D draws x N patients per strategy with costs
and QALYs against the same PSA without economics (the same draws, the same chunked
sweep runner, the plain kernel), their ratio measured in the same process; then EVPPI
for 5 parameter groups and EVSI for one trial spec on the PSA's net benefit.

    python benchmarks/bench_economics.py                           # 1,000 draws x 10,000 patients
    python benchmarks/bench_economics.py --draws 200 --patients 2000   # a quick look

Timings exclude compilation (a warm-up compiles first); the two PSAs alternate
(``--repeats``) and the best of each is kept, because the cores are shared. The EVSI
time includes simulating one trial per draw at the spec's largest size and the
regressions at every size of its grid, not the power curve beside it (timed apart).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sim import api
from sim.api.economics import LIFETIME_DAYS
from sim.api.trials import power_spec
from sim.economics import psa as ps
from sim.engine.kernel import run_kernel
from sim.io.files import load_economics
from sim.model.economic_inputs import N_ECON
from sim.model.outputs import F
from sim.model.parameters import N_THETA
from sim.sweeps.runner import run_sweep

STRATEGIES = ["recipient_collected_cells", "donor_derived_cells"]
GROUPS = ["remission=remission.", "response=response.", "costs=econ.cost", "utilities=econ.utility,econ.disutility",
          "toxicity=crs.,icans.,gvhd."]


def plain_chunk(packed: np.ndarray, set_ids: np.ndarray, seed: int, patients: int, horizon_days: float, crn: bool,
                threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The same draws without economics: each strategy's patients by the plain kernel,
    reduced to the mean follow-up (days) and its SE."""
    n_strat = (packed.shape[1] - N_ECON) // N_THETA
    out = np.empty((len(packed), n_strat))
    se = np.empty_like(out)
    for r, sid in enumerate(set_ids):
        for s in range(n_strat):
            f, _ = run_kernel(packed[r, s * N_THETA:(s + 1) * N_THETA], seed, patients, horizon_days,
                              replicate=0 if crn else int(sid) + 1, threads=threads)
            x = f[:, F.T_LAST_DAYS].astype(np.float64)
            out[r, s], se[r, s] = x.mean(), x.std(ddof=1) / np.sqrt(len(x))
    return out, se


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--horizon-days", type=float, default=LIFETIME_DAYS)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--trial", default="two_arm_cr_rate_tandem_vs_cd19")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    scs = [api.as_scenario(s) for s in STRATEGIES]
    econ = load_economics("uk_nhs")
    design = ps.build_design(scs, econ, args.draws, seed=scs[0].run.seed)
    names = ps.columns(STRATEGIES)
    kw = {"patients": args.patients, "seed": scs[0].run.seed, "horizon_days": args.horizon_days,
          "threads": args.threads}
    best = {"economics": np.inf, "plain": np.inf}
    with tempfile.TemporaryDirectory() as tmp:
        small = ps.build_design(scs, econ, 2, seed=1)
        run_sweep(small, Path(tmp) / "w1", patients=100, seed=1, horizon_days=1000.0, task=ps.psa_chunk, names=names)
        run_sweep(small, Path(tmp) / "w2", patients=100, seed=1, horizon_days=1000.0, task=plain_chunk,
                  names=STRATEGIES)
        table = None
        for rep in range(args.repeats):
            for label in ("plain", "economics"):
                t0 = time.perf_counter()
                if label == "economics":
                    table, _ = run_sweep(design, Path(tmp) / f"e{rep}", task=ps.psa_chunk, names=names, **kw)
                else:
                    run_sweep(design, Path(tmp) / f"p{rep}", task=plain_chunk, names=STRATEGIES, **kw)
                wall = time.perf_counter() - t0
                best[label] = min(best[label], wall)
                print(f"{label}: {wall:.1f} s", flush=True)
    assert table is not None
    patients = args.draws * args.patients * len(STRATEGIES)
    nb = ps.Draws.from_table(table, STRATEGIES).nb(econ.wtp_per_qaly)
    groups = ps.resolve_groups(GROUPS, ps.parameter_columns(table, STRATEGIES))
    t0 = time.perf_counter()
    evppi = {g: ps.group_evppi(nb, table[cols].to_numpy(float), seed=1) for g, cols in groups.items()}
    t_evppi = time.perf_counter() - t0
    spec = power_spec(args.trial)
    sizes = list(spec.grid)
    ps.trial_evsi(spec, nb[:40], scs[0].run.seed, sizes[:1], threads=args.threads)  # compile
    t0 = time.perf_counter()
    values, _, _ = ps.trial_evsi(spec, nb, scs[0].run.seed, sizes, threads=args.threads)
    t_evsi = time.perf_counter() - t0
    print("\n| step | size | wall (s) |\n|---|---|---:|")
    print(f"| PSA with economics | {args.draws:,} draws x {args.patients:,} patients x {len(STRATEGIES)} strategies "
          f"({patients / best['economics']:,.0f} patients/s) | {best['economics']:.1f} |")
    print(f"| same PSA without economics | same ({patients / best['plain']:,.0f} patients/s) | {best['plain']:.1f} |")
    print(f"| overhead of economics | | {100 * (best['economics'] / best['plain'] - 1):+.0f}% |")
    sizes_txt = ", ".join(f"{g}: {len(c)}" for g, c in groups.items())
    print(f"| EVPPI, {len(groups)} groups | {args.draws:,} draws ({sizes_txt} inputs) | {t_evppi:.2f} |")
    print(f"| EVSI of {spec.name} | {args.draws:,} trials of {max(sizes):,} patients, {len(sizes)} sizes | "
          f"{t_evsi:.1f} |")
    for g, (v, model) in evppi.items():
        print(f"EVPPI {g}: {v.value:,.0f} ± {v.se:,.0f} per patient ({model})")
    for n, v in zip(sizes, values, strict=True):
        print(f"EVSI n={n}: {v.value:,.0f} ± {v.se:,.0f} per patient")


if __name__ == "__main__":
    main()
