"""The end of a patient's walk (``pathway.walk``): death or censoring at the
horizon, and nothing recorded that was not observed by then (or before death)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.engine import codes
from sim.model.outputs import F, I

_NAN = math.nan


@nb.njit(cache=True)
def finish(frow: np.ndarray, irow: np.ndarray, t_dead: float, cause: int, t_efs: float, icu_days: float,
           n_infusions: int, best_response: int, n_relapses: int, horizon_days: float,
           assessment_day: float) -> None:
    """Write stage 11 and mask the unobserved. Counts (infusions, relapses, best
    response) must already include only events up to the horizon. ICU days are not
    truncated at the horizon (a simplification: episodes are days long)."""
    irow[I.N_INFUSIONS] = n_infusions
    irow[I.BEST_RESPONSE] = best_response
    irow[I.N_RELAPSES] = n_relapses
    frow[F.ICU_DAYS] = icu_days
    if t_dead <= horizon_days:
        frow[F.T_DEATH_DAYS] = t_dead
        frow[F.T_LAST_DAYS] = t_dead
        irow[I.DEATH_CAUSE] = cause
    else:
        frow[F.T_LAST_DAYS] = horizon_days
        irow[I.DEATH_CAUSE] = codes.ALIVE
    frow[F.T_EFS_DAYS] = min(t_efs, t_dead)
    for col in (F.T_INF_DAYS, F.T_HSCT_DAYS, F.T_RELAPSE_DAYS, F.T_EFS_DAYS):
        if frow[col] > horizon_days:
            frow[col] = _NAN
    if not frow[F.T_RELAPSE_DAYS] <= horizon_days:
        irow[I.RELAPSE_ANTIGEN] = codes.NO_RELAPSE
    t_inf = frow[F.T_INF_DAYS]
    t_last = frow[F.T_LAST_DAYS]
    if np.isnan(t_inf):  # no infusion by the horizon
        for g in (I.CRS_GRADE, I.ICANS_GRADE, I.GVHD_GRADE, I.RESPONSE, I.CONSOLIDATION, I.CURED):
            irow[g] = 0
        for c in (F.CRS_ONSET_DAYS, F.CRS_DURATION_DAYS, F.ICANS_ONSET_DAYS, F.ICANS_DURATION_DAYS,
                  F.GVHD_ONSET_DAYS):
            frow[c] = _NAN
        return
    # a toxicity starting after death or the horizon was never observed
    if irow[I.CRS_GRADE] > 0 and not t_inf + frow[F.CRS_ONSET_DAYS] <= t_last:
        irow[I.CRS_GRADE] = 0
        frow[F.CRS_ONSET_DAYS] = _NAN
        frow[F.CRS_DURATION_DAYS] = _NAN
    if irow[I.ICANS_GRADE] > 0 and not t_inf + frow[F.ICANS_ONSET_DAYS] <= t_last:
        irow[I.ICANS_GRADE] = 0
        frow[F.ICANS_ONSET_DAYS] = _NAN
        frow[F.ICANS_DURATION_DAYS] = _NAN
    if irow[I.GVHD_GRADE] > 0 and not t_inf + frow[F.GVHD_ONSET_DAYS] <= t_last:
        irow[I.GVHD_GRADE] = 0
        frow[F.GVHD_ONSET_DAYS] = _NAN
    if t_inf + assessment_day > horizon_days:  # first response not assessed by the horizon
        irow[I.RESPONSE] = codes.NOT_EVALUATED
        irow[I.CONSOLIDATION] = codes.NO_CONSOLIDATION
        irow[I.CURED] = 0
    elif irow[I.CONSOLIDATION] == codes.HSCT and np.isnan(frow[F.T_HSCT_DAYS]):
        irow[I.CONSOLIDATION] = codes.NO_CONSOLIDATION  # transplant after the horizon
