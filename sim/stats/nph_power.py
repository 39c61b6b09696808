"""Analytic (asymptotic) power of two-arm survival tests under non-proportional hazards.

Given both arms' survival curves, the accrual, the dropout hazard and the analysis time,
the expected numbers at risk and of events are integrated over a time grid (piecewise
exponential hazards between grid points; each patient's potential follow-up is the
analysis day minus the entry day), and every test's statistic is approximated by a
normal with the expected mean and variance:

* Fleming-Harrington G(rho, gamma) weighted log-rank (the approach of gsDesign2 and of
  Yung & Liu 2020, Biometrics 76:939-950): ``E U = int w Y_A Y_B / Y (h_B - h_A) du`` and
  ``V = int w^2 Y_A Y_B / Y^2 dN``, with ``w`` the weight at the pooled survival limit;
  ``Z ~ N(E U / sqrt(V), 1)``. The log-rank test is G(0, 0).
* MaxCombo: the statistics of several weights are jointly normal with means
  ``E U_k / sqrt(V_kk)`` and correlation ``V_kl / sqrt(V_kk V_ll)``
  (``V_kl = int w_k w_l Y_A Y_B / Y^2 dN``); the critical value solves the null
  (zero-mean) equation and the power is the alternative's probability beyond it, both by
  :func:`sim.stats.maxcombo.mvn_rectangle`.
* RMST difference at tau: each arm's restricted mean ``int_0^tau S`` with the
  asymptotic variance of the Kaplan-Meier integral,
  ``int_0^tau A(u)^2 dN / Y^2`` (``A(u) = int_u^tau S``; the limit of the Greenwood-type
  sum that the trial analysis uses).
* Milestone survival at t: ``S(t)`` with the Greenwood limit ``S(t)^2 int_0^t dN / Y^2``.
* Average hazard ratio (gsDesign2's AHR): ``exp(sum_j E_j log(h_B,j / h_A,j) / sum_j E_j)``
  over pieces ``j`` with expected events ``E_j``, and the log-rank power from it with
  Schoenfeld's information ``D p (1 - p)``.

``Y_i(u) = n_i S_i(u) C(u)``, ``C(u) = exp(-eta u) G(u)`` the share of patients whose
potential follow-up is at least ``u`` times the dropout survival; ``dN_i`` the expected
events of arm i. Times in days. The approximation errors are those of the normal
approximation and of the local alternative (the variance taken under the alternative),
a few hundredths of power at the sizes of practical interest (tests/stats/test_nph_power.py
checks them against simulation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from sim.stats.maxcombo import mvn_rectangle

GRID_STEP_DAYS = 7.0  # integration step; the curves are piecewise exponential between points
AHR_PIECE_DAYS = 30.0  # pieces of the average hazard ratio


@dataclass(frozen=True)
class Curves:
    """Both arms' survival at ``time_days`` (ascending from 0; S = 1 at 0): arm A
    (control) and arm B (experimental)."""

    time_days: np.ndarray
    surv_a: np.ndarray
    surv_b: np.ndarray

    def at(self, t_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both survivals at ``t_days`` (log-linear between points: piecewise exponential)."""
        la = np.interp(t_days, self.time_days, np.log(np.maximum(self.surv_a, 1e-300)))
        lb = np.interp(t_days, self.time_days, np.log(np.maximum(self.surv_b, 1e-300)))
        return np.exp(la), np.exp(lb)


def curves_from_event_days(days_a: np.ndarray, days_b: np.ndarray, horizon_days: float,
                           step_days: float = GRID_STEP_DAYS) -> Curves:
    """Empirical survival of two large uncensored cohorts (event days, inf: none) on a
    grid of ``step_days`` to ``horizon_days``."""
    grid = np.arange(0.0, horizon_days + step_days, step_days)
    sa = 1.0 - np.searchsorted(np.sort(days_a), grid, side="right") / len(days_a)
    sb = 1.0 - np.searchsorted(np.sort(days_b), grid, side="right") / len(days_b)
    return Curves(grid, sa, sb)


def entry_days(n: int, rates_per_day: np.ndarray, ends_days: np.ndarray) -> np.ndarray:
    """Expected entry day of patients 1 .. n: patient j enters when the cumulative accrual
    intensity reaches j - 1 (rates per period ending at ``ends_days``; the last continues)."""
    ends = np.append(np.asarray(ends_days, float), np.inf)
    starts = np.concatenate([[0.0], ends[:-1]])
    rates = np.asarray(rates_per_day, float)
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(np.concatenate([[0.0], ends[:-1]])))])
    target = np.arange(n, dtype=float)
    k = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(rates) - 1)
    # a zero-rate period is never the one a target falls in (cum does not grow there)
    return starts[k] + (target - cum[k]) / np.where(rates[k] > 0.0, rates[k], np.inf)


@dataclass(frozen=True)
class Expected:
    """Expected at-risk numbers and events per grid interval (``lo``..``hi`` days)."""

    lo: np.ndarray
    hi: np.ndarray
    y_a: np.ndarray  # at risk at the interval's midpoint
    y_b: np.ndarray
    d_a: np.ndarray  # expected events in the interval
    d_b: np.ndarray
    s_a_mid: np.ndarray
    s_b_mid: np.ndarray
    s_a_hi: np.ndarray  # survival at the interval's end
    s_b_hi: np.ndarray

    @property
    def events(self) -> float:
        return float(self.d_a.sum() + self.d_b.sum())

    def pooled_survival_mid(self) -> np.ndarray:
        """The pooled Kaplan-Meier's limit at each midpoint (the product integral of the
        pooled hazard), the point the weights are evaluated at."""
        y = self.y_a + self.y_b
        dl = np.where(y > 0.0, (self.d_a + self.d_b) / np.where(y > 0.0, y, 1.0), 0.0)
        before = np.concatenate([[0.0], np.cumsum(dl)[:-1]])
        return np.exp(-(before + 0.5 * dl))


def expected(curves: Curves, follow_days: np.ndarray, share_b: float, dropout_per_day: float,
             extra_points: tuple[float, ...] = (), step_days: float = GRID_STEP_DAYS) -> Expected:
    """The expected table of a trial whose patients have potential follow-ups
    ``follow_days`` (analysis day minus entry day; negative: not yet entered), a share
    ``share_b`` randomised to B. ``extra_points`` are added to the grid (tau, a milestone)."""
    f = np.sort(np.asarray(follow_days, float))
    n = float(len(f))
    top = float(f[-1]) if f.size else 0.0
    pts = np.unique(np.concatenate([np.arange(0.0, top, step_days), [top],
                                    [p for p in extra_points if 0.0 < p < top]]))
    lo, hi = pts[:-1], pts[1:]
    mid = 0.5 * (lo + hi)
    share_followed = 1.0 - np.searchsorted(f, mid, side="left") / n  # G(mid): potential follow-up >= mid
    c = np.exp(-dropout_per_day * mid) * share_followed
    sa_lo, sb_lo = curves.at(lo)
    sa_hi, sb_hi = curves.at(hi)
    sa_mid, sb_mid = np.sqrt(sa_lo * sa_hi), np.sqrt(sb_lo * sb_hi)  # piecewise exponential
    na, nb = n * (1.0 - share_b), n * share_b
    return Expected(lo, hi, na * sa_mid * c, nb * sb_mid * c, na * (sa_lo - sa_hi) * c, nb * (sb_lo - sb_hi) * c,
                    sa_mid, sb_mid, sa_hi, sb_hi)


def weighted_logrank_moments(e: Expected, weights: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """(standardised means E U_k / sqrt(V_kk), correlation V_kl / sqrt(V_kk V_ll)) of the
    G(rho_k, gamma_k) statistics (O - E of arm B: negative when B has fewer events)."""
    y = e.y_a + e.y_b
    ok = y > 0.0
    ys = np.where(ok, y, 1.0)
    s = e.pooled_survival_mid()
    w = np.array([s**rho * (1.0 - s) ** gamma for rho, gamma in weights])
    drift = np.where(ok, (e.y_a * e.d_b - e.y_b * e.d_a) / ys, 0.0)
    info = np.where(ok, e.y_a * e.y_b / ys**2 * (e.d_a + e.d_b), 0.0)
    mean_u = w @ drift
    cov = (w * info) @ w.T
    sd = np.sqrt(np.diag(cov))
    return mean_u / sd, cov / np.outer(sd, sd)


def _z_crit(alpha: float, sides: int) -> float:
    return float(stats.norm.isf(alpha / sides))


def normal_power(mean_z: float, alpha: float, sides: int) -> float:
    """Power of a normal test whose statistic has mean ``mean_z`` (negative: B better) and
    unit variance; one-sided tests reject for low values."""
    c = _z_crit(alpha, sides)
    p = float(stats.norm.cdf(-c - mean_z))
    return p + float(stats.norm.sf(c - mean_z)) if sides == 2 else p


def maxcombo_critical(corr: np.ndarray, alpha: float, sides: int) -> float:
    """Critical value c of MaxCombo: P(max Z_k >= c) = alpha under the null (two-sided:
    P(max |Z_k| >= c) = alpha)."""
    k = corr.shape[0]

    def excess(c: float) -> float:
        lower = np.full(k, -c if sides == 2 else -math.inf)
        return 1.0 - mvn_rectangle(lower, np.full(k, c), corr) - alpha

    return float(optimize.brentq(excess, 0.5, 8.0, xtol=1e-10))


def maxcombo_power(mean_z: np.ndarray, corr: np.ndarray, alpha: float, sides: int) -> float:
    """Power of MaxCombo with standardised means ``mean_z`` (negative: B better)."""
    c = maxcombo_critical(corr, alpha, sides)
    k = corr.shape[0]
    if sides == 2:
        return 1.0 - mvn_rectangle(np.full(k, -c) - mean_z, np.full(k, c) - mean_z, corr)
    # reject when some Z_k <= -c; W = -(Z - mean) ~ N(0, corr)
    return 1.0 - mvn_rectangle(np.full(k, -math.inf), c + mean_z, corr)


def rmst_moments(e: Expected, tau_days: float) -> tuple[float, float]:
    """(RMST_B - RMST_A to ``tau_days``, the variance of its Kaplan-Meier estimate); the
    variance is inf where an arm has nobody at risk before tau."""
    inside = e.hi <= tau_days + 1e-9
    dt = (e.hi - e.lo)[inside]
    out = []
    for s_mid, y, d in ((e.s_a_mid, e.y_a, e.d_a), (e.s_b_mid, e.y_b, e.d_b)):
        area = s_mid[inside] * dt  # area of each interval (midpoint rule)
        total = float(area.sum())
        after = total - np.cumsum(area) + 0.5 * area  # A(mid) = int_mid^tau S
        yi, di = y[inside], d[inside]
        if np.any((yi <= 0.0) & (di > 0.0)) or (yi.size and yi[-1] <= 0.0):
            return math.nan, math.inf
        var = float(np.sum(np.where(yi > 0.0, after**2 * di / np.where(yi > 0.0, yi, 1.0) ** 2, 0.0)))
        out.append((total, var))
    if e.hi.size == 0 or e.hi[-1] < tau_days - 1e-9:
        return math.nan, math.inf
    return out[1][0] - out[0][0], out[0][1] + out[1][1]


def milestone_moments(e: Expected, t_days: float) -> tuple[float, float]:
    """(S_B(t) - S_A(t), the Greenwood variance of the difference)."""
    inside = e.hi <= t_days + 1e-9
    if e.hi.size == 0 or e.hi[-1] < t_days - 1e-9:
        return math.nan, math.inf
    out = []
    for s_hi, y, d in ((e.s_a_hi, e.y_a, e.d_a), (e.s_b_hi, e.y_b, e.d_b)):
        yi, di = y[inside], d[inside]
        if np.any((yi <= 0.0) & (di > 0.0)):
            return math.nan, math.inf
        surv = float(s_hi[inside][-1]) if yi.size else 1.0
        g = float(np.sum(np.where(yi > 0.0, di / np.where(yi > 0.0, yi, 1.0) ** 2, 0.0)))
        out.append((surv, surv * surv * g))
    return out[1][0] - out[0][0], out[0][1] + out[1][1]


def average_hazard_ratio(e: Expected, piece_days: float = AHR_PIECE_DAYS) -> float:
    """gsDesign2's average hazard ratio: log hazard ratios of pieces of ``piece_days``
    averaged with the pieces' expected events (pieces where an arm has no event left out)."""
    piece = np.floor(e.lo / piece_days).astype(np.int64)
    k = int(piece.max()) + 1 if piece.size else 0
    da, db = np.bincount(piece, e.d_a, k), np.bincount(piece, e.d_b, k)
    ya, yb = np.bincount(piece, e.y_a * (e.hi - e.lo), k), np.bincount(piece, e.y_b * (e.hi - e.lo), k)
    ok = (da > 0.0) & (db > 0.0) & (ya > 0.0) & (yb > 0.0)
    if not ok.any():
        return math.nan
    log_hr = np.log((db[ok] / yb[ok]) / (da[ok] / ya[ok]))
    ev = da[ok] + db[ok]
    return float(math.exp(np.sum(ev * log_hr) / np.sum(ev)))
