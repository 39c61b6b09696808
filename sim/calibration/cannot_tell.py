"""What the abstracts cannot tell: for the decision-relevant parameters, the range of
values the data cannot reject.

**Definition.** For one calibrated slot x, the data's evidence about x alone is its
*integrated likelihood* L(x) = p(data | x), the likelihood averaged over every other
parameter's prior. Bayes' rule gives it without new simulation: the posterior marginal
of x is L(x) times its prior marginal, so L(x) is proportional to posterior density /
prior density. The values the data cannot reject are those whose integrated likelihood
is within the chi-square(1) 95% cut of its maximum::

    { x : log L(x) >= max log L - 3.84 / 2 }

(a likelihood-ratio region: the data reject a value at the 5% level when its likelihood
ratio to the best value is below exp(-1.92)). It does not depend on the slot's own
prior (divided out), only on the other parameters' priors it averages over.

**Estimate.** On the prior's quantile scale z = Phi^-1(F_prior(x)) the prior is N(0, 1)
whatever the parameter's units. The posterior draws' z get a Gaussian kernel density
(Silverman's bandwidth h); dividing by the prior smoothed by the same kernel, N(0, 1 + h^2),
keeps the ratio flat where the data say nothing. The grid spans the prior's central 99%
(|z| <= 2.576): nothing is claimed where the prior puts almost no draws. Smoothing widens
the region slightly (relative width about h^2 / (2 v) for a posterior variance v on the z
scale: ~3% with 1,000 draws), on the safe side. ``open_low`` / ``open_high`` say that the
region reaches the grid's edge: on that side the abstracts exclude nothing the prior
allows. A region in several pieces is reported by its hull with ``connected`` false.

**Which parameters.** :data:`DECISION_PARAMETERS` names them by pattern (``fnmatch`` on
the parameter name), so a new parameter (e.g. survival after failure by failure type)
joins its group by its name; a pattern no calibrated parameter matches is listed as not
calibrated (its prior is all there is).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sim.calibration.identifiability import prior_z

#: the decision-relevant parameters, by group: fnmatch patterns on parameter names
DECISION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "cure fraction": ("remission.p_cure.*", "remission.or_cure.*"),
    "non-relapse mortality": ("nrm.*",),
    "survival after failure": ("salvage.*",),
    "re-infusion response": ("response.p_cr.reinfusion.*",),
}
#: half the chi-square(1) 95% quantile: the log-likelihood drop a 5% likelihood-ratio test allows
LOG_LR_CUT = 0.5 * float(stats.chi2.ppf(0.95, 1))
#: the grid's reach on the prior's z scale (the prior's central 99%)
Z_EDGE = float(stats.norm.isf(0.005))
GRID_POINTS = 401


@dataclass(frozen=True)
class Region:
    """The values of one slot the data cannot reject (on the prior's z scale)."""

    z_low: float
    z_high: float
    z_best: float
    open_low: bool
    open_high: bool
    connected: bool


def integrated_log_likelihood(z_posterior: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """log L on ``grid`` (prior z scale), up to a constant: log of the posterior's kernel
    density over the prior smoothed by the same kernel."""
    z = z_posterior[np.isfinite(z_posterior)]
    n = z.size
    spread = min(float(z.std(ddof=1)), float(np.subtract(*np.percentile(z, [75, 25]))) / 1.349)
    spread = spread if spread > 0 else float(z.std(ddof=1)) or 1.0
    h = 0.9 * spread * n ** (-0.2)
    dens = np.exp(stats.norm.logpdf((grid[:, None] - z[None, :]) / h)).sum(1) / (n * h)
    with np.errstate(divide="ignore"):
        return np.log(dens) - stats.norm.logpdf(grid, 0.0, np.sqrt(1.0 + h * h))


def region(z_posterior: np.ndarray, cut: float = LOG_LR_CUT) -> Region:
    """The likelihood-ratio region of one slot from its posterior draws on the prior's z
    scale (see the module docstring)."""
    grid = np.linspace(-Z_EDGE, Z_EDGE, GRID_POINTS)
    ll = integrated_log_likelihood(z_posterior, grid)
    keep = ll >= ll.max() - cut
    idx = np.flatnonzero(keep)
    connected = bool(idx[-1] - idx[0] + 1 == idx.size)
    return Region(float(grid[idx[0]]), float(grid[idx[-1]]), float(grid[int(np.argmax(ll))]),
                  bool(keep[0]), bool(keep[-1]), connected)


def decision_slots(labels: list[str]) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """Each group's slot indices among ``labels``, and each group's patterns no label
    matches (parameters not calibrated)."""
    found: dict[str, list[int]] = {}
    unmatched: dict[str, list[str]] = {}
    names = [lab.split("[")[0] for lab in labels]
    for group, patterns in DECISION_PARAMETERS.items():
        found[group] = [j for j, name in enumerate(names) if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
        unmatched[group] = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    return found, unmatched


def cannot_tell(labels: list[str], prior: np.ndarray, posterior: np.ndarray) -> dict[str, Any]:
    """For each decision-relevant calibrated slot: its prior and posterior 95% intervals and
    the values the data cannot reject (``cannot_reject_low``/``_high`` in the parameter's
    units; the module docstring defines them). ``prior`` and ``posterior`` are draws
    (rows) of every slot in ``labels``."""
    found, unmatched = decision_slots(labels)
    z_post = prior_z(prior, posterior)
    rows = []
    for group, slots in found.items():
        for j in slots:
            r = region(z_post[:, j])
            lo, hi, best = np.quantile(prior[:, j], stats.norm.cdf([r.z_low, r.z_high, r.z_best]))
            p_lo, p_hi = np.quantile(prior[:, j], [0.025, 0.975])
            q_lo, q_hi = np.quantile(posterior[:, j], [0.025, 0.975])
            rows.append({"group": group, "parameter": labels[j], "prior_low": float(p_lo), "prior_high": float(p_hi),
                         "posterior_low": float(q_lo), "posterior_high": float(q_hi),
                         "cannot_reject_low": float(lo), "cannot_reject_high": float(hi), "best": float(best),
                         "open_low": r.open_low, "open_high": r.open_high, "connected": r.connected})
    return {"definition": "values whose integrated likelihood (posterior / prior density on the prior's quantile "
                          "scale) is within the chi-square(1) 95% cut (1.92 log units) of its maximum; 'open' where "
                          "the region reaches the prior's 0.5% or 99.5% quantile",
            "parameters": rows,
            "not_calibrated": {g: p for g, p in unmatched.items() if p}}
