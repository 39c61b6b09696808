"""Analytic power under non-proportional hazards (sim.stats.nph_power) against simulation
with the same tests the trial analysis uses, and against closed forms where they exist."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.stats import maxcombo as mc
from sim.stats import nph_power as npw
from sim.trials import analyse

COMBO = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
N, K = 300, 2000
CURE_A, CURE_B, SCALE_DAYS, DELAY_DAYS = 0.25, 0.42, 200.0, 60.0
DROPOUT_PER_DAY = 0.0004
TAU_DAYS = 365.0


def _surv(t, arm):
    """Mixture cure; arm B's hazard is arm A's for DELAY_DAYS, then its cure share is higher."""
    t = np.asarray(t, float)
    a = CURE_A + (1.0 - CURE_A) * np.exp(-t / SCALE_DAYS)
    if arm == 0:
        return a
    late = CURE_B + (1.0 - CURE_B) * np.exp(-t / SCALE_DAYS)
    at_delay = (CURE_A + (1.0 - CURE_A) * math.exp(-DELAY_DAYS / SCALE_DAYS)) / (
        CURE_B + (1.0 - CURE_B) * math.exp(-DELAY_DAYS / SCALE_DAYS))
    return np.where(t < DELAY_DAYS, a, late * at_delay)


def _draw(rng, m, arm):
    """Inverse-CDF draws from _surv (inf: cured)."""
    u = rng.uniform(size=m)
    grid = np.linspace(0.0, 20000.0, 200001)
    s = _surv(grid, arm)
    idx = np.searchsorted(-s, -u)  # first grid time with S <= u
    return np.where(idx < grid.size, grid[np.minimum(idx, grid.size - 1)], np.inf)


def _entry():
    return np.arange(N, dtype=float)  # one patient a day


@pytest.fixture(scope="module")
def simulated():
    """K trials: 1:1, accrual one a day, analysis 365 days after the last entry,
    exponential dropout; rejection shares at two-sided 0.05 for each test."""
    rng = np.random.default_rng(2026)
    g = (np.arange(N) % 2).astype(np.int8)
    entry = _entry()
    cutoff = entry[-1] + 365.0
    buf = (np.empty(N), np.empty(N, np.int8), np.empty((N, 2), np.uint8), np.arange(N),
           np.empty((2, analyse._WIDTH)))
    rej = dict.fromkeys(("logrank", "fh01", "maxcombo", "rmst", "milestone"), 0)
    events = []
    for _ in range(K):
        t = np.where(g == 1, _draw(rng, N, 1), _draw(rng, N, 0))
        c = np.minimum(cutoff - entry, rng.exponential(1.0 / DROPOUT_PER_DAY, N))
        time, event = np.minimum(t, c), t <= c
        events.append(event.sum())
        rej["logrank"] += abs(mc.fh_test(time, event, g, 0.0, 0.0)[0]) > stats.norm.isf(0.025)
        rej["fh01"] += abs(mc.fh_test(time, event, g, 0.0, 1.0)[0]) > stats.norm.isf(0.025)
        rej["maxcombo"] += mc.maxcombo_test(time, event, g, COMBO, sides=2)[1] < 0.05
        order = np.argsort(time, kind="mergesort")
        for name, rmst in (("rmst", True), ("milestone", False)):
            z, _ = analyse._km_contrast(time, event, g, order, N, rmst, TAU_DAYS, *buf)
            rej[name] += abs(z) > stats.norm.isf(0.025)
    return {k: v / K for k, v in rej.items()}, np.array(events)


def _analytic():
    grid = np.arange(0.0, 3000.0, 1.0)
    curves = npw.Curves(grid, _surv(grid, 0), _surv(grid, 1))
    e = npw.expected(curves, _entry()[-1] + 365.0 - _entry(), 0.5, DROPOUT_PER_DAY, (TAU_DAYS,))
    mean_z, corr = npw.weighted_logrank_moments(e, COMBO)
    out = {"logrank": npw.normal_power(mean_z[0], 0.05, 2), "fh01": npw.normal_power(mean_z[1], 0.05, 2),
           "maxcombo": npw.maxcombo_power(mean_z, corr, 0.05, 2)}
    for name, moments in (("rmst", npw.rmst_moments), ("milestone", npw.milestone_moments)):
        d, v = moments(e, TAU_DAYS)
        out[name] = npw.normal_power(-d / math.sqrt(v), 0.05, 2)
    return out, e


@pytest.mark.parametrize("test", ["logrank", "fh01", "maxcombo", "rmst", "milestone"])
def test_analytic_power_agrees_with_simulation(simulated, test):
    # 4 Monte Carlo SE (sqrt(0.25 / 2000) = 0.011, so 0.045) plus 0.02 for the normal
    # approximation and the variance taken at the alternative
    sim, _ = simulated
    ana, _ = _analytic()
    assert 0.2 < ana[test] < 0.9  # a power where the comparison has teeth
    assert abs(ana[test] - sim[test]) < 4 * math.sqrt(0.25 / K) + 0.02, (test, ana[test], sim[test])


def test_expected_events_agree_with_simulation(simulated):
    _, events = simulated
    _, e = _analytic()
    se = events.std() / math.sqrt(K)
    assert abs(e.events - events.mean()) < 4 * se + 0.5  # 0.5: the midpoint rule on a 7-day grid


def test_identical_arms_give_alpha():
    grid = np.arange(0.0, 3000.0, 1.0)
    curves = npw.Curves(grid, _surv(grid, 0), _surv(grid, 0))
    e = npw.expected(curves, 700.0 - _entry(), 0.5, DROPOUT_PER_DAY, (TAU_DAYS,))
    mean_z, corr = npw.weighted_logrank_moments(e, COMBO)
    assert np.allclose(mean_z, 0.0, atol=1e-12)
    for sides in (1, 2):
        assert npw.normal_power(0.0, 0.05, sides) == pytest.approx(0.05, abs=1e-12)
        assert npw.maxcombo_power(mean_z, corr, 0.05, sides) == pytest.approx(0.05, abs=1e-6)
    assert npw.rmst_moments(e, TAU_DAYS)[0] == pytest.approx(0.0, abs=1e-9)


def test_proportional_hazards_match_schoenfeld():
    # exponential arms, HR 0.7: the average hazard ratio is 0.7 and the log-rank's
    # asymptotic power equals Schoenfeld's with the expected events (1:1 allocation)
    grid = np.arange(0.0, 5000.0, 1.0)
    curves = npw.Curves(grid, np.exp(-grid / 300.0), np.exp(-0.7 * grid / 300.0))
    e = npw.expected(curves, 900.0 - 2.0 * np.arange(400.0), 0.5, 0.0)
    assert npw.average_hazard_ratio(e) == pytest.approx(0.7, abs=1e-4)  # midpoint exposure, 7-day steps
    mean_z, _ = npw.weighted_logrank_moments(e, ((0.0, 0.0),))
    schoenfeld = stats.norm.cdf(-math.log(0.7) * math.sqrt(e.events / 4.0) - stats.norm.isf(0.025))
    # the hypergeometric variance at the alternative is a little below D / 4
    assert npw.normal_power(float(mean_z[0]), 0.05, 2) == pytest.approx(schoenfeld, abs=0.01)


def test_maxcombo_critical_value_of_one_statistic():
    assert npw.maxcombo_critical(np.eye(1), 0.05, 2) == pytest.approx(stats.norm.isf(0.025), abs=1e-8)
    assert npw.maxcombo_critical(np.eye(1), 0.025, 1) == pytest.approx(stats.norm.isf(0.025), abs=1e-8)
    # two independent statistics: 1 - (1 - 2 sf(c))^2 = alpha
    c = npw.maxcombo_critical(np.eye(2), 0.05, 2)
    assert 1.0 - (1.0 - 2.0 * stats.norm.sf(c)) ** 2 == pytest.approx(0.05, abs=1e-6)


def test_entry_days_piecewise_accrual():
    # 2 a day for 10 days, then 1 a day: patient j enters when j - 1 patients' worth of
    # intensity has accrued
    e = npw.entry_days(30, np.array([2.0, 1.0]), np.array([10.0]))
    assert e[0] == 0.0 and e[1] == 0.5 and e[20] == 10.0 and e[21] == 11.0 and e[29] == 19.0
