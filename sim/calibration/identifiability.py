"""What the abstracts taught the calibration, parameter by parameter.

For every calibrated slot the prior and posterior marginals are set side by side
(median and central 95% interval, in the parameter's units). Spread and movement are
measured on the prior's own quantile scale: each posterior draw x becomes
``z = Phi^-1(F_prior(x))`` (F_prior the slot's empirical prior CDF), which is N(0, 1)
under the prior whatever the parameter's units or transform (probability, odds ratio,
median in days, Dirichlet share):

* ``interval_ratio``: width of the posterior's central 95% interval of z over the
  prior's (2 x 1.96). Near 1 the abstracts left the parameter where its external prior
  put it (it is, in effect, not identified by them); with a 1,000-draw posterior the
  ratio's Monte Carlo error is a few per cent, so ratios at or above
  ``PRIOR_DOMINATED`` are reported as prior-dominated;
* ``shift``: the posterior median of z: how far the data moved the parameter, in prior
  standard deviations.

Pairs of slots from different parameters whose posterior Spearman correlation reaches
``REPORTED_CORRELATION`` (0.3, moderate or stronger) in absolute value are listed: their
priors are independent, so the correlation is a trade-off the targets cannot separate
(e.g. cure fraction against relapse timing: both shape the late relapse curve). Slots of
one Dirichlet vector are correlated by construction and are not listed.

The prior marginals come from ``PRIOR_DRAWS`` draws through the calibration's own prior
transform, on a fixed seed, so the table is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

PRIOR_DRAWS = 20_000
REPORTED_CORRELATION = 0.3
PRIOR_DOMINATED = 0.9
QUANTILES = (0.025, 0.5, 0.975)


@dataclass(frozen=True)
class Learning:
    """Prior against posterior for each calibrated slot, and moderate or strong posterior correlations."""

    labels: list[str]
    prior_q: np.ndarray  # (slots, 3): 2.5%, 50%, 97.5%
    posterior_q: np.ndarray
    correlation: np.ndarray  # (slots, slots) posterior Spearman correlation
    group: list[str]  # parameter name of each slot (Dirichlet slots share one)
    posterior_draws: int

    posterior_z_q: np.ndarray  # (slots, 3): quantiles of the posterior on the prior's z scale

    @property
    def interval_ratio(self) -> np.ndarray:
        return (self.posterior_z_q[:, 2] - self.posterior_z_q[:, 0]) / (2.0 * stats.norm.isf(0.025))

    @property
    def shift(self) -> np.ndarray:
        return self.posterior_z_q[:, 1]

    def strong_pairs(self, threshold: float = REPORTED_CORRELATION) -> list[tuple[str, str, float]]:
        """Pairs of slots of different parameters with |posterior correlation| >= threshold,
        strongest first."""
        out = []
        n = len(self.labels)
        for i in range(n):
            for j in range(i + 1, n):
                r = float(self.correlation[i, j])
                if self.group[i] != self.group[j] and abs(r) >= threshold:
                    out.append((self.labels[i], self.labels[j], r))
        return sorted(out, key=lambda x: -abs(x[2]))

    def to_json(self) -> dict[str, Any]:
        ratio, shift = self.interval_ratio, self.shift
        params = []
        for k, lab in enumerate(self.labels):
            params.append({
                "parameter": lab,
                "prior_median": float(self.prior_q[k, 1]), "prior_low": float(self.prior_q[k, 0]),
                "prior_high": float(self.prior_q[k, 2]),
                "posterior_median": float(self.posterior_q[k, 1]), "posterior_low": float(self.posterior_q[k, 0]),
                "posterior_high": float(self.posterior_q[k, 2]),
                "interval_ratio": float(ratio[k]), "shift": float(shift[k]),
                "prior_dominated": bool(ratio[k] >= PRIOR_DOMINATED)})
        return {"parameters": params,
                "correlations": [{"a": a, "b": b, "spearman": r} for a, b, r in self.strong_pairs()],
                "posterior_draws": self.posterior_draws, "prior_draws": PRIOR_DRAWS,
                "thresholds": {"prior_dominated_interval_ratio": PRIOR_DOMINATED,
                               "reported_correlation": REPORTED_CORRELATION}}


def learning(labels: list[str], prior: np.ndarray, posterior: np.ndarray) -> Learning:
    """Compare prior draws (rows) with posterior draws (rows), columns matching ``labels``
    (a label ``name[element]`` marks one slot of a vector parameter)."""
    prior = np.asarray(prior, float)
    posterior = np.asarray(posterior, float)
    if prior.shape[1] != len(labels) or posterior.shape[1] != len(labels):
        raise ValueError("prior and posterior need one column per label")
    q = np.asarray(QUANTILES)
    prior_q = np.quantile(prior, q, axis=0).T
    post_q = np.quantile(posterior, q, axis=0).T
    if len(labels) > 1:
        rho = np.atleast_2d(stats.spearmanr(posterior).statistic)
    else:
        rho = np.ones((1, 1))
    rho = np.where(np.isfinite(rho), rho, 0.0)  # a constant column has no correlation
    group = [lab.split("[")[0] for lab in labels]
    return Learning(list(labels), prior_q, post_q, rho, group, posterior.shape[0],
                    np.quantile(prior_z(prior, posterior), q, axis=0).T)


def prior_z(prior: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``Phi^-1`` of each column's empirical prior CDF at ``x`` (mid-ranks for ties, kept
    half a draw inside (0, 1))."""
    n = prior.shape[0]
    u = np.empty(x.shape)
    for j in range(x.shape[1]):
        s = np.sort(prior[:, j])
        u[:, j] = 0.5 * (np.searchsorted(s, x[:, j], "left") + np.searchsorted(s, x[:, j], "right")) / n
    return stats.norm.ppf(np.clip(u, 0.5 / n, 1.0 - 0.5 / n))


def prior_draws(transform: Any, draws: int = PRIOR_DRAWS, seed: int = 0) -> np.ndarray:
    """Draws of the calibrated slots from their priors, through the calibration's prior
    transform (standard-normal z to parameter values)."""
    z = np.random.default_rng(seed).standard_normal((draws, transform.dims))
    return np.asarray(transform.values(z))
