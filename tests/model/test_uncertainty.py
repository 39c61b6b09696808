"""Parameter-set draws from the uncertainty distributions (PSA / assurance foundation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim import api
from sim.engine.kernel import run_kernel
from sim.model.errors import InputError
from sim.model.outputs import F, I
from sim.model.parameters import OFFSETS
from sim.model.states import Response
from sim.model.uncertainty import sample_thetas, uncertain_names

PARAMS = api.as_scenario(None).params


def test_fixed_parameters_keep_their_values_and_uncertain_ones_vary():
    thetas = sample_thetas(PARAMS, 500, seed=1)
    base = PARAMS.theta()
    fixed = [n for n in PARAMS.entries if n not in uncertain_names(PARAMS)]
    for name in fixed:
        off = OFFSETS[name]
        assert np.all(thetas[:, off] == base[off]), name
    varying = [n for n in uncertain_names(PARAMS) if (thetas[:, OFFSETS[n]] != thetas[0, OFFSETS[n]]).any()]
    assert len(varying) == len(uncertain_names(PARAMS))


def test_draws_follow_their_distributions():
    """KS against scipy at alpha 1e-4 (several tests per run; false alarms << 1)."""
    n = 20_000
    thetas = sample_thetas(PARAMS, n, seed=2)
    checked = 0
    for name in uncertain_names(PARAMS):
        unc = PARAMS.entries[name].uncertainty
        x = thetas[:, OFFSETS[name]]
        if unc["dist"] == "beta":
            ref = stats.beta(unc["a"], unc["b"])
        elif unc["dist"] == "lognormal":
            ref = stats.lognorm(s=unc["sdlog"], scale=unc["median"])
        elif unc["dist"] == "gamma":
            ref = stats.gamma(unc["shape"], scale=unc["scale"])
        else:
            continue
        assert stats.kstest(x, ref.cdf).pvalue > 1e-4, name
        checked += 1
    assert checked >= 20


def test_dirichlet_shares_sum_to_one_and_keep_their_mean():
    n = 20_000
    thetas = sample_thetas(PARAMS, n, seed=3, names=["crs.grade_probs"])
    off = OFFSETS["crs.grade_probs"]
    x = thetas[:, off:off + 5]
    assert np.allclose(x.sum(axis=1), 1.0, atol=1e-12)  # floating point of a normalised draw
    mean = np.asarray(PARAMS.value("crs.grade_probs"))
    conc = PARAMS.entries["crs.grade_probs"].uncertainty["concentration"]
    se = np.sqrt(mean * (1 - mean) / (conc + 1) / n)  # Dirichlet marginal variance / n
    assert np.all(np.abs(x.mean(axis=0) - mean) < 4 * se)


def test_each_parameter_has_its_own_stream():
    """Sampling a subset, or more draws, leaves every parameter's draws unchanged."""
    allp = sample_thetas(PARAMS, 300, seed=4)
    names = uncertain_names(PARAMS)[:3]
    sub = sample_thetas(PARAMS, 600, seed=4, names=names)
    for name in names:
        off = OFFSETS[name]
        assert np.array_equal(allp[:, off], sub[:300, off])
    other = sample_thetas(PARAMS, 300, seed=5)
    assert not np.array_equal(allp, other)


def test_drawn_parameter_sets_run_in_the_kernel():
    thetas = sample_thetas(PARAMS, 20, seed=6)
    for theta in thetas:
        f, _ = run_kernel(theta, 1, 200, 1826.25)
        assert not np.isnan(f[:, F.AGE_YEARS]).any()
    # a probability stays a probability
    off = OFFSETS["response.p_cr.first.cd19"]
    assert thetas[:, off].min() >= 0.0
    assert thetas[:, off].max() <= 1.0


@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_bad_draw_count_is_an_input_error(bad):
    with pytest.raises(InputError, match="draws"):
        sample_thetas(PARAMS, bad, seed=1)


def test_unknown_parameter_is_an_input_error_with_a_suggestion():
    with pytest.raises(InputError, match="did you mean"):
        sample_thetas(PARAMS, 10, seed=1, names=["crs.grade_prob"])


def test_prior_spread_shows_in_outcomes():
    """The CR rate over prior draws varies more than binomial noise alone would give:
    parameter uncertainty is carried into outcomes (4,000 patients per draw)."""
    thetas = sample_thetas(PARAMS, 40, seed=7)
    rates = []
    for theta in thetas:
        f, i = run_kernel(theta, 3, 4000, 1826.25)
        infused = ~np.isnan(f[:, F.T_INF_DAYS])
        rates.append(np.mean(i[infused, I.RESPONSE] >= Response.CR_MRD_POS))
    binomial_sd = math.sqrt(0.75 * 0.25 / 3600)
    assert np.std(rates) > 3 * binomial_sd
