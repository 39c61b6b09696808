"""The outcomes of a sweep: one row of scalars (and their Monte Carlo standard errors)
per simulated parameter set, computed by compiled code from the kernel's blocks.

A sweep simulates thousands of parameter sets of ~10,000 patients each, so the full
:func:`sim.outcomes.summary.summarise` (pandas, every interval) would cost more than the
simulation. :func:`reduce_blocks` computes the fixed list :data:`OUTCOMES` (the endpoints
of :mod:`sim.model.endpoints` marked ``sweep``) in one pass
plus one bucket sort per survival endpoint (about 2 ms for 10,000 patients, against
~11 ms to simulate them on one core); the definitions are those of ``summarise`` (same
patients, same endpoint rules, same Kaplan-Meier conventions) and
tests/test_sweeps.py checks it against ``summarise`` on the same patients.

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
from sim.stats.survival import beyond_data

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
M6_DAYS = 6 * DAYS_PER_MONTH
M12_DAYS = 12 * DAYS_PER_MONTH
M24_DAYS = 24 * DAYS_PER_MONTH
Z95 = 1.959963984540054  # standard normal 97.5% quantile
_HALF_TOL = 1e-12  # as sim.stats.survival: a curve equal to 1/2 up to rounding reaches it
_NAN = math.nan
_KEY_CENTRE = 1 << 62


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
def _band(s: float, gw: float) -> tuple[float, float]:
    """Log(-log) 95% band of a Kaplan-Meier value (as sim.stats.survival)."""
    v = math.log(s) if s > 0.0 else -math.inf
    if v == 0.0:
        return 1.0, 1.0
    half = Z95 * math.sqrt(gw) / v
    lv = math.log(-v)
    return math.exp(-math.exp(lv - half)), math.exp(-math.exp(lv + half))


@nb.njit(cache=True, nogil=True)
def _sorted_keys(time: np.ndarray, event: np.ndarray, m: int) -> np.ndarray:
    """Sort keys of the first ``m`` (time, event) pairs, ascending: the bits of a
    non-negative float64 order like the number, so key = (bits - 2^62) << 1 | censored
    (centred to fit int64 after the shift) sorts by time with events before censorings
    at a tie (the Kaplan-Meier convention); :func:`_key_time` decodes it.

    A bucket sort (numba's np.sort is ~15x slower than numpy's on 10^4 doubles, and
    sorting dominated the reduction): times are spread over m / 2 buckets by value, each
    bucket then sorted by insertion, or by np.sort when it holds many.
    """
    bits = time[:m].view(np.int64)
    keys = np.empty(m, np.int64)
    t_max = 0.0
    for i in range(m):
        t_max = max(t_max, time[i])
    n_b = max(m // 2, 1)
    scale = n_b / t_max if t_max > 0.0 else 0.0
    first = np.zeros(n_b + 1, np.int64)
    slot = np.empty(m, np.int64)
    for i in range(m):
        b = min(int(time[i] * scale), n_b - 1)
        slot[i] = b
        first[b + 1] += 1
    for b in range(n_b):
        first[b + 1] += first[b]
    fill = first[:n_b].copy()
    for i in range(m):
        b = slot[i]
        keys[fill[b]] = ((bits[i] - _KEY_CENTRE) << 1) | (0 if event[i] else 1)
        fill[b] += 1
    for b in range(n_b):
        lo = first[b]
        hi = first[b + 1]
        if hi - lo > 48:
            keys[lo:hi].sort()
            continue
        for i in range(lo + 1, hi):
            k = keys[i]
            j = i - 1
            while j >= lo and keys[j] > k:
                keys[j + 1] = keys[j]
                j -= 1
            keys[j + 1] = k
    return keys


@nb.njit(cache=True, nogil=True)
def _km(time: np.ndarray, event: np.ndarray, m: int, log_k: np.ndarray, out: np.ndarray, se: np.ndarray,
        j6: int, j12: int, j24: int, jmed: int, jrmst: int) -> None:
    """Kaplan-Meier of the first ``m`` (time, event) pairs: landmarks at 6/12/24 months,
    median and 24-month restricted mean into ``out`` (index -1 = not wanted); NaN for a
    landmark or restricted mean beyond the data (module docstring).
    ``log_k[k]`` = log(k) (a table: the same numbers math.log gives, computed once)."""
    if m == 0:
        for j in (j6, j12, j24, jmed, jrmst):
            if j >= 0:
                out[j] = _NAN
                se[j] = _NAN
        return
    keys = _sorted_keys(time, event, m)
    tbits = np.empty(1, np.int64)
    tval = tbits.view(np.float64)
    # distinct event times with survival just after and the Greenwood sum
    ut = np.empty(m)
    s_after = np.empty(m)
    gw_after = np.empty(m)
    gw_terms = np.empty(m)
    n_u = 0
    log_s = 0.0
    gw = 0.0
    i = 0
    while i < m:
        start = i
        tb = keys[i] >> 1
        d = 0
        while i < m and (keys[i] >> 1) == tb:
            if (keys[i] & 1) == 0:
                d += 1
            i += 1
        if d == 0:
            continue  # censorings only: the curve does not move
        at_risk = m - start
        nf = float(at_risk)
        df = float(d)
        log_s += log_k[at_risk - d] - log_k[at_risk]
        term = df / (nf * (nf - df)) if d < at_risk else 0.0
        gw += term
        tbits[0] = tb + _KEY_CENTRE
        ut[n_u] = tval[0]
        s_after[n_u] = math.exp(log_s)
        gw_after[n_u] = gw
        gw_terms[n_u] = term
        n_u += 1
    tbits[0] = (keys[m - 1] >> 1) + _KEY_CENTRE
    t_max = tval[0]  # the maximum follow-up: the largest time, event or censoring
    reached_zero = n_u > 0 and s_after[n_u - 1] <= 0.0
    # landmarks: the step value at the last event time <= the landmark
    marks = (M6_DAYS, M12_DAYS, M24_DAYS)
    slots = (j6, j12, j24)
    for q in range(3):
        if slots[q] < 0:
            continue
        if beyond_data(marks[q], t_max, reached_zero):
            out[slots[q]] = _NAN
            se[slots[q]] = _NAN
            continue
        s = 1.0
        g = 0.0
        for u in range(n_u):
            if ut[u] <= marks[q]:
                s = s_after[u]
                g = gw_after[u]
            else:
                break
        out[slots[q]] = s
        se[slots[q]] = s * math.sqrt(g)
    if jmed >= 0:
        med = math.inf
        lo = math.inf
        hi = math.inf
        for u in range(n_u):
            if med == math.inf and s_after[u] <= 0.5 + _HALF_TOL:
                med = ut[u]
            b_lo, b_hi = _band(s_after[u], gw_after[u])
            if lo == math.inf and b_lo <= 0.5 + _HALF_TOL:
                lo = ut[u]
            if hi == math.inf and b_hi <= 0.5 + _HALF_TOL:
                hi = ut[u]
                break  # hi is reached last (the upper band lies above the curve)
        out[jmed] = med if med < math.inf else _NAN
        se[jmed] = (hi - lo) / (2.0 * Z95) if hi < math.inf and med < math.inf else _NAN
    if jrmst >= 0 and beyond_data(M24_DAYS, t_max, reached_zero):
        out[jrmst] = _NAN
        se[jrmst] = _NAN
    elif jrmst >= 0:
        tau = M24_DAYS
        area = 0.0
        prev_t = 0.0
        prev_s = 1.0
        n_in = 0
        for u in range(n_u):
            if ut[u] >= tau:
                break
            area += prev_s * (ut[u] - prev_t)
            prev_t = ut[u]
            prev_s = s_after[u]
            n_in += 1
        area += prev_s * (tau - prev_t)
        out[jrmst] = area
        # variance: sum over event times t_i < tau of A_i^2 d_i / (n_i (n_i - d_i)),
        # A_i = area under the curve from t_i to tau (accumulated backwards)
        var = 0.0
        a = 0.0
        nxt = tau
        for u in range(n_in - 1, -1, -1):
            a += s_after[u] * (nxt - ut[u])
            nxt = ut[u]
            var += a * a * gw_terms[u]
        se[jrmst] = math.sqrt(var)


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
    time = np.empty(n)
    event = np.empty(n, np.bool_)
    log_k = np.empty(n + 1)
    log_k[0] = -math.inf
    for k in range(1, n + 1):
        log_k[k] = math.log(float(k))
    # OS and EFS from infusion, infused patients
    for endpoint in range(2):
        m = 0
        for r in range(n):
            t_inf = fout[r, F.T_INF_DAYS]
            if np.isnan(t_inf):
                continue
            t_ev = fout[r, F.T_DEATH_DAYS] if endpoint == 0 else fout[r, F.T_EFS_DAYS]
            ev = not np.isnan(t_ev)
            # float64 before subtracting, as summarise does
            t_end = np.float64(t_ev) if ev else np.float64(fout[r, F.T_LAST_DAYS])
            time[m] = t_end - np.float64(t_inf)
            event[m] = ev
            m += 1
        if endpoint == 0:
            _km(time, event, m, log_k, out, se, O_OS6, O_OS12, O_OS24, O_OSMED, O_OSRMST)
        else:
            _km(time, event, m, log_k, out, se, -1, O_EFS12, O_EFS24, O_EFSMED, -1)
    # OS from the decision to treat, every patient
    for r in range(n):
        t_death = fout[r, F.T_DEATH_DAYS]
        ev = not np.isnan(t_death)
        time[r] = np.float64(t_death) if ev else np.float64(fout[r, F.T_LAST_DAYS])
        event[r] = ev
    _km(time, event, n, log_k, out, se, -1, O_ITT12, O_ITT24, -1, -1)


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
