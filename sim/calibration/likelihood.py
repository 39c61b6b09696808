"""Log-likelihoods of reported summaries given model values (one function per target
type of ``params/targets.toml``). Additive constants that do not depend on the model
(binomial coefficients) are dropped, so values compare parameter sets, not targets.

Simplification, stated once: landmarks and medians of one Kaplan-Meier curve enter as
independent terms although they are correlated (conditional terms would respect the
correlation); with two landmarks and a median per curve this over-weights
seed 004's curves somewhat.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

Z_95 = 1.959963984540054


def smoothed_proportion(p_hat: float, m: int) -> float:
    """A simulated proportion from ``m`` patients, moved off 0 and 1 by half a patient
    (a simulated 0% must not make an observed event impossible)."""
    return (p_hat * m + 0.5) / (m + 1.0)


def binomial(count: int, n: int, p: float) -> float:
    """log P(count of n | p), without the binomial coefficient."""
    return count * math.log(p) + (n - count) * math.log1p(-p)


def binomial_at_most(count: int, n: int, p: float) -> float:
    """log P(X <= count), X ~ Binomial(n, p): for a count known only as an upper bound."""
    return float(stats.binom.logcdf(count, n, p))


def n_eff_from_ci(s: float, low: float, high: float) -> float:
    """Effective sample size of a Kaplan-Meier landmark from its 95% CI, read on the
    log(-log) scale (Dorey & Korn 1987): SE(S) = S |log S| SE_loglog, n = S(1-S)/SE^2."""
    se_ll = (math.log(-math.log(low)) - math.log(-math.log(high))) / (2 * Z_95)
    se = s * abs(math.log(s)) * se_ll
    return s * (1.0 - s) / se**2


def km_landmark(s_obs: float, n_eff: float, s_model: float) -> float:
    """Effective-sample-size binomial: n_eff * s_obs 'successes' of n_eff (real-valued)."""
    y = n_eff * s_obs
    return y * math.log(s_model) + (n_eff - y) * math.log1p(-s_model)


def median_ci(m_obs: float, low: float, high: float, m_model: float) -> float:
    """Normal on log(median) with SE = (log high - log low) / 3.92 (the exponential
    approximation: a median's log is roughly normal)."""
    se = (math.log(high) - math.log(low)) / (2 * Z_95)
    return -0.5 * ((math.log(m_model) - math.log(m_obs)) / se) ** 2


#: simulated cohorts a synthetic likelihood needs for a mean and an SD of the statistic
MIN_SYNTHETIC_COHORTS = 10


def synthetic(obs: float, simulated: np.ndarray) -> float:
    """Gaussian synthetic likelihood on the log scale (Wood 2010) of a small-sample
    statistic, from its values over simulated cohorts of the study's size."""
    x = np.log(simulated[np.isfinite(simulated) & (simulated > 0)])
    if x.size < MIN_SYNTHETIC_COHORTS:
        return -math.inf
    mu, sd = float(x.mean()), float(x.std(ddof=1))
    sd = max(sd, 1e-6)
    return -0.5 * ((math.log(obs) - mu) / sd) ** 2 - math.log(sd)


def soft_greater(diff: float, scale: float) -> float:
    """One-sided soft constraint 'A better than B': log sigmoid(diff / scale)."""
    return -float(np.logaddexp(0.0, -diff / scale))


def soft_equal(diff: float, scale: float) -> float:
    """Weak 'no difference': normal(0, scale) on the model contrast."""
    return -0.5 * (diff / scale) ** 2
