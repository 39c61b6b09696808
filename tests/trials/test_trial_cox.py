"""The compiled two-group Cox model (sim.stats.cox) against lifelines, and the Cox
analysis of simulated trials (sim.trials) against lifelines on the same data."""

from __future__ import annotations

import copy
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from sim.api import as_scenario
from sim.stats import cox
from sim.trials import analyse, simulate
from sim.trials import spec as tspec

ROOT = Path(__file__).resolve().parents[2]
TRIAL_FILE = ROOT / "scenarios" / "trials" / "two_arm_tandem_vs_cd19.toml"
# lifelines stops its Newton-Raphson on a relative log-likelihood change of 1e-9 with a
# damped first step; with these options it iterates to the MLE (the estimator is the
# same: Efron ties, observed-information SE). precision bounds its Newton decrement
# (g H^-1 g / 2), which at 1e-14 still leaves beta ~1e-8 short of the MLE.
TIGHT = {"precision": 1e-30, "r_precision": 1e-15, "step_size": 1.0, "max_steps": 500}


def lifelines_fit(time, event, group, options=None):
    df = pd.DataFrame({"T": time, "E": event.astype(bool), "g": group.astype(float)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(df, "T", "E", fit_options=options)
    row = fit.summary.loc["g"]
    return float(row["coef"]), float(row["se(coef)"]), float(row["z"])


def synthetic(K, n, hr, seed, digits=None):
    rng = np.random.default_rng(seed)
    group = (rng.random((K, n)) < 0.5).astype(np.int8)
    t = rng.exponential(1.0, (K, n)) / np.where(group == 1, hr, 1.0)
    c = rng.exponential(2.0, (K, n))
    time = np.minimum(t, c)
    if digits is not None:  # rounding creates tied event and censoring times
        time = np.round(time, digits)
    return time, t <= c, group


@pytest.mark.parametrize("digits", [None, 1])
def test_cox_matches_lifelines(digits):
    # Same estimator, both iterated to convergence: differences are rounding (~1e-13);
    # 1e-8 (the bound) still catches a wrong tie formula (Breslow vs Efron
    # differ by ~1e-3 here with ties) or a wrong SE.
    time, event, group = synthetic(12, 150, 0.7, 4, digits)
    beta, se, z, _, conv = cox.cox_many(time, event, group, cox.EFRON)
    assert conv.all()
    for k in range(time.shape[0]):
        ref = lifelines_fit(time[k], event[k], group[k], TIGHT)
        assert beta[k] == pytest.approx(ref[0], abs=1e-8)
        assert se[k] == pytest.approx(ref[1], abs=1e-8)
        assert z[k] == pytest.approx(ref[2], abs=1e-8)
    if digits is not None:  # the tie method matters: Breslow gives a different estimate
        b_breslow, *_ = cox.cox_many(time, event, group, cox.BRESLOW)
        assert np.max(np.abs(b_breslow - beta)) > 1e-4


def test_cox_matches_lifelines_default_options_to_its_tolerance():
    # lifelines' default stopping rule leaves beta ~1e-7 from the MLE (measured
    # 2026-11-22: up to 1.3e-7 in beta, 6e-7 in z); 1e-5 bounds that with margin.
    time, event, group = synthetic(6, 200, 0.7, 5)
    beta, _, z, _, _ = cox.cox_many(time, event, group, cox.EFRON)
    for k in range(time.shape[0]):
        ref = lifelines_fit(time[k], event[k], group[k])
        assert beta[k] == pytest.approx(ref[0], abs=1e-5)
        assert z[k] == pytest.approx(ref[2], abs=1e-5)


def test_score_test_equals_logrank_without_ties():
    # Without ties the Cox score test at beta = 0 is the log-rank test (both tie methods)
    time, event, group = synthetic(20, 120, 0.8, 6)
    _, zl, _, _, _, _ = analyse.logrank_many(time, event, group, 2)
    for ties in (cox.EFRON, cox.BRESLOW):
        _, _, _, zs, _ = cox.cox_many(time, event, group, ties)
        np.testing.assert_allclose(zs, zl, rtol=1e-10, atol=1e-12)


def test_breslow_score_is_logrank_without_tie_factor():
    time, event, group = synthetic(10, 100, 0.8, 7, digits=0)
    _, _, _, zs, _ = cox.cox_many(time, event, group, cox.BRESLOW)
    for k in range(10):
        r0, r1, d0, d1 = (np.empty(100, np.int64) for _ in range(4))
        m = cox.event_table(time[k], event[k], group[k], 100, r0, r1, d0, d1)
        d, at = d0[:m] + d1[:m], r0[:m] + r1[:m]
        u = np.sum(d1[:m] - d * r1[:m] / at)
        v = np.sum(d * r0[:m] * r1[:m] / at**2)
        assert zs[k] == pytest.approx(u / np.sqrt(v), rel=1e-10)


def test_monotone_likelihood_is_flagged_not_rejected():
    time = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    event = np.array([[True, True, True, False, False, False]])
    group = np.array([[0, 0, 0, 1, 1, 1]], np.int8)  # every event in A: the MLE is -inf
    beta, _, z, zs, conv = cox.cox_many(time, event, group, cox.EFRON)
    assert not conv[0]
    assert beta[0] == -np.inf
    assert z[0] == 0.0
    assert zs[0] < 0.0  # the score test is still defined and points the right way
    none = cox.cox_many(time, np.zeros_like(event), group, cox.EFRON)
    assert none[2][0] == 0.0 and not none[4][0]


def test_cox_analysis_of_simulated_trials_matches_lifelines():
    base = as_scenario("baseline")
    with TRIAL_FILE.open("rb") as fh:
        doc = tomllib.load(fh)
    d = copy.deepcopy(doc)
    d["analysis"].update(test="cox")
    d["accrual"]["per_month"] = 4.0
    d["follow_up"]["min_followup_days"] = 200.0
    spec = tspec.parse_trial(d, "cox.toml", base)
    sim = simulate.simulate_trials(spec, trials=8, seed=21, n_max=160)
    res = sim.analyse([70, 160])
    for k in range(8):
        for g, n in enumerate((70, 160)):
            time, event, arm = sim.observed(k, n)
            ref = lifelines_fit(time, event, arm, TIGHT)
            assert res.estimate[k, g] == pytest.approx(ref[0], abs=1e-8)
            assert res.aux_looks[k, g, 0] == pytest.approx(ref[1], abs=1e-8)
            assert res.z[k, g] == pytest.approx(ref[2], abs=1e-8)
