"""Frontier, ICERs, net benefit, acceptability curves: known answers and invariants."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.economics.decision import (
    DOMINATED,
    EXTENDED,
    FRONTIER,
    ceac,
    ceaf,
    frontier,
    net_health_benefit,
    net_monetary_benefit,
    paired_increment,
    ratio_interval,
)


def test_frontier_with_dominance_and_extended_dominance():
    costs = [0.0, 200.0, 300.0, 400.0, 1000.0]
    effects = [0.0, 1.0, 2.0, 1.5, 4.0]
    rows = frontier(np.array(costs), np.array(effects))
    assert [r.status for r in rows] == [FRONTIER, EXTENDED, FRONTIER, DOMINATED, FRONTIER]
    assert math.isnan(rows[0].icer)
    assert rows[2].icer == pytest.approx(150.0) and rows[2].reference == 0
    assert rows[4].icer == pytest.approx(350.0) and rows[4].reference == 2
    assert all(math.isnan(r.icer) for r in rows if r.status != FRONTIER)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e6), st.floats(0, 30)), min_size=1, max_size=7))
def test_dominated_strategies_never_get_an_icer_and_icers_increase(points):
    c = np.array([p[0] for p in points])
    e = np.array([p[1] for p in points])
    rows = frontier(c, e)
    on = sorted((r for r in rows if r.status == FRONTIER), key=lambda r: r.cost)
    assert on, "the frontier is never empty"
    for r in rows:
        if r.status != FRONTIER:
            assert math.isnan(r.icer)
            # something on the frontier is at least as good at no more cost, or a mix is
            assert any(o.cost <= r.cost for o in on)
    icers = [r.icer for r in on[1:]]
    assert all(b >= a - 1e-9 * max(1.0, abs(a)) for a, b in itertools.pairwise(icers))
    assert all(x > 0 for x in icers)


def test_net_benefit():
    assert net_monetary_benefit(np.array([1000.0]), np.array([2.0]), 20000.0)[0] == 39000.0
    assert net_health_benefit(np.array([1000.0]), np.array([2.0]), 20000.0)[0] == pytest.approx(1.95)


def test_acceptability_curves_are_probabilities_summing_to_one():
    rng = np.random.Generator(np.random.Philox(1))
    costs = rng.normal([0, 10000, 30000], [1000, 5000, 8000], size=(2000, 3))
    effects = rng.normal([0, 0.5, 1.0], [0.1, 0.3, 0.5], size=(2000, 3))
    wtps = np.linspace(0, 100000, 21)
    curves = ceac(costs, effects, wtps)
    assert ((curves >= 0) & (curves <= 1)).all()
    np.testing.assert_allclose(curves.sum(axis=1), 1.0)
    assert curves[0, 0] > 0.9  # at zero willingness to pay the cheapest wins
    chosen, prob = ceaf(costs, effects, wtps)
    mean_nmb = wtps[:, None] * effects.mean(0) - costs.mean(0)
    assert (chosen == mean_nmb.argmax(axis=1)).all()
    np.testing.assert_allclose(prob, curves[np.arange(len(wtps)), chosen])


def test_paired_increment_and_ratio_interval():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    inc = paired_increment(a, a + np.array([1.0, 1.0, 3.0, 3.0]))
    assert inc.mean == 2.0
    assert inc.se == pytest.approx(np.std([1, 1, 3, 3], ddof=1) / 2)
    assert inc.low < 2.0 < inc.high
    rng = np.random.Generator(np.random.Philox(2))
    de = rng.normal(1.0, 1.0, 5000)
    dc = 20000.0 * de + rng.normal(5000.0, 3000.0, 5000)
    lo, hi = ratio_interval(dc, de, n_boot=400)
    assert lo < dc.mean() / de.mean() < hi
    assert all(math.isnan(x) for x in ratio_interval(dc[:50], rng.normal(0.0, 1.0, 50), n_boot=200))
