"""The IMIS sampler on a problem with a known posterior, and its stopping rule.

A conjugate beta-binomial goes through the calibration's own machinery: the prior
transform of a Beta prior from params/defaults.toml (standard normals to the
parameter), IMIS with its convergence rule, and systematic resampling. The posterior
is Beta(a + k, b + n - k) exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.calibration import likelihood as lik
from sim.calibration.imis import (
    UNIQUE_FRACTION,
    PriorTransform,
    has_converged,
    imis,
    systematic_resample,
    weight_summary,
)
from sim.io.files import PARAMS_DIR, load_parameter_set

NAME = "response.p_cr.first.cd19"


def _beta_binomial(k: int, n: int, **kw):
    params = load_parameter_set(PARAMS_DIR / "defaults.toml")
    tr = PriorTransform(params, [NAME])
    prior = params.entries[NAME].uncertainty
    z, _ll, lw, conv = imis(lambda row: lik.binomial(k, n, float(tr.values(row)[0, 0])), tr.dims, **kw)
    return tr, prior, z, lw, conv


def test_beta_binomial_posterior_is_recovered() -> None:
    k, n = 12, 40  # the prior (mean ~0.86) and the data (0.30) disagree: the posterior sits between
    tr, prior, z, lw, conv = _beta_binomial(k, n, seed=4, n_initial=1000, iterations=40, batch=200, samples=2000,
                                            min_ess=1000.0)
    assert conv.converged
    assert conv.components < 40  # stopped by the rule, not by the budget
    exact = stats.beta(prior["a"] + k, prior["b"] + n - k)
    x = tr.values(z)[:, 0]
    w = np.exp(lw)
    ess = 1.0 / np.sum(w**2)
    mean = float(np.sum(w * x))
    sd = math.sqrt(float(np.sum(w * (x - mean) ** 2)))
    # importance-sampling error of a mean ~ sd / sqrt(ESS); 4 of them
    assert mean == pytest.approx(exact.mean(), abs=4 * exact.std() / math.sqrt(ess))
    # the SD of a weighted sample has relative error ~ 1 / sqrt(2 ESS); 4 of them
    assert sd == pytest.approx(exact.std(), rel=4 / math.sqrt(2 * ess))
    draws = x[systematic_resample(lw, 2000, 4)]
    for q in (0.05, 0.5, 0.95):  # quantile error ~ sqrt(q(1-q)/ESS) / density; tolerance 4 of them
        tol = 4 * math.sqrt(q * (1 - q) / ess) / exact.pdf(exact.ppf(q))
        assert np.quantile(draws, q) == pytest.approx(exact.ppf(q), abs=tol)


def test_the_prior_alone_is_returned_when_the_data_say_nothing() -> None:
    tr, prior, z, _lw, conv = _beta_binomial(0, 0, seed=2, n_initial=2000, iterations=5, batch=100, samples=1000,
                                            min_ess=500.0)
    assert conv.converged
    assert conv.components == 0  # equal weights pass the rule at once
    assert conv.history[0]["ess"] == pytest.approx(2000.0)
    x = tr.values(z)[:, 0]
    assert stats.kstest(x, stats.beta(prior["a"], prior["b"]).cdf).pvalue > 1e-3  # a false alarm 1 in 1000


def test_an_unreachable_rule_reports_no_convergence() -> None:
    _, _, z, _, conv = _beta_binomial(12, 40, seed=4, n_initial=200, iterations=3, batch=50, samples=1000,
                                      min_ess=1e6)
    assert not conv.converged
    assert conv.components == 3
    assert z.shape[0] == 200 + 3 * 50
    assert len(conv.history) == 4  # before each of the 3 components, and the final weights


def test_weight_summary_by_hand() -> None:
    lw = np.log(np.array([0.5, 0.25, 0.25]))
    s = weight_summary(lw, samples=4, evaluations=3)
    assert s["ess"] == pytest.approx(1 / (0.25 + 0.0625 * 2))
    assert s["max_weight"] == pytest.approx(0.5)
    assert s["expected_unique_fraction"] == pytest.approx((1 - 0.5**4 + 2 * (1 - 0.75**4)) / 4)
    assert not has_converged(s, min_ess=3.0)
    flat = weight_summary(np.full(5000, -math.log(5000)), samples=1000, evaluations=5000)
    assert flat["expected_unique_fraction"] > UNIQUE_FRACTION  # equal weights pass
    assert has_converged(flat, min_ess=1000.0)
