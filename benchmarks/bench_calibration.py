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
import math
import time
from typing import Any

import numpy as np

from sim.api import calibration as api
from sim.api.calibration import load_targets
from sim.calibration import imis, scoring, study_metrics
from sim.calibration.imis import PriorTransform, TargetModel
from sim.engine.kernel import run_kernel
from sim.io.files import load_parameter_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--evaluations", type=int, default=100)
    ap.add_argument("--patients-per-study", type=int, default=api.DEFAULT_PATIENTS_PER_STUDY)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", dest="json_path", default=None)
    ap.add_argument("--skip-validate", action="store_true", help="only the likelihood evaluations")
    args = ap.parse_args()

    targets = load_targets()
    params = load_parameter_set(api.DEFAULTS_PATH)
    transform = PriorTransform(params)
    model = TargetModel(targets, transform, args.patients_per_study, api.DEFAULT_SEED, args.threads)
    z = np.random.default_rng(1).standard_normal((args.evaluations, transform.dims))
    values = transform.values(z)
    model.loglik(values[0])  # compile / load the numba cache

    thetas = [st.scenario.params.theta() for st in targets.studies.values()]
    horizons = [st.scenario.study.followup_max_days + 400.0 for st in targets.studies.values()]
    # interleaved, one evaluation then the bare kernel on the same calls: on a shared machine
    # both see the same load, so their ratio holds even when the absolute times do not.
    # Inside an evaluation the study statistics (simulate_study less its kernel call, and
    # every statistic) are timed by wrapping them where the calibration looks them up
    spent = {"inside_kernel": 0.0, "statistics": 0.0}

    def timed(fn: Any, key: str) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t
        return wrapper

    study_metrics.run_kernel = timed(study_metrics.run_kernel, "inside_kernel")
    imis.simulate_study = timed(imis.simulate_study, "statistics")
    scoring.statistic = timed(scoring.statistic, "statistics")
    evaluation_s = kernel_s = 0.0
    for row in values:
        t0 = time.perf_counter()
        model.loglik(row)
        t1 = time.perf_counter()
        for th, h in zip(thetas, horizons, strict=True):
            run_kernel(th, api.DEFAULT_SEED, args.patients_per_study, h, threads=args.threads)
        kernel_s += time.perf_counter() - t1
        evaluation_s += t1 - t0
    per_eval = evaluation_s / args.evaluations
    kernel_per_eval = kernel_s / args.evaluations
    statistics_per_eval = (spent["statistics"] - spent["inside_kernel"]) / args.evaluations

    committed = api.DEFAULT_N_INITIAL + api.DEFAULT_ITERATIONS * api.DEFAULT_BATCH
    validate_s = math.nan
    if not args.skip_validate:
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
        "study_statistics_seconds_per_evaluation": statistics_per_eval,
        "study_statistics_over_kernel": statistics_per_eval / kernel_per_eval,
        "patients_per_s_in_calibration": patients / per_eval,
        "patients_per_s_kernel_alone": patients / kernel_per_eval,
        "committed_evaluations": committed,
        "committed_projected_minutes": committed * per_eval / 60,
        "validate_default_seconds": validate_s,
    }
    print(f"likelihood evaluation: {1e3 * per_eval:.1f} ms ({patients:,} patients; kernel alone "
          f"{1e3 * kernel_per_eval:.1f} ms = {100 * out['kernel_share']:.0f}% of it; the rest, study statistics "
          f"and scoring, {1e3 * (per_eval - kernel_per_eval):.1f} ms = "
          f"{(per_eval - kernel_per_eval) / kernel_per_eval:.2f}x the kernel)")
    print("study statistics (simulate_study less its kernel call, every statistic): "
          f"{1e3 * statistics_per_eval:.1f} ms per evaluation = "
          f"{statistics_per_eval / kernel_per_eval:.2f}x the kernel")
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
