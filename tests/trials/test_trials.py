"""Trial planning (sim.trials): the compiled log-rank against the reference
implementation, type I error, power at Schoenfeld's event count, stability of the
random-number addressing, and validation of trial specifications."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sim.api import as_scenario
from sim.api import trials as api_trials
from sim.model.errors import InputError
from sim.stats.survival import logrank_test
from sim.trials import analyse, search, simulate
from sim.trials import spec as tspec
from sim.trials.designs import schoenfeld_events

ROOT = Path(__file__).resolve().parents[2]
TRIAL_FILE = ROOT / "scenarios" / "trials" / "two_arm_tandem_vs_cd19.toml"


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


@pytest.fixture(scope="module")
def doc():
    with TRIAL_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _spec(doc, base, **changes):
    """The example spec with sections replaced: changes={"analysis": {...}, ...} (merged)."""
    d = copy.deepcopy(doc)
    for section, table in changes.items():
        d.setdefault(section, {}).update(table)
    return tspec.parse_trial(d, "test.toml", base)


def test_example_file_loads():
    spec = api_trials.load_trial(TRIAL_FILE)
    assert spec.design == "two_arm"
    assert spec.arms[0].overrides == {"policy.target_shares": [1.0, 0.0, 0.0, 0.0]}
    assert spec.arms[1].scenario.params.value("policy.target_shares") == [0.0, 0.0, 1.0, 0.0]
    assert spec.endpoint == "os"
    assert spec.test == "logrank"
    assert list(spec.grid) == sorted(spec.grid)


# --------------------------------------------------------------------------- #
# the compiled log-rank equals the reference implementation


@pytest.mark.parametrize(("endpoint", "sides", "dropout"), [("os", 2, 0.05), ("efs", 1, 0.3)])
def test_compiled_logrank_matches_reference(doc, base, endpoint, sides, dropout):
    # Both compute the same sums in float64 in a different order: differences are
    # rounding (~1e-13); 1e-8 (the bound) still catches any formula or
    # censoring difference, which moves the statistic by >= 1e-3.
    spec = _spec(doc, base, analysis={"endpoint": endpoint, "sides": sides},
                 dropout={"rate_per_year": dropout}, accrual={"per_month": 3.0},
                 follow_up={"min_followup_days": 180.0})
    sim = simulate.simulate_trials(spec, trials=20, seed=7, n_max=150)
    sizes = [40, 97, 150]
    res = sim.analyse(sizes)
    for k in range(20):
        for g, n in enumerate(sizes):
            time, event, arm = sim.observed(k, n)  # plain-numpy censoring, independent of the kernel
            ref = logrank_test(time, event, arm)
            assert res.chi2[k, g] == pytest.approx(ref.statistic, rel=1e-8, abs=1e-8)
            assert res.events[k, g] == int(event.sum())
            # arm B is the second label: O_B - E_B from the reference
            assert res.o_minus_e[k, g] == pytest.approx(ref.observed[1] - ref.expected[1], rel=1e-8, abs=1e-8)
            if sides == 2:
                assert res.p[k, g] == pytest.approx(ref.p_value, rel=1e-8, abs=1e-12)
    # censoring is real: both events and censored patients occur
    assert 0 < res.events[:, 0].mean() < 40


def test_logrank_many_matches_reference_with_ties():
    # rounded exponential times create tied event and censoring times
    rng = np.random.default_rng(3)
    K, n = 20, 80
    time = np.round(rng.exponential(10.0, (K, n)), 0)
    event = rng.random((K, n)) < 0.7
    group = (rng.random((K, n)) < 0.4).astype(np.int8)
    chi2, z, p, oe, v, ev = analyse.logrank_many(time, event, group, 2)
    for k in range(K):
        ref = logrank_test(time[k], event[k], group[k])
        assert chi2[k] == pytest.approx(ref.statistic, rel=1e-8, abs=1e-8)
        assert oe[k] == pytest.approx(ref.observed[1] - ref.expected[1], rel=1e-8, abs=1e-8)
        assert v[k] == pytest.approx(ref.covariance[1, 1], rel=1e-8, abs=1e-8)
        assert z[k] ** 2 == pytest.approx(chi2[k], rel=1e-12)
        assert p[k] == pytest.approx(ref.p_value, rel=1e-8, abs=1e-12)
        assert ev[k] == event[k].sum()


# --------------------------------------------------------------------------- #
# operating characteristics


def test_type_one_error_identical_arms(doc, base):
    # Identical arms: with common random numbers between arms each outcome is
    # independent of the arm, so H0 holds exactly; K = 2000 trials give
    # SE = sqrt(0.05 * 0.95 / 2000) = 0.0049; 4 SE = 0.019 (false-failure rate ~6e-5).
    same = {"overrides": {"policy.target_shares": [1.0, 0.0, 0.0, 0.0]}}
    spec = _spec(doc, base, arms={"control": same, "experimental": same}, grid={"n": [60, 120]},
                 accrual={"per_month": 10.0})
    K = 2000
    res = simulate.simulate_trials(spec, trials=K, seed=11).analyse(spec.grid)
    se = math.sqrt(0.05 * 0.95 / K)
    for g in range(len(spec.grid)):
        assert abs(res.power[g] - 0.05) < 4 * se, (spec.grid[g], res.power[g])
    # one-sided, same data: P(Phi(z) < 0.05) is also 0.05
    one = _spec(doc, base, arms={"control": same, "experimental": same}, grid={"n": [60, 120]},
                accrual={"per_month": 10.0}, analysis={"sides": 1})
    res1 = simulate.simulate_trials(one, trials=K, seed=11).analyse(one.grid)
    for g in range(len(one.grid)):
        assert abs(res1.power[g] - 0.05) < 4 * se


def test_power_at_schoenfeld_events_exponential():
    # Exponential proportional hazards, HR = 0.7, 1:1, no censoring, two-sided 0.05:
    # Schoenfeld's D events should give power 0.80 (the approximation is accurate for
    # HR near 1 with equal allocation). K = 4000: SE = sqrt(0.8 * 0.2 / 4000) = 0.0063;
    # tolerance 4 SE = 0.025.
    hr = 0.7
    d = schoenfeld_events(hr, 0.05, 0.8, 0.5, 2)
    K = 4000
    rng = np.random.default_rng(20261121)
    group = np.zeros((K, d), np.int8)
    group[:, d // 2:] = 1
    rate = np.where(group == 1, hr, 1.0)
    time = rng.exponential(1.0, (K, d)) / rate
    event = np.ones((K, d), bool)
    _, z, p, _, _, _ = analyse.logrank_many(time, event, group, 2)
    power = float(np.mean(p < 0.05))
    assert abs(power - 0.8) < 4 * math.sqrt(0.8 * 0.2 / K), power
    # the effect goes the right way: fewer events than expected in the better arm B
    assert np.mean(z < 0) > 0.95
    # one-sided at alpha / 2 rejects exactly the two-sided rejections with z < 0
    _, _, p1, _, _, _ = analyse.logrank_many(time, event, group, 1)
    np.testing.assert_array_equal(p1 < 0.025, (p < 0.05) & (z < 0))


def test_simulated_effect_direction_and_curve(doc, base):
    # tandem has a higher CR rate than CD19 in the baseline parameters: HR < 1, and power
    # rises with n (nested designs; 400 trials, the step from 100 to 1000 is ~0.5)
    spec = _spec(doc, base, grid={"n": [100, 1000]})
    pc = search.power_curve(spec, trials=400, seed=5)
    assert pc.hazard_ratio_pooled is not None
    assert pc.hazard_ratio_pooled < 1.0
    assert pc.grid[1]["power"] > pc.grid[0]["power"] + 0.2
    assert pc.grid[1]["events_mean"] > pc.grid[0]["events_mean"]
    assert pc.grid[1]["duration_months_mean"] > pc.grid[0]["duration_months_mean"]
    assert pc.analytic_n is not None
    assert pc.analytic_events is not None


def test_search_brackets_target(doc, base):
    spec = _spec(doc, base, grid={"n": [100, 1200]}, analysis={"power": 0.5})
    pc = search.power_curve(spec, trials=300, seed=5)
    assert pc.grid[0]["power"] < 0.5 <= pc.grid[1]["power"]
    n = pc.n_required
    assert n is not None
    assert 100 < n <= 1200
    by_n = {r["n"]: r["power"] for r in pc.searched}
    if n in by_n:
        assert by_n[n] >= 0.5
    else:  # every midpoint missed the target: the answer is the upper grid point
        assert n == 1200
    # every searched size below the answer misses the target
    assert all(p < 0.5 for m, p in by_n.items() if m < n)
    assert pc.to_dict()["n_required"] == n


# --------------------------------------------------------------------------- #
# random-number addressing


def test_adding_trials_and_sizes_changes_nothing(doc, base):
    spec = _spec(doc, base, dropout={"rate_per_year": 0.2})
    small = simulate.simulate_trials(spec, trials=30, seed=3, n_max=120)
    large = simulate.simulate_trials(spec, trials=50, seed=3, n_max=120)
    for name in ("t_event", "arm", "entry", "dropout"):
        np.testing.assert_array_equal(getattr(small, name), getattr(large, name)[:30])
    a = small.analyse([50, 120])
    b = large.analyse([120, 50])
    np.testing.assert_array_equal(a.p[:, 0], b.p[:30, 1])
    np.testing.assert_array_equal(a.p[:, 1], b.p[:30, 0])
    # the trial of size n is the first n patients of the larger trial
    nested = simulate.simulate_trials(spec, trials=30, seed=3, n_max=120)
    np.testing.assert_array_equal(nested.arm, small.arm)
    # a different seed changes the trials
    other = simulate.simulate_trials(spec, trials=30, seed=4, n_max=120)
    assert not np.array_equal(other.entry, small.entry)


def test_allocation_ratio_and_accrual(doc, base):
    # 2:1 allocation: P(B) = 2/3; 60,000 patients give SE 0.0019, tolerance 0.01 (> 5 SE).
    # Accrual 5/month: mean gap 30.4375 / 5 days, relative SE of the mean 0.004; tol 2%.
    spec = _spec(doc, base, allocation={"ratio": 2.0}, accrual={"per_month": 5.0})
    sim = simulate.simulate_trials(spec, trials=300, seed=9, n_max=200)
    assert abs(sim.arm.mean() - 2 / 3) < 0.01
    gaps = np.diff(sim.entry, axis=1)
    assert np.all(sim.entry[:, 0] == 0.0)
    assert gaps.mean() == pytest.approx(30.4375 / 5, rel=0.02)
    # dropout 0.05 per patient-year: exponential with mean 365.25 / 0.05 days; tol 2%
    assert sim.dropout.mean() == pytest.approx(365.25 / 0.05, rel=0.02)


# --------------------------------------------------------------------------- #
# bad input: one InputError naming the key


@pytest.mark.parametrize(("changes", "key"), [
    ({"analysis": {"alpha": 0.0}}, "analysis.alpha"),
    ({"analysis": {"alpha": 1.5}}, "analysis.alpha"),
    ({"analysis": {"power": 1.0}}, "analysis.power"),
    ({"analysis": {"power": -0.2}}, "analysis.power"),
    ({"analysis": {"power": 0.01, "alpha": 0.05}}, "analysis.power"),
    ({"analysis": {"endpoint": "cr_rate"}}, "analysis.endpoint"),
    ({"analysis": {"endpoint": "lfs"}}, "analysis.endpoint"),
    ({"analysis": {"endpoint": "pfs"}}, "analysis.endpoint"),
    ({"analysis": {"test": "kaplan"}}, "analysis.test"),
    ({"analysis": {"test": "chisq"}}, "analysis.endpoint"),  # chi-square cannot analyse OS
    ({"analysis": {"test": "binomial"}}, "analysis.test"),  # a single-arm test in a two-arm trial
    ({"analysis": {"sides": 3}}, "analysis.sides"),
    ({"analysis": {"alpah": 0.05}}, "analysis.alpah"),
    ({"allocation": {"ratio": 0}}, "allocation.ratio"),
    ({"allocation": {"ratio": -1.0}}, "allocation.ratio"),
    ({"grid": {"n": []}}, "grid.n"),
    ({"grid": {"n": [100, 1]}}, "grid.n"),
    ({"accrual": {"per_month": 0}}, "accrual.per_month"),
    ({"dropout": {"rate_per_year": -0.1}}, "dropout.rate_per_year"),
    ({"follow_up": {"rule": "events"}}, "follow_up.min_followup_days"),  # key of another rule
    ({"follow_up": {"rule": "weekly"}}, "follow_up.rule"),
    ({"trial": {"design": "single_arm"}}, "arms"),  # a single-arm trial has one [arm]
    ({"trial": {"design": "crossover"}}, "trial.design"),
    ({"run": {"trials": 0}}, "run.trials"),
    ({"arms": {"control": {"overrides": {"policy.target_share": [1.0, 0, 0, 0]}}}},
     "arms.control.overrides.policy.target_share"),
    ({"arms": {"experimental": {"overrides": {"policy.target_shares": [0.5, 0.0, 0.0, 0.0]}}}},
     "arms.experimental.overrides.policy.target_shares"),
])
def test_bad_input_names_the_key(doc, base, changes, key):
    with pytest.raises(InputError) as info:
        _spec(doc, base, **changes)
    assert info.value.key == key
    assert info.value.file == "test.toml"
    assert "\n" not in str(info.value)


def test_unknown_section_and_missing_arm(doc, base):
    d = copy.deepcopy(doc)
    d["analysys"] = {}
    with pytest.raises(InputError, match="did you mean 'analysis'"):
        tspec.parse_trial(d, "t.toml", base)
    d = copy.deepcopy(doc)
    del d["arms"]["experimental"]
    with pytest.raises(InputError) as info:
        tspec.parse_trial(d, "t.toml", base)
    assert info.value.key == "arms.experimental"
    d = copy.deepcopy(doc)
    d["arms"]["placebo"] = {}
    with pytest.raises(InputError) as info:
        tspec.parse_trial(d, "t.toml", base)
    assert info.value.key == "arms.placebo"


# --- assurance ---------------------------------------------------------------------------

def test_assurance_without_parameter_draws_equals_power_exactly():
    """With no parameter drawn every trial uses the arms' own parameters, so assurance
    must reproduce the power of the same simulated trials bit for bit."""
    spec = api_trials.load_trial(TRIAL_FILE)
    value, _ = search.assurance(spec, 300, trials=60, seed=9, names=[])
    power = simulate.simulate_trials(spec, trials=60, seed=9, n_max=300).analyse([300]).power[0]
    assert value == power


def test_assurance_over_prior_draws_differs_from_power():
    spec = api_trials.load_trial(TRIAL_FILE)
    value, se = search.assurance(spec, 600, trials=300, seed=9)
    power = simulate.simulate_trials(spec, trials=300, seed=9, n_max=600).analyse([600]).power[0]
    assert 0.0 <= value <= 1.0
    assert se > 0.0
    assert value != power  # parameter uncertainty changes individual trials


def test_power_reports_progress_per_stage_and_the_same_answer():
    """`cartsim power` draws its progress bar from these calls: every stage ends at its
    total, and watching changes nothing in the result."""
    from sim import api

    calls: list[tuple[str, int, int]] = []
    watched = api.power(TRIAL_FILE, trials=40, seed=3, progress=lambda s, d, t: calls.append((s, d, t)))
    plain = api.power(TRIAL_FILE, trials=40, seed=3)
    for key in ("grid", "n_required", "analytic_n", "assurance"):
        assert watched[key] == plain[key]
    stages = [c[0] for c in calls]
    assert stages[0] == "power grid" and stages[-1] == "assurance"
    for stage in ("power grid", "assurance"):
        done = [d for s, d, t in calls if s == stage]
        totals = {t for s, _, t in calls if s == stage}
        assert totals == {40} and done == sorted(done) and done[-1] == 40
