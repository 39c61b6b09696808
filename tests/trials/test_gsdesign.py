"""Group-sequential designs solved for power with a non-binding futility boundary
(sim.trials.gsdesign): inflation factors, boundaries, per-look probabilities and
maximum events against rpact; power with futility obeyed by Monte Carlo of the
canonical process and of log-rank trials with solved events."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sim.api import as_scenario
from sim.model.errors import InputError
from sim.trials import gsdesign as gs
from sim.trials import spec as tspec
from sim.trials.designs import schoenfeld_events, schoenfeld_events_exact
from sim.trials.results import SimulatedTrials

ROOT = Path(__file__).resolve().parents[2]

# rpact 3.3.4 (R 4.2.2): d <- getDesignGroupSequential(kMax, alpha = 0.025, beta = 0.2,
# sided = 1, informationRates = t, typeOfDesign = "asOF" / "asP", typeBetaSpending =
# "bsOF" / "bsP", bindingFutility = FALSE); getDesignCharacteristics(d)$inflationFactor,
# d$criticalValues, d$futilityBounds; getSampleSizeSurvival(d, hazardRatio = 0.7,
# lambda2 = log(2) / 12, accrualTime = c(0, 24), followUpTime = 12)$maxNumberOfEvents,
# $expectedEventsH1, $rejectPerStage, $futilityPerStage. Printed to 6 (events 4) decimals.
RPACT = [
    ("obf", (267 / 800, 534 / 800, 1.0), 1.104567, [3.707779, 2.509593, 1.993217], [-0.233366, 1.173209],
     272.5928, 215.9846, [0.022388, 0.436324, 0.341288], [0.026533, 0.090210]),
    ("obf", (1 / 3, 2 / 3, 1.0), 1.104334, [3.710303, 2.511427, 1.993047], [-0.236145, 1.170372],
     272.5354, 215.9905, [0.022188, 0.435103, 0.342709], [0.026438, 0.090076]),
    ("obf", (0.5, 1.0), 1.055998, [2.962588, 1.968596], [0.559391], 260.6068, 228.4314, [0.177000, 0.623000],
     [0.069926]),
    ("pocock", (267 / 800, 534 / 800, 1.0), 1.384492, [2.279045, 2.294606, 2.296268], [0.567690, 1.475880],
     341.6748, 197.5126, [0.353965, 0.315889, 0.130147], [0.090658, 0.062152]),
    ("pocock", (1 / 3, 2 / 3, 1.0), 1.384359, [2.279428, 2.294911, 2.295940], [0.565852, 1.473436],
     341.6420, 197.4958, [0.353346, 0.315830, 0.130824], [0.090566, 0.062110]),
    ("pocock", (0.5, 1.0), 1.276699, [2.156999, 2.200977], [1.083268], 315.0729, 211.6578, [0.532429, 0.267571],
     [0.124023]),
]


@pytest.mark.parametrize(("kind", "t", "infl", "b", "a", "dmax", "eh1", "rej", "fut"), RPACT)
def test_solved_design_matches_rpact(kind, t, infl, b, a, dmax, eh1, rej, fut):
    d = gs.solve_design(t, 0.025, 0.8, kind, kind)
    # rpact prints 6 decimals: 0.5e-6 rounding plus its own integration error
    assert d.inflation == pytest.approx(infl, abs=2e-6)
    np.testing.assert_allclose(d.b, b, atol=2e-6)
    np.testing.assert_allclose(d.a[:-1], a, atol=2e-6)
    np.testing.assert_allclose(d.efficacy_h1, rej, atol=2e-6)
    np.testing.assert_allclose(d.futility_h1[:-1], fut, atol=2e-6)
    fixed = schoenfeld_events_exact(0.7, 0.025, 0.8, 0.5, 1)
    assert fixed * d.inflation == pytest.approx(dmax, abs=2e-3)
    assert fixed * d.inflation * d.expected_fraction_h1 == pytest.approx(eh1, abs=2e-3)
    # rounded once: rpact's maximum events rounded up
    assert gs.max_events(fixed, d) == math.ceil(dmax)
    assert d.power == pytest.approx(0.8, abs=1e-9)


def test_without_futility_the_inflation_is_the_efficacy_only_one():
    # the efficacy-only inflation factors at 267/534/800 events (1.013 OBF-type,
    # 1.170 Pocock-type); futility raises them to rpact's 1.105 and 1.384
    t = np.array([267, 534, 800]) / 800
    assert gs.solve_design(t, 0.025, 0.8, "obf").inflation == pytest.approx(1.013, abs=5e-4)
    assert gs.solve_design(t, 0.025, 0.8, "pocock").inflation == pytest.approx(1.170, abs=5e-4)
    # a single look is the fixed design
    assert gs.solve_design([1.0], 0.025, 0.8).inflation == pytest.approx(1.0, abs=1e-9)


def test_old_drift_loses_power_with_futility_obeyed():
    # futility bounds computed at the fixed design's drift: the analytic power with
    # futility obeyed falls below 0.8 (the 0.76-0.78 / 0.69-0.72 in simulation)
    t = np.array([267, 534, 800]) / 800
    for kind, lo, hi in (("obf", 0.75, 0.79), ("pocock", 0.68, 0.73)):
        d = gs.solve_design(t, 0.025, 0.8, kind)  # efficacy-only drift
        drift = 1.959964 + 0.841621  # fixed design: z_alpha + z_beta
        a = gs.futility_bounds(t, d.b, 0.2, kind, drift)
        up, _ = gs.exit_probabilities(t, d.b, a, drift)
        assert lo < up.sum() < hi, (kind, up.sum())


def _canonical_paths(t, drift, k, seed):
    rng = np.random.default_rng(seed)
    inc = rng.standard_normal((k, len(t))) * np.sqrt(np.diff(np.concatenate([[0.0], t])))
    return (np.cumsum(inc, axis=1) + drift * np.asarray(t)) / np.sqrt(t)


@pytest.mark.parametrize(("kind", "futility_z"), [("obf", None), ("pocock", None), ("obf", (0.0, 0.5))])
def test_power_with_futility_obeyed_monte_carlo(kind, futility_z):
    # 200,000 paths of the canonical process at the solved drift, futility obeyed: power
    # 0.8 within 3 binomial SE (3 * 0.00089); under H0 the efficacy bounds ignore
    # futility, so the type I error with futility obeyed is below alpha
    t = (0.3, 0.6, 1.0)
    d = gs.solve_design(t, 0.025, 0.8, kind, None if futility_z else kind, futility_z or ())
    k = 200_000
    for drift, check in ((d.drift, "power"), (0.0, "alpha")):
        z = _canonical_paths(t, drift, k, 7 if check == "power" else 8)
        up, down = z >= d.b, z <= d.a
        stop = up | down
        first = np.where(stop.any(axis=1), stop.argmax(axis=1), len(t) - 1)
        reject = up[np.arange(k), first]
        p = reject.mean()
        if check == "power":
            assert abs(p - 0.8) < 3 * math.sqrt(0.16 / k), p
        else:
            assert p <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / k)


def _solve_doc(kind="obf", **fu):
    with (ROOT / "scenarios" / "trials" / "event_driven_os_interims.toml").open("rb") as fh:
        d = tomllib.load(fh)
    d = copy.deepcopy(d)
    d["follow_up"] = {"rule": "events", "events": "solve", "design_hr": 0.7, "max_followup_days": 1e5, **fu}
    d["interim"] = {"fractions": [1 / 3, 2 / 3], "spending": kind, "futility": kind}
    d["analysis"]["test"] = "logrank"
    return d


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


@pytest.mark.parametrize("kind", ["obf", "pocock"])
def test_simulated_power_with_solved_events(base, kind):
    # Exponential proportional hazards at the design HR 0.7, 1:1, everyone randomised on
    # day 0, no dropout: the compiled log-rank at the solved D (273 OBF-type, 342
    # Pocock-type; Schoenfeld's fixed D is 247) with each trial's beta-spending futility
    # obeyed has power 0.80 within 3 Monte Carlo SE (K = 4000, SE 0.0063)
    spec = tspec.parse_trial(_solve_doc(kind), "test.toml", base)
    assert spec.events == {"obf": 273, "pocock": 342}[kind]
    assert spec.futility_hr == 0.7
    k, n = 4000, 2 * spec.events
    rng = np.random.default_rng(20261125)
    arm = np.zeros((k, n), np.int8)
    arm[:, 1::2] = 1
    t_event = rng.exponential(100.0, (k, n)) / np.where(arm == 1, 0.7, 1.0)
    sim = SimulatedTrials(spec, 1, t_event, arm, np.zeros((k, n)), np.full((k, n), np.inf))
    res = sim.analyse([n])
    p = float(res.power[0])
    assert abs(p - 0.8) < 3 * math.sqrt(0.16 / k), p
    assert res.futility_stop[:, 0].mean() > 0.05  # the futility boundary did stop trials


def test_solved_events_without_interims_is_schoenfeld(base):
    d = _solve_doc()
    d.pop("interim")
    assert tspec.parse_trial(d, "test.toml", base).events == schoenfeld_events(0.7, 0.05, 0.8, 0.5, 2)


@pytest.mark.parametrize(("change", "key"), [
    ({"design_hr": 1.2}, "follow_up.design_hr"),
    ({"design_hr": "x"}, "follow_up.design_hr"),
    ({"events": "many"}, "follow_up.events"),
])
def test_bad_solve_input_names_the_key(base, change, key):
    d = _solve_doc()
    d["follow_up"].update(change)
    if change.get("events") == "many":
        d["follow_up"].pop("design_hr")
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == key


def test_design_hr_needs_solve_and_matches_futility_hr(base):
    d = _solve_doc()
    d["follow_up"]["events"] = 300
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == "follow_up.design_hr"
    d = _solve_doc()
    d["interim"]["futility_hr"] = 0.8
    with pytest.raises(InputError) as exc:
        tspec.parse_trial(d, "test.toml", base)
    assert exc.value.key == "interim.futility_hr"
