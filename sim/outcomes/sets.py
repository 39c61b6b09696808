"""The outcomes of a sweep: one row of scalars (and their Monte Carlo standard errors)
per simulated parameter set, computed by compiled code from the kernel's blocks.

A sweep simulates thousands of parameter sets of ~10,000 patients each, so the full
:func:`sim.outcomes.summary.summarise` (pandas, every interval) would cost more than the
simulation. :func:`reduce_blocks` computes the fixed list :data:`OUTCOMES` (the endpoints
of :mod:`sim.model.endpoints` marked ``sweep``) in one pass over the rates, and each
curve by its one definition (:mod:`sim.outcomes.curves`) and the one compiled estimator
(:mod:`sim.stats.weighted`, a bucket sort and a pass: about 1.75 ms for 10,000 patients (measured 2026-11-25),
against ~5.5 ms to simulate them on one core), as ``summarise`` does;
tests/sweeps/test_sweeps.py checks it against ``summarise`` on the same patients.

Monte Carlo standard errors (the noise of a finite cohort, not parameter uncertainty):
rates, binomial sqrt(p (1 - p) / n); Kaplan-Meier landmarks, Greenwood S sqrt(sum d /
(n (n - d))); restricted mean, the usual estimator sqrt(sum A_i^2 d_i / (n_i (n_i -
d_i))) with A_i the area under the curve from event time i to the horizon of the mean;
medians, the width of the log-log (Brookmeyer-Crowley) 95% interval / (2 x 1.96), NaN
when the interval is open; means, sd / sqrt(n).

No number past the data (:func:`sim.stats.survival.beyond_data`): a landmark or
restricted mean whose time lies beyond the cohort's maximum follow-up (the largest
observed time of that analysis; e.g. ``os_m24`` with ``--horizon-days 730.5``, since
follow-up starts at the infusion) is NaN in the table, with a NaN SE, unless the curve
reached 0; a median not reached is NaN too. The JSON summaries turn NaN into null.

:func:`simulate_sets` runs the kernel's patient walk for many parameter sets and
reduces each set as soon as it is simulated, so memory holds one cohort per thread.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.engine.kernel import KEY_BLOCK, N_FLOAT, N_INT, simulate_patient
from sim.engine.rng import make_key, patient_key
from sim.model.endpoints import DAYS_PER_MONTH, ENDPOINTS, Endpoint
from sim.model.outputs import F, I
from sim.model.parameters import N_THETA
from sim.model.states import Response
from sim.outcomes.curves import EFS, ITT_OS, NRM_CAUSE, OS, curve_data
from sim.stats.weighted import Z95, Layout, estimate_into

#: the outcomes of a sweep, in table order: the endpoints the compiled reduction computes
OUTCOMES: tuple[Endpoint, ...] = tuple(e for e in ENDPOINTS if e.sweep)


def outcome_description(o: Endpoint) -> str:
    """``unit: definition`` of a sweep column, with the table's NaN rule."""
    nan = ("; NaN beyond the follow-up" if o.horizon_days is not None
           else "; NaN when not reached" if o.kind == "median" else "")
    return f"{o.unit}: {o.definition}{nan}"


OUTCOME_NAMES: tuple[str, ...] = tuple(o.name for o in OUTCOMES)
N_OUTCOMES = len(OUTCOMES)
_IX = {name: k for k, name in enumerate(OUTCOME_NAMES)}
# plain ints: numba freezes module-level ints as constants
O_CR, O_MRDNEG, O_CRS, O_CRS3, O_ICANS, O_ICANS3, O_GVHD2, O_INFUSED = (
    _IX[k] for k in ("cr_rate", "mrd_neg_cr_rate", "crs_any", "crs_grade3plus", "icans_any", "icans_grade3plus",
                     "agvhd_grade2plus", "infused_share"))
O_OS6, O_OS12, O_OS24, O_OSMED, O_OSRMST = (
    _IX[k] for k in ("os_m6", "os_m12", "os_m24", "os_median_days", "os_rmst_m24_days"))
O_EFS12, O_EFS24, O_EFSMED = (_IX[k] for k in ("efs_m12", "efs_m24", "efs_median_days"))
O_ITT12, O_ITT24 = _IX["itt_os_m12"], _IX["itt_os_m24"]
O_ICU, O_INF, O_HSCT = _IX["icu_days_per_infused"], _IX["infusions_per_patient"], _IX["hsct_per_patient"]

#: the follow-up (days from the outcome's origin) a landmark or restricted-mean outcome needs
OUTCOME_DAYS: dict[str, float] = {o.name: o.horizon_days for o in OUTCOMES if o.horizon_days is not None}

CR_CODE = int(Response.CR_MRD_POS)
CR_NEG_CODE = int(Response.CR_MRD_NEG)
M24_DAYS = 24 * DAYS_PER_MONTH
_LANDMARKS = np.array([6 * DAYS_PER_MONTH, 12 * DAYS_PER_MONTH, M24_DAYS])
_AT = Layout(len(_LANDMARKS))
_N_LAND, _MED, _RMST, _WIDTH = _AT.n_land, _AT.median, _AT.rmst, _AT.width  # plain ints for numba
_NAN = math.nan


# --------------------------------------------------------------------------------------
# compiled reduction
# --------------------------------------------------------------------------------------
@nb.njit(cache=True, nogil=True)
def _rate(k: int, n: int, out: np.ndarray, se: np.ndarray, j: int) -> None:
    if n == 0:
        out[j] = _NAN
        se[j] = _NAN
        return
    p = k / n
    out[j] = p
    se[j] = math.sqrt(p * (1.0 - p) / n)


@nb.njit(cache=True, nogil=True)
def _mean(total: float, sum_sq: float, n: int, out: np.ndarray, se: np.ndarray, j: int) -> None:
    if n == 0:
        out[j] = _NAN
        se[j] = _NAN
        return
    mean = total / n
    var = max(sum_sq / n - mean * mean, 0.0) * n / max(n - 1, 1)  # sample variance
    out[j] = mean
    se[j] = math.sqrt(var / n)


@nb.njit(cache=True, nogil=True)
def _curve(fout: np.ndarray, iout: np.ndarray, curve: int, pid: np.ndarray, time: np.ndarray, code: np.ndarray,
           row: np.ndarray, out: np.ndarray, se: np.ndarray, slots: np.ndarray) -> None:
    """One curve of :mod:`sim.outcomes.curves` estimated by the one compiled estimator
    into the outcome slots ``slots`` = (6, 12, 24-month landmarks, median, restricted
    mean; -1 = not wanted), each with its Monte Carlo SE (module docstring)."""
    m = curve_data(curve, fout[:, F.T_INF_DAYS], fout[:, F.T_LAST_DAYS], fout[:, F.T_DEATH_DAYS],
                   fout[:, F.T_EFS_DAYS], fout[:, F.T_RELAPSE_DAYS], iout[:, I.RESPONSE], iout[:, I.DEATH_CAUSE],
                   NRM_CAUSE, pid, time, code)
    estimate_into(time, code, m, _LANDMARKS, M24_DAYS, True, row)
    for q in range(3):
        j = slots[q]
        if j >= 0:
            out[j] = row[q]
            se[j] = row[q] * math.sqrt(row[_N_LAND + q])  # Greenwood; NaN past the data
    j = slots[3]
    if j >= 0:
        med, lo, hi = row[_MED], row[_MED + 1], row[_MED + 2]
        out[j] = med if med < math.inf else _NAN
        se[j] = (hi - lo) / (2.0 * Z95) if hi < math.inf and med < math.inf else _NAN
    j = slots[4]
    if j >= 0:
        out[j] = row[_RMST]
        se[j] = math.sqrt(row[_RMST + 1])


@nb.njit(cache=True, nogil=True)
def reduce_blocks(fout: np.ndarray, iout: np.ndarray, out: np.ndarray, se: np.ndarray) -> None:
    """Fill ``out`` and ``se`` (length N_OUTCOMES) from one cohort's kernel blocks."""
    n = fout.shape[0]
    n_inf = 0
    k_cr = k_neg = k_crs = k_crs3 = k_icans = k_icans3 = k_gvhd2 = 0
    k_hsct = 0
    icu_sum = 0.0
    icu_sq = 0.0
    inf_sum = 0.0
    inf_sq = 0.0
    for r in range(n):
        ni = float(iout[r, I.N_INFUSIONS])
        inf_sum += ni
        inf_sq += ni * ni
        if not np.isnan(fout[r, F.T_HSCT_DAYS]):
            k_hsct += 1
        if np.isnan(fout[r, F.T_INF_DAYS]):
            continue
        n_inf += 1
        resp = iout[r, I.RESPONSE]
        if resp >= CR_CODE:
            k_cr += 1
        if resp == CR_NEG_CODE:
            k_neg += 1
        crs = iout[r, I.CRS_GRADE]
        icans = iout[r, I.ICANS_GRADE]
        if crs >= 1:
            k_crs += 1
        if crs >= 3:
            k_crs3 += 1
        if icans >= 1:
            k_icans += 1
        if icans >= 3:
            k_icans3 += 1
        if iout[r, I.GVHD_GRADE] >= 2:
            k_gvhd2 += 1
        icu = np.float64(fout[r, F.ICU_DAYS])
        icu_sum += icu
        icu_sq += icu * icu
    _rate(k_cr, n_inf, out, se, O_CR)
    _rate(k_neg, n_inf, out, se, O_MRDNEG)
    _rate(k_crs, n_inf, out, se, O_CRS)
    _rate(k_crs3, n_inf, out, se, O_CRS3)
    _rate(k_icans, n_inf, out, se, O_ICANS)
    _rate(k_icans3, n_inf, out, se, O_ICANS3)
    _rate(k_gvhd2, n_inf, out, se, O_GVHD2)
    _rate(n_inf, n, out, se, O_INFUSED)
    _rate(k_hsct, n, out, se, O_HSCT)
    _mean(icu_sum, icu_sq, n_inf, out, se, O_ICU)
    _mean(inf_sum, inf_sq, n, out, se, O_INF)
    pid = np.empty(n, np.int64)
    time = np.empty(n)
    code = np.empty(n, np.int8)
    row = np.empty(_WIDTH)
    _curve(fout, iout, OS, pid, time, code, row, out, se, np.array([O_OS6, O_OS12, O_OS24, O_OSMED, O_OSRMST]))
    _curve(fout, iout, EFS, pid, time, code, row, out, se, np.array([-1, O_EFS12, O_EFS24, O_EFSMED, -1]))
    _curve(fout, iout, ITT_OS, pid, time, code, row, out, se, np.array([-1, O_ITT12, O_ITT24, -1, -1]))


# --------------------------------------------------------------------------------------
# simulate-and-reduce over many parameter sets
# --------------------------------------------------------------------------------------
@nb.njit(cache=True, nogil=True)
def _one_set(theta: np.ndarray, k0: np.uint64, k1: np.uint64, n: int, horizon_days: float,
             out: np.ndarray, se: np.ndarray) -> None:
    """Patients 0 .. n-1 of stream (k0, k1) under ``theta``, reduced to one outcome row.
    Patient records are the kernel's (same walk, same addresses)."""
    fout = np.empty((n, N_FLOAT), np.float32)
    iout = np.empty((n, N_INT), np.int8)
    keys = np.empty(KEY_BLOCK, np.uint64)
    for start in range(0, n, KEY_BLOCK):
        stop = min(n, start + KEY_BLOCK)
        for j in range(stop - start):  # keys first, as the kernel does (pipelined Philox)
            keys[j] = patient_key(k0, k1, start + j)
        for j in range(stop - start):
            simulate_patient(theta, keys[j], horizon_days, fout[start + j], iout[start + j])
    reduce_blocks(fout, iout, out, se)


@nb.njit(parallel=True, cache=True)
def _sets_parallel(thetas: np.ndarray, k0: np.ndarray, k1: np.ndarray, n: int, horizon_days: float,
                   out: np.ndarray, se: np.ndarray) -> None:
    for s in nb.prange(thetas.shape[0]):
        _one_set(thetas[s], k0[s], k1[s], n, horizon_days, out[s], se[s])


@nb.njit(cache=True, nogil=True)
def _sets_serial(thetas: np.ndarray, k0: np.ndarray, k1: np.ndarray, n: int, horizon_days: float,
                 out: np.ndarray, se: np.ndarray) -> None:
    for s in range(thetas.shape[0]):
        _one_set(thetas[s], k0[s], k1[s], n, horizon_days, out[s], se[s])


def set_keys(seed: int, set_ids: np.ndarray, crn: bool) -> tuple[np.ndarray, np.ndarray]:
    """Random-stream keys per parameter set: with common random numbers every set uses
    replicate 0 of ``seed`` (the stream of ``cartsim run --seed``); without, set i uses
    replicate i + 1, its own stream, a function of (seed, set index) alone."""
    k0 = np.empty(len(set_ids), np.uint64)
    k1 = np.empty(len(set_ids), np.uint64)
    for j, sid in enumerate(set_ids):
        k0[j], k1[j] = make_key(int(seed), 0 if crn else int(sid) + 1)
    return k0, k1


def simulate_sets(thetas: np.ndarray, set_ids: np.ndarray, seed: int, patients: int, horizon_days: float,
                  crn: bool = True, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Outcome rows and their Monte Carlo SEs, each shaped (sets, N_OUTCOMES), for the
    parameter sets ``thetas`` (rows). ``threads=1`` runs serially without numba's thread
    pool (for Dask workers, which run tasks in their own threads); otherwise the sets are
    shared among numba threads. The result never depends on ``threads``."""
    thetas = np.ascontiguousarray(thetas, dtype=np.float64)
    if thetas.ndim != 2 or thetas.shape[1] != N_THETA:
        raise ValueError(f"thetas must have shape (sets, {N_THETA}), got {thetas.shape}")
    if np.isnan(thetas).any():
        raise ValueError("thetas has unset (NaN) entries")
    if patients < 1 or not horizon_days > 0:
        raise ValueError("patients must be >= 1 and horizon_days > 0")
    k0, k1 = set_keys(seed, np.asarray(set_ids), crn)
    out = np.empty((len(thetas), N_OUTCOMES))
    se = np.empty((len(thetas), N_OUTCOMES))
    if threads == 1 or len(thetas) == 1:
        _sets_serial(thetas, k0, k1, int(patients), float(horizon_days), out, se)
        return out, se
    previous = nb.get_num_threads()
    if threads is not None:
        # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
        nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        _sets_parallel(thetas, k0, k1, int(patients), float(horizon_days), out, se)
    finally:
        nb.set_num_threads(previous)
    return out, se


def reduce_patients(fout: np.ndarray, iout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outcome row and SEs of one cohort already simulated (e.g. by ``run_kernel``)."""
    out = np.empty(N_OUTCOMES)
    se = np.empty(N_OUTCOMES)
    reduce_blocks(np.ascontiguousarray(fout), np.ascontiguousarray(iout), out, se)
    return out, se
