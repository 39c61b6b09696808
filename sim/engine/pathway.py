"""The pathway: one patient's walk through the stages, written once and run by both engines.

:func:`walk` is straight-line compiled code calling the per-stage samplers of
``stages``. Every draw has its own address (patient key, decision, infusion cycle,
block), so the walk is a pure function of (``theta``, patient key, horizon, the waits
granted so far): it keeps no state between calls and can be replayed from the start.

Resource requests. A patient makes requests in a fixed order; the k-th request is
answered by ``waits[k]`` (days):

* ``MANUFACTURING``: a manufacturing slot for one attempt, from ``Slot.TIME`` for
  ``Slot.DURATION`` days. The wait adds to the manufacturing time. A patient still
  queued at ``Slot.DEADLINE`` (death, progression, background death) leaves the queue:
  wait ``inf``.
* ``ICU``: an ICU bed from ``Slot.TIME`` for ``Slot.DURATION`` days (first admission to
  last discharge of the grade >= 3 CRS and ICANS episodes). The wait changes nothing
  in the pathway (a simplification: overflow is recorded, not punished).
* ``TRANSPLANT``: a transplant bed from ``Slot.TIME`` for ``Slot.DURATION`` days. A wait
  postpones the transplant and its effect on relapse; relapse or death at
  ``Slot.DEADLINE`` cancels it: wait ``inf``.

Two modes, one code path:

* unlimited (``waits`` and ``request`` None; the kernel, :func:`simulate_patient`):
  every wait is 0 and the walk never stops. :func:`walk` is inlined into
  :func:`simulate_patient`, where the request code is pruned at compile time (a
  branch on a value that is None is decided by numba), so the kernel pays nothing for
  the replay mode (measured: without the inlining the kernel ran ~3.5% slower);
* replay (``waits`` an array, the SimPy engine): requests ``k < n_known`` use
  ``waits[k]``; at the first request ``k >= n_known`` the walk writes (time, duration,
  deadline) into ``request`` and returns the request's code. The engine queues, appends
  the wait it got and replays the walk from the start. ``DONE`` means the record in
  ``frow``/``irow`` is complete. A request whose deadline is not after its time is not
  made: the engine answers it with ``inf`` (manufacturing, transplant) or 0 (ICU).

With every wait 0 a replay gives exactly the unlimited walk's record, which is why the
SimPy engine with unlimited capacity reproduces the kernel patient by patient.

Times are days from the patient's decision to treat (t = 0). Competing events: every
latent death time drawn so far is kept as the earliest candidate ``t_dead``; a later
stage happens only if it comes before it.

Failures. The first failure (no product, non-response, relapse) draws the latent death
from leukaemia from the survival of its type (``stages.salvage_days``: never infused,
primary refractory, relapse within ``salvage.early_relapse_days`` of the infusion that
gave the remission, later relapse); a re-infusion keeps that clock, a new CR clears it.
A re-infusion's response depends on why the previous infusion failed (non-response, or
a relapse that lost the antigen of a product with the same target).

Strategy. ``policy.cart`` false is the comparator without CAR-T: no infusion cycle is
entered; each patient's survival is their salvage regimen's intention-to-treat survival
(``stages.standard_care``), with a transplant recorded for its longest survivors.

Simplifications (they live here): ICU days are the union of the grade >= 3 CRS and
ICANS episodes (CRS as managed by policy, ``stages.manage_crs``); the non-relapse-
mortality clock starts at the first infusion (a smooth, decaying hazard) and its GVHD
effect uses the first infusion's GVHD; a patient re-infused after relapse keeps the
first CR's consolidation record; a non-response to a re-infusion keeps the leukaemia
clock of the failure before it (its type is not redrawn); under standard care event-free survival is
overall survival (no remission sub-model for salvage), the transplant does not change
survival (the regimens' survival already includes their transplants) and death from any
cause but background mortality is recorded as leukaemia.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numba as nb
import numpy as np

from sim.engine import codes, economy
from sim.engine.record import finish
from sim.engine.stages import (
    background_death_days,
    icu_episode,
    manage_crs,
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
    standard_care,
)
from sim.model.outputs import F, I
from sim.model.parameters import P
from sim.model.states import SalvageRegimen

_INF = math.inf
_NAN = math.nan


class Request(IntEnum):
    """What :func:`walk` returns: the resource it stopped at, or DONE."""

    DONE = 0
    MANUFACTURING = 1
    ICU = 2
    TRANSPLANT = 3


class Slot(IntEnum):
    """Slots of the ``request`` array (days from the patient's decision to treat)."""

    TIME = 0
    DURATION = 1
    DEADLINE = 2


N_SLOTS = len(Slot)
# plain ints for compiled code (see sim.engine.codes)
_DONE, _MANUFACTURING, _ICU, _TRANSPLANT = (int(r) for r in Request)
_TIME, _DURATION, _DEADLINE = (int(s) for s in Slot)
_BLINATUMOMAB = int(SalvageRegimen.BLINATUMOMAB)


def max_requests(theta: np.ndarray) -> int:
    """Upper bound on one patient's requests: per infusion cycle every manufacturing
    attempt, one ICU stay and one transplant."""
    return int(theta[P.POLICY_MAX_INFUSIONS]) * (int(theta[P.POLICY_MANUFACTURING_MAX_ATTEMPTS]) + 2)


@nb.njit(cache=True, inline="always")
def walk(theta: np.ndarray, pkey: np.uint64, horizon_days: float, frow: np.ndarray, irow: np.ndarray,
         waits: np.ndarray, n_known: int, request: np.ndarray,
         econ: np.ndarray = None, erow: np.ndarray = None) -> int:  # type: ignore[assignment]  # None: see above
    """Walk the patient whose stream key is ``pkey`` (``rng.patient_key``), writing its
    record into ``frow`` (float32) and ``irow`` (int8); returns a ``Request`` code.

    ``waits`` None: unlimited resources, returns DONE. Otherwise the first ``n_known``
    requests wait ``waits[k]`` days and the walk stops at the next one, written into
    ``request`` (see the module docstring). With ``econ`` (economic inputs) and
    ``erow`` (float64, ``outputs.E``) the walk also accumulates costs, life-years and
    QALYs (``economy``); None (the default) removes that code at compile time.
    """
    k = 0  # requests made so far
    age, site, prior_hsct, prior_cart, high_risk, early, male = sample_covariates(theta, pkey)
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
    e_state, e_start = 0, 0.0  # economic health state and its start (used only with erow)
    if erow is not None:
        e_state, e_start = economy.begin(erow)

    t_dead = background_death_days(theta, pkey, age, male)
    cause = codes.OTHER_NRM
    # the comparator without CAR-T: no infusion cycle at all
    max_infusions = int(theta[P.POLICY_MAX_INFUSIONS]) if theta[P.POLICY_CART] > 0.5 else 0
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
    early_days = theta[P.SALVAGE_EARLY_RELAPSE_DAYS]
    # why the previous infusion failed (sets the next one's response): non-response, or
    # a relapse that lost the previous product's antigen; and that product's target
    after_nonresponse = False
    antigen_lost = False
    last_target = target
    # the salvage regimen priced at the end (CAR-T); negative: already charged
    e_salvage = _BLINATUMOMAB
    if max_infusions == 0:
        regimen, t_disease, t_hsct = standard_care(theta, pkey, prior_hsct)
        if erow is not None:
            economy.salvage(econ, erow, regimen, 0.0, horizon_days)
            e_salvage = -1
        if t_hsct < t_dead:
            frow[F.T_HSCT_DAYS] = t_hsct
            if erow is not None:
                e_state, e_start = economy.remission(econ, erow, e_state, e_start, codes.HSCT, True, t_hsct,
                                                     t_hsct, t_hsct, age, horizon_days)
    cycle = 0
    while cycle < max_infusions:
        # 1. collection and manufacturing, with waiting-time death and progression
        w_death, w_prog = sample_waiting(theta, pkey, cycle)
        mfg_days = 0.0  # waits included
        ok = False
        attempts = 0
        for attempt in range(max_attempts):
            days, failed, retry = manufacturing_attempt(theta, pkey, cycle, attempt, source)
            if waits is not None:
                if k >= n_known:
                    request[_TIME] = t + mfg_days
                    request[_DURATION] = days
                    request[_DEADLINE] = min(t + w_death, t + w_prog, t_dead, t_disease)
                    return _MANUFACTURING
                mfg_days += waits[k]
                k += 1
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
                t_disease = t_fail + salvage_days(theta, pkey, cycle, codes.NOT_INFUSED)
            break
        # 3. infusion
        t_inf = t_end_wait
        if t_inf <= horizon_days:
            n_inf += 1
        if erow is not None:
            e_state, e_start = economy.infusion(econ, erow, e_state, e_start, t, t_inf, ld_days, source, age,
                                                horizon_days)
        # 4-6. CRS and its management by policy, ICANS, acute GVHD
        crs_g, crs_on, crs_dur, crs_dies = sample_crs(theta, pkey, cycle)
        # ICANS risk follows the CRS grade the patient was heading for (manage_crs)
        crs_peak, crs_dur, crs_dies, toci_day, steroid_day = manage_crs(theta, pkey, cycle, crs_g, crs_on, crs_dur,
                                                                        crs_dies)
        icans_g, icans_on, icans_dur, icans_dies = sample_icans(theta, pkey, cycle, crs_g, crs_on, toci_day,
                                                                steroid_day)
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
        icu_days, admit, discharge = icu_episode(crs_peak, crs_on, crs_dur, icans_g, icans_on, icans_dur)
        if t_inf <= horizon_days:  # an infusion after the horizon is not observed
            icu += icu_days
        if cycle == 0:
            frow[F.T_INF_DAYS] = t_inf
            irow[I.CRS_GRADE] = crs_peak
            irow[I.ICANS_GRADE] = icans_g
            irow[I.GVHD_GRADE] = gvhd_g
            if crs_peak > 0:
                frow[F.CRS_ONSET_DAYS] = crs_on
                frow[F.CRS_DURATION_DAYS] = crs_dur
            if toci_day < _INF:
                irow[I.TOCILIZUMAB] = 1
                frow[F.TOCILIZUMAB_DAY] = toci_day
            if steroid_day < _INF:
                irow[I.STEROIDS] = 1
                frow[F.STEROIDS_DAY] = steroid_day
            if icans_g > 0:
                frow[F.ICANS_ONSET_DAYS] = icans_on
                frow[F.ICANS_DURATION_DAYS] = icans_dur
            if gvhd_g > 0:
                frow[F.GVHD_ONSET_DAYS] = gvhd_on
            t_nrm = t_inf + nrm_days(theta, pkey, gvhd_g >= 3)
            if t_nrm < t_dead:
                t_dead = t_nrm
                cause = codes.OTHER_NRM
        if erow is not None:
            economy.toxicity(econ, erow, t_inf, crs_peak, crs_on, crs_dur, icans_g, icans_on, icans_dur, gvhd_g,
                             gvhd_on, icu_days, admit, toci_day, steroid_day, min(t_dead, t_disease), horizon_days)
        if waits is not None:
            if icu_days > 0.0 and k >= n_known:
                request[_TIME] = t_inf + admit
                request[_DURATION] = discharge - admit
                request[_DEADLINE] = min(t_dead, t_disease)
                return _ICU
            if icu_days > 0.0:
                k += 1  # the wait does not change the pathway
        # 7. response at the assessment day
        t_resp = t_inf + assessment
        if min(t_dead, t_disease) <= t_resp:
            break
        resp = sample_response(theta, pkey, cycle, target, prior_cart + cycle + 1,
                               site, high_risk, source, dac, after_nonresponse, antigen_lost and target == last_target)
        if cycle == 0:
            irow[I.RESPONSE] = resp
            if resp == codes.NO_RESPONSE:
                t_efs = t_resp
        if t_resp <= horizon_days:
            best = max(best, resp)
        if erow is not None:
            e_state, e_start = economy.transition(econ, erow, e_state, e_start, economy.DISEASE if
                                                  resp == codes.NO_RESPONSE else economy.REMISSION, t_resp, age,
                                                  horizon_days)
        if resp == codes.NO_RESPONSE:
            if t_disease == _INF:
                t_disease = t_resp + salvage_days(theta, pkey, cycle, codes.REFRACTORY)
            again, next_target = sample_reinfusion(theta, pkey, cycle, False, False, target)
            if again and cycle + 1 < max_infusions:
                t = t_resp
                after_nonresponse, antigen_lost, last_target = True, False, target
                target = next_target
                cycle += 1
                continue
            break
        t_disease = _INF  # in remission again
        # 8. consolidation
        cons, hsct_days, trm_dies, trm_days = sample_consolidation(theta, pkey, cycle, prior_hsct)
        t_hsct = t_inf + hsct_days
        if cons == codes.HSCT:
            if waits is not None:
                if k >= n_known:
                    # relapse before the transplant does not depend on it: the deadline
                    status, rel_days, _ = sample_remission(theta, pkey, cycle, resp, target, source, high_risk,
                                                           early, dac, cons, _INF)
                    request[_TIME] = t_hsct
                    request[_DURATION] = theta[P.HSCT_INPATIENT_DAYS]
                    request[_DEADLINE] = min(t_resp + rel_days if status != 1 else _INF, t_dead)
                    return _TRANSPLANT
                t_hsct += waits[k]
                k += 1
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
        if erow is not None:
            e_state, e_start = economy.remission(econ, erow, e_state, e_start, cons, hsct_done, t_hsct, t_resp,
                                                 min(t_rel, t_dead), age, horizon_days)
        if not first_cr_seen:
            first_cr_seen = True
            if cons != codes.HSCT or hsct_done:
                irow[I.CONSOLIDATION] = cons
            if hsct_done:
                frow[F.T_HSCT_DAYS] = t_hsct
            irow[I.CURED] = 1 if rel_days == _INF else 0
        if t_rel >= t_dead:
            break
        if erow is not None:
            e_state, e_start = economy.transition(econ, erow, e_state, e_start, economy.DISEASE, t_rel, age,
                                                  horizon_days)
        # 10. relapse: re-infusion or salvage
        if not relapse_seen:
            relapse_seen = True
            t_efs = min(t_efs, t_rel)
            frow[F.T_RELAPSE_DAYS] = t_rel
            irow[I.RELAPSE_ANTIGEN] = codes.ANTIGEN_NEGATIVE if antigen_neg else codes.ANTIGEN_POSITIVE
        if t_rel <= horizon_days:
            n_rel += 1
        failure = codes.EARLY_RELAPSE if t_rel - t_inf < early_days else codes.LATE_RELAPSE
        t_disease = t_rel + salvage_days(theta, pkey, cycle, failure)
        again, next_target = sample_reinfusion(theta, pkey, cycle, True, antigen_neg, target)
        if again and cycle + 1 < max_infusions:
            t = t_rel
            after_nonresponse, antigen_lost, last_target = False, antigen_neg, target
            target = next_target
            cycle += 1
            continue
        break

    if t_disease < t_dead:
        t_dead = t_disease
        cause = codes.DISEASE
    if erow is not None:
        economy.end(econ, erow, e_state, e_start, t_dead, cause, frow[F.T_INF_DAYS], e_salvage, age,
                    horizon_days)
    # 11. death or censoring at the horizon
    finish(frow, irow, t_dead, cause, t_efs, icu, n_inf, best, n_rel, horizon_days, assessment)
    # a drug is recorded only if given before death and the horizon (a CRS not observed: no drug)
    for flag, day in ((I.TOCILIZUMAB, F.TOCILIZUMAB_DAY), (I.STEROIDS, F.STEROIDS_DAY)):
        if irow[flag] and not (irow[I.CRS_GRADE] > 0 and frow[F.T_INF_DAYS] + frow[day] <= frow[F.T_LAST_DAYS]):
            irow[flag] = 0
            frow[day] = _NAN
    return _DONE


@nb.njit(cache=True)
def simulate_patient(theta: np.ndarray, pkey: np.uint64, horizon_days: float,
                     frow: np.ndarray, irow: np.ndarray) -> None:
    """The whole walk with unlimited resources (every wait 0): the kernel's patient."""
    # None, not an empty array: numba then drops the request code (see the module docstring)
    walk(theta, pkey, horizon_days, frow, irow, None, 0, None)  # type: ignore[arg-type]


@nb.njit(cache=True)
def simulate_patient_economics(theta: np.ndarray, econ: np.ndarray, pkey: np.uint64, horizon_days: float,
                               frow: np.ndarray, irow: np.ndarray, erow: np.ndarray) -> None:
    """:func:`simulate_patient` that also fills the economic row ``erow``."""
    walk(theta, pkey, horizon_days, frow, irow, None, 0, None, econ, erow)  # type: ignore[arg-type]
