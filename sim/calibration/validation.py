"""Posterior-predictive validation: for every target, what a study of that size and
follow-up would report under the calibrated model.

For each posterior draw the study scenarios are simulated (a fresh seed per draw, so
Monte Carlo noise is part of the prediction), patients are cut into pseudo-cohorts of
the study's size with its administrative censoring, and the target's statistic is
computed per pseudo-cohort. The pooled values over all draws give the predictive
median and 95% interval; a reported value is *inside* when it lies in that interval.

Qualitative targets report what a study of that size found: "greater" (A significantly
better than B) is the event that a cohort's contrast exceeds 1.96 sampling SEs, "no
difference" that it lies within 1.96 SEs, the SE being the contrast's spread over that
draw's cohorts. The statement is *inside* when the predictive probability of the
reported event (``p_reported``) is at least 5%: a model without the reported effect
puts "significantly greater" at 2.5% and fails. ``inside_fraction`` counts quantitative
targets only. A value the abstract gives only as an upper bound (it contradicts itself:
``binomial_at_most``) is inside when the bound is at least the predictive 2.5% quantile.

Per-target intervals alone prove little (a prior passes them too): ``joint`` holds a
joint predictive p-value per study and overall, a discrepancy over all of a study's
targets at once (:mod:`sim.calibration.predictive_check`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.calibration.imis import TargetModel
from sim.calibration.likelihood import Z_95
from sim.calibration.predictive_check import joint_check
from sim.calibration.study_metrics import StudyPatients, cohort_size, statistic
from sim.calibration.targets import CalibrationTarget, TargetSet
from sim.stats.weighted import Layout, estimate

CURVE_DAYS = np.linspace(0.0, 1096.0, 121)  # 3 years, ~9-day steps
#: a qualitative statement is inside when the model gives its event at least this probability
QUALITATIVE_LEVEL = 0.05


@dataclass
class ValidationResult:
    rows: list[dict[str, Any]]
    inside_fraction: float
    joint: dict[str, Any]  # joint predictive p-values per study and overall (sim.calibration.predictive_check)
    # study -> {"os": (draws, grid), "efs": ...}; NaN past a draw's maximum follow-up (sim.stats.survival)
    curves: dict[str, dict[str, np.ndarray]]
    draws: int
    seed: int

    def to_json(self) -> dict[str, Any]:
        quantitative = [r for r in self.rows if r["quantitative"]]
        return {"targets": self.rows, "inside_fraction": self.inside_fraction,
                "inside": sum(r["inside"] for r in quantitative), "quantitative_targets": len(quantitative),
                "qualitative_inside": sum(r["inside"] for r in self.rows if not r["quantitative"]),
                "qualitative_targets": len(self.rows) - len(quantitative), "draws": self.draws, "seed": self.seed,
                "joint": self.joint}


def _draw_seed(seed: int, draw: int) -> int:
    return (seed * 1_000_003 + 7919 * (draw + 1)) % (2**63)


def _curve(p: StudyPatients, endpoint: str) -> np.ndarray:
    t, e = p.os if endpoint == "os" else p.efs
    days = np.asarray(CURVE_DAYS, dtype=float)
    return estimate(t, np.asarray(e).astype(np.int8), days, float(days[-1]))[Layout(len(days)).survival]


def validate(targets: TargetSet, model: TargetModel, posterior: np.ndarray, draws: int = 200,
             patients_per_draw: int = 600, seed: int = 20261121,
             progress: Callable[[int, int], None] | None = None) -> ValidationResult:
    """Posterior-predictive table of every target (``posterior``: slot values, rows)."""
    draws = min(draws, posterior.shape[0])
    pick = np.linspace(0, posterior.shape[0] - 1, draws).round().astype(int)  # spread over the sample
    stats: dict[str, list[np.ndarray]] = {t.target_id: [] for t in targets.targets}
    events: dict[str, list[np.ndarray]] = {t.target_id: [] for t in targets.targets if not t.quantitative}
    curves: dict[str, dict[str, list[np.ndarray]]] = {sid: {"os": [], "efs": []} for sid in targets.studies}
    for k, draw_row in enumerate(pick):
        sims = model.simulate(posterior[draw_row], patients=patients_per_draw, seed=_draw_seed(seed, k))
        for t in targets.targets:
            values = statistic(t, sims[t.study_id], cohort_size(t, targets.studies[t.study_id]))
            stats[t.target_id].append(values)
            if not t.quantitative:
                events[t.target_id].append(_reported_event(str(t.reported), values))
        for sid, p in sims.items():
            for ep in ("os", "efs"):
                curves[sid][ep].append(_curve(p, ep))
        if progress is not None:
            progress(k + 1, draws)
    rows = []
    for t in targets.targets:
        values = np.concatenate(stats[t.target_id])
        values = values[~np.isnan(values)]
        if values.size == 0:
            low = med = high = float("nan")
        else:  # medians "not reached" (inf) count as above every finite value
            low, med, high = (float(np.quantile(values, q, method="inverted_cdf")) for q in (0.025, 0.5, 0.975))
        row: dict[str, Any] = {"id": t.target_id, "study": t.study_id, "metric": t.metric, "statistic": t.statistic,
                               "reported": t.reported, "predicted_median": _json_num(med),
                               "predicted_low": _json_num(low), "predicted_high": _json_num(high),
                               "likelihood": t.likelihood, "quantitative": t.quantitative,
                               "cohorts": int(values.size)}
        if t.quantitative:
            row["inside"] = inside(t, low, high)
            row["upper_bound"] = t.upper_bound
        else:
            happened = np.concatenate(events[t.target_id])
            p_reported = float(happened.mean()) if happened.size else 0.0
            row["p_reported"] = round(p_reported, 6)
            row["inside"] = p_reported >= QUALITATIVE_LEVEL
        rows.append(row)
    quantitative = [r for r in rows if r["quantitative"]]
    frac = sum(r["inside"] for r in quantitative) / len(quantitative) if quantitative else float("nan")
    out_curves = {sid: {ep: np.vstack(v) for ep, v in c.items()} for sid, c in curves.items()}
    return ValidationResult(rows, frac, joint_check(targets, stats), out_curves, draws, seed)


def inside(t: CalibrationTarget, low: float, high: float) -> bool:
    """Is a quantitative target's reported value inside its predictive interval [low, high]?
    A count is compared exactly (the file's percentages are rounded: 1/7 = 0.1429); an
    upper bound is contradicted only when nearly every prediction exceeds it."""
    reported = t.count / t.n if t.count is not None and t.n else float(t.reported)
    return bool(low <= reported) if t.upper_bound else bool(low <= reported <= high)


def _reported_event(reported: str, values: np.ndarray) -> np.ndarray:
    """Per cohort: did it show what the study reported (see the module docstring)?"""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return np.zeros(0, bool)
    se = float(finite.std(ddof=1))
    if reported == "greater":
        return finite > Z_95 * se
    return np.abs(finite) < Z_95 * se


def _json_num(x: float) -> float | None:
    """JSON has no infinity: a median not reached is reported as null."""
    return None if not np.isfinite(x) else round(x, 6)
