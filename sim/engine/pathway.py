"""One patient's walk through the pathway, as a resumable state machine shared by
both engines.

:func:`advance` runs the patient until it needs a finite resource, returns the
request, and resumes when told how long the patient waited for it:

* ``MANUFACTURING``: a manufacturing slot from ``fs[REQ_TIME]`` for
  ``fs[REQ_DURATION]`` days. A patient still queued at ``fs[REQ_DEADLINE]`` (death,
  progression or background death) leaves the queue: resume with ``wait = inf``.
* ``ICU``: an ICU bed from ``fs[REQ_TIME]`` for ``fs[REQ_DURATION]`` days (the hull of
  the grade >= 3 CRS and ICANS episodes). Waiting for it does not change the pathway
  (a simplification: overflow is recorded, not punished); resume with ``wait = 0``.
* ``TRANSPLANT``: a transplant bed from ``fs[REQ_TIME]`` for ``fs[REQ_DURATION]``
  days; relapse or death at ``fs[REQ_DEADLINE]`` cancels the transplant (resume with
  ``wait = inf``); a wait postpones the transplant and its effect on relapse.
* ``DONE``: the record in ``frow``/``irow`` is complete.

The SimPy engine calls it with the waits its queues produce; :func:`walk_unlimited`
calls it with every wait 0. The kernel walks the same pathway as straight-line code
(``kernel.simulate_patient``): a resumable walk measured ~30% slower there, and the
kernel's speed is the product's speed. Both walks call the same per-stage samplers on
the same random addresses, and tests demand identical records from the kernel and
from this walk with unlimited capacity, patient by patient, field by field.

Times in ``fs`` are days from the patient's decision to treat (t = 0). Competing
events: every latent death time drawn so far is kept as the earliest candidate
``T_DEAD``; a later stage happens only if it comes before it. Simplifications (they
live here): ICU days are the union of the grade >= 3 CRS and ICANS episodes; the
non-relapse-mortality clock starts at the first infusion and its GVHD effect uses the
first infusion's GVHD; a patient re-infused after relapse keeps the first CR's
consolidation record.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numba as nb
import numpy as np

from sim.engine import codes
from sim.engine.record import finish
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
from sim.model.parameters import P

_INF = math.inf
_NAN = math.nan


class Request(IntEnum):
    """What :func:`advance` asks of the engine."""

    DONE = 0
    MANUFACTURING = 1
    ICU = 2
    TRANSPLANT = 3


class FS(IntEnum):
    """float64 state slots."""

    T = 0  # start of the current infusion cycle
    T_DEAD = 1  # earliest latent death so far
    ELAPSED = 2  # manufacturing time of this cycle so far, waits included
    W_DEATH = 3  # latent death while waiting, days from T
    W_PROG = 4  # latent progression while waiting, days from T
    ICU = 5
    T_DISEASE = 6  # latent leukaemia death: set at the first failure, cleared by a new CR
    T_EFS = 7
    T_INF = 8
    T_RESP = 9
    ATT_DAYS = 10  # duration of the current manufacturing attempt
    T_HSCT = 11  # planned, then actual, transplant day
    TRM_DAYS = 12
    REQ_TIME = 13
    REQ_DURATION = 14
    REQ_DEADLINE = 15


class IS(IntEnum):
    """int64 state slots."""

    PHASE = 0
    CYCLE = 1
    ATTEMPT = 2
    CAUSE = 3
    N_INF = 4
    N_REL = 5
    BEST = 6
    TARGET = 7
    ATT_FAILED = 8
    ATT_RETRY = 9
    OK = 10
    RESP = 11
    CONS = 12
    TRM_DIES = 13
    FIRST_CR_SEEN = 14
    RELAPSE_SEEN = 15


N_FS = len(FS)
N_IS = len(IS)

# phases
_START, _CYCLE, _MFG_NEXT, _MFG_DONE, _RESPONSE, _HSCT_DONE, _FINISH = 0, 1, 2, 3, 4, 5, 6
# request codes as plain ints (see sim.engine.codes)
_DONE, _MANUFACTURING, _ICU_REQ, _TRANSPLANT_REQ = 0, 1, 2, 3


@nb.njit(inline="always", cache=True)
def _die(fs: np.ndarray, is_: np.ndarray, t: float, cause: int) -> None:
    if t < fs[FS.T_DEAD]:
        fs[FS.T_DEAD] = t
        is_[IS.CAUSE] = cause


@nb.njit(cache=True)
def advance(theta: np.ndarray, pkey: np.uint64, horizon_days: float, frow: np.ndarray,
            irow: np.ndarray, fs: np.ndarray, is_: np.ndarray, wait_days: float) -> int:
    """Run the patient until its next resource request (a ``Request`` code).

    ``wait_days`` is the wait for the request this call answers (ignored on the first
    call, when ``is_[IS.PHASE]`` must be 0). ``fs``/``is_`` hold the patient's state
    between calls; ``frow`` (float32) and ``irow`` (int8) receive its record.
    """
    phase = is_[IS.PHASE]
    if phase == _START:
        age, site, prior_hsct, prior_cart, high_risk, early = sample_covariates(theta, pkey)
        source, target, dac = sample_assignment(theta, pkey)
        frow[:] = _NAN
        irow[:] = 0
        fs[:] = 0.0
        is_[:] = 0
        frow[F.AGE_YEARS] = age
        irow[I.RELAPSE_SITE] = site
        irow[I.PRIOR_HSCT] = prior_hsct
        irow[I.PRIOR_CART] = prior_cart
        irow[I.HIGH_RISK] = high_risk
        irow[I.EARLY_RELAPSE] = early
        irow[I.CELL_SOURCE] = source
        irow[I.TARGET] = target
        irow[I.DECITABINE_LD] = dac
        fs[FS.T_DEAD] = background_death_days(theta, pkey, age)
        is_[IS.CAUSE] = codes.OTHER_NRM
        fs[FS.T_DISEASE] = _INF
        fs[FS.T_EFS] = _INF
        is_[IS.BEST] = codes.NOT_EVALUATED
        is_[IS.TARGET] = target
        phase = _CYCLE
    source = int(irow[I.CELL_SOURCE])
    max_infusions = int(theta[P.POLICY_MAX_INFUSIONS])
    assessment = theta[P.RESPONSE_ASSESSMENT_DAY]

    while True:
        cycle = is_[IS.CYCLE]
        if phase == _CYCLE:
            # 1. collection and manufacturing, with waiting-time death and progression
            fs[FS.ELAPSED] = 0.0
            is_[IS.ATTEMPT] = 0
            w_death, w_prog = sample_waiting(theta, pkey, cycle)
            fs[FS.W_DEATH] = w_death
            fs[FS.W_PROG] = w_prog
            phase = _MFG_NEXT
        if phase == _MFG_NEXT:
            days, failed, retry = manufacturing_attempt(theta, pkey, cycle, is_[IS.ATTEMPT], source)
            fs[FS.ATT_DAYS] = days
            is_[IS.ATT_FAILED] = failed
            is_[IS.ATT_RETRY] = retry
            t = fs[FS.T]
            fs[FS.REQ_TIME] = t + fs[FS.ELAPSED]
            fs[FS.REQ_DURATION] = days
            fs[FS.REQ_DEADLINE] = min(t + fs[FS.W_DEATH], t + fs[FS.W_PROG], fs[FS.T_DEAD], fs[FS.T_DISEASE])
            is_[IS.PHASE] = _MFG_DONE
            return _MANUFACTURING
        if phase == _MFG_DONE:
            fs[FS.ELAPSED] += wait_days
            fs[FS.ELAPSED] += fs[FS.ATT_DAYS]
            attempts = is_[IS.ATTEMPT] + 1
            if cycle == 0:
                irow[I.MFG_ATTEMPTS] = attempts
            if not is_[IS.ATT_FAILED]:
                is_[IS.OK] = 1
            elif is_[IS.ATT_RETRY] and attempts < int(theta[P.POLICY_MANUFACTURING_MAX_ATTEMPTS]):
                is_[IS.ATTEMPT] = attempts
                phase = _MFG_NEXT
                continue
            else:
                is_[IS.OK] = 0
            # 2. lymphodepletion follows release
            t = fs[FS.T]
            ok = is_[IS.OK] == 1
            t_end_wait = t + fs[FS.ELAPSED] + (theta[P.LYMPHODEPLETION_DAYS] if ok else 0.0)
            w_death = fs[FS.W_DEATH]
            w_prog = fs[FS.W_PROG]
            alive_until = min(fs[FS.T_DEAD], fs[FS.T_DISEASE])
            if t + w_death < t_end_wait and w_death <= w_prog:
                if t + w_death < alive_until:
                    _die(fs, is_, t + w_death, codes.BEFORE_INFUSION)
                phase = _FINISH
            elif alive_until <= t_end_wait and alive_until <= t + w_prog:
                phase = _FINISH
            elif t + w_prog < t_end_wait or not ok:
                t_fail = min(t + w_prog, t_end_wait)
                fs[FS.T_EFS] = min(fs[FS.T_EFS], t_fail)
                if fs[FS.T_DISEASE] == _INF:
                    fs[FS.T_DISEASE] = t_fail + salvage_days(theta, pkey, cycle)
                phase = _FINISH
            else:
                # 3. infusion; 4-6. CRS, ICANS, acute GVHD
                t_inf = t_end_wait
                fs[FS.T_INF] = t_inf
                if t_inf <= horizon_days:
                    is_[IS.N_INF] += 1
                crs_g, crs_on, crs_dur, crs_dies = sample_crs(theta, pkey, cycle)
                icans_g, icans_on, icans_dur, icans_dies = sample_icans(theta, pkey, cycle, crs_g, crs_on)
                gvhd_g, gvhd_on, gvhd_delay = sample_gvhd(theta, pkey, cycle, source)
                if crs_dies:
                    _die(fs, is_, t_inf + crs_on + crs_dur, codes.CRS)
                if icans_dies:
                    _die(fs, is_, t_inf + icans_on + icans_dur, codes.ICANS)
                if gvhd_delay < _INF:
                    _die(fs, is_, t_inf + gvhd_on + gvhd_delay, codes.GVHD)
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
                    _die(fs, is_, t_inf + nrm_days(theta, pkey, gvhd_g >= 3), codes.OTHER_NRM)
                phase = _RESPONSE
                icu_days, admit, discharge = icu_episode(crs_g, crs_on, crs_dur, icans_g, icans_on, icans_dur)
                if t_inf <= horizon_days:  # an infusion after the horizon is not observed
                    fs[FS.ICU] += icu_days
                if icu_days > 0.0:
                    fs[FS.REQ_TIME] = t_inf + admit
                    fs[FS.REQ_DURATION] = discharge - admit
                    fs[FS.REQ_DEADLINE] = min(fs[FS.T_DEAD], fs[FS.T_DISEASE])
                    is_[IS.PHASE] = _RESPONSE
                    return _ICU_REQ
        if phase == _RESPONSE:
            # 7. response at the assessment day
            t_inf = fs[FS.T_INF]
            t_resp = t_inf + assessment
            fs[FS.T_RESP] = t_resp
            if min(fs[FS.T_DEAD], fs[FS.T_DISEASE]) <= t_resp:
                phase = _FINISH
            else:
                target = is_[IS.TARGET]
                resp = sample_response(theta, pkey, cycle, target, int(irow[I.PRIOR_CART]) + cycle + 1,
                                       int(irow[I.RELAPSE_SITE]), int(irow[I.HIGH_RISK]), source,
                                       int(irow[I.DECITABINE_LD]))
                is_[IS.RESP] = resp
                if cycle == 0:
                    irow[I.RESPONSE] = resp
                    if resp == codes.NO_RESPONSE:
                        fs[FS.T_EFS] = t_resp
                if t_resp <= horizon_days:
                    is_[IS.BEST] = max(is_[IS.BEST], resp)
                if resp == codes.NO_RESPONSE:
                    if fs[FS.T_DISEASE] == _INF:
                        fs[FS.T_DISEASE] = t_resp + salvage_days(theta, pkey, cycle)
                    again, next_target = sample_reinfusion(theta, pkey, cycle, False, False, target)
                    if again and cycle + 1 < max_infusions:
                        fs[FS.T] = t_resp
                        is_[IS.TARGET] = next_target
                        is_[IS.CYCLE] = cycle + 1
                        phase = _CYCLE
                        continue
                    phase = _FINISH
                else:
                    fs[FS.T_DISEASE] = _INF  # in remission again
                    # 8. consolidation
                    cons, hsct_days, trm_dies, trm_days = sample_consolidation(theta, pkey, cycle,
                                                                               int(irow[I.PRIOR_HSCT]))
                    is_[IS.CONS] = cons
                    is_[IS.TRM_DIES] = trm_dies
                    fs[FS.TRM_DAYS] = trm_days
                    fs[FS.T_HSCT] = t_inf + hsct_days
                    if cons == codes.HSCT:
                        # relapse before the transplant does not depend on it: the deadline
                        status, rel_days, _ = _remission(theta, pkey, irow, is_, cycle, _INF)
                        relapse = t_resp + rel_days if status != 1 else _INF
                        fs[FS.REQ_TIME] = fs[FS.T_HSCT]
                        fs[FS.REQ_DURATION] = theta[P.HSCT_INPATIENT_DAYS]
                        fs[FS.REQ_DEADLINE] = min(relapse, fs[FS.T_DEAD])
                        is_[IS.PHASE] = _HSCT_DONE
                        return _TRANSPLANT_REQ
                    phase = _HSCT_DONE
                    wait_days = 0.0
        if phase == _HSCT_DONE:
            # 9. remission: mixture cure, relapse competing with death
            cons = is_[IS.CONS]
            t_resp = fs[FS.T_RESP]
            if cons == codes.HSCT:
                fs[FS.T_HSCT] += wait_days
                switch = fs[FS.T_HSCT] - t_resp
            elif cons == codes.NO_CONSOLIDATION:
                switch = _INF
            else:
                switch = 0.0
            t_hsct = fs[FS.T_HSCT]
            status, rel_days, antigen_neg = _remission(theta, pkey, irow, is_, cycle, switch)
            if status == 2 and rel_days >= switch and (cons != codes.HSCT or t_hsct < fs[FS.T_DEAD]):
                rel_days = _INF  # cured by a consolidation that took place
            t_rel = t_resp + rel_days
            hsct_done = cons == codes.HSCT and t_hsct < t_rel and t_hsct < fs[FS.T_DEAD]
            if hsct_done and is_[IS.TRM_DIES]:
                _die(fs, is_, t_hsct + fs[FS.TRM_DAYS], codes.TRANSPLANT)
            n_rel = is_[IS.N_REL]
            if not is_[IS.FIRST_CR_SEEN]:
                is_[IS.FIRST_CR_SEEN] = 1
                if cons != codes.HSCT or hsct_done:
                    irow[I.CONSOLIDATION] = cons
                if hsct_done:
                    frow[F.T_HSCT_DAYS] = t_hsct
                irow[I.CURED] = 1 if rel_days == _INF else 0
            if t_rel >= fs[FS.T_DEAD]:
                phase = _FINISH
            else:
                # 10. relapse: re-infusion or salvage
                if not is_[IS.RELAPSE_SEEN]:
                    is_[IS.RELAPSE_SEEN] = 1
                    fs[FS.T_EFS] = min(fs[FS.T_EFS], t_rel)
                    frow[F.T_RELAPSE_DAYS] = t_rel
                    irow[I.RELAPSE_ANTIGEN] = codes.ANTIGEN_NEGATIVE if antigen_neg else codes.ANTIGEN_POSITIVE
                if t_rel <= horizon_days:
                    is_[IS.N_REL] = n_rel + 1
                fs[FS.T_DISEASE] = t_rel + salvage_days(theta, pkey, cycle)
                again, next_target = sample_reinfusion(theta, pkey, cycle, True, antigen_neg, is_[IS.TARGET])
                if again and cycle + 1 < max_infusions:
                    fs[FS.T] = t_rel
                    is_[IS.TARGET] = next_target
                    is_[IS.CYCLE] = cycle + 1
                    phase = _CYCLE
                    continue
                phase = _FINISH
        if phase == _FINISH:
            _finish(horizon_days, frow, irow, fs, is_, assessment)
            is_[IS.PHASE] = _FINISH
            return _DONE


@nb.njit(inline="always", cache=True)
def _remission(theta: np.ndarray, pkey: np.uint64, irow: np.ndarray, is_: np.ndarray, cycle: int,
               switch: float):
    return sample_remission(theta, pkey, cycle, is_[IS.RESP], is_[IS.TARGET], int(irow[I.CELL_SOURCE]),
                            int(irow[I.HIGH_RISK]), int(irow[I.EARLY_RELAPSE]), int(irow[I.DECITABINE_LD]),
                            is_[IS.CONS], switch)


@nb.njit(cache=True)
def _finish(horizon_days: float, frow: np.ndarray, irow: np.ndarray, fs: np.ndarray, is_: np.ndarray,
            assessment_day: float) -> None:
    """Leukaemia death competes with the others; then stage 11 (``record.finish``)."""
    _die(fs, is_, fs[FS.T_DISEASE], codes.DISEASE)
    finish(frow, irow, fs[FS.T_DEAD], is_[IS.CAUSE], fs[FS.T_EFS], fs[FS.ICU], is_[IS.N_INF], is_[IS.BEST],
           is_[IS.N_REL], horizon_days, assessment_day)


@nb.njit(cache=True)
def walk_unlimited(theta: np.ndarray, pkey: np.uint64, horizon_days: float, frow: np.ndarray,
                   irow: np.ndarray, fs: np.ndarray, is_: np.ndarray) -> None:
    """The whole pathway with every request granted at once. Must equal the kernel's
    straight-line ``simulate_patient`` bit for bit (tests/test_engines.py)."""
    is_[IS.PHASE] = _START
    while advance(theta, pkey, horizon_days, frow, irow, fs, is_, 0.0) != _DONE:
        pass
