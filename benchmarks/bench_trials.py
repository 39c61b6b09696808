"""Throughput of trial simulation and analysis (``sim.trials``).

For each case: a 10-point grid of total sizes (default 120, 140, ..., 300) x K trials
(default 5,000), simulated once at the largest size (nested trials) and analysed at
every grid size. Reported per case:

* ``simulate s``: the pathway for K x N_max patients (each in its randomised arm);
* ``analyse s``: censoring at the cut-off and the test, every trial x grid size (x look);
* ``power_curve s``: the whole ``power_curve`` call (simulation, grid analysis, the
  bisection search for n_required, its bootstrap and the analytic answer);
* ``trials/s`` = grid points x K / power_curve s; ``patients/s`` = sum of grid sizes
  x K / power_curve s (patients analysed; each is simulated once).

The issue's goal is a 10-point grid x 5,000 trials of ~100-300 patients in under 20 s.
The machine is shared with other workers: the load average is printed; ratios to the
log-rank case of the same run are the robust figures.

    python benchmarks/bench_trials.py [--trials 5000] [--threads N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
import tomllib
from pathlib import Path

from sim.io.files import load_scenario
from sim.trials import search, simulate
from sim.trials import spec as tspec

ROOT = Path(__file__).resolve().parents[1]
GRID = list(range(120, 301, 20))


def _doc(name: str) -> dict:
    with (ROOT / "scenarios" / "trials" / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def cases() -> dict[str, tspec.TrialSpec]:
    base = load_scenario("baseline")
    out = {}
    surv = _doc("two_arm_tandem_vs_cd19")
    surv["grid"]["n"] = GRID
    for test in ("logrank", "cox"):
        d = copy.deepcopy(surv)
        d["analysis"]["test"] = test
        out[f"{test} (OS, min follow-up)"] = tspec.parse_trial(d, f"bench:{test}", base)
    rates = _doc("two_arm_cr_rate_tandem_vs_cd19")
    rates["grid"]["n"] = GRID
    for test in ("chisq", "fisher"):
        d = copy.deepcopy(rates)
        d["analysis"]["test"] = test
        out[f"{test} (CR rate)"] = tspec.parse_trial(d, f"bench:{test}", base)
    ev = _doc("event_driven_os_interims")
    ev["grid"]["n"] = GRID
    ev["follow_up"]["events"] = 100
    ev["accrual"] = {"per_month": 10.0}
    for test in ("logrank", "cox"):
        d = copy.deepcopy(ev)
        d["analysis"]["test"] = test
        out[f"{test}, 100 events, 2 interims"] = tspec.parse_trial(d, f"bench:gs-{test}", base)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print(f"cores {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f}; grid {GRID}; "
          f"{args.trials:,} trials per size")
    specs = cases()
    for spec in specs.values():  # warm-up: load or compile the numba caches
        search.power_curve(spec, trials=4, seed=1, threads=args.threads)
    rows = []
    head = (f"{'case':34s} {'simulate s':>10s} {'analyse s':>10s} {'power_curve s':>13s} {'trials/s':>10s} "
            f"{'patients/s':>12s} {'vs log-rank':>11s}")
    print(head)
    ref = None
    for name, spec in specs.items():
        t0 = time.perf_counter()
        sim = simulate.simulate_trials(spec, trials=args.trials, threads=args.threads)
        t1 = time.perf_counter()
        sim.analyse(spec.grid)
        t2 = time.perf_counter()
        del sim
        t3 = time.perf_counter()
        search.power_curve(spec, trials=args.trials, threads=args.threads)
        total = time.perf_counter() - t3
        ref = total if ref is None else ref
        row = {"case": name, "simulate_s": t1 - t0, "analyse_s": t2 - t1, "power_curve_s": total,
               "trials_per_s": len(GRID) * args.trials / total, "patients_per_s": sum(GRID) * args.trials / total,
               "relative_to_logrank": total / ref}
        rows.append(row)
        print(f"{name:34s} {row['simulate_s']:10.2f} {row['analyse_s']:10.2f} {total:13.2f} "
              f"{row['trials_per_s']:10,.0f} {row['patients_per_s']:12,.0f} {row['relative_to_logrank']:10.2f}x")
    print(f"load average at end {os.getloadavg()[0]:.2f}; goal: power_curve under 20 s per case")
    if args.json:
        args.json.write_text(json.dumps({"grid": GRID, "trials": args.trials, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
