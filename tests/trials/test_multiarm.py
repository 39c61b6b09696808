"""Multi-arm trials (sim.trials.multiarm): Dunnett's critical values, Holm's step-down,
the shared control (common random numbers), family-wise error through the pathway
with identical arms, and validation."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sim.api import as_scenario
from sim.model.errors import InputError
from sim.trials import multiarm
from sim.trials import spec as tspec

ROOT = Path(__file__).resolve().parents[2]
CD19 = {"overrides": {"policy.target_shares": [1.0, 0.0, 0.0, 0.0]}}


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


def _doc(same=False, **analysis):
    with (ROOT / "scenarios" / "trials" / "multi_arm_products_vs_cd19.toml").open("rb") as fh:
        d = copy.deepcopy(tomllib.load(fh))
    if same:
        for name in d["arms"]:
            d["arms"][name]["overrides"] = CD19["overrides"]
    d["analysis"].update(analysis)
    d["grid"] = {"n": [240]}
    return d


@pytest.mark.parametrize(("j", "sides", "z"), [(2, 2, 2.21), (3, 2, 2.35), (4, 2, 2.44), (2, 1, 1.92), (3, 1, 2.06)])
def test_dunnett_critical_values(j, sides, z):
    # Dunnett's tables (infinite degrees of freedom, family-wise 0.05, equal allocation),
    # printed to 2 decimals: at the tabulated value the adjusted p-value is 0.05 within
    # the rounding (density of the maximum times 0.005, < 0.002)
    zf = np.full((1, j), -5.0)
    zf[0, 0] = z
    p = np.full((1, j), 1.0)
    rej_lo = multiarm.adjust(zf - np.array([[0.006] + [0] * (j - 1)]), p, "dunnett", 0.05, sides)
    rej_hi = multiarm.adjust(zf + np.array([[0.006] + [0] * (j - 1)]), p, "dunnett", 0.05, sides)
    assert not rej_lo[0, 0] and rej_hi[0, 0]


def test_holm_step_down():
    # thresholds 0.05/3, 0.05/2, 0.05 on the sorted p-values, stopping at the first miss
    p = np.array([[0.01, 0.04, 0.03], [0.01, 0.02, 0.3], [0.02, 0.02, 0.02], [0.2, 0.001, 0.04],
                  [0.045, 0.01, 0.02]])
    rej = multiarm.adjust(np.zeros_like(p), p, "holm", 0.05, 2)
    np.testing.assert_array_equal(rej, [[True, False, False], [True, True, False], [False, False, False],
                                        [False, True, False], [True, True, True]])
    np.testing.assert_array_equal(multiarm.adjust(np.zeros_like(p), p, "bonferroni", 0.05, 2), p < 0.05 / 3)


def test_shared_control_and_family_wise_error(base):
    # all four arms CD19: each comparison's control patients are the same simulated
    # patients; the family-wise error over 3 comparisons with Dunnett's adjustment is
    # 0.05 within 4 SE (4 * sqrt(0.05 * 0.95 / 1500) = 0.023), Holm and Bonferroni
    # at most that
    spec = tspec.parse_trial(_doc(same=True), "test.toml", base)
    arm, comps = multiarm.simulate_comparisons(spec, 40, 5)
    control = arm == 0
    for c in comps[1:]:
        np.testing.assert_array_equal(c.t_event[control], comps[0].t_event[control])
    assert set(np.unique(arm)) == {0, 1, 2, 3}
    k = 1500
    se4 = 4 * math.sqrt(0.05 * 0.95 / k)
    for method in multiarm.METHODS:
        out = multiarm.power_multi(spec, method, trials=k, seed=12)
        fwer = out["grid"][0]["disjunctive"]["power"]
        if method == "dunnett":
            assert abs(fwer - 0.05) < se4, fwer
        else:
            assert fwer < 0.05 + se4, (method, fwer)


@pytest.mark.parametrize(("change", "key"), [
    ({"analysis": {"multiplicity": "tukey"}}, "analysis.multiplicity"),
    ({"arms": {"control": CD19, "one": CD19}}, "arms"),
    ({"allocation": {"ratio": 2.0}}, "allocation.ratio"),
    ({"allocation": {"weights": [2.0, 1.0]}}, "allocation.weights"),
    ({"allocation": {"weights": [2.0, 1.0, 0.0, 1.0]}}, "allocation.weights"),
    ({"follow_up": {"rule": "events", "events": 100, "max_followup_days": 1000.0}}, "trial.design"),
])
def test_bad_input_names_the_key(base, change, key):
    d = _doc()
    for section, table in change.items():
        if section == "analysis" or section not in d:
            d.setdefault(section, {}).update(table)
        else:
            d[section] = table
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == key


def test_dunnett_correlation_unequal_allocation():
    # weights 2 : 1 : 1: each comparison's share of the experimental arm is 1/3, so the
    # shared-control correlation is sqrt(1/3 * 1/3) = 1/3 (equal weights: 1/2)
    r = multiarm.dunnett_correlation(2, (2.0, 1.0, 1.0))
    np.testing.assert_allclose(r, [[1.0, 1 / 3], [1 / 3, 1.0]], atol=1e-15)
    np.testing.assert_allclose(multiarm.dunnett_correlation(3), np.where(np.eye(3) == 1, 1.0, 0.5))


def test_unequal_allocation_shares_and_family_wise_error(base):
    # control weight 2, three arms of weight 1: shares 0.4, 0.2, 0.2, 0.2 within 4 SE of
    # the 1500 x 240 draws, and Dunnett's family-wise error 0.05 within 4 SE with the
    # 2 : 1 correlation (1/3) under identical arms
    d = _doc(same=True)
    d["allocation"] = {"weights": [2.0, 1.0, 1.0, 1.0]}
    spec = tspec.parse_trial(d, "test.toml", base)
    assert spec.arm_weights == (2.0, 1.0, 1.0, 1.0)
    assert spec.p_experimental == pytest.approx(1 / 3)
    k = 1500
    arm, comps = multiarm.simulate_comparisons(spec, k, 14)
    shares = np.bincount(arm.ravel(), minlength=4) / arm.size
    np.testing.assert_allclose(shares, [0.4, 0.2, 0.2, 0.2], atol=4 * math.sqrt(0.4 * 0.6 / arm.size))
    assert comps[0].spec.allocation_ratio == pytest.approx(0.5)
    out = multiarm.power_multi(spec, "dunnett", trials=k, seed=14)
    fwer = out["grid"][0]["disjunctive"]["power"]
    assert abs(fwer - 0.05) < 4 * math.sqrt(0.05 * 0.95 / k), fwer
