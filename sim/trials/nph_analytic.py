"""Analytic power of the two-arm survival tests from the pathway's own curves.

Each arm's survival curve is the empirical curve of a large uncensored cohort simulated
through the pathway under the arm's parameters (the same patient addresses in both arms,
so the curves share their random numbers); the trial's expected entry days, dropout and
follow-up rule give each patient's potential follow-up, and :mod:`sim.stats.nph_power`
turns them into each test's asymptotic power at every grid size."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from sim.stats import nph_power as npw
from sim.trials.simulate import _patients, _rates_per_day
from sim.trials.spec import MIN_HORIZON_DAYS, TrialSpec

COHORT = 200_000  # patients per arm (about 2 s): the curves' binomial SE is below 0.0012
COHORT_SEED_OFFSET = 7_919  # the cohort's addresses differ from the simulated trials' (seed + offset)


@dataclass(frozen=True)
class Setting:
    """A trial setting: the test, its weights and time."""

    test: str
    weights: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    km_days: float = 0.0


def arm_curves(spec: TrialSpec, cohort: int = COHORT, seed: int | None = None) -> npw.Curves:
    """Both arms' survival curves (spec endpoint, days from randomisation) from ``cohort``
    uncensored patients per arm simulated through the pathway."""
    seed = (spec.seed if seed is None else seed) + COHORT_SEED_OFFSET
    thetas = (spec.control.scenario.params.theta()[None, :], spec.experimental.scenario.params.theta()[None, :])
    days = []
    for arm in (0, 1):
        t1, _ = _patients(spec, thetas, np.full((1, cohort), arm, np.int8), seed, MIN_HORIZON_DAYS, None, None)
        days.append(t1[0])
    horizon = float(max(follow_up_days(spec, max(spec.grid), None).max(), 1.0)) + npw.GRID_STEP_DAYS
    return npw.curves_from_event_days(days[0], days[1], horizon)


def follow_up_days(spec: TrialSpec, n: int, curves: npw.Curves | None) -> np.ndarray:
    """Potential follow-up (analysis day minus expected entry day) of the n patients; the
    event-driven rule's analysis day is when the expected events reach D (at most the
    last entry plus the maximum follow-up; ``curves`` needed then)."""
    rates, ends = _rates_per_day(spec)
    entry = npw.entry_days(n, rates, ends)
    if spec.followup_rule == "min_followup":
        return entry[-1] + spec.min_followup_days - entry
    if spec.followup_rule == "calendar":
        return spec.cutoff_days - entry
    last = entry[-1] + spec.max_followup_days
    if curves is None:
        return last - entry
    eta = spec.dropout_rate_per_year / 365.25

    def short(day: float) -> float:
        return npw.expected(curves, day - entry, spec.p_experimental, eta).events - spec.events

    if short(last) <= 0.0:
        return last - entry
    return optimize.brentq(short, 1.0, last, xtol=1e-3) - entry


def power_at(spec: TrialSpec, curves: npw.Curves, n: int, setting: Setting) -> dict[str, float]:
    """Asymptotic power of one test at total size n, with the expected events and the
    average hazard ratio (fixed design: the final analysis)."""
    eta = spec.dropout_rate_per_year / 365.25
    e = npw.expected(curves, follow_up_days(spec, n, curves), spec.p_experimental, eta,
                     (setting.km_days,) if setting.km_days > 0.0 else ())
    out = {"events": e.events, "average_hr": npw.average_hazard_ratio(e)}
    if setting.test in ("logrank", "cox", "cox_score", "fh", "maxcombo"):
        weights = setting.weights if setting.test in ("fh", "maxcombo") else ((0.0, 0.0),)
        mean_z, corr = npw.weighted_logrank_moments(e, weights)
        if setting.test == "maxcombo":
            out["power"] = npw.maxcombo_power(mean_z, corr, spec.alpha, spec.sides)
        else:
            out["power"] = npw.normal_power(float(mean_z[0]), spec.alpha, spec.sides)
        out["mean_z"] = float(mean_z[0]) if len(weights) == 1 else math.nan
    else:
        moments = npw.rmst_moments if setting.test == "rmst" else npw.milestone_moments
        diff, var = moments(e, setting.km_days)
        z = -diff / math.sqrt(var) if math.isfinite(var) and var > 0.0 else math.nan
        out["power"] = npw.normal_power(z, spec.alpha, spec.sides) if math.isfinite(z) else math.nan
        out["difference"] = diff
        out["mean_z"] = z
    return out


METHODS = {"logrank": "weighted log-rank asymptotics (G(0,0))", "cox": "weighted log-rank asymptotics (G(0,0))",
           "cox_score": "weighted log-rank asymptotics (G(0,0))", "fh": "weighted log-rank asymptotics",
           "maxcombo": "multivariate normal of the FH statistics",
           "rmst": "Kaplan-Meier restricted mean, asymptotic variance",
           "milestone": "Kaplan-Meier survival, Greenwood variance"}


def analytic_grid(spec: TrialSpec, settings: list[Setting], curves: npw.Curves | None = None) -> list[dict[str, Any]]:
    """Per setting: the asymptotic power at every grid size, with the expected events and
    average hazard ratio (the ``average_hr_power`` is the log-rank's power from the
    average hazard ratio and Schoenfeld's information, as gsDesign2's AHR method)."""
    curves = arm_curves(spec) if curves is None else curves
    out = []
    p = spec.p_experimental
    for s in settings:
        rows = [power_at(spec, curves, n, s) for n in spec.grid]
        ahr_power = [npw.normal_power(math.log(r["average_hr"]) * math.sqrt(r["events"] * p * (1.0 - p)),
                                      spec.alpha, spec.sides) if math.isfinite(r["average_hr"]) else math.nan
                     for r in rows]
        out.append({"test": s.test, "method": METHODS[s.test], "power": _finite([r["power"] for r in rows]),
                    "events": _finite([r["events"] for r in rows]),
                    "average_hr": _finite([r["average_hr"] for r in rows]), "average_hr_power": _finite(ahr_power)})
    return out


def _finite(xs: list[float]) -> list[float | None]:
    """JSON-ready: None where a figure is not defined (e.g. tau beyond the follow-up)."""
    return [float(x) if math.isfinite(x) else None for x in xs]
