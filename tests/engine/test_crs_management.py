"""CRS management (tocilizumab and corticosteroids at a CRS grade threshold, the stage
``stages.manage_crs`` of the one walk): degenerate cases exact, metamorphic checks on
the samplers patient by patient, engine parity with the stage on, and the what-if
scenarios moving their outcomes in the expected direction under common random numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sim import api
from sim.engine.des import run_des
from sim.engine.kernel import run_kernel
from sim.engine.rng import make_key, patient_keys
from sim.engine.stages import manage_crs, sample_crs, sample_icans
from sim.model.outputs import F, I
from sim.model.parameters import OFFSETS
from sim.model.scenario import Capacity

HORIZON = 1826.25
BASE = api.as_scenario(None)
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
#: the drug's own record columns: the only ones a zero-effect drug may change
DRUG_F = [F.TOCILIZUMAB_DAY, F.STEROIDS_DAY]
DRUG_I = [I.TOCILIZUMAB, I.STEROIDS]
OTHER_F = [c for c in F if c not in DRUG_F]
OTHER_I = [c for c in I if c not in DRUG_I]
#: more severe CRS and ICANS than the baseline, so that every branch is frequent
SEVERE = {"crs.grade_probs": [0.1, 0.2, 0.2, 0.25, 0.25], "icans.p_any.crs_mild": 0.3,
          "icans.p_any.crs_severe": 0.6, "crs.p_death.g3": 0.1, "crs.p_death.g4": 0.4}
#: both drugs protective on every scale (steeper than the defaults, to make contrasts large)
PROTECTIVE = {"tocilizumab.p_escalate": 0.5, "tocilizumab.duration_factor": 0.6, "tocilizumab.or_icans": 0.5,
              "steroids.p_escalate": 0.6, "steroids.duration_factor": 0.7, "steroids.or_icans": 0.4}
ZERO_EFFECT = {"tocilizumab.p_escalate": 1.0, "tocilizumab.duration_factor": 1.0, "tocilizumab.or_icans": 1.0,
               "steroids.p_escalate": 1.0, "steroids.duration_factor": 1.0, "steroids.or_icans": 1.0}


def theta(overrides: dict | None = None) -> np.ndarray:
    return api.with_overrides(BASE, overrides or {}).params.theta()


def kernel(overrides: dict | None = None, n: int = 20_000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    return run_kernel(theta(overrides), seed, n, HORIZON)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=True)


# --- degenerate cases: exact --------------------------------------------------------------

def test_default_policy_gives_no_drug():
    assert BASE.params.value("policy.tocilizumab_grade") == 5
    assert BASE.params.value("policy.steroid_grade") == 5
    f, i = kernel(SEVERE)
    assert np.isnan(f[:, DRUG_F]).all() and (i[:, DRUG_I] == 0).all()


@pytest.mark.parametrize("effects", [PROTECTIVE, {"tocilizumab.p_escalate": 0.0, "steroids.or_icans": 50.0,
                                                  "steroids.duration_factor": 0.01}])
def test_a_threshold_above_grade_4_changes_nothing(effects):
    """Threshold 5: whatever the drugs' effects, the records are those of the pathway
    without the stage (the default effects), bit for bit."""
    f0, i0 = kernel(SEVERE)
    f1, i1 = kernel({**SEVERE, **effects})
    assert same(f0, f1) and same(i0, i1)


@pytest.mark.parametrize("grades", [(1, 5), (5, 1), (1, 1), (2, 3)], ids=["toci1", "steroid1", "both1", "toci2-ster3"])
def test_a_zero_effect_drug_changes_only_its_own_columns(grades):
    toci, ster = grades
    f0, i0 = kernel(SEVERE)
    f1, i1 = kernel({**SEVERE, **ZERO_EFFECT, "policy.tocilizumab_grade": toci, "policy.steroid_grade": ster})
    assert same(f0[:, OTHER_F], f1[:, OTHER_F]) and same(i0[:, OTHER_I], i1[:, OTHER_I])
    # ... and those columns say who got which drug, and when
    grade = i1[:, I.CRS_GRADE]
    onset = f1[:, F.CRS_ONSET_DAYS]
    for threshold, flag, day in ((toci, I.TOCILIZUMAB, F.TOCILIZUMAB_DAY), (ster, I.STEROIDS, F.STEROIDS_DAY)):
        given = i1[:, flag] == 1
        assert (grade[given] >= threshold).all()
        # not recorded although the CRS reached the grade: only if death came first
        missed = (grade >= threshold) & ~given
        t_crs_end = f1[:, F.T_INF_DAYS] + onset + f1[:, F.CRS_DURATION_DAYS]
        assert (f1[missed, F.T_DEATH_DAYS] < t_crs_end[missed]).all()
        assert missed.sum() <= 0.01 * given.sum()
        assert np.isnan(f1[~given, day]).all()
        if threshold == 1:
            np.testing.assert_array_equal(f1[given, day], onset[given])  # at the first fever
        elif given.any():
            assert (f1[given, day] > onset[given]).all()  # later in the episode
            assert (f1[given, day] < onset[given] + f1[given, F.CRS_DURATION_DAYS]).all()


def test_drug_columns_are_empty_without_an_observed_crs():
    f, i = kernel({**SEVERE, "policy.tocilizumab_grade": 1, "policy.steroid_grade": 2})
    no_crs = i[:, I.CRS_GRADE] == 0  # none, never infused, or onset after death/horizon
    assert no_crs.any() and (i[no_crs][:, DRUG_I] == 0).all() and np.isnan(f[no_crs][:, DRUG_F]).all()
    assert (i[:, I.TOCILIZUMAB] == 1).sum() == (~no_crs).sum()


# --- metamorphic: earlier drugs never harm when their effects protect --------------------

def sampler_outcomes(th: np.ndarray, keys: np.ndarray) -> dict[str, np.ndarray]:
    """Per patient (rows) and tocilizumab threshold 1..5 (columns): the first infusion's
    managed CRS peak, duration, CRS death, tocilizumab day and ICANS occurrence, from the
    walk's own samplers (records would hide an ICANS that starts after an earlier death)."""
    n = len(keys)
    out = {k: np.zeros((n, 5)) for k in ("peak", "duration", "dies", "toci_day", "steroid_day", "icans")}
    for g in range(1, 6):
        t = theta_with(th, "policy.tocilizumab_grade", g)
        for r, key in enumerate(keys):
            grade, onset, duration, dies = sample_crs(t, key, 0)
            peak, dur, d, toci_day, ster_day = manage_crs(t, key, 0, grade, onset, duration, dies)
            icans = sample_icans(t, key, 0, grade, onset, toci_day, ster_day)[0]
            out["peak"][r, g - 1], out["duration"][r, g - 1], out["dies"][r, g - 1] = peak, dur, d
            out["toci_day"][r, g - 1], out["steroid_day"][r, g - 1] = toci_day, ster_day
            out["icans"][r, g - 1] = icans > 0
    return out


def theta_with(th: np.ndarray, name: str, value: float) -> np.ndarray:
    t = th.copy()
    t[OFFSETS[name]] = value
    return t


@pytest.mark.parametrize("steroid_grade", [5, 1])
def test_earlier_tocilizumab_never_raises_icans_risk_nor_lengthens_crs(steroid_grade):
    th = theta({**SEVERE, **PROTECTIVE, "policy.steroid_grade": steroid_grade})
    k0, k1 = make_key(17, 0)
    res = sampler_outcomes(th, patient_keys(k0, k1, 0, 4000))
    # columns: threshold 1 (earliest) .. 5 (never); every quantity non-decreasing in it
    for name in ("peak", "duration", "dies", "icans"):
        steps = np.diff(res[name], axis=1)
        assert (steps >= 0).all(), name
    # ... and the contrasts are not empty: earlier tocilizumab does prevent something
    assert (res["peak"][:, 0] < res["peak"][:, 4]).mean() > 0.05
    assert (res["icans"][:, 0] < res["icans"][:, 4]).any()
    assert (res["duration"][:, 0] < res["duration"][:, 4]).mean() > 0.3
    # the drug is given when the CRS reaches the threshold: never later at a lower one
    assert (res["toci_day"][:, :-1] <= res["toci_day"][:, 1:]).all()


def test_earlier_tocilizumab_raises_icans_only_where_it_spares_the_steroids():
    """With steroids at a higher grade than tocilizumab, earlier tocilizumab can stop a
    CRS below the steroid grade: the steroids (and their ICANS protection) are then not
    given, while the ICANS risk stays that of the CRS the patient was heading for. That is
    the only way ICANS can rise (CRS peak and duration still never rise)."""
    th = theta({**SEVERE, **PROTECTIVE, "policy.steroid_grade": 2})
    k0, k1 = make_key(17, 0)
    res = sampler_outcomes(th, patient_keys(k0, k1, 0, 4000))
    for name in ("peak", "duration", "dies"):
        assert (np.diff(res[name], axis=1) >= 0).all(), name
    rises = np.diff(res["icans"], axis=1) < 0  # ICANS with the earlier threshold, not with the later
    later_had_steroids = np.isfinite(res["steroid_day"][:, 1:])
    earlier_had_none = np.isinf(res["steroid_day"][:, :-1])
    assert rises.any()
    assert (later_had_steroids & earlier_had_none)[rises].all()


def test_a_harmful_icans_odds_ratio_raises_icans_with_earlier_tocilizumab():
    """The metamorphic relation follows the effect's sign: with or_icans > 1 the order flips."""
    th = theta({**SEVERE, "tocilizumab.or_icans": 3.0})
    k0, k1 = make_key(18, 0)
    res = sampler_outcomes(th, patient_keys(k0, k1, 0, 3000))
    assert (np.diff(res["icans"], axis=1) <= 0).all()
    assert (res["icans"][:, 0] > res["icans"][:, 4]).any()


# --- one walk: the SimPy engine with unlimited capacity equals the kernel -----------------

@pytest.mark.parametrize("grades", [(1, 5), (2, 3), (1, 1)])
def test_simpy_engine_unlimited_equals_the_kernel_with_the_stage_on(grades):
    th = theta({**SEVERE, "policy.tocilizumab_grade": grades[0], "policy.steroid_grade": grades[1]})
    des = run_des(th, 21, 2000, HORIZON, Capacity(accrual_per_month=7.0))
    f, i = run_kernel(th, 21, 2000, HORIZON)
    assert same(des.fout, f) and same(des.iout, i)
    assert (i[:, I.TOCILIZUMAB] == 1).sum() > 100


# --- what-if scenarios ------------------------------------------------------------------------

WHAT_IFS = ["tocilizumab_at_grade2", "early_tocilizumab", "early_steroids"]


@pytest.mark.parametrize("name", WHAT_IFS)
def test_each_crs_what_if_cites_the_evidence_for_its_drug(name):
    """The what-if library's own test checks the header, base and paired directions of
    these scenarios; here: the CRS-management evidence they rest on is named."""
    text = (SCENARIOS / f"{name}.toml").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert re.search(r"Kadauke|ZUMA-1|ELIANA", header), name
