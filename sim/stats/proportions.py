"""Tests of proportions, compiled for many trials at once.

Two arms: ``x_a`` of ``n_a`` in arm A (control) and ``x_b`` of ``n_b`` in arm B
(experimental). The signed statistic is always oriented as B minus A.

* ``chisq``: Pearson's chi-square test of the 2x2 table without continuity
  correction, i.e. the pooled-variance z test
  ``z = (p_b - p_a) / sqrt(pbar (1 - pbar) (1/n_a + 1/n_b))``, ``chi2 = z^2``
  (``scipy.stats.chi2_contingency(table, correction=False)``).
* ``chisq_yates``: Yates' continuity correction, ``chi2 = n (|ad - bc| - n/2)^2 /
  (row and column totals)`` with ``|ad - bc|`` reduced by ``min(n/2, |ad - bc|)``, as
  ``chi2_contingency(table, correction=True)`` (scipy skips the correction only when it
  would overshoot; reducing by at most ``|ad - bc|`` is the same thing).
  One-sided p-values of the chi-square tests are ``Phi`` of the signed root.
* ``fisher``: Fisher's exact *conditional* test (hypergeometric given both margins;
  not the exact unconditional test of Barnard/Boschloo). Two-sided p = the sum of the
  probabilities of all tables no more probable than the observed one (relative slack
  1e-7 for ties, the convention of R's ``fisher.test``); one-sided p = the hypergeometric
  tail in the favourable direction. Pinned to ``scipy.stats.fisher_exact``.

Single arm: ``binomial``: the exact one-sided binomial test ``P(X >= x | n, p0)``
(reject H0: p <= p0 for large x), as ``scipy.stats.binomtest(x, n, p0, 'greater')``.

A table with an empty row or column (no patient in an arm, or no responder/everyone a
responder overall) has p = 1 and z = 0. Probabilities of the hypergeometric and
binomial laws come from ``lgamma`` (relative error ~1e-13 for n up to 10^4).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

CHISQ = 0
CHISQ_YATES = 1
FISHER = 2
TIE_RTOL = 1e-7


@nb.njit(cache=True)
def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@nb.njit(cache=True)
def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1.0) - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0)


@nb.njit(cache=True)
def chisq_test(x_a: int, n_a: int, x_b: int, n_b: int, yates: bool, direction: int,
               sides: int) -> tuple[float, float]:
    """(signed z, p) of the chi-square test; ``direction`` +1: B larger is favourable
    (one-sided alternative p_b > p_a), -1: B smaller is favourable."""
    n = n_a + n_b
    x = x_a + x_b
    if n_a == 0 or n_b == 0 or x == 0 or x == n:
        return 0.0, 1.0
    a = float(x_b)
    b = float(n_b - x_b)
    c = float(x_a)
    d = float(n_a - x_a)
    diff = a * d - b * c  # > 0 when B has the larger proportion
    num = abs(diff)
    if yates:
        num -= min(0.5 * n, num)
    chi2 = n * num * num / (float(n_a) * n_b * x * (n - x))
    z = math.sqrt(chi2) if diff >= 0.0 else -math.sqrt(chi2)
    if sides == 2:
        return z, math.erfc(abs(z) / math.sqrt(2.0))
    return z, _norm_sf(direction * z)


@nb.njit(cache=True)
def fisher_test(x_a: int, n_a: int, x_b: int, n_b: int, direction: int, sides: int) -> tuple[float, float]:
    """(log odds ratio B vs A, p) of Fisher's exact test (see the module docstring)."""
    n = n_a + n_b
    x = x_a + x_b
    if n_a == 0 or n_b == 0 or x == 0 or x == n:
        return 0.0, 1.0
    lo = max(0, x - n_a)
    hi = min(x, n_b)
    log_total = _log_choose(n, x)
    # hypergeometric law of the number of responders in B given the margins
    obs = _log_choose(n_b, x_b) + _log_choose(n_a, x_a) - log_total
    if x_a == 0 or x_b == n_b:
        lor = math.inf if (x_a == 0 and x_b > 0) or (x_b == n_b and x_a < n_a) else 0.0
    elif x_b == 0 or x_a == n_a:
        lor = -math.inf
    else:
        lor = math.log(x_b) + math.log(n_a - x_a) - math.log(n_b - x_b) - math.log(x_a)
    p = 0.0
    if sides == 2:
        limit = obs + math.log1p(TIE_RTOL)
        for k in range(lo, hi + 1):
            lp = _log_choose(n_b, k) + _log_choose(n_a, x - k) - log_total
            if lp <= limit:
                p += math.exp(lp)
    elif direction > 0:
        for k in range(x_b, hi + 1):
            p += math.exp(_log_choose(n_b, k) + _log_choose(n_a, x - k) - log_total)
    else:
        for k in range(lo, x_b + 1):
            p += math.exp(_log_choose(n_b, k) + _log_choose(n_a, x - k) - log_total)
    return lor, min(p, 1.0)


@nb.njit(cache=True)
def binomial_test(x: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value ``P(X >= x | n, p0)``."""
    if x <= 0:
        return 1.0
    if n <= 0 or x > n:
        return 0.0 if n > 0 else 1.0
    lp = math.log(p0)
    lq = math.log1p(-p0)
    p = 0.0
    for k in range(x, n + 1):
        p += math.exp(_log_choose(n, k) + k * lp + (n - k) * lq)
    return min(p, 1.0)


@nb.njit(parallel=True, cache=True)
def two_arm_many(x_a: np.ndarray, n_a: np.ndarray, x_b: np.ndarray, n_b: np.ndarray, test: int, direction: int,
                 sides: int) -> tuple[np.ndarray, np.ndarray]:
    """(statistic, p) of ``test`` (CHISQ, CHISQ_YATES, FISHER) for every trial: the
    signed z for the chi-square tests, the log odds ratio for Fisher's test."""
    K = x_a.shape[0]
    stat = np.zeros(K)
    p = np.ones(K)
    for k in nb.prange(K):
        if test == FISHER:
            s, q = fisher_test(x_a[k], n_a[k], x_b[k], n_b[k], direction, sides)
        else:
            s, q = chisq_test(x_a[k], n_a[k], x_b[k], n_b[k], test == CHISQ_YATES, direction, sides)
        stat[k] = s
        p[k] = q
    return stat, p
