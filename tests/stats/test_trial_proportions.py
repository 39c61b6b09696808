"""Compiled tests of proportions (sim.stats.proportions) against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.stats import proportions as pr


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(2)
    K = 600
    n_a = rng.integers(1, 60, K)
    n_b = rng.integers(1, 60, K)
    return rng.binomial(n_a, 0.3), n_a, rng.binomial(n_b, 0.45), n_b


def _table(x_a, n_a, x_b, n_b):
    return np.array([[x_b, n_b - x_b], [x_a, n_a - x_a]])


@pytest.mark.parametrize("yates", [False, True])
@pytest.mark.parametrize(("sides", "direction"), [(2, 1), (1, 1), (1, -1)])
def test_chisq_matches_scipy(tables, yates, sides, direction):
    # same formula in float64: differences are rounding; 1e-9 relative catches any
    # formula change (a missing continuity correction moves p by > 1e-3 here)
    test = pr.CHISQ_YATES if yates else pr.CHISQ
    z, p = pr.two_arm_many(*tables, test, direction, sides)
    for k, (xa, na, xb, nb) in enumerate(zip(*tables, strict=True)):
        tab = _table(xa, na, xb, nb)
        if tab.sum(axis=0).min() == 0:
            assert p[k] == 1.0 and z[k] == 0.0
            continue
        ref = stats.chi2_contingency(tab, correction=yates)
        assert z[k] ** 2 == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
        assert np.sign(z[k]) == np.sign(xb / nb - xa / na) or z[k] == 0.0
        want = ref.pvalue if sides == 2 else stats.norm.sf(direction * z[k])
        assert p[k] == pytest.approx(want, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("sides", "direction", "alternative"), [(2, 1, "two-sided"), (1, 1, "greater"),
                                                                  (1, -1, "less")])
def test_fisher_matches_scipy(tables, sides, direction, alternative):
    # lgamma-based probabilities: relative error ~1e-13; 1e-10 leaves margin
    _, p = pr.two_arm_many(*tables, pr.FISHER, direction, sides)
    for k, (xa, na, xb, nb) in enumerate(zip(*tables, strict=True)):
        ref = stats.fisher_exact(_table(xa, na, xb, nb), alternative=alternative).pvalue
        assert p[k] == pytest.approx(ref, rel=1e-10, abs=1e-15)


def test_fisher_symmetric_ties_are_included():
    # equal margins make the law symmetric: both tails of equal probability count
    _, p = pr.two_arm_many(np.array([2]), np.array([10]), np.array([8]), np.array([10]), pr.FISHER, 1, 2)
    assert p[0] == pytest.approx(stats.fisher_exact([[8, 2], [2, 8]]).pvalue, rel=1e-12)


def test_binomial_matches_scipy():
    for n in (1, 5, 17, 40, 300):
        for x in range(n + 1):
            ref = stats.binomtest(x, n, 0.2, alternative="greater").pvalue
            assert pr.binomial_test(x, n, 0.2) == pytest.approx(ref, rel=1e-10, abs=1e-300)
