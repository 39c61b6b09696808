"""The pathway's structure where the evidence sets it: survival after failure by failure
type, re-infusion response by the reason the previous infusion failed, the smooth NRM
hazard, background mortality from a life table by sex, and the comparator without CAR-T.

Stochastic checks use 4 standard errors (a false alarm rate of about 6e-5 per check).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import pytest

from sim import api
from sim.engine.des import run_des
from sim.engine.distributions import logit_shift
from sim.engine.kernel import run_kernel
from sim.engine.stages import sample_response
from sim.io.files import LIFE_TABLES_DIR, load_life_tables, read_toml
from sim.model.errors import InputError
from sim.model.outputs import I
from sim.model.parameter_set import life_table_slots
from sim.model.parameters import LIFE_TABLE_AGES, LIFE_TABLE_MAX_AGE, P
from sim.model.scenario import Capacity
from sim.model.states import FailureType, Response, SalvageRegimen, labels

HORIZON = 1826.25
BASE = api.as_scenario(None)
TARGETS = ("cd19", "cd22", "tandem", "sequential")
FAILURES = labels(FailureType)
REGIMENS = labels(SalvageRegimen)
NO_TOXIC_DEATH = {"crs.p_death.g3": 0.0, "crs.p_death.g4": 0.0, "icans.p_death.g3": 0.0, "icans.p_death.g4": 0.0,
                  **{f"gvhd.p_any.{s}": 0.0 for s in ("recipient", "donor", "universal")}}
NO_WAIT_EVENTS = {"waiting.death_rate_per_day": 0.0, "waiting.progression_rate_per_day": 0.0,
                  **{f"manufacturing.p_fail.{s}": 0.0 for s in ("recipient", "donor", "universal")}}
NO_OTHER_DEATH = {"background.smr": 1e-6, "nrm.p_year1": 0.0}


def frame(overrides: dict, n: int, seed: int, horizon: float = HORIZON):
    sc = api.with_overrides(BASE, overrides)
    return api.patient_table(*run_kernel(sc.params.theta(), seed, n, horizon))


def within(observed: float, expected: float, size: int) -> None:
    se = math.sqrt(expected * (1 - expected) / size)
    assert abs(observed - expected) < 4 * se, (observed, expected, se)


# --------------------------------------------------------------------------- life table
def test_life_table_reproduces_the_published_life_expectancy():
    """The SSA 2017 table's own e(0) is 75.97 (male) and 81.05 (female) years. With the
    hazard constant within each year of age the expectation differs from the table's
    (which takes deaths at mid-year) by well under 0.1 year."""
    slots = load_life_tables()["us_ssa_2017"]
    for start, e0 in ((0, 75.97), (LIFE_TABLE_AGES, 81.05)):
        cumhaz = slots[start:start + LIFE_TABLE_AGES]
        yearly = np.diff(cumhaz)
        alive = np.exp(-cumhaz[:-1])  # S at each exact age
        # integral over each year of S(x) exp(-h (t - x)) = S(x) (1 - exp(-h)) / h
        expectancy = float(np.sum(alive * -np.expm1(-yearly) / yearly)) + math.exp(-cumhaz[-1]) / yearly[-1]
        assert abs(expectancy - e0) < 0.1, (start, expectancy)


def test_background_mortality_follows_sex_and_smr():
    """Cured young patients: men die earlier than women (same uniforms), a higher SMR earlier."""
    cured = {**NO_TOXIC_DEATH, **NO_WAIT_EVENTS, "nrm.p_year1": 0.0, "remission.p_cure.mrd_neg": 1.0,
             "remission.p_cure.mrd_pos": 1.0, **{f"response.p_cr.first.{t}": 1.0 for t in TARGETS},
             "cohort.p_prior_cart": 0.0, "policy.consolidation_shares": [1.0, 0.0, 0.0, 0.0]}
    life = 36525.0
    men = frame({**cured, "cohort.p_male": 1.0}, 3000, 3, life)
    women = frame({**cured, "cohort.p_male": 0.0}, 3000, 3, life)
    high = frame({**cured, "cohort.p_male": 1.0, "background.smr": 8.0}, 3000, 3, life)
    dead = men["t_death_days"].notna() & women["t_death_days"].notna()
    assert dead.mean() > 0.95  # followed to death over a lifetime horizon
    assert (men.loc[dead, "t_death_days"] <= women.loc[dead, "t_death_days"]).all()
    assert (men["t_death_days"] < women["t_death_days"]).mean() > 0.95
    both = dead & high["t_death_days"].notna()
    assert (high.loc[both, "t_death_days"] <= men.loc[both, "t_death_days"]).all()


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: d["life_table"]["qx"]["male"].__setitem__(40, 1.2), ["life_table.qx.male", "q(40)", "[0, 1)"]),
    (lambda d: d["life_table"]["qx"]["female"].__delitem__(slice(50, None)), ["life_table.qx.female", "50 ages",
                                                                              "at least 100"]),
    (lambda d: d["life_table"].pop("source"), ["life_table.source", "missing"]),
    (lambda d: d["life_table"]["qx"].pop("male"), ["life_table.qx", "male and female"]),
])
def test_bad_life_table_is_refused_with_one_line(edit, words):
    doc = read_toml(LIFE_TABLES_DIR / "us_ssa_2017.toml")
    edit(doc)
    with pytest.raises(InputError) as err:
        life_table_slots(doc, "bad.toml")
    message = str(err.value)
    assert "\n" not in message and "bad.toml" in message
    for w in words:
        assert w in message, (w, message)


def test_a_short_life_table_continues_its_last_year():
    doc = read_toml(LIFE_TABLES_DIR / "us_ssa_2017.toml")
    for sex in ("male", "female"):
        del doc["life_table"]["qx"][sex][101:]
    slots = life_table_slots(doc, "short.toml")
    h100 = -math.log1p(-doc["life_table"]["qx"]["male"][100])
    np.testing.assert_allclose(np.diff(slots[100:LIFE_TABLE_AGES]), h100, rtol=1e-12)
    assert slots.size == 2 * (LIFE_TABLE_MAX_AGE + 1)


def test_unknown_life_table_name_is_refused():
    with pytest.raises(InputError) as err:
        BASE.params.with_values({"background.life_table": "ons_2099"}, "scenario.toml")
    assert "ons_2099" in str(err.value) and "us_ssa_2017" in str(err.value)


# --------------------------------------------------------------------------- failure types
def test_survival_after_failure_follows_the_failure_type():
    """Exponential survival after failure with a different median per type; no re-infusion,
    no other death. Each group's survival from its failure is checked at its own median:
    half have died, within 4 binomial SE."""
    medians = {"refractory": 60.0, "early_relapse": 150.0, "late_relapse": 400.0, "not_infused": 90.0}
    over = {**NO_TOXIC_DEATH, **NO_WAIT_EVENTS, **NO_OTHER_DEATH, "policy.p_reinfuse_after_nonresponse": 0.0,
            "policy.p_reinfuse_after_relapse": 0.0, "policy.consolidation_shares": [1.0, 0.0, 0.0, 0.0],
            "remission.p_cure.mrd_neg": 0.0, "remission.p_cure.mrd_pos": 0.0,
            **{f"salvage.{f}.family": "exponential" for f in FAILURES},
            **{f"salvage.{f}.median_days": m for f, m in medians.items()}}
    df = frame(over, 60_000, 31, 36525.0)
    assess = BASE.params.value("response.assessment_day")
    early_days = BASE.params.value("salvage.early_relapse_days")
    t_inf = df["t_inf_days"].to_numpy(np.float64)
    t_death = df["t_death_days"].to_numpy(np.float64)
    t_rel = df["t_relapse_days"].to_numpy(np.float64)
    refractory = (df["response"] == Response.NO_RESPONSE).to_numpy()
    relapsed = ~np.isnan(t_rel)
    groups = {
        "refractory": (refractory, t_death - t_inf - assess),
        "early_relapse": (relapsed & (t_rel - t_inf < early_days), t_death - t_rel),
        "late_relapse": (relapsed & (t_rel - t_inf >= early_days), t_death - t_rel),
    }
    for name, (members, survival) in groups.items():
        k = int(members.sum())
        assert k > 2000, name
        within(float(np.mean(survival[members] <= medians[name])), 0.5, k)


def test_never_infused_patients_use_their_own_survival():
    """Every manufacture fails without retry: no one is infused, and survival from the
    failure notice (collection + manufacturing time, all at its median with sdlog 0) is
    that of salvage.not_infused."""
    m = 90.0
    over = {**NO_OTHER_DEATH, "waiting.death_rate_per_day": 0.0, "waiting.progression_rate_per_day": 0.0,
            **{f"manufacturing.p_fail.{s}": 1.0 for s in ("recipient", "donor", "universal")},
            "manufacturing.p_retry": 0.0, "manufacturing.sdlog": 0.0, "policy.source_shares": [1.0, 0.0, 0.0],
            "salvage.not_infused.family": "exponential", "salvage.not_infused.median_days": m,
            "salvage.refractory.median_days": 5.0}
    df = frame(over, 40_000, 32)
    assert df["t_inf_days"].isna().all()
    notice = BASE.params.value("manufacturing.median_days.recipient")
    survival = df["t_death_days"].to_numpy(np.float64) - notice
    within(float(np.mean(survival <= m)), 0.5, len(df))


# --------------------------------------------------------------------------- re-infusion
@nb.njit
def _response_rate(theta, n, target, after_nonresponse, antigen_lost):
    cr = 0
    for i in range(n):
        r = sample_response(theta, np.uint64(1_000_003 * i + 17), 1, target, 2, 0, 0, 0, 0, after_nonresponse,
                            antigen_lost)
        cr += r >= 2
    return cr / n


@pytest.mark.parametrize(("after_nonresponse", "antigen_lost"), [(False, False), (True, False), (False, True),
                                                                  (True, True)])
def test_reinfusion_response_depends_on_why_the_previous_one_failed(after_nonresponse, antigen_lost):
    """A re-infusion's CR probability is the re-infusion one after a relapse that kept its
    antigen, times the odds ratio of each reason (n = 100,000 patient keys)."""
    sc = api.with_overrides(BASE, {"response.or_source.recipient": 1.0})
    theta = sc.params.theta()
    p = theta[P.RESPONSE_P_CR_REINFUSION + 0]
    odds = 1.0
    if after_nonresponse:
        odds *= theta[P.RESPONSE_OR_REINFUSION_AFTER_NONRESPONSE]
    if antigen_lost:
        odds *= theta[P.RESPONSE_OR_REINFUSION_SAME_TARGET_AFTER_ANTIGEN_LOSS]
    n = 100_000
    within(_response_rate(theta, n, 0, after_nonresponse, antigen_lost), logit_shift(p, odds), n)


def test_reinfusion_after_nonresponse_in_the_walk():
    """Non-responders re-infused once with the same target: the share whose best response
    is a CR is the re-infusion CR probability with the non-response odds ratio."""
    p_reinf, odds = 0.6, 0.2
    over = {**NO_TOXIC_DEATH, **NO_WAIT_EVENTS, **NO_OTHER_DEATH, "cohort.p_prior_cart": 0.0,
            "policy.target_shares": [1.0, 0.0, 0.0, 0.0], "policy.reinfusion_target_shares": [1.0, 0.0, 0.0, 0.0],
            "policy.p_reinfuse_after_nonresponse": 1.0, "policy.max_infusions": 2,
            "response.p_cr.first.cd19": 0.3, "response.p_cr.reinfusion.cd19": p_reinf,
            "response.or_reinfusion.after_nonresponse": odds, "response.or_extramedullary": 1.0,
            "response.or_high_risk": 1.0, "response.or_decitabine_ld": 1.0,
            **{f"response.or_source.{s}": 1.0 for s in ("recipient", "donor", "universal")},
            **{f"salvage.{f}.median_days": 36525.0 for f in FAILURES},
            **{f"salvage.{f}.shape": 100.0 for f in FAILURES}}
    df = frame(over, 60_000, 33)
    second = (df["response"] == Response.NO_RESPONSE) & (df["n_infusions"] == 2)
    k = int(second.sum())
    assert k > 20_000
    within(float((df.loc[second, "best_response"] >= Response.CR_MRD_POS).mean()), logit_shift(p_reinf, odds), k)


# --------------------------------------------------------------------------- NRM
def test_nrm_has_no_window_and_matches_its_first_year():
    """Only NRM can kill (no relapse, toxicity or background death): its share by one year
    after infusion is nrm.p_year1 and deaths go on after two years, fewer each year."""
    p1 = 0.2
    over = {**NO_TOXIC_DEATH, **NO_WAIT_EVENTS, "background.smr": 1e-6, "nrm.p_year1": p1,
            **{f"response.p_cr.first.{t}": 1.0 for t in TARGETS}, "cohort.p_prior_cart": 0.0,
            "remission.p_cure.mrd_neg": 1.0, "remission.p_cure.mrd_pos": 1.0,
            "policy.consolidation_shares": [1.0, 0.0, 0.0, 0.0]}
    df = frame(over, 60_000, 34, 3652.5)
    after = df["t_death_days"].to_numpy(np.float64) - df["t_inf_days"].to_numpy(np.float64)
    within(float(np.mean(after <= 365.0)), p1, len(df))
    per_year = [int(np.sum((after > 365.0 * y) & (after <= 365.0 * (y + 1)))) for y in range(1, 5)]
    assert per_year[0] > per_year[1] > per_year[2] > per_year[3] > 0


# --------------------------------------------------------------------------- standard care
SC = api.as_scenario("standard_care")


def test_standard_care_records_no_infusion_and_follows_its_regimens():
    """No patient is collected or infused; ITT OS at one year equals the mixture of the
    regimens' Weibull survival (background death negligible at these ages over a year:
    checked as a bound), within 4 binomial SE."""
    theta = SC.params.theta()
    n = 100_000
    df = api.patient_table(*run_kernel(theta, 41, n, HORIZON))
    assert df["t_inf_days"].isna().all() and (df["n_infusions"] == 0).all()
    assert (df["mfg_attempts"] == 0).all() and (df["crs_grade"] == 0).all()
    assert (df["response"] == Response.NOT_EVALUATED).all()
    t = 365.0
    expected = 0.0
    for k, share in enumerate(SC.params.value("policy.salvage_shares")):
        median = theta[P.STANDARD_CARE_SURVIVAL_MEDIAN_DAYS + k]
        shape = theta[P.STANDARD_CARE_SURVIVAL_SHAPE + k]
        expected += share * math.exp(-math.log(2) * (t / median) ** shape)
    alive = float(np.mean(~(df["t_death_days"].to_numpy(np.float64) <= t)))
    se = math.sqrt(expected * (1 - expected) / n)
    # background deaths (SMR x life table, about 0.2-1% a year here) can only lower it
    assert expected - 0.02 - 4 * se < alive < expected + 4 * se, (alive, expected)
    # a later transplant for share x eligibility, only the regimen's longest survivors
    hsct = df["t_hsct_days"].notna().to_numpy()
    p_elig = SC.params.value("hsct.p_eligible.after_one")
    shares = SC.params.value("policy.salvage_shares")
    p_hsct = sum(s * SC.params.value(f"standard_care.p_hsct.{r}") for s, r in zip(shares, REGIMENS, strict=True))
    assert 0.0 < hsct.mean() < p_hsct * p_elig + 4 * math.sqrt(p_hsct / n)
    assert (df.loc[hsct, "t_hsct_days"] < df.loc[hsct, "t_last_days"]).all()


def test_standard_care_engines_agree_patient_by_patient():
    theta = SC.params.theta()
    f, i = run_kernel(theta, 42, 3000, HORIZON)
    des = run_des(theta, 42, 3000, HORIZON, Capacity(accrual_per_month=7.0))
    assert np.array_equal(f, des.fout, equal_nan=True) and np.array_equal(i, des.iout)


def test_standard_care_needs_no_cart_parameter():
    """Under standard care the CAR-T stages draw nothing: changing a CAR-T parameter
    changes no record."""
    theta = SC.params.theta()
    other = SC.params.with_values({"response.p_cr.first.cd19": 0.1, "crs.p_death.g4": 0.9}, "test").theta()
    a = run_kernel(theta, 43, 2000, HORIZON)
    b = run_kernel(other, 43, 2000, HORIZON)
    assert np.array_equal(a[0], b[0], equal_nan=True) and np.array_equal(a[1], b[1])
    assert (a[1][:, I.N_INFUSIONS] == 0).all()
