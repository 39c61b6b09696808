"""Aalen-Johansen cumulative incidence of one cause among competing risks, with its
delta-method variance and a log(-log) band; conventions (days, the beyond-data rule)
as in :mod:`sim.stats.survival`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from sim.stats.survival import (
    FloatArray,
    IntArray,
    _at_risk,
    _clean_times,
    _counts_by_time,
    _frozen,
    _mask_beyond,
    _step_eval,
    _z,
)

__all__ = ["CumulativeIncidence", "aalen_johansen", "cif_at"]


# --------------------------------------------------------------------------- #
# Aalen-Johansen cumulative incidence
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of ``cause_of_interest``.

    One row per distinct time (days, sorted): ``cif`` F(t) just after
    ``time``; ``variance`` the delta-method (Greenwood-type) variance;
    ``ci_low``/``ci_high`` a log(-log) band at ``level`` (equal to F where
    F is 0 or 1);
    ``at_risk`` just before ``time``; ``events`` of the cause of interest,
    ``competing`` events of other causes, ``censored`` at ``time``.
    Evaluated past ``max_followup`` it has no estimate (NaN), unless
    ``reached_zero`` (module docstring).
    """

    time: FloatArray
    cif: FloatArray
    variance: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    at_risk: IntArray
    events: IntArray
    competing: IntArray
    censored: IntArray
    cause_of_interest: int
    n: int
    level: float

    @property
    def max_followup(self) -> float:
        """The largest observed time, event or censoring (days; NaN without observations)."""
        return float(self.time[-1]) if self.time.size else float("nan")

    @property
    def reached_zero(self) -> bool:
        """The all-cause survival curve reached 0: everybody at risk at the last time
        had an event of some cause there, so F is final."""
        return bool(self.time.size and self.at_risk[-1] == self.events[-1] + self.competing[-1])

    def cif_at(self, t: ArrayLike) -> FloatArray:
        """F(t) at the given times (see :func:`cif_at`)."""
        return cif_at(self, t)


def aalen_johansen(
    time: ArrayLike, cause: ArrayLike, cause_of_interest: int, level: float = 0.95
) -> CumulativeIncidence:
    """Aalen-Johansen estimator of the cumulative incidence of one cause.

    ``time`` in days (NaN rows dropped); ``cause`` 0 = censored, positive
    integers = competing causes. F(t) = sum_{t_i <= t} S(t_{i-1}) d_k,i / n_i,
    with S the all-cause Kaplan-Meier curve.

    Ties are handled exactly, without jitter: all events at a tied time
    (of any cause) are counted together, which is the standard AJ estimator.
    (lifelines' AalenJohansenFitter instead jitters tied event times of
    different causes, so the two agree only on data without such ties.)
    The variance and log(-log) band follow lifelines' formulas; the
    d / (n (n - d)) term is taken as 0 where n == d.
    """
    z = _z(level)
    t, (c,) = _clean_times(time, cause)
    cf = np.asarray(c, dtype=np.float64)
    if cf.size and (np.isnan(cf).any() or (cf < 0).any() or (cf != np.round(cf)).any()):
        raise ValueError("cause must hold non-negative integers (0 = censored)")
    ci_int = cf.astype(np.int64)
    k = int(cause_of_interest)
    if k <= 0:
        raise ValueError("cause_of_interest must be a positive integer")
    ut, removed, (d_all, d_k) = _counts_by_time(t, [ci_int > 0, ci_int == k])
    n_risk = _at_risk(removed)
    nf = n_risk.astype(np.float64)
    da = d_all.astype(np.float64)
    dk = d_k.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.exp(np.cumsum(np.log(nf - da) - np.log(nf)))
        lag_s = np.concatenate(([1.0], surv[:-1]))
        inc = lag_s * dk / nf
        cif = np.cumsum(inc)
        # Var F(t_j) = sum_i a_i (F_j - F_i)^2 + sum_i S_{i-1}^2 dk_i (n_i - dk_i) / n_i^3
        #              - 2 sum_i (F_j - F_i) S_{i-1} dk_i / n_i^2,   i <= j
        a = np.where(d_all < n_risk, da / (nf * (nf - da)), 0.0)
        b = lag_s * dk / nf**2
        var = (
            cif**2 * np.cumsum(a)
            - 2.0 * cif * np.cumsum(a * cif)
            + np.cumsum(a * cif**2)
            + np.cumsum(lag_s**2 * dk * (nf - dk) / nf**3)
            - 2.0 * (cif * np.cumsum(b) - np.cumsum(b * cif))
        )
        var = np.maximum(var, 0.0)
        log_f = np.log(cif)
        se = np.sqrt(var) / (cif * np.abs(log_f))
        tr = np.log(-log_f)
        low = np.exp(-np.exp(tr + z * se))
        high = np.exp(-np.exp(tr - z * se))
    # degenerate ends of the transform: F = 0 -> (0, 0); F = 1 -> (1, 1)
    low = np.where(np.isnan(low), cif, low)
    high = np.where(np.isnan(high), cif, high)
    return CumulativeIncidence(
        time=_frozen(ut, np.float64),
        cif=_frozen(cif),
        variance=_frozen(var),
        ci_low=_frozen(low),
        ci_high=_frozen(high),
        at_risk=_frozen(n_risk),
        events=_frozen(d_k),
        competing=_frozen(d_all - d_k),
        censored=_frozen(removed - d_all),
        cause_of_interest=k,
        n=int(t.size),
        level=float(level),
    )


def cif_at(ci: CumulativeIncidence, t: ArrayLike) -> FloatArray:
    """F(t), right-continuous, vectorised over ``t`` (days); 0 before the first time,
    NaN beyond the maximum follow-up unless the all-cause curve reached 0."""
    return _mask_beyond(ci, t, _step_eval(ci.time, ci.cif, t, 0.0))
