"""Joint posterior-predictive p-values: one number per study (and overall) that can say
"the model does not reproduce this study", where target-by-target intervals cannot.

A replicate study is one simulated cohort of the study's size and follow-up from one
posterior draw: its statistics for every quantitative target of the study (cohort r of
each target in draw k). Each statistic is turned into a two-sided predictive tail
probability against the pooled predictive distribution of that target (mid-p for
ties: counts are discrete), and the discrepancy of a study is

    D = - sum over its targets of log(tail probability),

large when several statistics sit in the tails together. A target reported only as an
upper bound ("at most", :attr:`CalibrationTarget.upper_bound`) contributes its lower
tail alone, min(1, 2 P(X <= x)): a bound is contradicted only by predictions above it.
Replicates are scored by the same function of their own values, so the p-value keeps
its reference distribution. The p-value is the share of
replicates whose D is at least the reported data's D. Overall, D sums over every
study. Because the replicates come from the model, their own p-values (each replicate
against the others) must be uniform: :func:`joint_check` reports the Kolmogorov-Smirnov
p-value of that check beside the real data's p-values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from sim.calibration.targets import CalibrationTarget, TargetSet

#: model-generated data sets the uniformity check needs (one per held-out draw)
MIN_UNIFORMITY_DATA = 10


def observed_value(t: CalibrationTarget) -> float:
    """The reported value (a count exactly: the file's percentages are rounded)."""
    return t.count / t.n if t.count is not None and t.n else float(t.reported)


def tail_probability(pool: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Two-sided mid-p tail probability of each ``x`` under the sorted ``pool``, floored
    at half a replicate so that log() stays finite."""
    n = pool.size
    lo = np.searchsorted(pool, x, side="left")
    hi = np.searchsorted(pool, x, side="right")
    f = (lo + 0.5 * (hi - lo)) / n
    return np.maximum(2.0 * np.minimum(f, 1.0 - f), 0.5 / n)


def target_tail(t: CalibrationTarget, pool: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The tail probability a target contributes: two-sided, or for an upper bound the
    doubled lower mid-p tail (capped at 1, floored like :func:`tail_probability`)."""
    if not t.upper_bound:
        return tail_probability(pool, x)
    n = pool.size
    lo = np.searchsorted(pool, x, side="left")
    hi = np.searchsorted(pool, x, side="right")
    return np.clip(2.0 * (lo + 0.5 * (hi - lo)) / n, 0.5 / n, 1.0)


def _replicates(ts: list[CalibrationTarget], stats: dict[str, list[np.ndarray]], draws: np.ndarray
                ) -> np.ndarray:
    """Rows (draw k in ``draws``, cohort r) x targets; rows with a missing statistic dropped."""
    rows = []
    for k in draws:
        m = min(stats[t.target_id][k].size for t in ts)
        if m:
            rows.append(np.column_stack([stats[t.target_id][k][:m] for t in ts]))
    x = np.vstack(rows) if rows else np.empty((0, len(ts)))
    return x[~np.isnan(x).any(1)]


def _pools(ts: list[CalibrationTarget], stats: dict[str, list[np.ndarray]], draws: np.ndarray
           ) -> dict[str, np.ndarray]:
    out = {}
    for t in ts:
        v = np.concatenate([stats[t.target_id][k] for k in draws])
        out[t.target_id] = np.sort(v[~np.isnan(v)])
    return out


def _discrepancy(ts: list[CalibrationTarget], x: np.ndarray, pools: dict[str, np.ndarray]) -> np.ndarray:
    """D of each row of ``x`` (rows x targets)."""
    d = np.zeros(x.shape[0])
    for j, t in enumerate(ts):
        d -= np.log(target_tail(t, pools[t.target_id], x[:, j]))
    return d


def _p_values(d_ref: np.ndarray, d: np.ndarray) -> np.ndarray:
    """P(D_replicate >= d) with one added to numerator and denominator."""
    srt = np.sort(d_ref)
    return (1.0 + d_ref.size - np.searchsorted(srt, d, side="left")) / (1.0 + d_ref.size)


def _uniformity(ts: list[CalibrationTarget], stats: dict[str, list[np.ndarray]], n_draws: int) -> float:
    """The check by simulation: one cohort of every other draw plays the data, the
    remaining draws the model (pools and reference replicates); the KS p-value of those
    data sets' p-values against the uniform distribution. One cohort per draw keeps the
    data sets independent (cohorts of one draw share its parameters)."""
    held = np.arange(n_draws) % 2 == 0
    data_draws, model_draws = np.flatnonzero(held), np.flatnonzero(~held)
    if data_draws.size == 0 or model_draws.size == 0:
        return float("nan")
    pools = _pools(ts, stats, model_draws)
    if any(p.size == 0 for p in pools.values()):
        return float("nan")
    ref = _discrepancy(ts, _replicates(ts, stats, model_draws), pools)
    rows = [r[:1] for k in data_draws if (r := _replicates(ts, stats, np.array([k]))).shape[0]]
    if len(rows) < MIN_UNIFORMITY_DATA or ref.size < MIN_UNIFORMITY_DATA:
        return float("nan")
    return float(sps.kstest(_p_values(ref, _discrepancy(ts, np.vstack(rows), pools)), "uniform").pvalue)


def joint_check(targets: TargetSet, stats: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Joint predictive p-values per study and overall (``stats``: target id -> per draw,
    the statistic in each simulated cohort of the study's size)."""
    n_draws = min((len(v) for v in stats.values()), default=0)
    every = np.arange(n_draws)
    pools = _pools(targets.targets, stats, every)
    usable = [t for t in targets.targets if t.quantitative and pools[t.target_id].size]
    out: dict[str, Any] = {"studies": {}}
    groups = {sid: [t for t in usable if t.study_id == sid] for sid in targets.studies}
    for name, ts in (*groups.items(), ("overall", usable)):
        reps = _replicates(ts, stats, every) if ts else np.empty((0, 0))
        if reps.shape[0] == 0:
            continue
        obs = np.array([[observed_value(t) for t in ts]])
        d_rep, d_obs = _discrepancy(ts, reps, pools), float(_discrepancy(ts, obs, pools)[0])
        tails = tail_probability_each(ts, obs[0], pools)
        summary = {"targets": len(ts), "discrepancy": round(d_obs, 4),
                   "p_value": round(float(_p_values(d_rep, np.array([d_obs]))[0]), 6), "replicates": int(d_rep.size),
                   "replicate_discrepancy_median": round(float(np.median(d_rep)), 4),
                   "uniformity_ks_p": _finite(_uniformity(ts, stats, n_draws)),
                   "least_likely": [{"id": i, "tail_p": round(p, 6)} for i, p in sorted(tails, key=lambda x: x[1])[:3]]}
        if name == "overall":
            out["overall"] = summary
        else:
            out["studies"][name] = summary
    return out


def _finite(x: float) -> float | None:
    """JSON has no NaN: a check that could not be made is null."""
    return round(x, 6) if np.isfinite(x) else None


def tail_probability_each(ts: list[CalibrationTarget], obs: np.ndarray, pools: dict[str, np.ndarray]
                          ) -> list[tuple[str, float]]:
    """Each reported value's two-sided predictive tail probability."""
    return [(t.target_id, float(target_tail(t, pools[t.target_id], obs[j:j + 1])[0])) for j, t in enumerate(ts)]
