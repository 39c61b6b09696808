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
on random 4 x 4 correlations and on MaxCombo's singular ones). A singular correlation
(the default four statistics have rank 3) is factored with its rank, so the lattice has
one dimension fewer than the statistics' rank. In simulated trials the integral stops
after the first 256 points unless the p-value lies within 0.005 of a level it decides
at (:func:`maxcombo_from_table`): the decisions are the full integral's, at about a
sixth of the cost.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.stats import cox

DEFAULT_COMBO = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
LATTICE_POINTS = 2048
COARSE_POINTS = 256  # the first lattice points: enough where a p-value is far from every decision level
COARSE_BAND = 0.005  # refine to LATTICE_POINTS within this of a decision level (coarse error < 2e-3)
PIVOT_TOL = 1e-10  # conditional variance treated as 0 (a standard deviation of 1e-5)
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
def _factor(corr: np.ndarray, coef: np.ndarray, level: np.ndarray) -> int:
    """Rank-revealing Cholesky of ``corr`` into ``coef`` (rows: Z_i = sum_q coef[i, q] y_q
    with y independent standard normals); ``level[i]`` is the last y a row depends on (-1:
    none). A row whose conditional variance is below :data:`PIVOT_TOL` opens no new y: its
    limits then constrain the last y it depends on, as in Genz & Bretz's treatment of a
    singular covariance (MaxCombo's default four statistics have rank 3, because the
    weight 1 - S is the difference of the weights 1 and S). Returns the rank."""
    k = corr.shape[0]
    lead = np.empty(k, np.int64)  # the row that opened each level
    coef[:, :] = 0.0
    rank = 0
    for i in range(k):
        for q in range(rank):
            j = lead[q]
            s = corr[i, j]
            for p in range(q):
                s -= coef[i, p] * coef[j, p]
            coef[i, q] = s / coef[j, q]
        s = corr[i, i]
        for p in range(rank):
            s -= coef[i, p] * coef[i, p]
        if s > PIVOT_TOL:
            coef[i, rank] = math.sqrt(s)
            lead[rank] = i
            level[i] = rank
            rank += 1
        else:
            last = -1
            for q in range(rank):
                if abs(coef[i, q]) > 1e-12:
                    last = q
            level[i] = last
    return rank


@nb.njit(cache=True)
def _interval(q: int, y: np.ndarray, lower: np.ndarray, upper: np.ndarray, coef: np.ndarray,
              rows: np.ndarray, n_rows: np.ndarray) -> tuple[float, float]:
    """Limits of y_q given y_0 .. y_{q-1}: the intersection over the rows at level q
    (``rows[q, :n_rows[q]]``)."""
    lo = -math.inf
    hi = math.inf
    for r in range(n_rows[q]):
        i = rows[q, r]
        s = 0.0
        for p in range(q):
            s += coef[i, p] * y[p]
        c = coef[i, q]
        a = (lower[i] - s) / c
        b = (upper[i] - s) / c
        if c < 0.0:
            a, b = b, a
        lo = max(lo, a)
        hi = min(hi, b)
    return lo, hi


@nb.njit(cache=True)
def _lattice_sum(lower: np.ndarray, upper: np.ndarray, coef: np.ndarray, level: np.ndarray, rank: int,
                 first: int, stop: int) -> float:
    """Sum of Genz's integrand over lattice points ``first .. stop - 1`` (point n has
    coordinates ``frac((n + 1) sqrt(prime_q))``, tent-periodised), so that a sum over
    more points continues one over fewer."""
    k = level.size
    rows = np.empty((max(rank, 1), k), np.int64)
    n_rows = np.zeros(max(rank, 1), np.int64)
    one_sided = True
    for i in range(k):
        one_sided = one_sided and lower[i] == -math.inf
        q = level[i]
        if q >= 0:
            rows[q, n_rows[q]] = i
            n_rows[q] += 1
    y = np.zeros(max(rank, 1))
    lo, hi = _interval(0, y, lower, upper, coef, rows, n_rows)
    d1 = _ndtr(lo)
    e1 = _ndtr(hi)
    if e1 <= d1:
        return 0.0
    if rank == 1:
        return (stop - first) * (e1 - d1)
    step = np.sqrt(_PRIMES[: rank - 1]) % 1.0
    total = 0.0
    for n in range(first, stop):
        d, e = d1, e1
        f = e - d
        for q in range(1, rank):
            w = abs(2.0 * (((n + 1) * step[q - 1]) % 1.0) - 1.0)
            y[q - 1] = _ndtri(min(max(d + w * (e - d), 1e-16), 1.0 - 1e-16))
            lo, hi = _interval(q, y, lower, upper, coef, rows, n_rows)
            d = 0.0 if one_sided else _ndtr(lo)  # every lower limit -inf: lo = -inf or a row flipped its sign
            if one_sided and lo > -math.inf:
                d = _ndtr(lo)
            e = _ndtr(hi)
            if e <= d:
                f = 0.0
                break
            f *= e - d
        total += f
    return total


@nb.njit(cache=True)
def _prepare(lower: np.ndarray, upper: np.ndarray, corr: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """(coefficients, levels, rank, feasible): the factor of ``corr``; infeasible when a
    row of zero variance excludes 0."""
    k = lower.size
    coef = np.zeros((k, k))
    level = np.empty(k, np.int64)
    rank = _factor(corr, coef, level)
    for i in range(k):
        if level[i] < 0 and not lower[i] < 0.0 < upper[i]:
            return coef, level, rank, False
    return coef, level, rank, rank > 0


@nb.njit(cache=True)
def mvn_rectangle(lower: np.ndarray, upper: np.ndarray, corr: np.ndarray, points: int = LATTICE_POINTS) -> float:
    """P(lower < Z < upper) for Z ~ N(0, corr) (rank <= 13) by Genz's method on a fixed
    lattice of ``points`` points; singular correlations as in :func:`_factor`."""
    coef, level, rank, feasible = _prepare(lower, upper, corr)
    if not feasible:
        return 0.0
    return _lattice_sum(lower, upper, coef, level, rank, 0, points) / points


@nb.njit(cache=True)
def maxcombo_from_table(r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray, m: int, rho: np.ndarray,
                        gamma: np.ndarray, sides: int, direction: int, levels: np.ndarray) -> tuple[float, float]:
    """(signed maximum statistic, p-value) of MaxCombo over G(rho_k, gamma_k) from an
    event table; statistics with zero variance are left out. ``direction`` -1: a low
    statistic (fewer events than expected in group B) is favourable; the returned
    statistic is the component with the largest favourable (one-sided) or absolute
    (two-sided) value, on the usual O - E scale.

    ``levels``: the significance levels the p-value will be compared with. The integral
    first takes :data:`COARSE_POINTS` lattice points and continues to
    :data:`LATTICE_POINTS` only if that estimate lies within :data:`COARSE_BAND` of a
    level (or ``levels`` is empty), so every decision equals the full integral's while
    most simulated trials cost an eighth of it."""
    c = rho.size
    u = np.empty(c)
    cov = np.empty((c, c))
    cox.fh_combo_from_table(r0, r1, d0, d1, m, rho, gamma, u, cov)
    return maxcombo_from_cov(u, cov, sides, direction, levels)


@nb.njit(cache=True)
def maxcombo_from_cov(u: np.ndarray, cov: np.ndarray, sides: int, direction: int,
                      levels: np.ndarray) -> tuple[float, float]:
    """:func:`maxcombo_from_table` given the statistics' weighted O - E ``u`` and null
    covariance ``cov`` (from :func:`sim.stats.cox.fh_combo_from_table`)."""
    c = u.size
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
    coef, level, rank, feasible = _prepare(lower, upper, corr)
    if not feasible:
        return signed, 1.0
    total = _lattice_sum(lower, upper, coef, level, rank, 0, COARSE_POINTS)
    p = 1.0 - total / COARSE_POINTS
    near = levels.size == 0
    for a in levels:
        near = near or abs(p - a) < COARSE_BAND
    if near:
        total += _lattice_sum(lower, upper, coef, level, rank, COARSE_POINTS, LATTICE_POINTS)
        p = 1.0 - total / LATTICE_POINTS
    return signed, min(max(p, 0.0), 1.0)


# --------------------------------------------------------------------------- #
# group-sequential looks

SEQUENTIAL_POINTS = 4096  # lattice points of the boundary integrals (one per trial and look)
MAX_RANK = _PRIMES.size + 1  # statistics x looks the lattice integrates (its dimension is the rank - 1)


@nb.njit(cache=True)
def look_correlation(cov: np.ndarray, done: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(correlation, look, statistic) of the FH statistics of every look that happened
    (``done``), look-major, each look's statistics with zero variance left out.

    ``cov[k]`` is look k's :func:`sim.stats.cox.fh_combo_from_table` covariance. The
    weighted scores have independent increments under H0, so for looks k <= l the
    covariance of statistic i at k and j at l is look k's ``sum w_i w_j v`` and the
    correlation ``cov[k, i, j] / sqrt(cov[k, i, i] cov[l, j, j])``: identical
    statistics correlate as ``sqrt(V(k) / V(l))``, the log-rank as the square root of
    its information fraction."""
    L, c, _ = cov.shape
    n = 0
    for k in range(L):
        if done[k]:
            for i in range(c):
                if cov[k, i, i] > 0.0:
                    n += 1
    look = np.empty(n, np.int64)
    stat = np.empty(n, np.int64)
    a = 0
    for k in range(L):
        if done[k]:
            for i in range(c):
                if cov[k, i, i] > 0.0:
                    look[a] = k
                    stat[a] = i
                    a += 1
    corr = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            k, i, k2, j = look[a], stat[a], look[b], stat[b]
            if k2 < k:
                k, i, k2, j = k2, j, k, i
            corr[a, b] = cov[k, i, j] / math.sqrt(cov[k, i, i] * cov[k2, j, j])
    return corr, look, stat


@nb.njit(cache=True)
def _continuing(rows: np.ndarray, lower: np.ndarray, upper: np.ndarray, corr: np.ndarray, c: float, sides: int,
                points: int) -> float:
    """P(no earlier look crosses and every statistic of ``rows`` lies within ``c``): the
    rectangle of :func:`mvn_rectangle` (``c`` inf: this look left open)."""
    for a in rows:
        upper[a] = c
        lower[a] = -c if sides == 2 and c < math.inf else -math.inf
    coef, level, rank, feasible = _prepare(lower, upper, corr)
    return _lattice_sum(lower, upper, coef, level, rank, 0, points) / points if feasible else 0.0


@nb.njit(cache=True)
def _solve_look(rows: np.ndarray, lower: np.ndarray, upper: np.ndarray, corr: np.ndarray, target: float, sides: int,
                points: int, lo: float, hi: float) -> float:
    """The boundary c of one look: P(no earlier crossing) - P(no crossing up to this
    look) = ``target``, both on the same lattice points (their difference is the
    integrand of the crossing itself), by Illinois regula falsi within [lo, hi]; lo or
    hi when the root lies outside."""
    before = _continuing(rows, lower, upper, corr, math.inf, sides, points)
    f_lo = before - _continuing(rows, lower, upper, corr, lo, sides, points) - target
    f_hi = before - _continuing(rows, lower, upper, corr, hi, sides, points) - target
    if f_lo <= 0.0:
        return lo
    if f_hi >= 0.0:
        return hi
    x = hi
    side = 0
    for _ in range(100):
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        fx = before - _continuing(rows, lower, upper, corr, x, sides, points) - target
        if fx > 0.0:
            lo, f_lo = x, fx
            if side == 1:
                f_hi *= 0.5
            side = 1
        else:
            hi, f_hi = x, fx
            if side == -1:
                f_lo *= 0.5
            side = -1
        if hi - lo < 1e-6 or abs(fx) < 1e-7 * target:
            break
    return x


@nb.njit(cache=True)
def sequential_bounds(cov: np.ndarray, done: np.ndarray, spend: np.ndarray, sides: int, points: int,
                      out: np.ndarray) -> None:
    """Efficacy boundaries of MaxCombo at the looks that happened: ``out[k]`` (on the
    scale of the largest favourable statistic, or the largest absolute one when
    ``sides`` is 2) solves P(no crossing before look k and a statistic at k reaches
    it) = ``spend[k]`` under the joint normal of :func:`look_correlation`, by the
    lattice integral of :func:`mvn_rectangle` with ``points`` points (located first on
    an eighth of them); inf where nothing is spent or the look has no statistic."""
    corr, look, _ = look_correlation(cov, done)
    n = look.size
    lower = np.full(n, -math.inf)
    upper = np.full(n, math.inf)
    out[:] = math.inf
    coarse = max(points // 8, 64)
    for k in range(cov.shape[0]):
        rows = np.flatnonzero(look == k)
        if not done[k] or rows.size == 0 or spend[k] <= 1e-12:
            continue
        x = _solve_look(rows, lower, upper, corr, spend[k], sides, coarse, 0.0, 12.0)
        lo, hi = max(x - 0.05, 0.0), x + 0.05
        x = _solve_look(rows, lower, upper, corr, spend[k], sides, points, lo, hi)
        if (x == lo and lo > 0.0) or x == hi:  # the coarse root was off by more than 0.05
            x = _solve_look(rows, lower, upper, corr, spend[k], sides, points, 0.0, 12.0)
        out[k] = x
        for a in rows:  # later looks continue only within this boundary
            upper[a] = x
            lower[a] = -x if sides == 2 else -math.inf


@nb.njit(parallel=True, cache=True)
def sequential_bounds_many(cov: np.ndarray, done: np.ndarray, spend: np.ndarray, sides: int, points: int,
                           out: np.ndarray) -> None:
    """:func:`sequential_bounds` of every row (trial) of ``cov`` (T, L, c, c),
    ``done`` and ``spend`` (T, L) into ``out`` (T, L)."""
    for t in nb.prange(cov.shape[0]):
        sequential_bounds(cov[t], done[t], spend[t], sides, points, out[t])


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
    return maxcombo_from_table(r0, r1, d0, d1, m, rho, gamma, sides, direction, np.empty(0))
