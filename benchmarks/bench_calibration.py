"""Benchmark of calibration and validation.

Run from the project root::

    python benchmarks/bench_calibration.py                 # likelihood evaluations, validation
    python benchmarks/bench_calibration.py --evaluations 200 --json bench_cal.json

What it measures:

1. one likelihood evaluation (all five studies simulated with ``patients_per_study``
   patients each, every target scored): wall time per evaluation, split into the
   kernel's share and the statistics' share, and patients per second; as a ratio to the
   bare kernel on the same number of patients in the same process;
2. the projected wall time of the committed calibration's settings (evaluations x time
   per evaluation) beside the 20-minute budget;
3. ``validate`` at its defaults (draws x studies x patients): wall time.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sim.api import calibration as api
from sim.api.calibration import load_targets
from sim.calibration.imis import PriorTransform, TargetModel
from sim.engine.kernel import run_kernel
from sim.io.files import load_parameter_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--evaluations", type=int, default=100)
    ap.add_argument("--patients-per-study", type=int, default=api.DEFAULT_PATIENTS_PER_STUDY)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", dest="json_path", default=None)
    args = ap.parse_args()

    targets = load_targets()
    params = load_parameter_set(api.DEFAULTS_PATH)
    transform = PriorTransform(params)
    model = TargetModel(targets, transform, args.patients_per_study, api.DEFAULT_SEED, args.threads)
    z = np.random.default_rng(1).standard_normal((args.evaluations, transform.dims))
    values = transform.values(z)
    model.loglik(values[0])  # compile / load the numba cache

    t0 = time.perf_counter()
    for row in values:
        model.loglik(row)
    per_eval = (time.perf_counter() - t0) / args.evaluations

    thetas = [st.scenario.params.theta() for st in targets.studies.values()]
    horizons = [st.scenario.study.followup_max_days + 400.0 for st in targets.studies.values()]
    t0 = time.perf_counter()
    for _ in range(args.evaluations):
        for th, h in zip(thetas, horizons, strict=True):
            run_kernel(th, api.DEFAULT_SEED, args.patients_per_study, h, threads=args.threads)
    kernel_per_eval = (time.perf_counter() - t0) / args.evaluations

    committed = api.DEFAULT_N_INITIAL + api.DEFAULT_ITERATIONS * api.DEFAULT_BATCH
    t0 = time.perf_counter()
    api.validate(threads=args.threads)
    validate_s = time.perf_counter() - t0

    patients = args.patients_per_study * len(targets.studies)
    out = {
        "evaluations": args.evaluations,
        "patients_per_evaluation": patients,
        "seconds_per_evaluation": per_eval,
        "kernel_seconds_per_evaluation": kernel_per_eval,
        "kernel_share": kernel_per_eval / per_eval,
        "patients_per_s_in_calibration": patients / per_eval,
        "patients_per_s_kernel_alone": patients / kernel_per_eval,
        "committed_evaluations": committed,
        "committed_projected_minutes": committed * per_eval / 60,
        "validate_default_seconds": validate_s,
    }
    print(f"likelihood evaluation: {1e3 * per_eval:.1f} ms ({patients:,} patients; kernel alone "
          f"{1e3 * kernel_per_eval:.1f} ms = {100 * out['kernel_share']:.0f}% of it)")
    print(f"patients/s inside calibration: {out['patients_per_s_in_calibration']:,.0f}; kernel alone on the same "
          f"calls: {out['patients_per_s_kernel_alone']:,.0f}")
    print(f"committed calibration ({committed:,} evaluations): projected {out['committed_projected_minutes']:.1f} min "
          f"(budget 20 min)")
    print(f"cartsim validate at its defaults: {validate_s:.1f} s")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
