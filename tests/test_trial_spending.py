"""Lan-DeMets boundaries (sim.analysis.spending) against published values and an
independent Monte Carlo of the canonical joint normal distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.analysis import spending as sp

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
