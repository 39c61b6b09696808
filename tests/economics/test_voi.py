"""Value of information: EVPI, EVPPI and EVSI against closed forms (normal examples)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.economics.voi import evpi, evppi, evsi, population_value


def expected_positive_part(mu: float, sigma: float) -> float:
    """E[max(0, X)] - max(0, mu) for X ~ N(mu, sigma^2): the value of learning X."""
    z = mu / sigma
    return sigma * stats.norm.pdf(z) + mu * stats.norm.cdf(z) - max(0.0, mu)


def _draws(n: int, seed: int):
    rng = np.random.Generator(np.random.Philox(seed))
    return rng.standard_normal(n), rng.standard_normal(n), rng


MU, A, B = 500.0, 2000.0, 1000.0  # incremental net benefit = MU + A x1 + B x2


def _nb(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    return np.column_stack([np.zeros_like(x1), MU + A * x1 + B * x2])


def test_evpi_two_strategy_normal():
    x1, x2, _ = _draws(400_000, 1)
    value = evpi(_nb(x1, x2))
    expected = expected_positive_part(MU, math.hypot(A, B))
    assert abs(value.value - expected) < 4 * value.se  # Monte Carlo error of the mean


def test_evppi_linear_gaussian_closed_form_and_bounds():
    x1, x2, _ = _draws(20_000, 2)
    nb = _nb(x1, x2)
    total = evpi(nb)
    part = evppi(nb, x1)
    assert part.se > 0
    # the metamodel is exact (linear); what remains is the sampling error of the draws
    assert abs(part.value - expected_positive_part(MU, A)) < 4 * max(part.se, total.se)
    small = evppi(nb, x2)
    assert abs(small.value - expected_positive_part(MU, B)) < 4 * max(small.se, total.se)
    both = evppi(nb, np.column_stack([x1, x2]))
    for v in (part, small, both):
        assert -4 * v.se <= v.value <= total.value + 4 * (v.se + total.se)
    assert both.value == pytest.approx(total.value, abs=4 * (both.se + total.se))


def test_evsi_rises_with_sample_size_towards_evppi():
    """A study measuring x1 with noise variance 1/n: E[x1 | s] = s n / (n + 1), so the
    preposterior incremental net benefit is N(MU, A^2 n / (n + 1))."""
    x1, x2, rng = _draws(20_000, 3)
    nb = _nb(x1, x2)
    values = []
    for n in (1, 4, 16, 256):
        s = x1 + rng.standard_normal(len(x1)) / math.sqrt(n)
        v = evsi(nb, s)
        expected = expected_positive_part(MU, A * math.sqrt(n / (n + 1)))
        assert abs(v.value - expected) < 4 * max(v.se, evpi(nb).se)
        values.append(v.value)
    assert values == sorted(values)
    assert values[-1] <= evppi(nb, x1).value + 1e-6 * abs(values[-1]) + 4 * evppi(nb, x1).se


def test_population_value_discounts_future_patients():
    assert population_value(10.0, 100.0, 5.0, 0.0) == pytest.approx(5000.0)
    undiscounted = population_value(10.0, 100.0, 5.0, 0.0)
    assert population_value(10.0, 100.0, 5.0, 0.035) < undiscounted
    assert population_value(10.0, 100.0, 0.0, 0.035) == 0.0
