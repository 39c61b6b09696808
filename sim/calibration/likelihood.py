"""Log-likelihoods of reported summaries given model values (one function per target
type of ``params/targets.toml``). Additive constants that do not depend on the model
(binomial coefficients) are dropped, so values compare parameter sets, not targets.

Each reported interval is read on the scale it was reported on: the scale is decided
from the interval itself, as the one of :data:`PROPORTION_SCALES` (or
:data:`POSITIVE_SCALES`) on which it is most nearly symmetric about its estimate (a
Wald interval is symmetric on its own scale; 41.10 +- 21.95 is linear). An effective
sample size never exceeds the patients the statistic was computed on.

The statistics of one Kaplan-Meier curve (its landmarks and median, or several curves
of one study) are correlated and enter jointly, through a multivariate-normal
synthetic likelihood (:func:`mvn_synthetic`) over simulated cohorts of the study's size
and follow-up. A qualitative statement about a contrast ("A better than B", "no
difference") is scored by the probability that a study of the reported size would
make it, using the sampling SE of the contrast at that size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special, stats

Z_95 = 1.959963984540054

Scale = tuple[Callable[[float], float], Callable[[float], float]]  # (g, dg/dx)
#: scales a proportion's interval may be symmetric on, with the derivative for the delta method
PROPORTION_SCALES: dict[str, Scale] = {
    "linear": (lambda x: x, lambda _x: 1.0),
    "log": (math.log, lambda x: 1.0 / x),
    "loglog": (lambda x: math.log(-math.log(x)), lambda x: 1.0 / (x * math.log(x))),
    "logit": (lambda x: math.log(x / (1.0 - x)), lambda x: 1.0 / (x * (1.0 - x))),
    "arcsine": (lambda x: math.asin(math.sqrt(x)), lambda x: 0.5 / math.sqrt(x * (1.0 - x))),
}
#: scales a positive quantity's (a median's) interval may be symmetric on
POSITIVE_SCALES: dict[str, Scale] = {k: PROPORTION_SCALES[k] for k in ("linear", "log")}


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


def interval_scale(estimate: float, low: float, high: float, scales: dict[str, Scale] = PROPORTION_SCALES) -> str:
    """The scale on which ``[low, high]`` is most nearly symmetric about ``estimate``:
    the smallest relative asymmetry |upper arm - lower arm| / |upper arm + lower arm|
    (a decreasing transform such as log(-log) swaps the arms; a scale undefined at an
    end is skipped; ties go to the first scale listed, the linear one)."""
    best, best_asym = "linear", math.inf
    for name, (g, _) in scales.items():
        try:
            up, down = g(high) - g(estimate), g(estimate) - g(low)
        except (ValueError, ZeroDivisionError):
            continue
        if up * down <= 0:
            continue
        asym = abs(up - down) / abs(up + down)
        if asym < best_asym - 1e-9:
            best, best_asym = name, asym
    return best


def se_from_ci(estimate: float, low: float, high: float, scales: dict[str, Scale] = PROPORTION_SCALES) -> float:
    """Standard error on the linear scale of a 95% interval read on its own scale
    (:func:`interval_scale`), by the delta method: SE = SE_g / |g'(estimate)|."""
    g, dg = scales[interval_scale(estimate, low, high, scales)]
    se_g = abs(g(high) - g(low)) / (2 * Z_95)
    return se_g / abs(dg(estimate))


def n_eff_from_ci(s: float, low: float, high: float, n: float) -> float:
    """Effective sample size of a proportion or Kaplan-Meier landmark from its 95% CI,
    S(1 - S) / SE^2 (Dorey & Korn 1987), never more than the ``n`` patients it rests on."""
    se = se_from_ci(s, low, high)
    return min(s * (1.0 - s) / se**2, float(n))


def km_landmark(s_obs: float, n_eff: float, s_model: float) -> float:
    """Effective-sample-size binomial: n_eff * s_obs 'successes' of n_eff (real-valued)."""
    y = n_eff * s_obs
    return y * math.log(s_model) + (n_eff - y) * math.log1p(-s_model)


def median_ci(m_obs: float, low: float, high: float, m_model: float) -> float:
    """Normal on the scale the median's CI is symmetric on (linear or log)."""
    name = interval_scale(m_obs, low, high, POSITIVE_SCALES)
    g, _ = POSITIVE_SCALES[name]
    se_g = (g(high) - g(low)) / (2 * Z_95)
    return -0.5 * ((g(m_model) - g(m_obs)) / se_g) ** 2


#: simulated cohorts a synthetic likelihood needs per dimension of the statistic
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


def mvn_synthetic(obs: np.ndarray, simulated: np.ndarray) -> float:
    """Multivariate-normal synthetic likelihood (Wood 2010) of a vector of statistics
    (``simulated``: one row per simulated cohort, rows with a missing value dropped).
    The covariance is the cohorts' sample covariance, its diagonal floored at 1e-8 so a
    degenerate statistic does not make it singular."""
    x = simulated[np.isfinite(simulated).all(1)]
    d = obs.size
    if x.shape[0] < MIN_SYNTHETIC_COHORTS * d:
        return -math.inf
    mu = x.mean(0)
    cov = np.atleast_2d(np.cov(x, rowvar=False)) + 1e-8 * np.eye(d)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return -math.inf
    sol = np.linalg.solve(chol, obs - mu)
    return float(-0.5 * sol @ sol - np.log(np.diag(chol)).sum())


def soft_greater(diff: float, se: float, z: float = Z_95) -> float:
    """'A better than B' as a study of the reported size would state it: log P(the
    study's contrast exceeds ``z`` sampling SEs) = log Phi(diff / se - z), with ``diff``
    the model's contrast and ``se`` its sampling SE at the study's size."""
    return float(special.log_ndtr(diff / max(se, 1e-9) - z))


def soft_equal(diff: float, se: float, z: float = Z_95) -> float:
    """'No difference': log P(|the study's contrast| < ``z`` sampling SEs)."""
    u = diff / max(se, 1e-9)
    p = special.ndtr(z - u) - special.ndtr(-z - u)
    return float(math.log(max(p, 1e-300)))
