"""Fleming-Harrington, MaxCombo, RMST-difference and milestone tests in trial specs: the
compiled trial analysis equals the standalone tests (and lifelines' restricted mean) on
each simulated trial's data, type I error through the pathway with identical arms, and
validation of the new keys."""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
from pathlib import Path

import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy.stats import norm

from sim.api import as_scenario
from sim.model.errors import InputError
from sim.outcomes.summary import DAYS_PER_MONTH
from sim.stats import maxcombo as mc
from sim.trials import simulate
from sim.trials import spec as tspec
from sim.trials.spending import spent

ROOT = Path(__file__).resolve().parents[2]
SAME = {"overrides": {"policy.target_shares": [1.0, 0.0, 0.0, 0.0]}}
K_NULL = 2000
SE_NULL = math.sqrt(0.05 * 0.95 / K_NULL)  # 0.0049; 4 SE = 0.019


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


def _spec(base, same=True, **analysis):
    with (ROOT / "scenarios" / "trials" / "two_arm_tandem_vs_cd19.toml").open("rb") as fh:
        d = copy.deepcopy(tomllib.load(fh))
    if same:
        d["arms"] = {"control": SAME, "experimental": SAME}
    d["accrual"] = {"per_month": 10.0}
    d["grid"] = {"n": [150]}
    d["analysis"].update(analysis)
    return tspec.parse_trial(d, "test.toml", base)


@pytest.fixture(scope="module")
def null_os(base):
    return simulate.simulate_trials(_spec(base), trials=K_NULL, seed=41)


def test_compiled_analysis_equals_standalone_tests(base):
    spec_fh = _spec(base, False, test="fh", rho=0.0, gamma=1.0)
    sim = simulate.simulate_trials(spec_fh, trials=40, seed=3)
    res_fh = sim.analyse([150])
    spec_mc = _spec(base, False, test="maxcombo")
    res_mc = dataclasses.replace(sim, spec=spec_mc).analyse([150])
    for k in range(40):
        time, event, arm = sim.observed(k, 150)
        z, _, _ = mc.fh_test(time, event, arm, 0.0, 1.0)
        assert res_fh.z[k, 0] == pytest.approx(z, abs=1e-10)
        zm, pm = mc.maxcombo_test(time, event, arm, sides=2)
        assert res_mc.z[k, 0] == pytest.approx(zm, abs=1e-10)
        # the trial analysis integrates on the first lattice points unless the p-value is
        # near its level: the same decision, and the p-value within the coarse error
        assert (res_mc.p[k, 0] < spec_mc.alpha) == (pm < spec_mc.alpha)
        assert res_mc.p[k, 0] == pytest.approx(pm, abs=2e-3)
        if abs(pm - spec_mc.alpha) < mc.COARSE_BAND / 2:
            assert res_mc.p[k, 0] == pytest.approx(pm, abs=1e-12)


@pytest.mark.parametrize(("analysis", "sides"), [
    ({"test": "fh", "rho": 0.0, "gamma": 1.0}, 2), ({"test": "fh", "rho": 1.0, "gamma": 0.0}, 1),
    ({"test": "maxcombo"}, 2), ({"test": "maxcombo", "combo": [[0, 0], [0, 1]]}, 1),
    ({"test": "rmst", "tau_months": 12.0}, 2), ({"test": "milestone", "milestone_months": 12.0}, 1)])
def test_type_one_error_identical_arms(base, null_os, analysis, sides):
    spec = _spec(base, sides=sides, **analysis)
    res = dataclasses.replace(null_os, spec=spec).analyse([150])
    assert abs(res.power[0] - 0.05) < 4 * SE_NULL, (analysis, sides, res.power[0])


def test_trial_rmst_matches_lifelines(base):
    # the compiled trial analysis (censoring at the cut-off and dropout, then the RMST of
    # each arm to 12 months) against lifelines' restricted mean on the same observed data
    spec = _spec(base, False, test="rmst", tau_months=12.0)
    sim = simulate.simulate_trials(spec, trials=10, seed=8)
    res = sim.analyse([150])
    tau = 12 * DAYS_PER_MONTH
    for k in range(10):
        time, event, arm = sim.observed(k, 150)
        rm = [restricted_mean_survival_time(KaplanMeierFitter().fit(time[arm == a], event[arm == a]), t=tau)
              for a in (0, 1)]
        assert res.estimate[k, 0] == pytest.approx(rm[1] - rm[0], rel=1e-9, abs=1e-7)


@pytest.mark.parametrize(("analysis", "key"), [
    ({"test": "rmst"}, "analysis.tau_months"),
    ({"test": "milestone", "milestone_months": -3}, "analysis.milestone_months"),
    ({"test": "rmst", "tau_months": 12, "milestone_months": 6}, "analysis.milestone_months"),
    ({"test": "fh", "rho": -1.0}, "analysis.rho"),
    ({"test": "fh", "gamma": "x"}, "analysis.gamma"),
    ({"test": "maxcombo", "combo": [[0, 0]]}, "analysis.combo"),
    ({"test": "maxcombo", "combo": [[0, 0], [0, 11]]}, "analysis.combo"),
    ({"test": "maxcombo", "rho": 1.0}, "analysis.rho"),
    ({"test": "fh", "combo": [[0, 0], [1, 1]]}, "analysis.combo"),
    ({"test": "fh", "endpoint": "cr_rate"}, "analysis.endpoint"),
])
def test_bad_input_names_the_key(base, analysis, key):
    with pytest.raises(InputError) as exc:
        _spec(base, **analysis)
    assert exc.value.key == key
    assert "\n" not in str(exc.value)


def test_no_interims_with_the_weighted_tests(base):
    with (ROOT / "scenarios" / "trials" / "event_driven_os_interims.toml").open("rb") as fh:
        d = tomllib.load(fh)
    d["analysis"].update(test="rmst", tau_months=24.0)
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == "interim"


def test_fh_refuses_beta_spending_futility(base):
    with (ROOT / "scenarios" / "trials" / "event_driven_os_interims.toml").open("rb") as fh:
        d = tomllib.load(fh)
    d["analysis"].update(test="fh", rho=0.0, gamma=1.0)
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == "interim.futility"


def _fh_sequential(base, spending, futility_z=None):
    """Identical arms, FH(0, 1), 150 deaths with interims at 1/3 and 2/3 of them."""
    with (ROOT / "scenarios" / "trials" / "event_driven_os_interims.toml").open("rb") as fh:
        d = copy.deepcopy(tomllib.load(fh))
    d["arms"] = {"control": SAME, "experimental": SAME}
    d["analysis"].update(test="fh", rho=0.0, gamma=1.0)
    d["follow_up"]["events"] = 150
    d["interim"] = {"fractions": [0.333, 0.667], "spending": spending}
    if futility_z is not None:
        d["interim"]["futility_z"] = futility_z
    d["grid"] = {"n": [300]}
    return tspec.parse_trial(d, "test.toml", base)


@pytest.mark.parametrize(("spending", "futility_z"), [("obf", None), ("pocock", [-0.5, 0.0])])
def test_fh_group_sequential_type_one_error(base, spending, futility_z):
    # identical arms: rejection at any look within 4 SE of the two-sided 0.05 (non-binding
    # futility can only lower it: checked against 0.05 + 4 SE only then)
    spec = _fh_sequential(base, spending, futility_z)
    res = simulate.simulate_trials(spec, trials=K_NULL, seed=61).analyse([300])
    size = float(res.power[0])
    assert size < 0.05 + 4 * SE_NULL, size
    if futility_z is None:
        assert abs(size - 0.05) < 4 * SE_NULL, size
    assert (res.stop_look[:, 0] < 2).any()  # some trials stop at an interim look


def test_fh_boundaries_spend_at_events_with_variance_correlation(base):
    spec = _fh_sequential(base, "obf")
    res = simulate.simulate_trials(spec, trials=3, seed=62).analyse([300])
    b, _ = res.look_boundaries
    plan = res.plan
    for k in range(3):
        events = res.counts_looks[k, 0, :, 0] + res.counts_looks[k, 0, :, 2]
        v = res.aux_looks[k, 0]
        assert v[0] > 0 and res.done[k, 0].all()
        expect, _ = plan.bounds(v, spend_at=events)
        assert b[k, 0] == pytest.approx(expect, abs=1e-12)
        # the first look spends alpha(d_1 / D) alone: its boundary is the normal quantile
        first = float(spent(min(events[0] / spec.events, 1.0), 0.025, "obf"))
        assert b[k, 0, 0] == pytest.approx(float(norm.isf(first)), abs=1e-8)
