"""Bayesian predictive-probability monitoring (sim.trials.predictive): Lee & Liu's
published predictive probability, exact operating characteristics against brute-force
enumeration of every response sequence, the minimax search, Monte Carlo of the rules,
the pathway simulation and spec validation."""

from __future__ import annotations

import copy
import itertools
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from sim.api import as_scenario
from sim.model.errors import InputError
from sim.trials import predictive as pp
from sim.trials import search
from sim.trials import spec as tspec

ROOT = Path(__file__).resolve().parents[2]


def test_lee_liu_table_1():
    # Lee & Liu (2008) Clinical Trials 5:93-106, Table 1 (p. 97): p0 = 0.60, Nmax = 40,
    # x = 16 responses among n = 23, Beta(0.6, 0.4) prior, theta_T = 0.90: PP = 0.5656;
    # success needs at least 12 responses among the 17 remaining (28 of 40)
    assert pp.predictive_probability(16, 23, 40, 0.6, 0.4, 0.6, 0.9) == pytest.approx(0.5656, abs=5e-5)
    assert pp.success_threshold(40, 0.6, 0.4, 0.6, 0.9) == 28


# ph2bayes 0.0.2 (Nagashima; CRAN), stopbound_pred(0.05, "futility", 40, 0.6, 1.4, 0.3, 0.85),
# its documented example output (rdrr.io/cran/ph2bayes/man/stopbound_pred.html): Lee & Liu's
# futility boundary L_n for Nmax = 40, Beta(0.6, 1.4), p0 = 0.3, theta_T = 0.85, theta_L =
# 0.05 -- stop at n if responses <= L_n; listed where L_n changes (none before n = 4)
PH2BAYES_FUTILITY = {4: 0, 8: 1, 11: 2, 14: 3, 17: 4, 20: 5, 22: 6, 25: 7, 27: 8, 29: 9}


def test_futility_boundary_reproduces_reference_package():
    r = pp.rules(40, 0.6, 1.4, 0.3, 0.85, 0.05, 1.0, min_n=1, cohort=1)
    bound = dict(zip(r.looks, r.futility, strict=True))
    assert all(bound[n] == -1 for n in (1, 2, 3))
    changes = [n for n in range(2, 30) if bound[n] != bound[n - 1]]
    assert changes == sorted(PH2BAYES_FUTILITY)
    for n, b in PH2BAYES_FUTILITY.items():
        assert bound[n] == b


def _pp_direct(x, n, n_max, a, b, p0, theta_t):
    """PP from its definition: beta-binomial weights from beta functions, posterior by
    scipy's beta distribution (no threshold shortcut)."""
    m = n_max - n
    total = 0.0
    for y in range(m + 1):
        w = math.comb(m, y) * math.exp(special.betaln(a + x + y, b + n - x + m - y) - special.betaln(a + x, b + n - x))
        if stats.beta.sf(p0, a + x + y, b + n_max - x - y) > theta_t:
            total += w
    return total


def _brute_force(n_max, a, b, p0, theta_t, theta_l, theta_u, min_n, cohort, p):
    """Every one of the 2^n_max response sequences, monitored patient by patient."""
    looks = set(range(min_n, n_max, cohort))
    reject = pet = en = 0.0
    cache = {}
    for seq in itertools.product((0, 1), repeat=n_max):
        prob = p ** sum(seq) * (1 - p) ** (n_max - sum(seq))
        x, stop = 0, None
        for n in range(1, n_max + 1):
            x += seq[n - 1]
            if n in looks:
                if (x, n) not in cache:
                    cache[(x, n)] = _pp_direct(x, n, n_max, a, b, p0, theta_t)
                v = cache[(x, n)]
                if v < theta_l:
                    stop = ("futility", n)
                    break
                if theta_u < 1.0 and v > theta_u:  # theta_u = 1: no efficacy stop (v may round above 1)
                    stop = ("efficacy", n)
                    break
        if stop is None:
            en += prob * n_max
            reject += prob * (stats.beta.sf(p0, a + x, b + n_max - x) > theta_t)
        else:
            en += prob * stop[1]
            pet += prob * (stop[0] == "futility")
            reject += prob * (stop[0] == "efficacy")
    return reject, pet, en


@pytest.mark.parametrize(("n_max", "a", "b", "p0", "tt", "tl", "tu", "min_n", "cohort", "p"), [
    (12, 0.2, 0.8, 0.2, 0.9, 0.05, 1.0, 3, 1, 0.2),
    (12, 0.2, 0.8, 0.2, 0.9, 0.05, 1.0, 3, 1, 0.45),
    (13, 1.0, 1.0, 0.3, 0.85, 0.1, 0.95, 4, 3, 0.5),
    (11, 0.5, 0.5, 0.4, 0.8, 0.2, 0.9, 2, 2, 0.4),
])
def test_exact_characteristics_equal_brute_force(n_max, a, b, p0, tt, tl, tu, min_n, cohort, p):
    r = pp.rules(n_max, a, b, p0, tt, tl, tu, min_n, cohort)
    oc = pp.operating_characteristics(r, p)
    reject, pet, en = _brute_force(n_max, a, b, p0, tt, tl, tu, min_n, cohort, p)
    assert oc.reject == pytest.approx(reject, abs=1e-12)
    assert oc.pet == pytest.approx(pet, abs=1e-12)
    assert oc.expected_n == pytest.approx(en, abs=1e-10)
    assert 0 < pet < 1  # the rules did stop some trials


def test_search_is_minimax_and_feasible():
    # p0 = 0.2, p1 = 0.4, alpha 0.1, power 0.9, Beta(0.2, 0.8), continuous monitoring
    # from the 10th patient (Lee & Liu's setting for their design tables). cartsim's
    # search gives n_max = 36 (theta_l 0.001; exact alpha 0.0878, power 0.9062, PET(p0)
    # 0.857, EN(p0) 27.7); every grid design with n_max = 35 fails alpha or power.
    d = pp.search(0.2, 0.4, 0.1, 0.9, 0.2, 0.8)
    assert d.rules.n_max == 36
    assert d.h0.reject <= 0.1 and d.h1.reject >= 0.9
    assert d.h0.reject == pytest.approx(0.08778, abs=1e-5)
    assert d.h1.reject == pytest.approx(0.90618, abs=1e-5)
    assert d.h0.expected_n == pytest.approx(27.668, abs=1e-3)
    for tt in pp.THETA_T_GRID:
        for tl in pp.THETA_L_GRID:
            r = pp.rules(35, 0.2, 0.8, 0.2, tt, tl)
            assert (pp.operating_characteristics(r, 0.2).reject > 0.1
                    or pp.operating_characteristics(r, 0.4).reject < 0.9)


def test_monitoring_simulated_responses_matches_exact():
    # 40,000 Bernoulli(0.3) sequences through the rules: rejection, PET and mean size
    # within 4 SE of the exact values
    d = pp.search(0.2, 0.4, 0.1, 0.9, 0.2, 0.8)
    k = 40_000
    resp = np.random.default_rng(3).random((k, d.rules.n_max)) < 0.3
    sim = pp.summarise(pp.monitor(resp, d.rules))
    ex = pp.operating_characteristics(d.rules, 0.3)
    assert abs(sim["reject"] - ex.reject) < 4 * sim["reject_se"]
    assert abs(sim["pet"] - ex.pet) < 4 * sim["pet_se"]
    assert abs(sim["expected_n"] - ex.expected_n) < 4 * sim["expected_n_se"]


def test_search_without_a_design_raises():
    with pytest.raises(ValueError, match="no predictive-probability design"):
        pp.search(0.2, 0.25, 0.01, 0.99, n_max_limit=30)


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


def _doc():
    with (ROOT / "scenarios" / "trials" / "single_arm_cr_predictive.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_pathway_simulation_matches_exact_at_the_model_rate(base):
    # the pathway's responses are exchangeable Bernoulli at the model's CR rate, so the
    # rules applied to simulated trials reproduce the exact characteristics at that rate
    # (1,000 trials: 4 SE <= 0.064)
    d = _doc()
    d["grid"] = {"n": [20]}
    spec = tspec.parse_trial(d, "test.toml", base)
    pc = search.power_curve(spec, trials=1000, seed=9)
    out = pc.extra["predictive"]
    d = out["design"]
    assert d["exact_alpha"] <= 0.1 and d["exact_power"] >= 0.9
    sim, ex = out["simulated"], out["exact_at_model_rate"]
    assert abs(sim["reject"] - ex["reject"]) < 4 * math.sqrt(ex["reject"] * (1 - ex["reject"]) / 1000)
    assert abs(sim["pet"] - ex["pet"]) < 4 * math.sqrt(max(ex["pet"] * (1 - ex["pet"]), 0.01) / 1000)
    assert 0.0 <= out["probability_of_success"] <= 1.0


@pytest.mark.parametrize(("changes", "key"), [
    ({"prior": [1.0]}, "analysis.prior"),
    ({"prior": [1.0, -2.0]}, "analysis.prior"),
    ({"theta_t": 1.5}, "analysis.theta_t"),
    ({"theta_l": []}, "analysis.theta_l"),
    ({"theta_u": 0.0}, "analysis.theta_u"),
    ({"min_n": 0}, "analysis.min_n"),
    ({"cohort": "x"}, "analysis.cohort"),
    ({"sides": 2}, "analysis.sides"),
    ({"simon": "optimal"}, "analysis.simon"),
])
def test_bad_input_names_the_key(base, changes, key):
    d = copy.deepcopy(_doc())
    d["analysis"].update(changes)
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == key
    assert "\n" not in str(exc.value)


def test_no_interims_with_the_predictive_test(base):
    d = copy.deepcopy(_doc())
    d["interim"] = {"fractions": [0.5]}
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == "interim"
