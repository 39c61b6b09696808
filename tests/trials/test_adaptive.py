"""Interim event re-estimation with the weighted inverse-normal test
(sim.trials.adaptive): type I error through the pathway under identical arms for
every rule, the gain in power of the promising-zone rule on exponential data, the
conditional power formula and validation."""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.api import as_scenario
from sim.model.errors import InputError
from sim.trials import adaptive, simulate
from sim.trials import spec as tspec
from sim.trials.results import SimulatedTrials

ROOT = Path(__file__).resolve().parents[2]
SAME = {"overrides": {"policy.target_shares": [1.0, 0.0, 0.0, 0.0]}}
K_NULL = 2000


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


def _doc(same=True, events=60, n=150, **adapt):
    with (ROOT / "scenarios" / "trials" / "two_arm_tandem_vs_cd19.toml").open("rb") as fh:
        d = copy.deepcopy(tomllib.load(fh))
    if same:
        d["arms"] = {"control": SAME, "experimental": SAME}
    d["accrual"] = {"per_month": 10.0}
    d["follow_up"] = {"rule": "events", "events": events, "max_followup_days": 3652.5}
    d["analysis"].update(test="logrank", sides=1, alpha=0.025)
    d["grid"] = {"n": [n]}
    d["adaptive"] = {"fraction": 0.5, **adapt}
    return d


@pytest.fixture(scope="module")
def null_sim(base):
    spec = tspec.parse_trial(_doc(), "test.toml", base)
    return simulate.simulate_trials(spec, trials=K_NULL, seed=51)


@pytest.mark.parametrize(("rule", "efficacy"), [(r, None) for r in adaptive.RULES]
                         + [("promising_zone", "obf"), ("cp_target", "pocock")])
def test_type_one_error_holds_for_every_rule(base, null_sim, rule, efficacy):
    # identical arms through the pathway, one-sided 0.025: the rejection rate is within
    # 4 SE (4 * sqrt(0.025 * 0.975 / 2000) = 0.014) of alpha, with events raised up to 2x
    # (and, with an efficacy look, stopping early at its boundary)
    extra = {"efficacy": efficacy} if efficacy else {}
    spec = tspec.parse_trial(_doc(rule=rule, cp_min=0.1, **extra), "test.toml", base)
    rows = adaptive.simulate_adaptive(dataclasses.replace(null_sim, spec=spec), spec.adaptive, spec.grid)
    p = rows[0]["power"]
    assert abs(p - 0.025) < 4 * math.sqrt(0.025 * 0.975 / K_NULL), (rule, p)
    if rule != "none":
        assert rows[0]["increased"] > 0.05  # the rule did re-estimate
        assert rows[0]["events_mean"] > 60
    if efficacy:
        assert rows[0]["efficacy_at_interim"] > 0.0


def test_efficacy_look_critical_values():
    # no efficacy look: z_alpha at the end; with an O'Brien-Fleming-type look at half the
    # events the two-look Lan-DeMets boundaries (rpact 3.3.4, getDesignGroupSequential(
    # typeOfDesign = "asOF", informationRates = c(0.5, 1), alpha = 0.025): 2.9626, 1.9686)
    opts = adaptive.AdaptiveOptions()
    assert adaptive.critical_values(opts, 50, 100, 0.025) == (math.inf, pytest.approx(1.959964, abs=1e-6))
    b1, c = adaptive.critical_values(dataclasses.replace(opts, efficacy="obf"), 50, 100, 0.025)
    assert b1 == pytest.approx(2.9626, abs=1e-4)
    assert c == pytest.approx(1.9686, abs=1e-4)


def _exponential(spec, k, n, hr, seed):
    rng = np.random.default_rng(seed)
    arm = np.zeros((k, n), np.int8)
    arm[:, 1::2] = 1
    t_event = rng.exponential(100.0, (k, n)) / np.where(arm == 1, hr, 1.0)
    return SimulatedTrials(spec, seed, t_event, arm, np.zeros((k, n)), np.full((k, n), np.inf))


def test_promising_zone_raises_power_on_exponential_data(base):
    # HR 0.7 with D = 160 planned events (fixed-design power about 0.6 at one-sided
    # 0.025): re-estimating up to 2x the stage-2 events raises the power, and the rule
    # "none" is the fixed design on the same trials (4,000 trials; the gain is far
    # above its Monte Carlo error of about 0.006)
    spec = tspec.parse_trial(_doc(same=False, events=160, n=600, rule="promising_zone"), "test.toml", base)
    sim = _exponential(spec, 4000, 600, 0.7, 8)
    row = adaptive.simulate_adaptive(sim, spec.adaptive, spec.grid)[0]
    none = adaptive.simulate_adaptive(sim, dataclasses.replace(spec.adaptive, rule="none"), spec.grid)[0]
    assert none["power"] == row["power_without_reestimation"]
    fixed = stats.norm.sf(stats.norm.isf(0.025) - math.sqrt(160 / 4) * -math.log(0.7))
    assert abs(none["power"] - fixed) < 4 * math.sqrt(fixed * (1 - fixed) / 4000) + 0.01
    assert row["power"] > none["power"] + 0.03
    assert 160 < row["events_mean"] < 320


def test_conditional_power_formula():
    # CP = 1 - Phi((z_a - w1 z1) / w2 - theta sqrt(I2)); by Monte Carlo of the stage-2
    # statistic N(theta sqrt(I2), 1) for one interim value (10^6 draws, 4 SE < 0.002)
    z1, v1, d1, d, d2 = np.array([1.2]), np.array([20.0]), 80, 160, 200.0
    cp = adaptive.conditional_power(z1, v1, d1, d, d2, 0.025)[0]
    theta = 1.2 / math.sqrt(20.0)
    z2 = np.random.default_rng(2).normal(theta * math.sqrt(20.0 * (d2 - d1) / d1), 1.0, 1_000_000)
    mc = np.mean(math.sqrt(0.5) * 1.2 + math.sqrt(0.5) * z2 >= stats.norm.isf(0.025))
    assert abs(cp - mc) < 0.002


@pytest.mark.parametrize(("change", "key"), [
    ({"rule": "bigger"}, "adaptive.rule"),
    ({"efficacy": "haybittle"}, "adaptive.efficacy"),
    ({"cp_min": 0.9, "cp_target": 0.8}, "adaptive.cp_min"),
    ({"max_factor": 0.5}, "adaptive.max_factor"),
    ({"fraction": 1.0}, "adaptive.fraction"),
    ({"typo": 1}, "adaptive.typo"),
])
def test_bad_input_names_the_key(base, change, key):
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(_doc(**change), "test.toml", base)
    assert exc.value.key == key


def test_adaptive_needs_an_event_driven_log_rank(base):
    d = _doc()
    d["analysis"]["test"] = "cox"
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == "adaptive"
