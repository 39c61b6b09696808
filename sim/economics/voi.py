"""The value of information from a probabilistic analysis.

``nb`` is always the net benefit (monetary, at one willingness to pay) shaped
(draws, strategies): one row per parameter draw.

* EVPI = E[max_d NB_d] - max_d E[NB_d].
* EVPPI of a group of parameters phi (Strong, Oakley & Brennan, Med Decis Making
  2014): each strategy's net benefit is regressed on phi, and the fitted values g_d(phi)
  (estimates of E[NB_d | phi]) give EVPPI = mean(max_d g_d) - max_d mean(g_d). The
  metamodel here is a least-squares regression spline: a natural cubic spline of each
  parameter (knots at quantiles) plus the pairwise products of the standardised
  parameters, a parametric stand-in for the GAM of the paper (no new dependency). Its
  standard error follows the paper: fitted values are redrawn from the coefficients'
  approximate normal sampling distribution and the EVPPI recomputed.
* EVSI of a study (Strong et al., Med Decis Making 2015): the same regression on a
  summary statistic of the study's simulated data, one simulated study per draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_KNOTS = 5
SE_DRAWS = 400


@dataclass(frozen=True)
class Value:
    """An expected value of information per patient (currency) with its standard error."""

    value: float
    se: float


def evpi(nb: np.ndarray) -> Value:
    """Expected value of perfect information; its standard error is the Monte Carlo
    error of the mean of max_d NB_d - NB_{d*} (d* the strategy best on average)."""
    x = np.asarray(nb, dtype=float)
    best = int(np.argmax(x.mean(axis=0)))
    loss = x.max(axis=1) - x[:, best]
    return Value(float(loss.mean()), float(loss.std(ddof=1) / np.sqrt(len(loss))) if len(loss) > 1 else np.nan)


def _spline_basis(x: np.ndarray, n_knots: int) -> np.ndarray:
    """Natural cubic spline basis (truncated power form, Hastie et al. eq. 5.4-5.5)
    of one variable, without the intercept: columns x, N_1 .. N_{K-2}."""
    knots = np.unique(np.quantile(x, np.linspace(0.05, 0.95, n_knots)))
    cols = [x]
    if len(knots) >= 3:
        last, before = knots[-1], knots[-2]

        def d(k: float) -> np.ndarray:
            return (np.maximum(x - k, 0) ** 3 - np.maximum(x - last, 0) ** 3) / (last - k)

        d_before = d(before)
        cols += [d(k) - d_before for k in knots[:-2]]
    return np.column_stack(cols)


def design_matrix(phi: np.ndarray, n_knots: int = N_KNOTS, interactions: bool = True) -> np.ndarray:
    """Intercept, a natural spline of each standardised column of ``phi`` (draws, p;
    ``n_knots`` below 3: the column alone, linear), and (``interactions``) the pairwise
    products of the standardised columns."""
    x = np.asarray(phi, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    cols = [np.ones((len(z), 1))]
    cols += [_spline_basis(z[:, j], n_knots) for j in range(z.shape[1]) if sd[j] > 0]
    p = z.shape[1] if interactions else 0
    cols += [(z[:, i] * z[:, j])[:, None] for i in range(p) for j in range(i + 1, p)]
    return np.hstack(cols)


def _fit(nb: np.ndarray, design: np.ndarray):
    """Least-squares fit of every strategy's net benefit relative to the first one
    (the decision depends only on differences): (fitted, coefficients, their covariances)."""
    y = nb[:, 1:] - nb[:, :1]
    q, r = np.linalg.qr(design)
    coef = np.linalg.solve(r, q.T @ y)
    fitted = design @ coef
    resid = y - fitted
    dof = max(len(y) - design.shape[1], 1)
    r_inv = np.linalg.inv(r)
    unscaled = r_inv @ r_inv.T  # (X'X)^-1
    sigma2 = (resid**2).sum(axis=0) / dof
    return fitted, coef, unscaled, sigma2


def _value(fitted_increments: np.ndarray) -> float:
    g = np.hstack([np.zeros((len(fitted_increments), 1)), fitted_increments])
    return float(g.max(axis=1).mean() - g.mean(axis=0).max())


def evppi(nb: np.ndarray, phi: np.ndarray, n_knots: int = N_KNOTS, seed: int = 0,
          interactions: bool = True) -> Value:
    """Partial EVPI of the parameters ``phi`` (draws, p) by regression; standard error
    from ``SE_DRAWS`` redraws of the metamodel's coefficients (stream fixed by ``seed``)."""
    x = np.asarray(nb, dtype=float)
    if x.shape[1] < 2:
        return Value(0.0, 0.0)
    design = design_matrix(phi, n_knots, interactions)
    fitted, coef, unscaled, sigma2 = _fit(x, design)
    value = _value(fitted)
    rng = np.random.Generator(np.random.Philox(seed))
    chol = np.linalg.cholesky(unscaled + 1e-12 * np.eye(len(unscaled)) * np.trace(unscaled))
    redraws = np.empty(SE_DRAWS)
    for s in range(SE_DRAWS):
        noise = chol @ rng.standard_normal((len(unscaled), coef.shape[1])) * np.sqrt(sigma2)
        redraws[s] = _value(design @ (coef + noise))
    return Value(value, float(redraws.std(ddof=1)))


def evsi(nb: np.ndarray, summaries: np.ndarray, n_knots: int = N_KNOTS, seed: int = 0,
         interactions: bool = True) -> Value:
    """Expected value of sample information: EVPPI's regression with the simulated
    study's summary statistics (draws, k) in place of the parameters."""
    return evppi(nb, summaries, n_knots, seed, interactions)


def population_value(per_patient: float, incidence_per_year: float, years: float, rate_per_year: float) -> float:
    """Per-patient value x the discounted number of patients over the decision horizon
    (continuous incidence, discount rate an annual fraction)."""
    if years <= 0 or incidence_per_year <= 0:
        return 0.0
    rho = np.log1p(rate_per_year)
    patients = incidence_per_year * (years if rho == 0 else -np.expm1(-rho * years) / rho)
    return float(per_patient * patients)
