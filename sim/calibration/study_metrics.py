"""Simulating a published study and computing its reported statistics.

A study-replication scenario (``scenarios/studies/``) is simulated by the kernel; its
infused patients get the study's administrative censoring (``[study]`` follow-up
spread), and every target statistic is computed

* on all simulated patients pooled (one "row"): the model's value for a likelihood, or
* on consecutive pseudo-cohorts of the study's size (one row each): the spread a study
  of that size and follow-up would show, for posterior-predictive checks and synthetic
  likelihoods.

Times are days from the infusion the study reports (the first in the programme).
Each patient's censoring time is drawn from a stream keyed by (seed, study id) and the
patient's index, so it is the same for every parameter set (common random numbers).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.calibration.targets import CONTRASTS, LANDMARKS, MEDIANS, PROPORTIONS, CalibrationTarget, Study
from sim.engine.kernel import run_kernel
from sim.model.outputs import F, I
from sim.model.parameters import P
from sim.model.states import Consolidation, Response
from sim.outcomes.curves import curve_from_blocks
from sim.stats.weighted import Layout, estimate_rows

#: the kernel runs this long past the longest follow-up, so that late infusions
#: (manufacturing, retries) still have their full follow-up
HORIZON_MARGIN_DAYS = 400.0
#: a censored "time" that never counts as an event
NEVER = np.inf


@dataclass(frozen=True)
class StudyPatients:
    """Infused patients of a simulated study with censored endpoints (days from infusion)."""

    target: np.ndarray
    source: np.ndarray
    consolidation: np.ndarray
    cr: np.ndarray  # bool
    flags: dict[str, np.ndarray]  # proportion metrics -> bool per patient
    os: tuple[np.ndarray, np.ndarray]  # (time, event)
    efs: tuple[np.ndarray, np.ndarray]
    lfs: tuple[np.ndarray, np.ndarray]  # meaningful for CR patients
    cir: tuple[np.ndarray, np.ndarray]  # (time, cause: 0 censored, 1 relapse, 2 death in remission)
    cr_duration_days: np.ndarray  # from the day-28 assessment to relapse, death or cut-off
    masks: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.target)


_CENSORING_CACHE: dict[tuple[str, object, int, int], np.ndarray] = {}


def _censoring_cached(study: Study, seed: int, n: int) -> np.ndarray:
    key = (study.study_id, study.scenario.study, seed, n)
    if key not in _CENSORING_CACHE:
        if len(_CENSORING_CACHE) > 256:
            _CENSORING_CACHE.clear()
        out = censoring_days(study, seed, n)
        out.setflags(write=False)
        _CENSORING_CACHE[key] = out
    return _CENSORING_CACHE[key]


def censoring_days(study: Study, seed: int, n: int) -> np.ndarray:
    """Administrative follow-up of patients 0..n-1 (a prefix-stable stream)."""
    design = study.scenario.study
    assert design is not None
    rng = np.random.Generator(np.random.Philox(key=[seed, zlib.crc32(f"censoring:{study.study_id}".encode())]))
    u = rng.random(n)
    lo, hi = design.followup_min_days, design.followup_max_days
    if design.followup_spread == "loguniform":
        return np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
    return lo + u * (hi - lo)


def simulate_study(study: Study, theta: np.ndarray, n_patients: int, seed: int, threads: int | None = None
                   ) -> StudyPatients:
    """Simulate ``n_patients`` of the study's scenario with parameters ``theta`` and
    return its infused patients with censored endpoints."""
    design = study.scenario.study
    assert design is not None
    horizon = design.followup_max_days + HORIZON_MARGIN_DAYS
    fout, iout = run_kernel(theta, seed, n_patients, horizon, threads=threads)
    cens = _censoring_cached(study, seed, n_patients)  # the same for every parameter set
    t_inf = fout[:, F.T_INF_DAYS].astype(np.float64)
    keep = ~np.isnan(t_inf)
    i8 = iout[keep]
    t0 = t_inf[keep]
    row_of = np.cumsum(keep) - 1  # record row -> infused patient
    # the kernel's horizon censors too
    c = np.minimum(cens[keep], fout[keep, F.T_LAST_DAYS].astype(np.float64) - t0)

    def censored(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, event, code) of a curve of sim.outcomes.curves with the study's follow-up;
        patients outside its population keep time 0, no event."""
        pid, t, code = curve_from_blocks(fout, iout, name)
        rows = row_of[pid]
        time = np.zeros(len(t0))
        cause = np.zeros(len(t0), np.int64)
        seen = (code > 0) & (t <= c[rows])
        time[rows] = np.where(seen, t, c[rows])
        cause[rows] = np.where(seen, code, 0)
        return time, cause > 0, cause

    response = i8[:, I.RESPONSE]
    cr = response >= Response.CR_MRD_POS
    os_ = censored("os")[:2]
    efs = censored("efs")[:2]
    lfs = censored("lfs")[:2]
    cir_time, _, cause = censored("cir")
    assess = float(theta[P.RESPONSE_ASSESSMENT_DAY])  # remission is dated at the response assessment
    t_rel = fout[keep, F.T_RELAPSE_DAYS].astype(np.float64)
    relapse_seen = ~np.isnan(t_rel) & (t_rel - t0 <= c)  # any relapse, after a CR of any infusion
    consolidation = i8[:, I.CONSOLIDATION].astype(np.int64)
    flags = {
        "cr": cr,
        "mrd_neg_cr": response == Response.CR_MRD_NEG,
        "crs_any": i8[:, I.CRS_GRADE] >= 1,
        "crs_g2plus": i8[:, I.CRS_GRADE] >= 2,
        "crs_g3plus": i8[:, I.CRS_GRADE] >= 3,
        "icans_any": i8[:, I.ICANS_GRADE] >= 1,
        "icans_g2plus": i8[:, I.ICANS_GRADE] >= 2,
        "icans_g3plus": i8[:, I.ICANS_GRADE] >= 3,
        "agvhd_any": i8[:, I.GVHD_GRADE] >= 1,
        "agvhd_g2plus": i8[:, I.GVHD_GRADE] >= 2,
        "agvhd_g3plus": i8[:, I.GVHD_GRADE] >= 3,
        "hsct_consolidation": consolidation == Consolidation.HSCT,
        "decitabine_consolidation": consolidation == Consolidation.DECITABINE,
        "relapse_observed": relapse_seen,
        "reinfused": i8[:, I.N_INFUSIONS] >= 2,  # by the end of the run, not the patient's cut-off
        "early_relapse": i8[:, I.EARLY_RELAPSE] == 1,
    }
    return StudyPatients(
        target=i8[:, I.TARGET].astype(np.int64), source=i8[:, I.CELL_SOURCE].astype(np.int64),
        consolidation=consolidation, cr=cr, flags=flags, os=os_, efs=efs, lfs=lfs,
        cir=(cir_time, cause), cr_duration_days=np.maximum(lfs[0] - assess, 0.0))


# ----------------------------------------------------------------- estimates per row
_AT = Layout(1)


def _km_rows(time: np.ndarray, event: np.ndarray, mask: np.ndarray, landmark: float) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival at ``landmark`` (days) and median (inf if not reached) of each
    row's masked entries, by the one compiled estimator (:func:`sim.stats.weighted.estimate_rows`):
    NaN for a row without entries, and a landmark NaN beyond the row's data."""
    out = _rows_estimates(time, event, mask, landmark)
    return out[:, _AT.survival.start], out[:, _AT.median]


def _cif_rows(time: np.ndarray, cause: np.ndarray, mask: np.ndarray, landmark: float) -> np.ndarray:
    """Aalen-Johansen cumulative incidence of cause 1 at ``landmark`` (days) of each row;
    NaN for a row without entries or whose data end before ``landmark``."""
    return _rows_estimates(time, cause, mask, landmark)[:, _AT.cif1.start]


def _rows_estimates(time: np.ndarray, code: np.ndarray, mask: np.ndarray, landmark: float) -> np.ndarray:
    return estimate_rows(np.ascontiguousarray(time, np.float64), np.ascontiguousarray(code, np.int8),
                         np.ascontiguousarray(mask, np.bool_), np.array([landmark]), landmark, False)


# ----------------------------------------------------------------- statistics of a target
def _in(codes: np.ndarray, allowed: tuple[int, ...]) -> np.ndarray:
    """Membership of small non-negative codes by a lookup table (np.isin sorts: it was
    half the time of the study statistics)."""
    table = np.zeros(max(int(codes.max(initial=0)), *allowed, 0) + 1, bool)
    table[list(allowed)] = True
    return table[codes]


def _filter_mask(p: StudyPatients, filters: dict[str, tuple[int, ...]]) -> np.ndarray:
    """Patients matching every filter; computed once per study and filter (targets share them)."""
    key = tuple((name, tuple(codes)) for name, codes in sorted(filters.items()))
    if key not in p.masks:
        mask = np.ones(len(p), bool)
        arrays = {"target": p.target, "source": p.source, "consolidation": p.consolidation}
        for name, codes in filters.items():
            mask &= _in(arrays[name], codes)
        p.masks[key] = mask
    return p.masks[key]


def _rate_contrast(flag: np.ndarray, a: np.ndarray, b: np.ndarray, odds_ratio: bool) -> np.ndarray:
    """Per row: the rate in group a minus that in b, or the odds ratio a vs b with half a
    patient added to each cell (Haldane), so that a zero cell gives a finite ratio."""
    ya, yb = (flag & a).sum(1), (flag & b).sum(1)
    na, nb = a.sum(1), b.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if odds_ratio:
            ratio = ((ya + 0.5) / (na - ya + 0.5)) / ((yb + 0.5) / (nb - yb + 0.5))
            return np.where((na > 0) & (nb > 0), ratio, np.nan)
        return ya / na - yb / nb


def _rows(index: np.ndarray, size: int | None) -> np.ndarray:
    """Patient indices laid out in rows: one row of all (size None) or consecutive
    pseudo-cohorts of ``size`` (a trailing partial cohort is dropped)."""
    if size is None:
        return index.reshape(1, -1)
    k = index.size // size
    return index[: k * size].reshape(k, size)


def _endpoint(p: StudyPatients, metric: str) -> tuple[np.ndarray, np.ndarray]:
    name = metric.removesuffix("_at").removesuffix("_median").removesuffix("_at_diff")
    return {"os": p.os, "efs": p.efs, "lfs": p.lfs}[name]


def statistic(target: CalibrationTarget, p: StudyPatients, cohort_size: int | None) -> np.ndarray:
    """The target's statistic per row: pooled over all patients (``cohort_size`` None)
    or per pseudo-cohort of ``cohort_size`` eligible patients."""
    eligible = p.cr.copy() if target.population == "cr" else np.ones(len(p), bool)
    metric = target.statistic
    if metric in CONTRASTS:
        rows = _rows(np.flatnonzero(eligible), cohort_size)
        a = _filter_mask(p, target.groups[0])[rows]
        b = _filter_mask(p, target.groups[1])[rows]
        if metric.removesuffix("_diff").removesuffix("_or") in p.flags:
            flag = p.flags[metric.removesuffix("_diff").removesuffix("_or")][rows]
            return _rate_contrast(flag, a, b, odds_ratio=metric.endswith("_or"))
        t, e = _endpoint(p, metric)
        landmark = float(target.landmark_days or 0.0)
        sa, _ = _km_rows(t[rows], e[rows].astype(np.int64), a, landmark)
        sb, _ = _km_rows(t[rows], e[rows].astype(np.int64), b, landmark)
        return sa - sb
    if target.subgroup:
        eligible &= _filter_mask(p, target.subgroup)
    rows = _rows(np.flatnonzero(eligible), cohort_size)
    if rows.size == 0:
        return np.full(rows.shape[0], np.nan)
    if metric in PROPORTIONS:
        return p.flags[metric][rows].mean(1)
    full = np.ones(rows.shape, bool)
    if metric == "cir_at":
        t, cause = p.cir
        return _cif_rows(t[rows], cause[rows], full, float(target.landmark_days or 0.0))
    if metric in LANDMARKS:
        t, e = _endpoint(p, metric)
        return _km_rows(t[rows], e[rows].astype(np.int64), full, float(target.landmark_days or 0.0))[0]
    if metric in MEDIANS:
        t, e = _endpoint(p, metric)
        return _km_rows(t[rows], e[rows].astype(np.int64), full, 0.0)[1]
    if metric == "cr_duration_median":
        return np.median(p.cr_duration_days[rows], axis=1)
    if metric == "cr_duration_min":
        return p.cr_duration_days[rows].min(1)
    if metric == "cr_duration_max":
        return p.cr_duration_days[rows].max(1)
    raise ValueError(f"no statistic for metric {metric!r}")


def cohort_size(target: CalibrationTarget, study: Study) -> int:
    """Patients in one pseudo-cohort of ``target``: the number the study computed it on
    (``n``), else the study's infused count."""
    return target.n if target.n is not None else study.n_infused
