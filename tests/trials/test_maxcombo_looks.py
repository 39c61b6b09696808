"""MaxCombo with group-sequential looks: the joint correlation of the FH statistics over
looks equals its closed form (and the simulated correlation), the boundaries spend the
stated alpha under that joint normal, type I error through the pathway with identical
arms, and one-line errors for the keys it refuses."""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sim.api import as_scenario
from sim.model.errors import InputError
from sim.stats import cox
from sim.stats import maxcombo as mc
from sim.trials import simulate
from sim.trials import spec as tspec
from sim.trials.spending import spent

ROOT = Path(__file__).resolve().parents[2]
SAME = {"overrides": {"policy.target_shares": [1.0, 0.0, 0.0, 0.0]}}
K_NULL = 2000
SE_NULL = math.sqrt(0.05 * 0.95 / K_NULL)  # 0.0049; 4 SE = 0.019


def _cut(entry: np.ndarray, t: np.ndarray, group: np.ndarray, cutoff: float) -> tuple[np.ndarray, ...]:
    """(time, event, group) of the patients entered by the calendar ``cutoff``."""
    keep = entry <= cutoff
    event = (entry + t <= cutoff)[keep]
    return np.where(event, t[keep], cutoff - entry[keep]), event, group[keep]


def _looks(rng: np.random.Generator, n: int = 300, cutoffs: tuple[float, ...] = (1.5, 3.0),
           combo: tuple[tuple[float, float], ...] = mc.DEFAULT_COMBO) -> tuple[np.ndarray, np.ndarray]:
    """Identical exponential arms, uniform entry over 2 years: (z, cov) of ``combo`` at each look."""
    entry = rng.uniform(0.0, 2.0, n)
    t = rng.exponential(1.0, n)
    group = rng.integers(0, 2, n).astype(np.int8)
    rho = np.array([c[0] for c in combo])
    gamma = np.array([c[1] for c in combo])
    z = np.empty((len(cutoffs), len(combo)))
    cov = np.empty((len(cutoffs), len(combo), len(combo)))
    for k, cutoff in enumerate(cutoffs):
        r0, r1, d0, d1, m = mc._table(*_cut(entry, t, group, cutoff))
        u = np.empty(len(combo))
        cox.fh_combo_from_table(r0, r1, d0, d1, m, rho, gamma, u, cov[k])
        z[k] = u / np.sqrt(np.diag(cov[k]))
    return z, cov


def test_look_correlation_closed_form():
    rng = np.random.default_rng(5)
    entry = rng.uniform(0.0, 2.0, 200)
    t = rng.exponential(1.0, 200)
    group = rng.integers(0, 2, 200).astype(np.int8)
    combo = ((0.0, 0.0), (0.0, 0.0), (0.0, 1.0))
    rho, gamma = np.array([c[0] for c in combo]), np.array([c[1] for c in combo])
    cov = np.empty((2, 3, 3))
    v_logrank = []
    weights = []
    for k, cutoff in enumerate((1.2, 3.0)):
        time, event, grp = _cut(entry, t, group, cutoff)
        r0, r1, d0, d1, m = mc._table(time, event, grp)
        cox.fh_combo_from_table(r0, r1, d0, d1, m, rho, gamma, np.empty(3), cov[k])
        v_logrank.append(cox.logrank_from_table(r0, r1, d0, d1, m)[1])
        # the look's hypergeometric variances and FH(0, 1) weights 1 - S(t-), by hand
        at = (r0 + r1)[:m].astype(float)
        d = (d0 + d1)[:m].astype(float)
        v = np.where(at > 1, d * r0[:m] * r1[:m] / at**2 * (at - d) / np.maximum(at - 1, 1), 0.0)
        s_before = np.concatenate([[1.0], np.cumprod(1 - d / at)[:-1]])
        weights.append((v, 1.0 - s_before))
    corr, look, stat = mc.look_correlation(cov, np.array([True, True]))
    assert list(look) == [0, 0, 0, 1, 1, 1] and list(stat) == [0, 1, 2, 0, 1, 2]
    # identical (log-rank) statistics: 1 within a look, sqrt(V(1) / V(2)) across looks
    assert corr[0, 1] == pytest.approx(1.0, abs=1e-12)
    frac = math.sqrt(v_logrank[0] / v_logrank[1])
    assert corr[0, 3] == pytest.approx(frac, rel=1e-10)
    assert corr[1, 3] == pytest.approx(frac, rel=1e-10)
    # log-rank at look 1 against FH(0, 1) at look 2: sum_look1 w v / sqrt(V_1 sum_look2 w^2 v)
    (v1, w1), (v2, w2) = weights
    expect = (w1 * v1).sum() / math.sqrt(v1.sum() * (w2**2 * v2).sum())
    assert corr[0, 5] == pytest.approx(expect, rel=1e-10)
    assert corr[5, 0] == corr[0, 5]
    # same statistic FH(0, 1) across looks: sqrt of its own variance ratio
    assert corr[2, 5] == pytest.approx(math.sqrt((w1**2 * v1).sum() / (w2**2 * v2).sum()), rel=1e-10)


def test_look_correlation_matches_simulation():
    # 3,000 null data sets; the sample correlation's SE is about (1 - r^2) / sqrt(K) <= 0.018,
    # so 0.04 is over 4 SE at every entry
    rng = np.random.default_rng(11)
    zs, corrs = [], []
    for _ in range(3000):
        z, cov = _looks(rng)
        zs.append(z.ravel())
        corrs.append(mc.look_correlation(cov, np.array([True, True]))[0])
    empirical = np.corrcoef(np.array(zs), rowvar=False)
    closed = np.mean(corrs, axis=0)
    assert np.abs(empirical - closed).max() < 0.04, np.abs(empirical - closed).max()
    # the looks really are correlated below 1 (the check is not vacuous)
    assert 0.3 < closed[0, 4] < 0.9


@pytest.mark.parametrize(("kind", "sides"), [("obf", 2), ("pocock", 2), ("pocock", 1)])
def test_boundaries_spend_alpha_under_the_joint_normal(kind, sides):
    # the default combo (rank 3 per look) at two looks, alpha 0.05 over `sides`; 400,000
    # normal draws: SE of a crossing probability <= sqrt(0.05 / 4e5) = 3.5e-4, tolerance 4 SE
    _, cov = _looks(np.random.default_rng(3))
    done = np.array([True, True])
    frac = cov[0, 0, 0] / cov[1, 0, 0]  # the log-rank's information fraction at look 1
    cum = sides * spent(np.array([frac, 1.0]), 0.05 / sides, kind)
    spend = np.array([cum[0], 0.05 - cum[0]])
    b = np.empty(2)
    mc.sequential_bounds(cov, done, spend, sides, mc.SEQUENTIAL_POINTS, b)
    corr, look, _ = mc.look_correlation(cov, done)
    val, vec = np.linalg.eigh(corr)
    draws = np.random.default_rng(7).standard_normal((400_000, val.size)) @ (vec * np.sqrt(np.clip(val, 0, None))).T
    stat = np.abs(draws) if sides == 2 else draws
    cross1 = stat[:, look == 0].max(axis=1) >= b[0]
    cross2 = ~cross1 & (stat[:, look == 1].max(axis=1) >= b[1])
    se = math.sqrt(0.05 / 400_000)
    assert abs(cross1.mean() - spend[0]) < 4 * se, (cross1.mean(), spend[0])
    assert abs(cross2.mean() - spend[1]) < 4 * se, (cross2.mean(), spend[1])
    # MaxCombo's final boundary exceeds the log-rank's alone (it takes a maximum)
    assert b[1] > 1.9


def _spec(base, spending, futility_z=None, **interim):
    """Identical arms, default MaxCombo, 150 deaths with an interim at half of them."""
    with (ROOT / "scenarios" / "trials" / "event_driven_os_interims.toml").open("rb") as fh:
        d = copy.deepcopy(tomllib.load(fh))
    d["arms"] = {"control": SAME, "experimental": SAME}
    d["analysis"]["test"] = "maxcombo"
    d["follow_up"]["events"] = 150
    d["interim"] = {"fractions": [0.5], "spending": spending, **interim}
    if futility_z is not None:
        d["interim"]["futility_z"] = futility_z
    d["grid"] = {"n": [300]}
    return tspec.parse_trial(d, "test.toml", base)


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


@pytest.fixture(scope="module")
def null_trials(base):
    return simulate.simulate_trials(_spec(base, "obf"), trials=K_NULL, seed=81)


@pytest.mark.parametrize(("spending", "futility_z"), [("obf", None), ("pocock", None), ("pocock", [0.0])])
def test_type_one_error_with_looks(base, null_trials, spending, futility_z):
    # identical arms, 2,000 trials (one simulation; the looks only change the analysis):
    # rejection at either look within 4 SE of the two-sided 0.05 (non-binding futility can
    # only lower it: then only the upper side is checked)
    spec = _spec(base, spending, futility_z)
    res = dataclasses.replace(null_trials, spec=spec).analyse([300])
    size = float(res.power[0])
    assert size < 0.05 + 4 * SE_NULL, size
    if futility_z is None:
        assert abs(size - 0.05) < 4 * SE_NULL, size
    else:
        assert res.futility_stop[:, 0].mean() > 0.2  # about half the null trials are behind at the interim
    assert (res.reject[:, 0] & (res.stop_look[:, 0] == 0)).any()  # some trials stop at the interim
    b, _ = res.look_boundaries
    assert np.all(b[:, 0, 1] > 1.96)  # a maximum of four statistics needs more than one's quantile


@pytest.mark.parametrize(("interim", "key", "fragment"), [
    ({"futility": "obf", "futility_hr": 0.81}, "interim.futility", "futility_z"),
    ({"fractions": [0.2, 0.4, 0.6]}, "interim.fractions", "at most 2 interims"),
])
def test_refused_keys(base, interim, key, fragment):
    with pytest.raises(InputError) as exc:
        _spec(base, "obf", **interim)
    assert exc.value.key == key
    assert fragment in str(exc.value)
