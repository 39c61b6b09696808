"""Lan-DeMets boundaries (sim.trials.spending) against published values and an
independent Monte Carlo of the canonical joint normal distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.trials import spending as sp

# gsDesign (test.type = 1, sfu = sfLDOF, alpha = 0.025, equally spaced looks) and rpact
# (typeOfDesign "asOF") print these efficacy boundaries to 4 decimals.
PUBLISHED_OBF = {
    2: [2.9626, 1.9686],
    3: [3.7103, 2.5114, 1.9930],
    4: [4.3326, 2.9631, 2.3590, 2.0141],
}


@pytest.mark.parametrize("k", sorted(PUBLISHED_OBF))
def test_obf_boundaries_match_published(k):
    b = sp.boundaries(np.arange(1, k + 1) / k, 0.025, "obf")
    # published to 4 decimals: 0.5e-4 rounding, plus gsDesign's coarser grid (r = 18)
    np.testing.assert_allclose(b.z, PUBLISHED_OBF[k], atol=1.0e-4)
    # the recursion spends exactly the planned alpha
    assert b.crossing().sum() == pytest.approx(0.025, abs=1e-9)
    np.testing.assert_allclose(np.cumsum(b.crossing()), b.alpha_spent, atol=1e-9)


def test_single_look_is_the_fixed_design():
    assert sp.boundaries([1.0], 0.025).z[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-9)


def test_obf_spending_function():
    # alpha(t) = 2 - 2 Phi(z_{alpha/2} / sqrt(t)); alpha(1) = alpha
    assert sp.spent(1.0, 0.025, "obf") == pytest.approx(0.025, rel=1e-12)
    assert sp.spent(0.5, 0.025, "obf") == pytest.approx(2 * stats.norm.sf(stats.norm.isf(0.0125) / math.sqrt(0.5)))
    assert sp.spent(1.0, 0.025, "pocock") == pytest.approx(0.025, rel=1e-12)


@pytest.mark.parametrize(("t", "kind"), [([1 / 3, 2 / 3, 1.0], "obf"), ([0.3, 0.7, 1.0], "pocock"),
                                          ([0.5, 1.0], "obf")])
def test_boundaries_against_monte_carlo_of_the_canonical_process(t, kind):
    # Independent check: Brownian motion at the information fractions, 10^6 paths.
    # Per-look crossing probabilities have binomial SE <= sqrt(0.0125 * 0.9875 / 1e6)
    # = 1.1e-4; tolerance 4.5 SE = 5e-4 (total: 0.025 +- 7e-4).
    t = np.asarray(t)
    b = sp.boundaries(t, 0.025, kind)
    rng = np.random.default_rng(1)
    M = 1_000_000
    s = np.cumsum(rng.standard_normal((M, t.size)) * np.sqrt(np.diff(np.concatenate([[0.0], t]))), axis=1)
    z = s / np.sqrt(t)
    cross = z >= b.z
    first = np.where(cross.any(axis=1), cross.argmax(axis=1), -1)
    per_look = np.array([np.mean(first == k) for k in range(t.size)])
    np.testing.assert_allclose(per_look, np.diff(np.concatenate([[0.0], b.alpha_spent])), atol=5e-4)
    assert abs(per_look.sum() - 0.025) < 4 * math.sqrt(0.025 * 0.975 / M)


def test_bad_fractions():
    for t in ([0.5, 0.5, 1.0], [0.5, 0.9], [0.0, 1.0]):
        with pytest.raises(ValueError):
            sp.boundaries(t, 0.025)


# --------------------------------------------------------------------------- #
# boundaries at observed information, and non-binding futility


def _paths(info, drift, m, seed):
    """Canonical process at information levels ``info`` (any scale): Z_k with
    E[Z_k] = drift sqrt(info_k), Cov(Z_j, Z_k) = sqrt(info_j / info_k)."""
    info = np.asarray(info, float)
    rng = np.random.default_rng(seed)
    inc = rng.standard_normal((m, info.size)) * np.sqrt(np.diff(np.concatenate([[0.0], info])))
    s = np.cumsum(inc, axis=1) + drift * info
    return s / np.sqrt(info)


def _first_exits(z, b, a):
    up = z >= b
    down = (z <= a) & ~up
    stop = up | down
    first = np.where(stop.any(axis=1), stop.argmax(axis=1), -1)
    rows = np.arange(z.shape[0])
    return (np.array([np.mean((first == k) & up[rows, first]) for k in range(z.shape[1])]),
            np.array([np.mean((first == k) & down[rows, first]) for k in range(z.shape[1])]))


def test_plan_at_the_planned_events_is_the_planned_design():
    plan = sp.SequentialPlan(800.0, 0.025, "obf")
    b, a = plan.bounds([267, 534, 800])
    np.testing.assert_allclose(b, sp.boundaries(np.array([267, 534, 800]) / 800, 0.025).z, rtol=0, atol=1e-12)
    assert np.all(a == -math.inf)


@pytest.mark.parametrize("info", [[267, 534, 700], [267, 534, 950], [267, 400], [100], [267, 534, 534]])
def test_final_look_spends_the_alpha_left_at_any_observed_information(info):
    # a trial that ends short of (or beyond) D, or whose last look repeats the previous
    # count, keeps overall level alpha: recursion exact to the root tolerance (1e-9)
    plan = sp.SequentialPlan(800.0, 0.025, "obf")
    b, _ = plan.bounds(info)
    up, _ = sp.exit_probabilities(plan.information(info), b)
    assert up.sum() == pytest.approx(0.025, abs=1e-9)
    # the interims spend alpha(d_k / D), as planned, whatever the final count
    if len(info) > 1:
        np.testing.assert_allclose(np.cumsum(up)[:-1], sp.spent(np.asarray(info[:-1]) / 800.0, 0.025, "obf"),
                                   atol=1e-9)
    # fewer final events than planned: a lower final boundary than the planned 1.9932
    if info[-1] < 800 and len(info) == 3:
        assert b[-1] < plan.bounds([267, 534, 800])[0][-1]


def test_futility_first_look_closed_form():
    # at the first look P(Z_1 <= a_1) = Phi(a_1 - drift sqrt(t_1)) = beta(t_1 / T)
    drift = -math.log(0.8) * 0.5
    plan = sp.SequentialPlan(800.0, 0.025, "obf", futility="obf", beta=0.2, drift_per_sqrt_info=drift)
    _, a = plan.bounds([267, 534, 800])
    beta1 = float(sp.spent(267 / 800, 0.2, "obf"))
    assert a[0] == pytest.approx(drift * math.sqrt(267) + stats.norm.ppf(beta1), abs=1e-9)
    assert a[-1] == -math.inf


@pytest.mark.parametrize("kind", ["obf", "pocock"])
def test_futility_spends_beta_under_the_alternative_monte_carlo(kind):
    # 10^6 paths of the canonical process under the design alternative: futility exits per
    # look equal the beta-spending increments (binomial SE <= sqrt(0.1 * 0.9 / 1e6) = 3e-4;
    # tolerance 4 SE = 1.2e-3); under H0 the non-binding efficacy total stays <= alpha.
    info = [200.0, 400.0, 600.0]
    drift = -math.log(0.75) * 0.5
    plan = sp.SequentialPlan(600.0, 0.025, "obf", futility=kind, beta=0.1, drift_per_sqrt_info=drift)
    b, a = plan.bounds(info)
    up, down = _first_exits(_paths(info, drift, 1_000_000, 5), b, a)
    target = np.diff(np.concatenate([[0.0], sp.spent(np.array(info[:-1]) / 600.0, 0.1, kind)]))
    np.testing.assert_allclose(down[:-1], target, atol=1.2e-3)
    assert down[-1] == 0.0
    # the recursion agrees with the paths on both exits
    ru, rd = sp.exit_probabilities(info, b, a, drift)
    np.testing.assert_allclose(ru, up, atol=1.2e-3)
    np.testing.assert_allclose(rd, down, atol=1.2e-3)
    h0_up, _ = sp.exit_probabilities(info, b, a, 0.0)
    assert h0_up.sum() < 0.025  # futility followed: below alpha (non-binding)
    assert sp.exit_probabilities(info, b, None, 0.0)[0].sum() == pytest.approx(0.025, abs=1e-9)


def test_futility_bound_never_exceeds_efficacy():
    # a large beta spent at the first look (0.61) exceeds what lies below the efficacy
    # bound under a strong alternative (0.08):
    # the futility bound meets the efficacy bound and every path stops there
    plan = sp.SequentialPlan(100.0, 0.025, "pocock", futility="pocock", beta=0.99, drift_per_sqrt_info=0.5)
    b, a = plan.bounds([50.0, 100.0])
    assert a[0] == b[0]
    up, down = sp.exit_probabilities([50.0, 100.0], b, a, 0.5)
    assert up[0] + down[0] == pytest.approx(1.0, abs=1e-9)
