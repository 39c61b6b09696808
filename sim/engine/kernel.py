"""The Monte Carlo kernel: numba, no resources, one patient after another.

:func:`simulate_patient` walks one patient through the pathway (the order of stages,
the competing events) by calling the per-stage samplers; :func:`_simulate_range`
runs it over a range of patient ids in parallel. Public entry: :func:`run_kernel`,
which validates, allocates and sets the thread count; the compiled loop only reads
``theta`` and fills the output rows.

Competing events: every latent death time drawn so far is kept as the earliest
candidate ``t_dead``; a later stage happens only if it comes before that candidate.
Simplifications (written here because this is where they live): ICU days are the
union of the grade >= 3 CRS and ICANS episodes; the non-relapse-mortality clock
starts at the first infusion and its GVHD effect uses the first infusion's GVHD;
a patient re-infused after relapse keeps the first CR's consolidation record.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.engine import codes
from sim.engine.record import finish
from sim.engine.rng import make_key, patient_key
from sim.engine.stages import (
    background_death_days,
    icu_episode,
    manufacturing_attempt,
    nrm_days,
    salvage_days,
    sample_assignment,
    sample_consolidation,
    sample_covariates,
    sample_crs,
    sample_gvhd,
    sample_icans,
    sample_reinfusion,
    sample_remission,
    sample_response,
    sample_waiting,
)
from sim.model.outputs import F, I
from sim.model.parameters import N_THETA, P

_INF = math.inf
_NAN = math.nan
KEY_BLOCK = 256  # patients per parallel work item (results do not depend on it)
N_FLOAT = len(F)
N_INT = len(I)


@nb.njit(cache=True)
def simulate_patient(theta: np.ndarray, pkey: np.uint64, horizon_days: float,
                     frow: np.ndarray, irow: np.ndarray) -> None:
    """Simulate the patient whose stream key is ``pkey`` (``rng.patient_key``) and
    write its record into frow (float32) and irow (int8)."""
    age, site, prior_hsct, prior_cart, high_risk, early = sample_covariates(theta, pkey)
    source, target, dac = sample_assignment(theta, pkey)
    frow[:] = _NAN
    irow[:] = 0
    frow[F.AGE_YEARS] = age
    irow[I.RELAPSE_SITE] = site
    irow[I.PRIOR_HSCT] = prior_hsct
    irow[I.PRIOR_CART] = prior_cart
    irow[I.HIGH_RISK] = high_risk
    irow[I.EARLY_RELAPSE] = early
    irow[I.CELL_SOURCE] = source
    irow[I.TARGET] = target
    irow[I.DECITABINE_LD] = dac

    t_dead = background_death_days(theta, pkey, age)
    cause = codes.OTHER_NRM
    max_infusions = int(theta[P.POLICY_MAX_INFUSIONS])
    max_attempts = int(theta[P.POLICY_MANUFACTURING_MAX_ATTEMPTS])
    ld_days = theta[P.LYMPHODEPLETION_DAYS]
    assessment = theta[P.RESPONSE_ASSESSMENT_DAY]
    t = 0.0  # start of the current infusion cycle
    n_inf = 0
    n_rel = 0  # relapses up to the horizon
    first_cr_seen = False
    relapse_seen = False
    best = codes.NOT_EVALUATED
    icu = 0.0
    # latent death from leukaemia: drawn at the first failure (non-response, relapse,
    # no product), kept through re-infusion cycles, cleared by a new CR
    t_disease = _INF
    t_efs = _INF  # first event-free-survival event other than death
    cycle = 0
    while cycle < max_infusions:
        # 1. collection and manufacturing, with waiting-time death and progression
        mfg_days = 0.0
        ok = False
        attempts = 0
        for attempt in range(max_attempts):
            days, failed, retry = manufacturing_attempt(theta, pkey, cycle, attempt, source)
            mfg_days += days
            attempts += 1
            if not failed:
                ok = True
                break
            if not retry:
                break
        if cycle == 0:
            irow[I.MFG_ATTEMPTS] = attempts
        # 2. lymphodepletion follows release
        t_end_wait = t + mfg_days + (ld_days if ok else 0.0)
        w_death, w_prog = sample_waiting(theta, pkey, cycle)
        alive_until = min(t_dead, t_disease)
        if t + w_death < t_end_wait and w_death <= w_prog:
            if t + w_death < alive_until:
                t_dead = t + w_death
                cause = codes.BEFORE_INFUSION
            break
        if alive_until <= t_end_wait and alive_until <= t + w_prog:
            break
        if t + w_prog < t_end_wait or not ok:
            t_fail = min(t + w_prog, t_end_wait)
            t_efs = min(t_efs, t_fail)
            if t_disease == _INF:
                t_disease = t_fail + salvage_days(theta, pkey, cycle)
            break
        # 3. infusion
        t_inf = t_end_wait
        if t_inf <= horizon_days:
            n_inf += 1
        # 4-6. CRS, ICANS, acute GVHD
        crs_g, crs_on, crs_dur, crs_dies = sample_crs(theta, pkey, cycle)
        icans_g, icans_on, icans_dur, icans_dies = sample_icans(theta, pkey, cycle, crs_g, crs_on)
        gvhd_g, gvhd_on, gvhd_delay = sample_gvhd(theta, pkey, cycle, source)
        if crs_dies and t_inf + crs_on + crs_dur < t_dead:
            t_dead = t_inf + crs_on + crs_dur
            cause = codes.CRS
        if icans_dies and t_inf + icans_on + icans_dur < t_dead:
            t_dead = t_inf + icans_on + icans_dur
            cause = codes.ICANS
        if gvhd_delay < _INF and t_inf + gvhd_on + gvhd_delay < t_dead:
            t_dead = t_inf + gvhd_on + gvhd_delay
            cause = codes.GVHD
        if t_inf <= horizon_days:  # an infusion after the horizon is not observed
            icu += icu_episode(crs_g, crs_on, crs_dur, icans_g, icans_on, icans_dur)[0]
        if cycle == 0:
            frow[F.T_INF_DAYS] = t_inf
            irow[I.CRS_GRADE] = crs_g
            irow[I.ICANS_GRADE] = icans_g
            irow[I.GVHD_GRADE] = gvhd_g
            if crs_g > 0:
                frow[F.CRS_ONSET_DAYS] = crs_on
                frow[F.CRS_DURATION_DAYS] = crs_dur
            if icans_g > 0:
                frow[F.ICANS_ONSET_DAYS] = icans_on
                frow[F.ICANS_DURATION_DAYS] = icans_dur
            if gvhd_g > 0:
                frow[F.GVHD_ONSET_DAYS] = gvhd_on
            t_nrm = t_inf + nrm_days(theta, pkey, gvhd_g >= 3)
            if t_nrm < t_dead:
                t_dead = t_nrm
                cause = codes.OTHER_NRM
        # 7. response at the assessment day
        t_resp = t_inf + assessment
        if min(t_dead, t_disease) <= t_resp:
            break
        resp = sample_response(theta, pkey, cycle, target, prior_cart + cycle + 1,
                               site, high_risk, source, dac)
        if cycle == 0:
            irow[I.RESPONSE] = resp
            if resp == codes.NO_RESPONSE:
                t_efs = t_resp
        if t_resp <= horizon_days:
            best = max(best, resp)
        if resp == codes.NO_RESPONSE:
            if t_disease == _INF:
                t_disease = t_resp + salvage_days(theta, pkey, cycle)
            again, next_target = sample_reinfusion(theta, pkey, cycle, False, False, target)
            if again and cycle + 1 < max_infusions:
                t = t_resp
                target = next_target
                cycle += 1
                continue
            break
        t_disease = _INF  # in remission again
        # 8. consolidation
        cons, hsct_days, trm_dies, trm_days = sample_consolidation(theta, pkey, cycle, prior_hsct)
        t_hsct = t_inf + hsct_days
        if cons == codes.HSCT:
            switch = t_hsct - t_resp
        elif cons == codes.NO_CONSOLIDATION:
            switch = _INF
        else:
            switch = 0.0
        # 9. remission: mixture cure, relapse competing with death
        status, rel_days, antigen_neg = sample_remission(theta, pkey, cycle, resp, target,
                                                         source, high_risk, early, dac, cons, switch)
        if status == 2 and rel_days >= switch and (cons != codes.HSCT or t_hsct < t_dead):
            rel_days = _INF  # cured by a consolidation that took place
        t_rel = t_resp + rel_days
        hsct_done = cons == codes.HSCT and t_hsct < t_rel and t_hsct < t_dead
        if hsct_done and trm_dies and t_hsct + trm_days < t_dead:
            t_dead = t_hsct + trm_days
            cause = codes.TRANSPLANT
        if not first_cr_seen:
            first_cr_seen = True
            if cons != codes.HSCT or hsct_done:
                irow[I.CONSOLIDATION] = cons
            if hsct_done:
                frow[F.T_HSCT_DAYS] = t_hsct
            irow[I.CURED] = 1 if rel_days == _INF else 0
        if t_rel >= t_dead:
            break
        # 10. relapse: re-infusion or salvage
        if not relapse_seen:
            relapse_seen = True
            t_efs = min(t_efs, t_rel)
            frow[F.T_RELAPSE_DAYS] = t_rel
            irow[I.RELAPSE_ANTIGEN] = codes.ANTIGEN_NEGATIVE if antigen_neg else codes.ANTIGEN_POSITIVE
        if t_rel <= horizon_days:
            n_rel += 1
        t_disease = t_rel + salvage_days(theta, pkey, cycle)
        again, next_target = sample_reinfusion(theta, pkey, cycle, True, antigen_neg, target)
        if again and cycle + 1 < max_infusions:
            t = t_rel
            target = next_target
            cycle += 1
            continue
        break

    if t_disease < t_dead:
        t_dead = t_disease
        cause = codes.DISEASE
    # 11. death or censoring at the horizon
    finish(frow, irow, t_dead, cause, t_efs, icu, n_inf, best, n_rel, horizon_days, assessment)


@nb.njit(parallel=True, cache=True)
def _simulate_range(theta: np.ndarray, k0: np.uint64, k1: np.uint64, first_patient_id: int,
                    horizon_days: float, fout: np.ndarray, iout: np.ndarray) -> None:
    n = fout.shape[0]
    n_blocks = (n + KEY_BLOCK - 1) // KEY_BLOCK
    for b in nb.prange(n_blocks):
        start = b * KEY_BLOCK
        stop = min(n, start + KEY_BLOCK)
        # independent Philox calls first: they overlap in the CPU pipeline, whereas
        # one call per patient inside the patient's dependent chain costs ~2x more
        keys = np.empty(stop - start, np.uint64)
        for j in range(stop - start):
            keys[j] = patient_key(k0, k1, first_patient_id + start + j)
        for j in range(stop - start):
            simulate_patient(theta, keys[j], horizon_days, fout[start + j], iout[start + j])


def run_kernel(theta: np.ndarray, seed: int, n_patients: int, horizon_days: float,
               first_patient_id: int = 0, replicate: int = 0,
               threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Simulate patients first_patient_id .. first_patient_id + n_patients - 1.

    Returns (float32 block, int8 block), shaped (n_patients, len(F)) and
    (n_patients, len(I)); columns as in ``sim.model.outputs``. The result depends only
    on (theta, seed, replicate, patient ids, horizon), never on ``threads``.
    """
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if theta.shape != (N_THETA,):
        raise ValueError(f"theta must have shape ({N_THETA},), got {theta.shape}")
    if np.isnan(theta).any():
        raise ValueError("theta has unset (NaN) entries")
    if n_patients < 0 or first_patient_id < 0:
        raise ValueError("n_patients and first_patient_id must be >= 0")
    if not horizon_days > 0:
        raise ValueError("horizon_days must be > 0")
    k0, k1 = make_key(seed, replicate)
    fout = np.empty((n_patients, N_FLOAT), dtype=np.float32)
    iout = np.empty((n_patients, N_INT), dtype=np.int8)
    previous = nb.get_num_threads()
    if threads is not None:
        # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
        nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        _simulate_range(theta, k0, k1, first_patient_id, float(horizon_days), fout, iout)
    finally:
        nb.set_num_threads(previous)
    return fout, iout
