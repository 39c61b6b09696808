"""The kernel, from simple checks to strong ones: degenerate parameters, same seed,
threads and chunking, adding a patient, a pure-Python twin, closed-form oracles,
metamorphic checks and the record's internal consistency."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.engine.kernel import run_kernel
from sim.model.outputs import F, I
from sim.model.states import CellSource, DeathCause, FailureType, Response, labels

HORIZON = 1826.25
BASE = api.as_scenario(None)


def simulate(overrides: dict | None = None, n: int = 4000, seed: int = 7, first_id: int = 0,
             threads: int | None = None, horizon: float = HORIZON) -> tuple[np.ndarray, np.ndarray]:
    sc = api.with_overrides(BASE, overrides or {})
    return run_kernel(sc.params.theta(), seed, n, horizon, first_patient_id=first_id, threads=threads)


def table(overrides: dict | None = None, n: int = 4000, seed: int = 7) -> pd.DataFrame:
    return api.patient_table(*simulate(overrides, n, seed))


def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Bitwise equality of two kernel outputs (NaN equal to NaN)."""
    return np.array_equal(a[0], b[0], equal_nan=True) and np.array_equal(a[1], b[1])


TARGETS = ("cd19", "cd22", "tandem", "sequential")
SOURCES = ("recipient", "donor", "universal")
FAILURES = labels(FailureType)
NO_TOXIC_DEATH = {"crs.p_death.g3": 0.0, "crs.p_death.g4": 0.0, "icans.p_death.g3": 0.0, "icans.p_death.g4": 0.0,
                  **{f"gvhd.p_any.{s}": 0.0 for s in SOURCES}}
NO_WAIT_EVENTS = {"waiting.death_rate_per_day": 0.0, "waiting.progression_rate_per_day": 0.0,
                  **{f"manufacturing.p_fail.{s}": 0.0 for s in SOURCES}}
ALL_CR = {**{f"response.p_cr.first.{t}": 1.0 for t in TARGETS},
          **{f"response.p_cr.reinfusion.{t}": 1.0 for t in TARGETS}}
NO_CR = {**{f"response.p_cr.first.{t}": 0.0 for t in TARGETS},
         **{f"response.p_cr.reinfusion.{t}": 0.0 for t in TARGETS}}
NO_REINFUSION = {"policy.p_reinfuse_after_nonresponse": 0.0, "policy.p_reinfuse_after_relapse": 0.0}
NO_BACKGROUND = {"background.smr": 1e-6, "nrm.p_year1": 0.0}


# --- same seed, threads, chunking, adding a patient ------------------------------------

def test_same_seed_gives_identical_arrays_and_different_seeds_differ():
    a, b, c = simulate(seed=11), simulate(seed=11), simulate(seed=12)
    assert same(a, b)
    assert not np.array_equal(a[0], c[0], equal_nan=True)


def test_replicate_changes_the_draws():
    sc = BASE
    a = run_kernel(sc.params.theta(), 5, 500, HORIZON, replicate=0)
    b = run_kernel(sc.params.theta(), 5, 500, HORIZON, replicate=1)
    assert not np.array_equal(a[0], b[0], equal_nan=True)


def test_thread_count_does_not_change_results():
    assert same(simulate(n=20000, threads=1), simulate(n=20000, threads=2))


def test_chunking_does_not_change_results():
    whole = simulate(n=3000)
    parts = [simulate(n=m, first_id=s) for s, m in ((0, 1000), (1000, 1), (1001, 1999))]
    assert same(whole, (np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])))


def test_api_chunk_size_does_not_change_results():
    sc = BASE.with_run(patients=2500, seed=3)
    assert same(api.simulate(sc, chunk_patients=2500), api.simulate(sc, chunk_patients=700))


def test_adding_a_patient_changes_no_other_patient():
    small, big = simulate(n=999), simulate(n=1000)
    assert same(small, (big[0][:999], big[1][:999]))


def test_changing_one_stage_leaves_other_stages_draws_untouched():
    """Common random numbers: a different CRS grade mix must not move covariates,
    manufacturing or the response of patients whose CRS did not change."""
    a = table()
    b = table({"crs.grade_probs": [0.5, 0.2, 0.2, 0.05, 0.05]})
    for col in ("age_years", "relapse_site", "cell_source", "target", "t_inf_days", "mfg_attempts"):
        assert np.array_equal(a[col].to_numpy(), b[col].to_numpy(), equal_nan=True), col
    unchanged = a["crs_grade"].to_numpy() == b["crs_grade"].to_numpy()
    assert unchanged.mean() > 0.3
    assert np.array_equal(a["response"].to_numpy()[unchanged], b["response"].to_numpy()[unchanged])


# --- a pure-Python twin: same paths without numba ---------------------------------------

TWIN = """
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from sim import api
from sim.engine.kernel import run_kernel
sc = api.as_scenario(None)
f, i = run_kernel(sc.params.theta(), 9, 150, 1826.25, first_patient_id=40)
json.dump({"f": np.where(np.isnan(f), -1.0, f).tolist(), "i": i.tolist()}, sys.stdout)
"""


def test_pure_python_run_gives_identical_paths():
    """QuantEcon-style: the same code with numba disabled must produce the same records."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", TWIN], env=env, capture_output=True, text=True, check=True,
                         timeout=600)
    py = json.loads(out.stdout)
    f, i = simulate(n=150, seed=9, first_id=40, overrides={})
    assert np.array_equal(np.asarray(py["i"], dtype=np.int8), i)
    # float32 records of float64 arithmetic: equal bit for bit
    assert np.array_equal(np.asarray(py["f"], dtype=np.float32), np.where(np.isnan(f), -1.0, f).astype(np.float32))


# --- degenerate parameters give exact answers ---------------------------------------------

def test_certain_cr_gives_every_evaluable_patient_mrd_negative_cr():
    df = table({**ALL_CR, **NO_TOXIC_DEATH, **NO_WAIT_EVENTS, **NO_BACKGROUND, "response.p_mrd_neg_given_cr": 1.0})
    assert (df["response"] == Response.CR_MRD_NEG).all()


def test_no_cr_and_no_reinfusion_means_no_responder_and_no_relapse():
    df = table({**NO_CR, **NO_REINFUSION})
    infused = df["t_inf_days"].notna()
    assert set(df.loc[infused, "best_response"]) <= {Response.NO_RESPONSE, Response.NOT_EVALUATED}
    assert df["t_relapse_days"].isna().all()
    assert (df["n_infusions"] <= 1).all()


def test_certain_fatal_grade4_crs_kills_everyone_at_end_of_episode():
    over = {**NO_WAIT_EVENTS, **NO_BACKGROUND, "crs.grade_probs": [0.0, 0.0, 0.0, 0.0, 1.0], "crs.p_death.g4": 1.0,
            "crs.onset_sdlog": 0.0, "crs.duration_sdlog": 0.0, "crs.onset_median_days.severe": 3.0,
            "crs.duration_median_days.g4": 9.0, **{f"gvhd.p_any.{s}": 0.0 for s in SOURCES},
            "icans.p_death.g3": 0.0, "icans.p_death.g4": 0.0}
    df = table(over, n=2000)
    assert (df["crs_grade"] == 4).all()
    assert (df["death_cause"] == DeathCause.CRS).all()
    expected = (df["t_inf_days"] + np.float32(12.0)).to_numpy(np.float32)
    assert np.allclose(df["t_death_days"].to_numpy(), expected, rtol=2e-7, atol=0)  # float32 rounding of a sum
    assert (df["response"] == Response.NOT_EVALUATED).all()


def test_certain_manufacturing_failure_means_nobody_is_infused():
    over = {**{f"manufacturing.p_fail.{s}": 1.0 for s in SOURCES}, "manufacturing.p_retry": 0.0}
    df = table(over)
    assert df["t_inf_days"].isna().all()
    assert (df["n_infusions"] == 0).all()
    assert (df["mfg_attempts"] == 1).all()
    assert (df["response"] == Response.NOT_EVALUATED).all()
    dead = df["death_cause"] != DeathCause.ALIVE
    assert set(df.loc[dead, "death_cause"]) <= {DeathCause.DISEASE, DeathCause.OTHER_NRM, DeathCause.BEFORE_INFUSION}


def test_retries_are_bounded_by_the_policy():
    over = {**{f"manufacturing.p_fail.{s}": 1.0 for s in SOURCES}, "manufacturing.p_retry": 1.0,
            "policy.manufacturing_max_attempts": 3}
    df = table(over)
    assert (df["mfg_attempts"] == 3).all()


def test_zero_spread_manufacturing_gives_exact_infusion_day():
    over = {**NO_WAIT_EVENTS, **NO_BACKGROUND, "manufacturing.sdlog": 0.0, "lymphodepletion.days": 6.0}
    df = table(over)
    medians = {CellSource.RECIPIENT: 14.0, CellSource.DONOR: 18.0, CellSource.UNIVERSAL: 4.0}
    for src, name in zip(CellSource, SOURCES, strict=True):
        med = BASE.params.value(f"manufacturing.median_days.{name}")
        rows = df["cell_source"] == src
        assert rows.any()
        assert np.all(df.loc[rows, "t_inf_days"].to_numpy() == np.float32(med + 6.0)), medians


def test_max_infusions_one_means_a_single_infusion():
    df = table({"policy.max_infusions": 1, "policy.p_reinfuse_after_nonresponse": 1.0,
                "policy.p_reinfuse_after_relapse": 1.0})
    assert df["n_infusions"].max() == 1


def test_certain_reinfusion_reaches_the_maximum_for_non_responders():
    over = {**NO_CR, **NO_TOXIC_DEATH, **NO_WAIT_EVENTS, **NO_BACKGROUND, "policy.max_infusions": 3,
            "policy.p_reinfuse_after_nonresponse": 1.0,
            # Weibulls near-certain to outlast the study: no salvage death
            **{f"salvage.{f}.{k}": v for f in FAILURES for k, v in (("median_days", 36525.0), ("shape", 100.0))}}
    df = table(over)
    assert (df["n_infusions"] == 3).all()


def test_a_useless_reinfusion_never_lengthens_anyone_s_life():
    """The leukaemia clock starts at the first non-response and keeps running through
    re-infusion cycles: if re-infusions never bring a CR, offering them can only add
    risks (waiting, toxicity), so with common random numbers no patient lives longer."""
    useless = {"cohort.p_prior_cart": 0.0, **{f"response.p_cr.reinfusion.{t}": 0.0 for t in TARGETS}}
    a = table({**useless, "policy.p_reinfuse_after_nonresponse": 0.0, "policy.p_reinfuse_after_relapse": 0.0})
    b = table({**useless, "policy.p_reinfuse_after_nonresponse": 1.0, "policy.p_reinfuse_after_relapse": 1.0})
    assert (b["n_infusions"] > a["n_infusions"]).any()
    assert (b["t_last_days"].to_numpy() <= a["t_last_days"].to_numpy()).all()


def test_recipient_cells_without_gvhd_risk_never_give_gvhd():
    df = table({"policy.source_shares": [1.0, 0.0, 0.0], "gvhd.p_any.recipient": 0.0})
    assert (df["gvhd_grade"] == 0).all()
    assert not (df["death_cause"] == DeathCause.GVHD).any()


def test_consolidation_none_gives_no_transplant():
    df = table({"policy.consolidation_shares": [1.0, 0.0, 0.0, 0.0]})
    assert df["t_hsct_days"].isna().all()
    assert not (df["death_cause"] == DeathCause.TRANSPLANT).any()


def test_cure_probability_one_means_no_relapse_after_first_cr():
    over = {"remission.p_cure.mrd_neg": 1.0, "remission.p_cure.mrd_pos": 1.0}
    df = table(over)
    cr = df["response"] >= Response.CR_MRD_POS
    assert df.loc[cr, "t_relapse_days"].isna().all()
    assert (df.loc[cr, "cured"] == 1).all()


# --- closed-form oracles ---------------------------------------------------------------------

def test_exponential_competing_risks_match_the_closed_form():
    """Every infused patient reaches MRD-negative CR, nobody is cured, relapse and
    non-relapse death race as exponentials from the response assessment (memoryless),
    and relapse is followed by an exponential salvage survival. Cumulative incidences
    one year after the assessment and OS one year after infusion must equal the
    formulas within 4 binomial standard errors (n = 200,000: false alarm ~ 6e-5 each)."""
    m_rel, m_sal, p_nrm = 150.0, 90.0, 0.10
    over = {**ALL_CR, **NO_TOXIC_DEATH, **NO_WAIT_EVENTS, **NO_REINFUSION, "background.smr": 1e-6,
            "response.p_mrd_neg_given_cr": 1.0, "remission.p_cure.mrd_neg": 0.0,
            "policy.consolidation_shares": [1.0, 0.0, 0.0, 0.0],
            "remission.relapse.family": "exponential", "remission.relapse.median_days": m_rel,
            **{f"salvage.{f}.{k}": v for f in FAILURES for k, v in (("family", "exponential"), ("median_days", m_sal))},
            # a half-life of a century: the NRM hazard is constant to 0.7% over the year checked
            "nrm.p_year1": p_nrm, "nrm.hazard_halflife_days": 36525.0}
    n = 200_000
    df = api.patient_table(*simulate(over, n=n, seed=2026))
    lr, ls, ln = math.log(2) / m_rel, math.log(2) / m_sal, -math.log1p(-p_nrm) / 365.0
    assess = BASE.params.value("response.assessment_day")

    def within(observed: float, expected: float, size: int) -> None:
        se = math.sqrt(expected * (1 - expected) / size)
        assert abs(observed - expected) < 4 * se, (observed, expected, se)

    infused = df["t_inf_days"].notna().to_numpy()
    t_inf = df["t_inf_days"].to_numpy(np.float64)
    t_rel = df["t_relapse_days"].to_numpy(np.float64) - t_inf - assess
    t_death = df["t_death_days"].to_numpy(np.float64) - t_inf
    evaluable = infused & (df["response"].to_numpy() == Response.CR_MRD_NEG)
    # death before the assessment: NRM only
    within(1 - evaluable[infused].mean(), 1 - math.exp(-ln * assess), int(infused.sum()))
    t = 365.0
    relapsed = evaluable & (t_rel <= t)
    nrm = evaluable & np.isnan(df["t_relapse_days"].to_numpy()) & (t_death - assess <= t)
    k = int(evaluable.sum())
    total = lr + ln
    within(relapsed.sum() / k, lr / total * (1 - math.exp(-total * t)), k)
    within(nrm.sum() / k, ln / total * (1 - math.exp(-total * t)), k)
    # OS one year after infusion: min(NRM, assessment + relapse + salvage) > t
    x = t - assess
    p_disease_alive = (ls * math.exp(-lr * x) - lr * math.exp(-ls * x)) / (ls - lr)
    alive = ~(t_death[infused] <= t)
    within(alive.mean(), math.exp(-ln * t) * p_disease_alive, int(infused.sum()))


def test_cr_rate_matches_its_probability():
    """Only tandem products, p(CR) = 0.7, no covariate effects, no early deaths: the CR
    rate among infused patients is binomial; 4 standard errors at n = 100,000."""
    over = {**NO_TOXIC_DEATH, **NO_WAIT_EVENTS, **NO_BACKGROUND, "policy.target_shares": [0.0, 0.0, 1.0, 0.0],
            "cohort.p_prior_cart": 0.0, "response.p_cr.first.tandem": 0.7, "response.or_extramedullary": 1.0,
            "response.or_high_risk": 1.0, "response.or_source.donor": 1.0, "response.or_source.universal": 1.0,
            "response.or_decitabine_ld": 1.0}
    df = api.patient_table(*simulate(over, n=100_000, seed=5))
    cr = (df["response"] >= Response.CR_MRD_POS).mean()
    assert abs(cr - 0.7) < 4 * math.sqrt(0.7 * 0.3 / 100_000)


# --- metamorphic checks --------------------------------------------------------------------

def test_later_relapse_never_shortens_anyone_s_life():
    """With common random numbers, no re-infusion and no consolidation, a longer median
    time to relapse can only postpone each patient's death (every other latent time is
    unchanged). With transplant consolidation it need not: a later relapse lets the
    transplant happen, and transplant-related death can then come first."""
    base = {**NO_REINFUSION, "policy.consolidation_shares": [1.0, 0.0, 0.0, 0.0]}
    a = table({**base, "remission.relapse.median_days": 100.0}, n=5000)
    b = table({**base, "remission.relapse.median_days": 200.0}, n=5000)
    assert (b["t_last_days"].to_numpy() >= a["t_last_days"].to_numpy()).all()
    assert (b["t_last_days"] > a["t_last_days"]).any()


def test_higher_cure_probability_never_lowers_survival():
    a = table({"remission.p_cure.mrd_neg": 0.2}, n=20000)
    b = table({"remission.p_cure.mrd_neg": 0.5}, n=20000)
    month = 30.4375
    for m in (12, 24):
        alive_a = ~(a["t_death_days"] <= m * month)
        alive_b = ~(b["t_death_days"] <= m * month)
        assert alive_b.mean() >= alive_a.mean()


# --- the record is internally consistent -----------------------------------------------------

def test_record_consistency():
    df = table(n=20000, seed=99)
    infused = df["t_inf_days"].notna()
    assert ((df["n_infusions"] >= 1) == infused).all()
    assert (df.loc[~infused, "response"] == Response.NOT_EVALUATED).all()
    assert (df.loc[~infused, "crs_grade"] == 0).all()
    dead = df["death_cause"] != DeathCause.ALIVE
    assert (dead == df["t_death_days"].notna()).all()
    assert (df.loc[dead, "t_death_days"] <= HORIZON).all()
    assert (df.loc[~dead, "t_last_days"] == np.float32(HORIZON)).all()
    assert (df.loc[dead, "t_last_days"] == df.loc[dead, "t_death_days"]).all()
    # an infused patient can only die waiting for a product if it was a re-infusion
    waited = infused & (df["death_cause"] == DeathCause.BEFORE_INFUSION)
    failed_before = (df["response"] == Response.NO_RESPONSE) | df["t_relapse_days"].notna()
    assert waited.any()
    assert (failed_before[waited]).all()
    relapsed = df["t_relapse_days"].notna()
    assert (df.loc[relapsed, "best_response"] >= Response.CR_MRD_POS).all()
    assert (df.loc[relapsed, "t_relapse_days"] > df.loc[relapsed, "t_inf_days"]).all()
    assert (df.loc[relapsed & dead, "t_relapse_days"] <= df.loc[relapsed & dead, "t_death_days"]).all()
    efs = df["t_efs_days"]
    assert (efs.notna() | ~dead).all()
    assert (efs[dead] <= df.loc[dead, "t_death_days"]).all()
    hsct = df["t_hsct_days"].notna()
    assert (df.loc[hsct, "consolidation"] == 1).all()
    assert (df.loc[df["crs_grade"] == 0, "crs_onset_days"].isna()).all()
    assert (df.loc[df["crs_grade"] > 0, "crs_duration_days"] > 0).all()
    # ICU days are not truncated at death (record.finish), whereas an episode starting
    # after death is not recorded: only patients who died may show ICU days without one
    severe = (df["crs_grade"] >= 3) | (df["icans_grade"] >= 3) | (df["n_infusions"] > 1)
    assert ((df["icu_days"] > 0) <= (severe | dead)).all()
    assert ((df["icu_days"] > 0) & ~severe).sum() < 0.01 * len(df)
    for cause in (DeathCause.CRS, DeathCause.ICANS):
        assert (df.loc[df["death_cause"] == cause, "n_infusions"] >= 1).all()


def test_horizon_censors_deaths_relapses_and_transplants():
    f, i = simulate(n=5000, horizon=200.0)
    for col in (F.T_DEATH_DAYS, F.T_RELAPSE_DAYS, F.T_HSCT_DAYS, F.T_EFS_DAYS, F.T_INF_DAYS):
        vals = f[:, col]
        assert not (vals[~np.isnan(vals)] > 200.0).any()
    assert (f[np.isnan(f[:, F.T_DEATH_DAYS]), F.T_LAST_DAYS] == 200.0).all()
    assert ((i[:, I.DEATH_CAUSE] == DeathCause.ALIVE) == np.isnan(f[:, F.T_DEATH_DAYS])).all()


@pytest.mark.parametrize("bad", [np.zeros(3), np.full(len(BASE.params.theta()), np.nan)])
def test_run_kernel_rejects_malformed_theta(bad):
    with pytest.raises(ValueError, match="theta"):
        run_kernel(bad, 1, 10, HORIZON)
