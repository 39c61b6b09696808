"""Per-stage sampling functions of the pathway, called by its one walk (``pathway.walk``).

Each function reads the parameter vector ``theta`` (offsets ``P``), draws its uniforms
from its own address (``Decision`` x infusion cycle x block) and returns plain values;
none keeps state, so the engines can call them in any order and get the same draws.
Durations are in days; ages in years.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.engine import codes
from sim.engine.distributions import (
    categorical,
    defective_gompertz_by_landmark,
    exponential_rate,
    life_table_days,
    logit_shift,
    lognormal,
    time_to_event,
)
from sim.engine.rng import uniforms4
from sim.model.parameters import LIFE_TABLE_AGES, Family, P
from sim.model.states import CellSource, Consolidation, Decision, RelapseSite, Response, SalvageRegimen, Target

_INF = math.inf
_N_SITES = len(RelapseSite)
_N_SOURCES = len(CellSource)
_N_TARGETS = len(Target)
_N_CONSOLIDATIONS = len(Consolidation)
_N_REGIMENS = len(SalvageRegimen)
_TTE = 3  # theta slots of one time to event (family, median, shape)
_WEIBULL = int(Family.WEIBULL)
#: sdlog of the time from transplant to transplant-related death (assumption, see
#: params/defaults.toml hsct.trm_median_days)
TRM_SDLOG = 0.8


@nb.njit(cache=True, inline="always")
def sample_covariates(theta: np.ndarray, pkey: np.uint64):
    """(age_years, relapse_site, prior_hsct, prior_cart, high_risk, early_relapse, male)."""
    u0, u1, u2, u3 = uniforms4(pkey, Decision.COVARIATES, 0, 0)
    v0, v1, v2, _ = uniforms4(pkey, Decision.COVARIATES, 0, 1)
    age = lognormal(theta[P.COHORT_AGE_MEDIAN_YEARS], theta[P.COHORT_AGE_SDLOG], u0)
    age = min(max(age, theta[P.COHORT_AGE_MIN_YEARS]), theta[P.COHORT_AGE_MAX_YEARS])
    site = categorical(P.COHORT_SITE_SHARES, _N_SITES, theta, u1)
    prior_hsct = 2 if u2 < theta[P.COHORT_P_TWO_PRIOR_HSCT] else 1
    prior_cart = 1 if u3 < theta[P.COHORT_P_PRIOR_CART] else 0
    high_risk = 1 if v0 < theta[P.COHORT_P_HIGH_RISK] else 0
    early = 1 if v1 < theta[P.COHORT_P_EARLY_RELAPSE] else 0
    male = 1 if v2 < theta[P.COHORT_P_MALE] else 0
    return age, site, prior_hsct, prior_cart, high_risk, early, male


@nb.njit(cache=True, inline="always")
def sample_assignment(theta: np.ndarray, pkey: np.uint64):
    """(cell_source, first target, decitabine-primed lymphodepletion flag) by policy."""
    u0, u1, u2, _ = uniforms4(pkey, Decision.ASSIGNMENT, 0, 0)
    source = categorical(P.POLICY_SOURCE_SHARES, _N_SOURCES, theta, u0)
    target = categorical(P.POLICY_TARGET_SHARES, _N_TARGETS, theta, u1)
    dac = 1 if u2 < theta[P.POLICY_P_DECITABINE_LD] else 0
    return source, target, dac


@nb.njit(cache=True, inline="always")
def manufacturing_attempt(theta: np.ndarray, pkey: np.uint64,
                          cycle: int, attempt: int, source: int):
    """(days, failed, retry) of one manufacturing attempt: collection to release or
    to the failure notice; ``retry`` says whether a failure is retried."""
    u0, u1, u2, _ = uniforms4(pkey, Decision.MANUFACTURING, cycle, attempt)
    days = lognormal(theta[P.MANUFACTURING_MEDIAN_DAYS + source], theta[P.MANUFACTURING_SDLOG], u0)
    failed = u1 < theta[P.MANUFACTURING_P_FAIL + source]
    retry = u2 < theta[P.MANUFACTURING_P_RETRY]
    return days, failed, retry


@nb.njit(cache=True, inline="always")
def sample_waiting(theta: np.ndarray, pkey: np.uint64, cycle: int):
    """Latent (death, progression) times in days from the start of the wait; the one
    that comes before infusion ends the cycle."""
    u0, u1, _, _ = uniforms4(pkey, Decision.WAITING, cycle, 0)
    death = exponential_rate(theta[P.WAITING_DEATH_RATE_PER_DAY], u0)
    progression = exponential_rate(theta[P.WAITING_PROGRESSION_RATE_PER_DAY], u1)
    return death, progression


@nb.njit(cache=True, inline="always")
def sample_crs(theta: np.ndarray, pkey: np.uint64, cycle: int):
    """(grade 0-4, onset days after infusion, duration days, dies) of CRS.
    A fatal episode ends in death at onset + duration."""
    u0, u1, u2, u3 = uniforms4(pkey, Decision.CRS, cycle, 0)
    grade = categorical(P.CRS_GRADE_PROBS, 5, theta, u0)
    if grade == 0:
        return 0, _INF, 0.0, False
    if grade <= 2:
        onset = lognormal(theta[P.CRS_ONSET_MEDIAN_DAYS_MILD], theta[P.CRS_ONSET_SDLOG], u1)
        med = theta[P.CRS_DURATION_MEDIAN_DAYS_MILD]
    else:
        onset = lognormal(theta[P.CRS_ONSET_MEDIAN_DAYS_SEVERE], theta[P.CRS_ONSET_SDLOG], u1)
        med = theta[P.CRS_DURATION_MEDIAN_DAYS_G3 + grade - 3]
    duration = lognormal(med, theta[P.CRS_DURATION_SDLOG], u2)
    dies = grade >= 3 and u3 < theta[P.CRS_P_DEATH_G3 + grade - 3]
    return grade, onset, duration, dies


@nb.njit(cache=True, inline="always")
def manage_crs(theta: np.ndarray, pkey: np.uint64, cycle: int, grade: int, onset: float, duration: float,
               dies: bool):
    """CRS management by policy: (peak grade, duration days, dies, tocilizumab day, steroid day).

    Tocilizumab is given when the CRS reaches ``policy.tocilizumab_grade``, corticosteroids
    when it reaches ``policy.steroid_grade`` (5: never); the days are after infusion, inf
    when not given. How the stage reads the calibrated pathway: ``grade``, ``duration``
    and ``dies`` (from :func:`sample_crs`) are the episode under the management of the
    source cohorts, where the drugs were given at grade 2-3 to a minority; this stage adds
    the effect of a drug given at the policy's grade on top of that. A what-if is
    therefore a contrast between two thresholds (e.g. grade 1 vs grade 2), not an
    absolute "with vs without tocilizumab". With no threshold at or below the peak grade
    the episode is returned as it came and nothing is drawn: the default policy (5, 5)
    leaves every record as it was.

    Simplifications (they live here):

    * the course: every CRS starts at grade 1 at onset and climbs linearly in time to its
      peak grade, reached after ``crs.time_to_peak_fraction`` of the episode; a drug is
      given when the course reaches its grade, so it is given iff the peak reaches it;
    * escalation: from the first drug on, each further grade step happens only with
      probability ``p_escalate`` of every drug given below that step (one uniform per
      episode, compared with the running product, so an earlier threshold never gives a
      higher peak). An episode stopped at a lower peak takes the duration quantile of
      that grade (same uniform as :func:`sample_crs`) and its case fatality;
    * duration: the rest of the episode after the first drug is scaled by the product of
      ``duration_factor`` of the drugs given (acceleration factor; the second drug's
      factor applies from the first drug's day, an approximation);
    * ICANS: the drugs act on its risk through their odds ratios in
      :func:`sample_icans` (when given before ICANS onset), not through the lower CRS
      peak: ICANS keeps the risk of the CRS grade the patient was heading for, because
      the evidence shows no ICANS protection from tocilizumab's control of CRS;
    * ICU days follow from the managed grade >= 3 episode (``icu_episode``);
    * not modelled: a drug's effect on CAR-T expansion, response or relapse (reported as
      absent for early tocilizumab/steroids in the source studies), infections.
    """
    toci = int(theta[P.POLICY_TOCILIZUMAB_GRADE])
    ster = int(theta[P.POLICY_STEROID_GRADE])
    first = min(toci, ster)
    if grade < first:  # also grade 0: no drug, nothing drawn
        return grade, duration, dies, _INF, _INF
    ramp = theta[P.CRS_TIME_TO_PEAK_FRACTION] * duration / (grade - 1) if grade > 1 else 0.0
    peak = first
    p_pass = 1.0
    v = uniforms4(pkey, Decision.CRS_MANAGEMENT, cycle, 0)[0] if grade > first else 0.0
    for k in range(first + 1, grade + 1):  # the step from grade k-1 to k
        if toci <= k - 1:
            p_pass *= theta[P.TOCILIZUMAB_P_ESCALATE]
        if ster <= k - 1:
            p_pass *= theta[P.STEROIDS_P_ESCALATE]
        if v >= p_pass:
            break
        peak = k
    toci_rel = (toci - 1) * ramp if toci <= peak else _INF
    ster_rel = (ster - 1) * ramp if ster <= peak else _INF
    factor = 1.0
    if toci <= peak:
        factor *= theta[P.TOCILIZUMAB_DURATION_FACTOR]
    if ster <= peak:
        factor *= theta[P.STEROIDS_DURATION_FACTOR]
    natural = duration
    if peak < grade:
        _, _, u2, u3 = uniforms4(pkey, Decision.CRS, cycle, 0)
        med = theta[P.CRS_DURATION_MEDIAN_DAYS_MILD] if peak <= 2 else theta[P.CRS_DURATION_MEDIAN_DAYS_G3]
        natural = lognormal(med, theta[P.CRS_DURATION_SDLOG], u2)  # peak < grade <= 4: never g4
        dies = peak >= 3 and u3 < theta[P.CRS_P_DEATH_G3 + peak - 3]
    t1 = min(toci_rel, ster_rel)
    # a factor of exactly 1 leaves the duration to the bit (a zero-effect drug changes nothing)
    managed = t1 + factor * (natural - t1) if natural > t1 and factor != 1.0 else natural
    return peak, managed, dies, onset + toci_rel, onset + ster_rel


@nb.njit(cache=True, inline="always")
def _icans_onset(theta: np.ndarray, crs_grade: int, crs_onset: float, u: float) -> float:
    """ICANS onset, days after infusion: lagging CRS onset, or on its own without CRS."""
    sdlog = theta[P.ICANS_ONSET_SDLOG]
    if crs_grade > 0:
        return crs_onset + lognormal(theta[P.ICANS_ONSET_LAG_MEDIAN_DAYS], sdlog, u)
    return lognormal(theta[P.ICANS_ONSET_MEDIAN_DAYS_WITHOUT_CRS], sdlog, u)


@nb.njit(cache=True, inline="always")
def sample_icans(theta: np.ndarray, pkey: np.uint64, cycle: int,
                 crs_grade: int, crs_onset: float, toci_day: float, steroid_day: float):
    """(grade 0-4, onset days after infusion, duration days, dies) of ICANS, its risk
    and grade conditional on the CRS grade, its onset lagging CRS onset. A CRS drug
    given (days after infusion; inf: not given) before ICANS onset multiplies the odds
    of any ICANS by its ``or_icans`` (``manage_crs``)."""
    u0, u1, u2, u3 = uniforms4(pkey, Decision.ICANS, cycle, 0)
    severe_crs = crs_grade >= 3
    group = 0 if crs_grade == 0 else (2 if severe_crs else 1)
    p = theta[P.ICANS_P_ANY_CRS_NONE + group]
    if min(toci_day, steroid_day) < _INF:  # only then: the onset costs a logarithm
        onset = _icans_onset(theta, crs_grade, crs_onset, u2)
        odds_ratio = 1.0
        if toci_day < onset:
            odds_ratio *= theta[P.TOCILIZUMAB_OR_ICANS]
        if steroid_day < onset:
            odds_ratio *= theta[P.STEROIDS_OR_ICANS]
        p = logit_shift(p, odds_ratio)
    if u0 >= p:
        return 0, _INF, 0.0, False
    if severe_crs:
        grade = 1 + categorical(P.ICANS_GRADE_PROBS_AFTER_SEVERE_CRS, 4, theta, u1)
    else:
        grade = 1 + categorical(P.ICANS_GRADE_PROBS_AFTER_MILD_CRS, 4, theta, u1)
    v0, _, _, _ = uniforms4(pkey, Decision.ICANS, cycle, 1)
    onset = _icans_onset(theta, crs_grade, crs_onset, u2)
    med = theta[P.ICANS_DURATION_MEDIAN_DAYS_HIGH] if grade >= 3 else theta[P.ICANS_DURATION_MEDIAN_DAYS_LOW]
    duration = lognormal(med, theta[P.ICANS_DURATION_SDLOG], u3)
    dies = grade >= 3 and v0 < theta[P.ICANS_P_DEATH_G3 + grade - 3]
    return grade, onset, duration, dies


@nb.njit(cache=True, inline="always")
def sample_gvhd(theta: np.ndarray, pkey: np.uint64, cycle: int,
                source: int):
    """(grade 0-4, onset days after infusion, death delay days after onset or inf)."""
    u0, u1, u2, u3 = uniforms4(pkey, Decision.GVHD, cycle, 0)
    if u0 >= theta[P.GVHD_P_ANY + source]:
        return 0, _INF, _INF
    grade = 1 + categorical(P.GVHD_GRADE_PROBS, 4, theta, u1)
    lo = theta[P.GVHD_ONSET_MIN_DAYS]
    onset = lo + u2 * (theta[P.GVHD_ONSET_MAX_DAYS] - lo)
    delay = _INF
    if grade >= 3 and u3 < theta[P.GVHD_P_DEATH_SEVERE]:
        v0, _, _, _ = uniforms4(pkey, Decision.GVHD, cycle, 1)
        delay = exponential_rate(math.log(2.0) / theta[P.GVHD_DEATH_MEDIAN_DAYS], v0)
    return grade, onset, delay


@nb.njit(cache=True, inline="always")
def sample_response(theta: np.ndarray, pkey: np.uint64, cycle: int,
                    target: int, infusion_number: int, site: int, high_risk: int, source: int,
                    dac_ld: int, after_nonresponse: bool, antigen_lost: bool) -> int:
    """Day-28 response (a ``Response`` code). ``infusion_number`` counts CAR-T
    infusions in the patient's life (1 = first ever): later ones use the re-infusion
    CR probabilities, which are those after a relapse that kept its antigen; a
    re-infusion after non-response to the previous one, or of the same target after a
    relapse that lost it (``antigen_lost``), multiplies the odds by its
    ``response.or_reinfusion`` ratio. Covariates act as odds ratios on CR."""
    u0, u1, _, _ = uniforms4(pkey, Decision.RESPONSE, cycle, 0)
    odds_ratio = theta[P.RESPONSE_OR_SOURCE + source]
    if infusion_number <= 1:
        p = theta[P.RESPONSE_P_CR_FIRST + target]
    else:
        p = theta[P.RESPONSE_P_CR_REINFUSION + target]
        if after_nonresponse:
            odds_ratio *= theta[P.RESPONSE_OR_REINFUSION_AFTER_NONRESPONSE]
        if antigen_lost:
            odds_ratio *= theta[P.RESPONSE_OR_REINFUSION_SAME_TARGET_AFTER_ANTIGEN_LOSS]
    if site != RelapseSite.MARROW:
        odds_ratio *= theta[P.RESPONSE_OR_EXTRAMEDULLARY]
    if high_risk:
        odds_ratio *= theta[P.RESPONSE_OR_HIGH_RISK]
    if dac_ld:
        odds_ratio *= theta[P.RESPONSE_OR_DECITABINE_LD]
    p = logit_shift(p, odds_ratio)
    if u0 >= p:
        return codes.NO_RESPONSE
    if u1 < theta[P.RESPONSE_P_MRD_NEG_GIVEN_CR]:
        return codes.CR_MRD_NEG
    return codes.CR_MRD_POS


@nb.njit(cache=True, inline="always")
def sample_consolidation(theta: np.ndarray, pkey: np.uint64,
                         cycle: int, prior_hsct: int):
    """(consolidation, hsct_days_after_infusion, trm_dies, trm_days_after_hsct).
    Patients assigned to HSCT but not eligible get one of the other options in
    proportion to their policy shares."""
    u0, u1, u2, u3 = uniforms4(pkey, Decision.CONSOLIDATION, cycle, 0)
    choice = categorical(P.POLICY_CONSOLIDATION_SHARES, _N_CONSOLIDATIONS, theta, u0)
    if choice != Consolidation.HSCT:
        return choice, _INF, False, _INF
    p_eligible = theta[P.HSCT_P_ELIGIBLE_AFTER_ONE] if prior_hsct <= 1 else theta[P.HSCT_P_ELIGIBLE_AFTER_TWO]
    v0, v1, _, _ = uniforms4(pkey, Decision.CONSOLIDATION, cycle, 1)
    if u1 >= p_eligible:
        base = P.POLICY_CONSOLIDATION_SHARES
        rest = 1.0 - theta[base + Consolidation.HSCT]
        if rest <= 0.0:
            return codes.NO_CONSOLIDATION, _INF, False, _INF
        acc = 0.0
        for c in range(_N_CONSOLIDATIONS):
            if c == Consolidation.HSCT:
                continue
            acc += theta[base + c] / rest
            if v1 < acc:
                return c, _INF, False, _INF
        return codes.NO_CONSOLIDATION, _INF, False, _INF
    days = lognormal(theta[P.HSCT_MEDIAN_DAYS_FROM_INFUSION], theta[P.HSCT_SDLOG], u2)
    days = max(days, theta[P.RESPONSE_ASSESSMENT_DAY])
    trm_dies = u3 < theta[P.HSCT_P_TRM]
    trm_days = lognormal(theta[P.HSCT_TRM_MEDIAN_DAYS], TRM_SDLOG, v0) if trm_dies else _INF
    return codes.HSCT, days, trm_dies, trm_days


@nb.njit(cache=True, inline="always")
def sample_remission(theta: np.ndarray, pkey: np.uint64,
                     cycle: int, response: int, target: int, source: int, high_risk: int,
                     early_relapse: int, dac_ld: int, consolidation: int, switch_days: float):
    """Mixture-cure remission: (status, relapse_days, antigen_negative).

    status 1: cured whatever happens; status 2: cured only if the consolidation takes
    effect before relapse (i.e. relapse_days >= switch_days), where relapse_days is
    then the time without consolidation; status 0: not cured, relapse_days with the
    consolidation's hazard ratio from switch_days on. relapse_days count from the
    response assessment; switch_days is when consolidation starts (0 for maintenance,
    inf for none).
    """
    u0, u1, u2, _ = uniforms4(pkey, Decision.REMISSION, cycle, 0)
    if response == Response.CR_MRD_NEG:
        p = theta[P.REMISSION_P_CURE_MRD_NEG]
    else:
        p = theta[P.REMISSION_P_CURE_MRD_POS]
    odds_ratio = theta[P.REMISSION_OR_CURE_TARGET + target] * theta[P.REMISSION_OR_CURE_SOURCE + source]
    if high_risk:
        odds_ratio *= theta[P.REMISSION_OR_CURE_HIGH_RISK]
    if early_relapse:
        odds_ratio *= theta[P.REMISSION_OR_CURE_EARLY_RELAPSE]
    if dac_ld:
        odds_ratio *= theta[P.REMISSION_OR_CURE_DECITABINE_LD]
    p0 = logit_shift(p, odds_ratio)
    p1 = logit_shift(p, odds_ratio * theta[P.REMISSION_OR_CURE_CONSOLIDATION + consolidation])
    antigen_negative = u2 < theta[P.REMISSION_P_ANTIGEN_NEGATIVE + target]
    family = int(theta[P.REMISSION_RELAPSE_FAMILY])
    median = theta[P.REMISSION_RELAPSE_MEDIAN_DAYS]
    shape = theta[P.REMISSION_RELAPSE_SHAPE]
    if u0 < min(p0, p1):
        return 1, _INF, antigen_negative
    if u0 < p1:
        return 2, time_to_event(family, median, shape, 1.0, 1.0, _INF, u1), antigen_negative
    hr = theta[P.REMISSION_RELAPSE_HR_CONSOLIDATION + consolidation]
    return 0, time_to_event(family, median, shape, 1.0, hr, switch_days, u1), antigen_negative


@nb.njit(cache=True, inline="always")
def background_death_days(theta: np.ndarray, pkey: np.uint64,
                          age_years: float, male: int) -> float:
    """Latent death from general-population mortality (the life table of the
    patient's sex) x SMR, days from t = 0."""
    u0, _, _, _ = uniforms4(pkey, Decision.LATE_MORTALITY, 0, 0)
    start = P.BACKGROUND_LIFE_TABLE + (0 if male else LIFE_TABLE_AGES)
    return life_table_days(theta, start, age_years, theta[P.BACKGROUND_SMR], u0)


@nb.njit(cache=True, inline="always")
def nrm_days(theta: np.ndarray, pkey: np.uint64,
             severe_gvhd: bool) -> float:
    """Latent infection/other non-relapse death, days after the first infusion (inf:
    none). The hazard decays smoothly (``nrm.hazard_halflife_days``), so its cumulative
    risk plateaus; beyond it only background mortality x SMR remains."""
    _, u1, _, _ = uniforms4(pkey, Decision.LATE_MORTALITY, 0, 0)
    hr = theta[P.GVHD_NRM_HR_SEVERE] if severe_gvhd else 1.0
    return defective_gompertz_by_landmark(theta[P.NRM_P_YEAR1], 365.0, theta[P.NRM_HAZARD_HALFLIFE_DAYS], hr, u1)


@nb.njit(cache=True, inline="always")
def sample_reinfusion(theta: np.ndarray, pkey: np.uint64,
                      cycle: int, after_relapse: bool, antigen_negative: bool, last_target: int):
    """(re-infuse?, target of the next infusion) after non-response or relapse."""
    u0, u1, _, _ = uniforms4(pkey, Decision.REINFUSION, cycle, 0)
    p = theta[P.POLICY_P_REINFUSE_AFTER_RELAPSE] if after_relapse else theta[P.POLICY_P_REINFUSE_AFTER_NONRESPONSE]
    target = categorical(P.POLICY_REINFUSION_TARGET_SHARES, _N_TARGETS, theta, u1)
    if (antigen_negative and last_target == Target.CD19
            and theta[P.POLICY_SWITCH_TO_CD22_ON_CD19_LOSS] > 0.5):
        target = codes.CD22
    return u0 < p, target


@nb.njit(cache=True, inline="always")
def salvage_days(theta: np.ndarray, pkey: np.uint64, cycle: int, failure: int) -> float:
    """Survival (days) without further CAR-T after a failure of type ``failure`` (a
    ``FailureType`` code: non-response, early or late relapse, no infusion)."""
    u0, _, _, _ = uniforms4(pkey, Decision.SALVAGE, cycle, 0)
    off = P.SALVAGE_REFRACTORY_FAMILY + _TTE * failure
    return time_to_event(int(theta[off]), theta[off + 1], theta[off + 2], 1.0, 1.0, _INF, u0)


@nb.njit(cache=True, inline="always")
def standard_care(theta: np.ndarray, pkey: np.uint64, prior_hsct: int):
    """The comparator without CAR-T: (regimen, survival days, transplant day or inf)
    from the decision to treat. Survival is the regimen's intention-to-treat Weibull,
    which includes the transplants that followed it; the transplant (share
    ``standard_care.p_hsct`` x eligibility for another HSCT, at the consolidative
    transplant's delay) is given to the longest survivors among the regimen's patients
    (its survival draw below that share), and only if they are alive by then."""
    u0, u1, u2, _ = uniforms4(pkey, Decision.SALVAGE, 0, 1)
    regimen = categorical(P.POLICY_SALVAGE_SHARES, _N_REGIMENS, theta, u0)
    days = time_to_event(_WEIBULL, theta[P.STANDARD_CARE_SURVIVAL_MEDIAN_DAYS + regimen],
                         theta[P.STANDARD_CARE_SURVIVAL_SHAPE + regimen], 1.0, 1.0, _INF, u1)
    p_eligible = theta[P.HSCT_P_ELIGIBLE_AFTER_ONE] if prior_hsct <= 1 else theta[P.HSCT_P_ELIGIBLE_AFTER_TWO]
    hsct = _INF
    if u1 < theta[P.STANDARD_CARE_P_HSCT + regimen] * p_eligible:
        hsct = lognormal(theta[P.HSCT_MEDIAN_DAYS_FROM_INFUSION], theta[P.HSCT_SDLOG], u2)
        if hsct >= days:
            hsct = _INF
    return regimen, days, hsct


@nb.njit(inline="always", cache=True)
def icu_episode(crs_grade: int, crs_onset: float, crs_days: float, icans_grade: int, icans_onset: float,
                icans_days: float):
    """(ICU days, admission, discharge) for the grade >= 3 CRS and ICANS episodes of one
    infusion, in days after it: ICU days are the union of the episodes, the stay runs
    from the first admission to the last discharge; (0, inf, inf) without one."""
    if crs_grade < 3 and icans_grade < 3:
        return 0.0, _INF, _INF
    a0 = crs_onset if crs_grade >= 3 else 0.0
    a1 = crs_onset + crs_days if crs_grade >= 3 else 0.0
    b0 = icans_onset if icans_grade >= 3 else 0.0
    b1 = icans_onset + icans_days if icans_grade >= 3 else 0.0
    la = a1 - a0
    lb = b1 - b0
    union = la + lb - max(min(a1, b1) - max(a0, b0), 0.0) if la > 0.0 and lb > 0.0 else la + lb
    start = min(a0 if crs_grade >= 3 else _INF, b0 if icans_grade >= 3 else _INF)
    return union, start, max(a1, b1)
