"""Non-parametric survival estimators, written in vectorised numpy.

Everything here is pure computation (no I/O, no pandas) and scales to tens of
millions of observations: each estimator sorts the data once and then works
with counts per distinct time (``np.unique`` + cumulative sums).

Units: times are in days unless the caller says otherwise; every function is
unit-agnostic, so outputs (medians, restricted means, ...) are in the units
of the input times.

Conventions shared by all estimators:

* observations whose time is NaN are dropped ("not in this analysis");
  other times must be finite and >= 0;
* at a tied time, events are counted before censorings (a subject censored
  at ``t`` is at risk at ``t``);
* confidence bands use the normal quantile ``z = Phi^-1(1/2 + level/2)``;
* **no estimate beyond the data** (:func:`beyond_data`, the one statement of the
  rule, used by every estimator in the package, compiled ones included): S(t), its
  band and F(t) at a time ``t`` later than the largest observed time (event or
  censoring), and a restricted mean to such a ``tau``, are not estimable, unless the
  curve is already final there (the Kaplan-Meier curve reached 0; for a cumulative
  incidence, the all-cause curve reached 0, so F stays at its last value).
  Vectorised evaluators return NaN there, scalar ones ``None``, and
  :func:`not_estimable_reason` says why (e.g. "beyond the maximum follow-up of
  709.2 d"). A median is "not reached" (``inf`` here, ``None`` in summaries) when
  the curve stays above 1/2 to the end of the data.

The estimates agree with lifelines (KaplanMeierFitter,
``logrank_test``/``multivariate_logrank_test``, AalenJohansenFitter); see
tests/test_survival.py for the comparison and its tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numba as nb
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

if TYPE_CHECKING:
    from sim.stats.incidence import CumulativeIncidence

__all__ = [
    "KaplanMeier",
    "LogRank",
    "beyond_data",
    "beyond_reason",
    "kaplan_meier",
    "landmarks",
    "logrank_test",
    "median_ci",
    "median_survival",
    "not_estimable_reason",
    "restricted_mean",
    "survival_at",
    "survival_ci_at",
    "wilson_interval",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# A survival curve that is mathematically exactly 1/2 (e.g. 5 deaths out of 10,
# no censoring) is computed as 0.5 +- a few ulps; the median uses this
# allowance so that such a curve counts as having reached one half.
_HALF_TOL = 1e-12


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _z(level: float) -> float:
    """Two-sided standard-normal quantile for a confidence level in (0, 1)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def _frozen(a: ArrayLike, dtype: Any = None) -> NDArray[Any]:
    """Return a read-only copy-or-view of ``a`` (dataclass fields stay immutable)."""
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def _clean_times(
    time: ArrayLike, *others: ArrayLike
) -> tuple[FloatArray, list[NDArray[Any]]]:
    """Drop rows with NaN time; validate the rest; return (time, [other arrays])."""
    t = np.asarray(time, dtype=np.float64).ravel()
    arrs = [np.asarray(o).ravel() for o in others]
    for a in arrs:
        if a.shape != t.shape:
            raise ValueError(
                f"length mismatch: time has {t.size} rows, another input has {a.size}"
            )
    keep = ~np.isnan(t)
    if not keep.all():
        t = t[keep]
        arrs = [a[keep] for a in arrs]
    if t.size and (not np.isfinite(t).all() or t.min() < 0.0):
        raise ValueError(
            "times must be finite and >= 0 (NaN marks 'not in this analysis')"
        )
    return t, arrs


def _as_event(event: NDArray[Any]) -> NDArray[np.bool_]:
    """Validate a 0/1 (or bool) event indicator and return it as bool."""
    if event.dtype == np.bool_:
        return event
    e = np.asarray(event, dtype=np.float64)
    if not np.isin(e, (0.0, 1.0)).all():
        raise ValueError("event must contain only 0/1 (or False/True)")
    return e.astype(bool)


def _counts_by_time(
    t: FloatArray, flags: list[NDArray[np.bool_]]
) -> tuple[FloatArray, IntArray, list[IntArray]]:
    """Distinct sorted times, total rows per time, and flagged rows per time.

    Uses plain sorts (faster than argsort / return_inverse on 10^7 rows):
    the flagged times are a subset of all times, aligned by searchsorted.
    """
    ut, n_tot = np.unique(t, return_counts=True)
    out = []
    for f in flags:
        uf, nf = np.unique(t[f], return_counts=True)
        c = np.zeros(ut.size, dtype=np.int64)
        c[np.searchsorted(ut, uf)] = nf
        out.append(c)
    return ut, n_tot.astype(np.int64), out


def _at_risk(removed: IntArray) -> IntArray:
    """Number at risk just before each distinct time (reverse cumulative sum)."""
    return np.cumsum(removed[::-1], axis=0)[::-1]


def _step_index(times: FloatArray, t: FloatArray) -> IntArray:
    """Index of the last ``times`` entry <= t (-1 if none): right-continuous step."""
    return np.searchsorted(times, t, side="right") - 1


# --------------------------------------------------------------------------- #
# the rule: no estimate beyond the data
# --------------------------------------------------------------------------- #
@nb.njit(cache=True, nogil=True)
def beyond_data(t: Any, max_followup: float, reached_zero: bool) -> Any:
    """True where an estimate at time ``t`` (days; a float or an array) lies beyond the data.

    ``max_followup``: the largest observed time (event or censoring) of the
    analysis; ``reached_zero``: the (all-cause) survival curve is 0 at that time,
    so nothing can change later and the last value stands for every later time.
    ``t == max_followup`` is still inside the data. Compiled (numba), so the
    compiled estimators of :mod:`sim.whatif.compare`, :mod:`sim.outcomes.sets`
    and :mod:`sim.calibration.study_metrics` call this same function.
    """
    return (t > max_followup) & (not reached_zero)


def beyond_reason(max_followup: float) -> str:
    """The reason given for a value past the data, naming the maximum follow-up (days)."""
    return f"beyond the maximum follow-up of {max_followup:.1f} d"


def not_estimable_reason(curve: KaplanMeier | CumulativeIncidence, t: float) -> str | None:
    """Why ``curve`` has no estimate at time ``t`` (days), or None if it has one
    (see :func:`beyond_data`)."""
    if curve.n == 0:
        return "no observations"
    if beyond_data(float(t), curve.max_followup, curve.reached_zero):
        return beyond_reason(curve.max_followup)
    return None


def _mask_beyond(curve: KaplanMeier | CumulativeIncidence, t: ArrayLike, values: FloatArray) -> FloatArray:
    """``values`` at times ``t`` with NaN where :func:`beyond_data`."""
    if curve.n == 0:
        return values
    tq = np.asarray(t, dtype=np.float64)
    beyond = beyond_data(np.ascontiguousarray(tq.ravel()), curve.max_followup, curve.reached_zero)
    return np.where(beyond.reshape(tq.shape), np.nan, values)


# --------------------------------------------------------------------------- #
# binomial proportion
# --------------------------------------------------------------------------- #
def wilson_interval(
    successes: float, n: float, level: float = 0.95
) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``.

    Returns ``(low, high)`` clipped to [0, 1]; ``(nan, nan)`` when ``n == 0``.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (float("nan"), float("nan"))
    z = _z(level)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (float(low), float(high))


# --------------------------------------------------------------------------- #
# Kaplan-Meier
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """Kaplan-Meier estimate; one row per distinct (event or censoring) time.

    ``time`` is sorted (days); ``survival`` is S(t) just after ``time``;
    ``ci_low``/``ci_high`` the pointwise log(-log) band at ``level``;
    ``greenwood`` the cumulative Greenwood sum = Var[log S(t)];
    ``at_risk`` the number at risk just before ``time``; ``events`` and
    ``censored`` the counts at ``time``; ``n`` the number of observations used.
    Evaluated at a time past ``max_followup`` the curve has no estimate (NaN),
    unless ``reached_zero`` (module docstring).
    """

    time: FloatArray
    survival: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    greenwood: FloatArray
    at_risk: IntArray
    events: IntArray
    censored: IntArray
    n: int
    level: float

    @property
    def max_followup(self) -> float:
        """The largest observed time, event or censoring (days; NaN without observations)."""
        return float(self.time[-1]) if self.time.size else float("nan")

    @property
    def reached_zero(self) -> bool:
        """The curve reached 0 (everybody still at risk had the event at the last time)."""
        return bool(self.survival.size and self.survival[-1] <= 0.0)

    def survival_at(self, t: ArrayLike) -> FloatArray:
        """S(t) at the given times (see :func:`survival_at`)."""
        return survival_at(self, t)

    def survival_ci_at(self, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Confidence band at the given times (see :func:`survival_ci_at`)."""
        return survival_ci_at(self, t)

    def median(self) -> float:
        """Median survival time (see :func:`median_survival`)."""
        return median_survival(self)

    def median_ci(self) -> tuple[float, float]:
        """Confidence interval of the median (see :func:`median_ci`)."""
        return median_ci(self)

    def restricted_mean(self, tau: float) -> float | None:
        """Restricted mean survival time up to ``tau`` (see :func:`restricted_mean`)."""
        return restricted_mean(self, tau)


def kaplan_meier(time: ArrayLike, event: ArrayLike, level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier estimator with Greenwood variance and a log(-log) band.

    ``time``: event or censoring time (days), NaN = excluded; ``event``: 1/True
    if the event was observed at ``time``, 0/False if censored.
    The band is ``exp(-exp(log(-log S) -+ z * sqrt(V) / log S))`` with
    ``V`` the Greenwood sum, set to 1 where S = 1 (lifelines' convention).
    """
    z = _z(level)
    t, (ev,) = _clean_times(time, event)
    ev = _as_event(ev)
    ut, removed, (d,) = _counts_by_time(t, [ev])
    n_risk = _at_risk(removed)
    nf = n_risk.astype(np.float64)
    df = d.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # log S = sum log((n - d) / n), -inf once everybody at risk has died
        log_s = np.cumsum(np.log(nf - df) - np.log(nf))
        # Greenwood term d / (n (n - d)); 0 where n == d (lifelines' convention)
        gw_term = np.where(d < n_risk, df / (nf * (nf - df)), 0.0)
        greenwood = np.cumsum(gw_term)
        surv = np.exp(log_s)
        v = np.log(surv)
        half = z * np.sqrt(greenwood) / v
        low = np.exp(-np.exp(np.log(-v) - half))
        high = np.exp(-np.exp(np.log(-v) + half))
    low = np.where(np.isnan(low), 1.0, low)
    high = np.where(np.isnan(high), 1.0, high)
    return KaplanMeier(
        time=_frozen(ut, np.float64),
        survival=_frozen(surv),
        ci_low=_frozen(low),
        ci_high=_frozen(high),
        greenwood=_frozen(greenwood),
        at_risk=_frozen(n_risk),
        events=_frozen(d),
        censored=_frozen(removed - d),
        n=int(t.size),
        level=float(level),
    )


def _step_eval(
    times: FloatArray, values: FloatArray, t: ArrayLike, before: float
) -> FloatArray:
    """Evaluate a right-continuous step function; ``before`` ahead of the first time."""
    tq = np.asarray(t, dtype=np.float64)
    if times.size == 0:
        return np.full(tq.shape, np.nan)
    idx = _step_index(times, tq)
    out = np.where(idx >= 0, values[np.maximum(idx, 0)], before)
    return np.where(np.isnan(tq), np.nan, out)


def survival_at(km: KaplanMeier, t: ArrayLike) -> FloatArray:
    """S(t), right-continuous, vectorised over ``t`` (days).

    1 before the first time; NaN beyond the maximum follow-up (0 there if the
    curve reached 0), for NaN ``t``, or for an estimate built from no observations.
    """
    return _mask_beyond(km, t, _step_eval(km.time, km.survival, t, 1.0))


def survival_ci_at(km: KaplanMeier, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Pointwise confidence band ``(low, high)`` of S(t) at ``t`` (days); NaN where
    S(t) is (see :func:`survival_at`)."""
    return (
        _mask_beyond(km, t, _step_eval(km.time, km.ci_low, t, 1.0)),
        _mask_beyond(km, t, _step_eval(km.time, km.ci_high, t, 1.0)),
    )


def _first_time_at_or_below(times: FloatArray, values: FloatArray, q: float) -> float:
    """Smallest time with value <= q (inf if never; nan if empty)."""
    if times.size == 0:
        return float("nan")
    hit = values <= q + _HALF_TOL
    if not hit.any():
        return float("inf")
    return float(times[int(np.argmax(hit))])


def median_survival(km: KaplanMeier) -> float:
    """Median survival time: smallest time with S(t) <= 0.5; inf when "not reached"
    (the curve stays above 0.5 to the maximum follow-up).

    Same definition as lifelines' ``median_survival_time_``, except that a
    1e-12 allowance lets a curve equal to one half up to rounding count as
    reaching it.
    """
    return _first_time_at_or_below(km.time, km.survival, 0.5)


def median_ci(km: KaplanMeier) -> tuple[float, float]:
    """Confidence interval of the median (Brookmeyer-Crowley style, days).

    ``(first time ci_low <= 0.5, first time ci_high <= 0.5)``, inf where the
    band never reaches 0.5; the definition of lifelines'
    ``median_survival_times(confidence_interval_)``.
    """
    return (
        _first_time_at_or_below(km.time, km.ci_low, 0.5),
        _first_time_at_or_below(km.time, km.ci_high, 0.5),
    )


def restricted_mean(km: KaplanMeier, tau: float) -> float | None:
    """Restricted mean survival time: area under the KM step curve on [0, tau] (days).

    None when not estimable (:func:`not_estimable_reason` says why): no
    observations, or ``tau`` beyond the maximum follow-up of a curve that has not
    reached 0 (its area past the data is unknown).
    """
    if not tau >= 0:
        raise ValueError(f"tau must be >= 0, got {tau!r}")
    if not_estimable_reason(km, tau) is not None:
        return None
    inside = km.time < tau
    knots = np.concatenate(([0.0], km.time[inside], [tau]))
    heights = np.concatenate(([1.0], km.survival[inside]))
    return float(np.sum(heights * np.diff(knots)))


def landmarks(km: KaplanMeier, days: ArrayLike) -> dict[float, dict[str, Any]]:
    """Survival, band and number at risk at landmark times (days).

    Returns ``{day: {"survival", "ci_low", "ci_high", "at_risk", "not_estimable"}}``,
    where ``at_risk`` counts observations with time >= day; past the data
    survival and band are None and ``not_estimable`` gives the reason (else None).
    """
    d = np.atleast_1d(np.asarray(days, dtype=np.float64))
    s = survival_at(km, d)
    lo, hi = survival_ci_at(km, d)
    first_ge = np.searchsorted(km.time, d, side="left")
    risk = np.zeros(d.shape, dtype=np.int64)
    valid = first_ge < km.time.size
    risk[valid] = km.at_risk[first_ge[valid]]
    out: dict[float, dict[str, Any]] = {}
    for i, day in enumerate(d):
        reason = not_estimable_reason(km, float(day))
        out[float(day)] = {
            "survival": None if reason else float(s[i]),
            "ci_low": None if reason else float(lo[i]),
            "ci_high": None if reason else float(hi[i]),
            "at_risk": int(risk[i]),
            "not_estimable": reason,
        }
    return out


# --------------------------------------------------------------------------- #
# log-rank
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class LogRank:
    """Log-rank test of equal hazards across ``groups`` (sorted labels).

    ``statistic`` is chi-square with ``df = k - 1`` degrees of freedom;
    ``observed``/``expected`` are events per group (same order as ``groups``);
    ``covariance`` the k x k covariance of observed - expected.
    """

    statistic: float
    p_value: float
    df: int
    groups: NDArray[Any]
    observed: FloatArray
    expected: FloatArray
    covariance: FloatArray


def logrank_test(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> LogRank:
    """Log-rank (Mantel-Haenszel) test for two or more groups.

    ``time`` in days (NaN rows dropped), ``event`` 0/1, ``group`` any labels.
    Hypergeometric variance with the (n - d)/(n - 1) tie correction; the
    statistic uses the first k - 1 groups (pseudo-inverse), as lifelines does.
    """
    t, (ev, g) = _clean_times(time, event, group)
    ev = _as_event(ev)
    labels, gi = np.unique(g, return_inverse=True)
    k = labels.size
    if k < 2:
        raise ValueError("logrank_test needs at least two groups")
    # Work only at distinct event times, one group at a time, with plain sorts
    # (np.sort + searchsorted of sorted queries is far faster than argsort).
    ue = np.unique(t[ev])
    n_ij = np.empty((k, ue.size), dtype=np.float64)  # at risk just before ue
    d_ij = np.zeros((k, ue.size), dtype=np.float64)  # events at ue
    for j in range(k):
        in_j = gi.ravel() == j
        tj = np.sort(t[in_j])
        n_ij[j] = tj.size - np.searchsorted(tj, ue, side="left")
        uj, cj = np.unique(t[in_j & ev], return_counts=True)
        d_ij[j, np.searchsorted(ue, uj)] = cj
    n_i = n_ij.sum(axis=0)
    d_i = d_ij.sum(axis=0)
    observed = d_ij.sum(axis=1)
    expected = n_ij @ (d_i / n_i)
    with np.errstate(divide="ignore", invalid="ignore"):
        tie = (n_i - d_i) / (n_i - 1.0)
    tie = np.where(np.isfinite(tie), tie, 1.0)
    f = tie * d_i / n_i**2
    cov = np.diag(n_ij @ (f * n_i)) - (n_ij * f) @ n_ij.T
    z = observed - expected
    stat = float(z[:-1] @ np.linalg.pinv(cov[:-1, :-1]) @ z[:-1])
    return LogRank(
        statistic=stat,
        p_value=float(stats.chi2.sf(stat, k - 1)),
        df=k - 1,
        groups=_frozen(labels),
        observed=_frozen(observed),
        expected=_frozen(expected),
        covariance=_frozen(cov),
    )
