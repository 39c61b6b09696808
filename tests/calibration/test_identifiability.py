"""Prior against posterior (``sim.calibration.identifiability``): the interval ratio and shift
on the prior's quantile scale, their invariance to the parameter's units, and which
posterior correlations are listed."""

from __future__ import annotations

import numpy as np
import pytest

from sim.api import calibration as api
from sim.calibration import identifiability as idf

N_PRIOR = 20_000
N_POST = 4_000


def _normal(n, mean, sd, cols, seed):
    return mean + sd * np.random.default_rng(seed).standard_normal((n, cols))


def test_contraction_and_shift_of_a_known_posterior():
    # prior N(0, 1), posterior N(0.5, 0.3^2): on the prior's quantile scale the posterior
    # 95% interval is 0.3 of the prior's and its median sits 0.5 prior SD higher. The
    # 2.5% and 97.5% quantiles of 4,000 draws have SE ~0.3 x 0.0024 / 0.058 = 0.012
    # each (the prior's empirical CDF adds less); tolerance 0.04 on the ratio x 3.92 and
    # 4 SE of a median (0.3 x 1.25 / sqrt(4000) = 0.006) on the shift.
    prior = _normal(N_PRIOR, 0.0, 1.0, 1, 1)
    post = _normal(N_POST, 0.5, 0.3, 1, 2)
    out = idf.learning(["theta"], prior, post)
    assert out.interval_ratio[0] == pytest.approx(0.3, abs=0.04 / 3.92 * 4)
    assert out.shift[0] == pytest.approx(0.5, abs=4 * 0.006 + 0.01)
    assert not out.to_json()["parameters"][0]["prior_dominated"]


def test_posterior_equal_to_prior_is_prior_dominated():
    # an independent sample of the prior itself: ratio 1 within 0.12 (3 x its ~0.04 SE
    # at 4,000 draws), shift 0 within 0.1
    prior = _normal(N_PRIOR, 2.0, 5.0, 3, 3)
    post = _normal(N_POST, 2.0, 5.0, 3, 4)
    out = idf.learning(["a", "b", "c"], prior, post)
    assert np.all(np.abs(out.interval_ratio - 1.0) < 0.12)
    assert np.all(np.abs(out.shift) < 0.1)
    assert out.strong_pairs() == []


def test_measures_do_not_depend_on_the_parameters_units():
    # the quantile scale is rank-based: a monotone transform of prior and posterior
    # together (days -> log days, a probability -> its odds) leaves both measures exactly
    prior = np.abs(_normal(N_PRIOR, 0.0, 1.0, 1, 5)) + 0.01
    post = np.abs(_normal(N_POST, 0.3, 0.5, 1, 6)) + 0.01
    raw = idf.learning(["x"], prior, post)
    logged = idf.learning(["x"], np.log(prior), np.log(post))
    np.testing.assert_array_equal(raw.interval_ratio, logged.interval_ratio)
    np.testing.assert_array_equal(raw.shift, logged.shift)


def test_listed_correlations_skip_slots_of_one_vector():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((N_POST, 2))
    a = z[:, 0]
    b = 0.8 * z[:, 0] + 0.6 * z[:, 1]  # Pearson 0.8, Spearman ~0.79
    post = np.column_stack([a, b, a, -a])
    labels = ["p", "q", "v[x]", "v[y]"]
    out = idf.learning(labels, _normal(N_PRIOR, 0.0, 1.0, 4, 8), post)
    pairs = {(x, y) for x, y, _ in out.strong_pairs()}
    assert ("p", "q") in pairs
    assert ("v[x]", "v[y]") not in pairs  # same Dirichlet-like vector: correlated by construction
    r = {(x, y): v for x, y, v in out.strong_pairs()}
    assert r[("p", "q")] == pytest.approx(0.79, abs=0.03)  # SE of Spearman at n = 4000 ~ 0.006


def test_committed_posterior_learning():
    # the committed posterior: one row per calibrated slot; the abstracts narrowed the relapse
    # median (EFS/LFS of studies 001 and 004), so it is not prior-dominated. The survival
    # after failure, split by failure type on 2026-11-25, holds draws from its priors until
    # the next calibration: prior-dominated
    taught = api.posterior_learning()
    rows = {p["parameter"]: p for p in taught.learning.to_json()["parameters"]}
    assert len(rows) == 28
    for failure in ("refractory", "early_relapse", "late_relapse"):
        assert rows[f"salvage.{failure}.median_days"]["interval_ratio"] > 0.8
    assert rows["remission.relapse.median_days"]["interval_ratio"] < 0.8
    assert taught.prior.shape == (idf.PRIOR_DRAWS, 28)
