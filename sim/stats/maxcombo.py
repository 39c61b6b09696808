"""Fleming-Harrington weighted log-rank tests and the MaxCombo test, compiled.

The statistics come from the one event table and weighted pass of :mod:`sim.stats.cox`
(:func:`~sim.stats.cox.weighted_logrank_from_table`,
:func:`~sim.stats.cox.fh_combo_from_table`). A G(rho, gamma) statistic is
``z = U / sqrt(V)``; MaxCombo (Lee 2007; Roychoudhury et al. 2021, Stat Biopharm Res
13:205-217) takes the largest of several standardised FH statistics, whose null joint
distribution is multivariate normal with the closed-form correlation
``sum w_k w_l v / sqrt(sum w_k^2 v sum w_l^2 v)`` (``v`` the hypergeometric variance at
each event time). Its p-value is ``1 - P(all Z_k < t)`` (one-sided, favourable
direction) or ``1 - P(all |Z_k| < t)`` (two-sided) at the observed maximum ``t``.

The multivariate normal rectangle probability is Genz's (1992, J Comput Graph Stat
1:141-149) separation-of-variables integral evaluated on a fixed rank-1 lattice
(Richtmyer's square roots of primes, with the tent periodisation), so the p-value is a
deterministic function of the data (no random numbers): absolute error below 5e-4 with
the default 2,048 points for 4 statistics (against scipy's Genz-Bretz integration to 1e-8
on random 4 x 4 correlations).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.stats import cox

DEFAULT_COMBO = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
LATTICE_POINTS = 2048
_PRIMES = np.array([2.0, 3.0, 5.0, 7.0, 11.0, 13.0, 17.0, 19.0, 23.0, 29.0, 31.0, 37.0])


@nb.njit(cache=True)
def _ndtr(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@nb.njit(cache=True)
def _ndtri(p: float) -> float:
    """Inverse standard normal CDF: Acklam's rational approximation (relative error
    below 1.2e-9, ample for the lattice integral)."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    elif p > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    return x


@nb.njit(cache=True)
def mvn_rectangle(lower: np.ndarray, upper: np.ndarray, corr: np.ndarray, points: int = LATTICE_POINTS) -> float:
    """P(lower < Z < upper) for Z ~ N(0, corr) (k <= 13), by Genz's method on a fixed
    lattice; a (near-)singular correlation is handled by flooring the Cholesky pivots."""
    k = lower.size
    chol = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1):
            s = corr[i, j]
            for q in range(j):
                s -= chol[i, q] * chol[j, q]
            if i == j:
                chol[i, i] = math.sqrt(max(s, 1e-20))
            else:
                chol[i, j] = s / chol[j, j]
    d1 = _ndtr(lower[0] / chol[0, 0])
    e1 = _ndtr(upper[0] / chol[0, 0])
    if k == 1:
        return e1 - d1
    y = np.empty(k)
    step = np.sqrt(_PRIMES[: k - 1]) % 1.0
    frac = np.zeros(k - 1)
    total = 0.0
    for _ in range(points):
        d, e = d1, e1
        f = e - d
        for i in range(1, k):
            frac[i - 1] = (frac[i - 1] + step[i - 1]) % 1.0
        for i in range(1, k):
            w = abs(2.0 * frac[i - 1] - 1.0)  # tent periodisation of the lattice point
            y[i - 1] = _ndtri(min(max(d + w * (e - d), 1e-16), 1.0 - 1e-16))
            s = 0.0
            for j in range(i):
                s += chol[i, j] * y[j]
            d = _ndtr((lower[i] - s) / chol[i, i])
            e = _ndtr((upper[i] - s) / chol[i, i])
            f *= e - d
            if f <= 0.0:
                break
        total += max(f, 0.0)
    return total / points


@nb.njit(cache=True)
def maxcombo_from_table(r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray, m: int, rho: np.ndarray,
                        gamma: np.ndarray, sides: int, direction: int) -> tuple[float, float]:
    """(signed maximum statistic, p-value) of MaxCombo over G(rho_k, gamma_k) from an
    event table; statistics with zero variance are left out. ``direction`` -1: a low
    statistic (fewer events than expected in group B) is favourable; the returned
    statistic is the component with the largest favourable (one-sided) or absolute
    (two-sided) value, on the usual O - E scale."""
    c = rho.size
    u = np.empty(c)
    cov = np.empty((c, c))
    cox.fh_combo_from_table(r0, r1, d0, d1, m, rho, gamma, u, cov)
    keep = np.zeros(c, np.int64)
    kept = 0
    for i in range(c):
        if cov[i, i] > 0.0:
            keep[kept] = i
            kept += 1
    if kept == 0:
        return 0.0, 1.0
    z = np.empty(kept)
    corr = np.empty((kept, kept))
    best = -math.inf
    signed = 0.0
    for a in range(kept):
        i = keep[a]
        z[a] = u[i] / math.sqrt(cov[i, i])
        for b in range(kept):
            j = keep[b]
            corr[a, b] = cov[i, j] / math.sqrt(cov[i, i] * cov[j, j])
        score = abs(z[a]) if sides == 2 else direction * z[a]
        if score > best:
            best = score
            signed = z[a]
    upper = np.full(kept, best)
    lower = np.full(kept, -best if sides == 2 else -math.inf)
    if sides == 2 and best <= 0.0:
        return signed, 1.0
    p = 1.0 - mvn_rectangle(lower, upper, corr)
    return signed, min(max(p, 0.0), 1.0)


def _table(time: np.ndarray, event: np.ndarray, group: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    n = len(time)
    r0, r1, d0, d1 = (np.empty(n, np.int64) for _ in range(4))
    m = cox.event_table(np.asarray(time, float), np.asarray(event, np.bool_), np.asarray(group, np.int8), n,
                        r0, r1, d0, d1)
    return r0, r1, d0, d1, int(m)


def fh_test(time: np.ndarray, event: np.ndarray, group: np.ndarray, rho: float = 0.0,
            gamma: float = 0.0) -> tuple[float, float, float]:
    """(z, weighted O - E of group 1, variance) of the G(rho, gamma) test on one data set."""
    r0, r1, d0, d1, m = _table(time, event, group)
    u, v, _ = cox.weighted_logrank_from_table(r0, r1, d0, d1, m, float(rho), float(gamma))
    return (u / math.sqrt(v) if v > 0 else 0.0), u, v


def fh_correlation(time: np.ndarray, event: np.ndarray, group: np.ndarray,
                   combo: tuple[tuple[float, float], ...] = DEFAULT_COMBO) -> tuple[np.ndarray, np.ndarray]:
    """(standardised statistics, closed-form null correlation matrix) of the FH family ``combo``."""
    r0, r1, d0, d1, m = _table(time, event, group)
    rho = np.array([c[0] for c in combo], float)
    gamma = np.array([c[1] for c in combo], float)
    u = np.empty(len(combo))
    cov = np.empty((len(combo), len(combo)))
    cox.fh_combo_from_table(r0, r1, d0, d1, m, rho, gamma, u, cov)
    sd = np.sqrt(np.diag(cov))
    return u / sd, cov / np.outer(sd, sd)


def maxcombo_test(time: np.ndarray, event: np.ndarray, group: np.ndarray,
                  combo: tuple[tuple[float, float], ...] = DEFAULT_COMBO, sides: int = 2,
                  direction: int = -1) -> tuple[float, float]:
    """(signed maximum statistic, p-value) of MaxCombo on one data set (group 1 = B)."""
    r0, r1, d0, d1, m = _table(time, event, group)
    rho = np.array([c[0] for c in combo], float)
    gamma = np.array([c[1] for c in combo], float)
    return maxcombo_from_table(r0, r1, d0, d1, m, rho, gamma, sides, direction)
