"""Choosing the test: the power of several two-arm survival tests on the same simulated
trials (common random numbers), at the spec's sample sizes, so that the shape of the
pathway's survival curves (a plateau from cure, late separation) shows which test it
favours."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

from sim.model.errors import InputError
from sim.outcomes.summary import DAYS_PER_MONTH
from sim.trials.nph_analytic import Setting, analytic_grid
from sim.trials.simulate import simulate_trials
from sim.trials.spec import TrialSpec

#: (label, test, Fleming-Harrington weights)
COMPARED: tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...] = (
    ("log-rank", "logrank", ((0.0, 0.0),)),
    ("Cox (Wald)", "cox", ((0.0, 0.0),)),
    ("FH(0,1)", "fh", ((0.0, 1.0),)),
    ("FH(1,0)", "fh", ((1.0, 0.0),)),
    ("MaxCombo", "maxcombo", ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))),
    ("RMST difference", "rmst", ((0.0, 0.0),)),
    ("milestone survival", "milestone", ((0.0, 0.0),)),
)


def check_comparable(spec: TrialSpec) -> None:
    """InputError unless the spec is a two-arm trial of a survival endpoint."""
    if spec.design != "two_arm" or not spec.survival:
        raise InputError(spec.file, "analysis.endpoint", "--compare-tests needs a two-arm survival endpoint, got "
                         f"{spec.design} {spec.endpoint}", "os or efs with design two_arm")


def compare_tests(spec: TrialSpec, trials: int | None = None, seed: int | None = None, threads: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Power (with Monte Carlo SE ``sqrt(p (1 - p) / K)``) of each test of
    :data:`COMPARED` at every grid size, all analysing the same simulated trials at the
    final analysis (interim looks, if any, are left out: a fixed-design comparison),
    the wall time of each analysis, and each test's analytic power beside
    (:func:`sim.trials.nph_analytic.analytic_grid`)."""
    check_comparable(spec)
    # RMST and milestone at the spec's own time, else at the minimum follow-up (every
    # patient followed that long unless lost), else at 12 months
    km_days = spec.km_days or spec.min_followup_days or 12 * DAYS_PER_MONTH
    base = dataclasses.replace(spec, interim_fractions=(), futility=None, futility_hr=None, futility_z=(),
                               km_days=km_days)
    sim = simulate_trials(base, trials, seed, threads=threads, progress=progress)
    rows = []
    one = dataclasses.replace(sim, t_event=sim.t_event[:1], arm=sim.arm[:1], entry=sim.entry[:1],
                              dropout=sim.dropout[:1], t_denominator=None)
    for _, test, weights in COMPARED:  # compile first, so that the wall times compare the analyses alone
        dataclasses.replace(one, spec=dataclasses.replace(base, test=test, fh_weights=weights)).analyse(base.grid[:1])
    for label, test, weights in COMPARED:
        t0 = time.perf_counter()
        res = dataclasses.replace(sim, spec=dataclasses.replace(base, test=test, fh_weights=weights)).analyse(
            base.grid)
        elapsed = time.perf_counter() - t0
        power = [float(p) for p in res.power]
        rows.append({"label": label, "test": test, "weights": [list(w) for w in weights], "power": power,
                     "se": [math.sqrt(p * (1.0 - p) / sim.trials) for p in power], "analysis_seconds": elapsed})
    analytic = analytic_grid(base, [Setting(test, weights, km_days) for _, test, weights in COMPARED])
    for row, a in zip(rows, analytic, strict=True):
        row["analytic_power"] = a["power"]
        row["analytic_method"] = a["method"]
    return {"grid": list(base.grid), "trials": sim.trials, "events_expected": analytic[0]["events"],
            "average_hr": analytic[0]["average_hr"], "average_hr_power": analytic[0]["average_hr_power"],
            "rmst_tau_and_milestone_months": km_days / DAYS_PER_MONTH, "seed": sim.seed, "sides": base.sides,
            "alpha": base.alpha, "endpoint": base.endpoint, "tests": rows,
            "note": "every test analyses the same simulated trials at the final analysis (common random numbers); "
                    f"RMST to tau and milestone survival at {km_days / DAYS_PER_MONTH:.1f} months; analytic power "
                    "from each arm's curve (a large simulated cohort) by the tests' asymptotic normal "
                    "approximations (sim.stats.nph_power)"}
