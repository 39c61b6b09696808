"""The paired bootstrap over patient ids: the same multinomial resample of patients for
every scenario, and a compiled pass that recomputes the weighted Kaplan-Meier and
Aalen-Johansen curves of a batch of replicates at once."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np
import pandas as pd

from sim.model.endpoints import DAYS_PER_MONTH, ENDPOINTS, LANDMARK_MONTHS, RMST_MONTHS, Endpoint
from sim.model.states import NRM_CAUSES, Response
from sim.stats.survival import beyond_data
from sim.whatif.estimators import _BOOTSTRAP_STREAM, _HALF_TOL


@dataclass(frozen=True)
class _Curve:
    """Patients of one time-to-event analysis, sorted by time: patient index, time
    (days from the origin) and code (0 censored, 1 event or cause 1, 2 cause 2)."""

    pid: np.ndarray
    time: np.ndarray
    code: np.ndarray


def _curve(pid: np.ndarray, time_days: np.ndarray, code: np.ndarray) -> _Curve:
    order = np.argsort(time_days, kind="stable")
    return _Curve(np.ascontiguousarray(pid[order], np.int64), np.ascontiguousarray(time_days[order], np.float64),
                  np.ascontiguousarray(code[order], np.int8))


def _curves(df: pd.DataFrame) -> dict[str, _Curve]:
    """The time-to-event analyses of ``summarise`` (same populations, origins and events;
    ``tests/test_compare.py`` checks that unit weights reproduce its estimates)."""
    pid = np.arange(len(df))
    t_inf = df["t_inf_days"].to_numpy(np.float64)
    t_last = df["t_last_days"].to_numpy(np.float64)
    t_death = df["t_death_days"].to_numpy(np.float64)
    t_efs = df["t_efs_days"].to_numpy(np.float64)
    t_rel = df["t_relapse_days"].to_numpy(np.float64)
    resp = df["response"].to_numpy()
    infused = ~np.isnan(t_inf)
    cr = infused & (resp >= Response.CR_MRD_POS)

    def from_infusion(t_event: np.ndarray, keep: np.ndarray) -> _Curve:
        event = ~np.isnan(t_event)
        time_days = np.where(event, t_event, t_last) - np.nan_to_num(t_inf)
        return _curve(pid[keep], time_days[keep], event[keep].astype(np.int8))

    out = {
        "os": from_infusion(t_death, infused),
        "efs": from_infusion(t_efs, infused),
        "lfs": from_infusion(np.fmin(t_rel, t_death), cr),
    }
    dead = ~np.isnan(t_death)
    out["itt_os"] = _curve(pid, np.where(dead, t_death, t_last), dead.astype(np.int8))
    # competing risks among first-infusion CRs: 1 relapse, 2 non-relapse death
    relapsed = ~np.isnan(t_rel)
    nrm = ~relapsed & np.isin(df["death_cause"].to_numpy(), [int(c) for c in NRM_CAUSES])
    code = np.where(relapsed, 1, np.where(nrm, 2, 0)).astype(np.int8)
    time_days = np.where(relapsed, t_rel, np.where(nrm, t_death, t_last)) - np.nan_to_num(t_inf)
    out["competing"] = _curve(pid[cr], time_days[cr], code[cr])
    return out


# --------------------------------------------------------------------------- #
# compiled weighted estimators (one pass over presorted times)


@nb.njit(cache=True, nogil=True)
def _weighted_curves(time: np.ndarray, code: np.ndarray, pid: np.ndarray, counts: np.ndarray, r0: int,
                     r1: int, landmarks: np.ndarray, tau: float, out: np.ndarray) -> None:
    """Kaplan-Meier (all events) and Aalen-Johansen (causes 1 and 2) under R sets of
    patient weights at once: ``counts[patient, r]`` (bootstrap counts), over ``time``
    sorted ascending (one pass; the replicate loops are innermost and contiguous).

    The pass over the patients costs about as much as the arithmetic of ~50 replicates,
    so replicates are done together rather than split across threads (threads run
    different curves instead; the function releases the GIL). Replicates
    ``r0 <= r < r1``. Writes, for each, ``out[r, 0:L]``
    S at the landmarks, ``out[r, L]`` the median (inf if not reached, nan if nobody is
    at risk), ``out[r, L+1]`` the restricted mean to ``tau``, ``out[r, L+2:2L+2]`` and ``out[r, 2L+2:3L+2]`` the
    cumulative incidences of causes 1 and 2 at the landmarks. Ties: all events at a
    time count together, censorings at that time stay at risk for it; a landmark or
    ``tau`` beyond the replicate's largest resampled time is NaN unless the curve
    reached 0 (the conventions of ``sim.stats.survival``).
    """
    n = time.shape[0]
    n_rep = r1 - r0
    n_land = landmarks.shape[0]
    at_risk = np.zeros(n_rep)
    for i in range(n):
        p = pid[i]
        for r in range(n_rep):
            at_risk[r] += counts[p, r0 + r]
    s = np.ones(n_rep)
    f1 = np.zeros(n_rep)
    f2 = np.zeros(n_rep)
    area = np.zeros(n_rep)
    median = np.full(n_rep, math.inf)
    n_median = 0  # replicates whose median is known (or undefined)
    for r in range(n_rep):
        if at_risk[r] <= 0.0:
            median[r] = math.nan
            n_median += 1
    d1 = np.zeros(n_rep)
    d2 = np.zeros(n_rep)
    removed = np.zeros(n_rep)
    last_t = 0.0
    k = 0  # next landmark to record
    i = 0
    while i < n:
        t = time[i]
        # S is a right-continuous step: a landmark before t takes the value before t
        while k < n_land and landmarks[k] < t:
            for r in range(n_rep):
                out[r0 + r, k] = s[r]
                out[r0 + r, n_land + 2 + k] = f1[r]
                out[r0 + r, 2 * n_land + 2 + k] = f2[r]
            k += 1
        if i + 1 == n or time[i + 1] != t:
            # one patient at this time (the usual case): branch-free, vectorisable loops
            # (no row views: an array view per patient costs reference counting)
            p = pid[i]
            c = code[i]
            if c == 0:  # a censoring changes no curve
                for r in range(n_rep):
                    at_risk[r] -= counts[p, r0 + r]
                i += 1
                continue
            if last_t < tau:  # S is flat between events: integrate up to this one
                step = min(t, tau) - last_t
                for r in range(n_rep):
                    area[r] += s[r] * step
                last_t = min(t, tau)
            lowest = 1.0
            for r in range(n_rep):
                w = float(counts[p, r0 + r])
                # w <= at_risk, so at_risk == 0 implies w == 0 and the step is 0
                sq = s[r] * (w / max(at_risk[r], 1.0))
                if c == 1:
                    f1[r] += sq
                else:
                    f2[r] += sq
                s[r] -= sq
                at_risk[r] -= w
                lowest = min(lowest, s[r])
            if lowest <= 0.5 + _HALF_TOL and n_median < n_rep:
                for r in range(n_rep):
                    if s[r] <= 0.5 + _HALF_TOL and median[r] == math.inf:
                        median[r] = t
                        n_median += 1
            i += 1
            continue
        if last_t < tau:
            step = min(t, tau) - last_t
            for r in range(n_rep):
                area[r] += s[r] * step
            last_t = min(t, tau)
        # tied times: all events at t count together
        d1[:] = 0.0
        d2[:] = 0.0
        removed[:] = 0.0
        j = i
        while j < n and time[j] == t:
            p = pid[j]
            for r in range(n_rep):
                removed[r] += counts[p, r0 + r]
            if code[j] == 1:
                for r in range(n_rep):
                    d1[r] += counts[p, r0 + r]
            elif code[j] == 2:
                for r in range(n_rep):
                    d2[r] += counts[p, r0 + r]
            j += 1
        for r in range(n_rep):
            inv = 1.0 / max(at_risk[r], 1.0)
            f1[r] += s[r] * d1[r] * inv
            f2[r] += s[r] * d2[r] * inv
            s[r] *= 1.0 - (d1[r] + d2[r]) * inv
            at_risk[r] -= removed[r]
            if s[r] <= 0.5 + _HALF_TOL and median[r] == math.inf:
                median[r] = t
                n_median += 1
        i = j
    while k < n_land:
        for r in range(n_rep):
            out[r0 + r, k] = s[r]
            out[r0 + r, n_land + 2 + k] = f1[r]
            out[r0 + r, 2 * n_land + 2 + k] = f2[r]
        k += 1
    for r in range(n_rep):
        if last_t < tau:
            area[r] += s[r] * (tau - last_t)
        out[r0 + r, n_land] = median[r]
        out[r0 + r, n_land + 1] = area[r]
        # no estimate past the replicate's own data: its largest time with a positive weight
        t_max = -math.inf
        j = n - 1
        while j >= 0:
            if counts[pid[j], r0 + r] > 0:
                t_max = time[j]
                break
            j -= 1
        done = s[r] <= 0.0
        for q in range(n_land):
            if beyond_data(landmarks[q], t_max, done):
                out[r0 + r, q] = math.nan
                out[r0 + r, n_land + 2 + q] = math.nan
                out[r0 + r, 2 * n_land + 2 + q] = math.nan
        if beyond_data(tau, t_max, done):
            out[r0 + r, n_land + 1] = math.nan


_LANDMARKS_DAYS = np.array([m * DAYS_PER_MONTH for m in LANDMARK_MONTHS])
_TAU_DAYS = RMST_MONTHS * DAYS_PER_MONTH
_N_STATS = 3 * len(LANDMARK_MONTHS) + 2
_COUNTS_BUDGET_BYTES = 64_000_000  # bootstrap counts held at once (uint8, patients x replicates)
_CURVE_NAMES = ("os", "efs", "lfs", "itt_os", "competing")


def _replicate_batch(n_patients: int, bootstrap: int) -> int:
    """Replicates per pass: as many as the counts budget allows (all 200 up to 320,000
    patients, 64 at 10^6); each pass over a curve costs about the same whatever its width."""
    return max(1, min(bootstrap, _COUNTS_BUDGET_BYTES // max(n_patients, 1)))


def curve_statistics(curve: _Curve, counts: np.ndarray) -> np.ndarray:
    """The weighted estimates of one curve under each column of ``counts``
    (patients x replicates): shape (replicates, statistics), layout of
    :func:`_weighted_curves`."""
    out = np.empty((counts.shape[1], _N_STATS))
    # gather the counts in time order first: one streaming copy, then a sequential pass
    # (random row reads inside the pass cost ~2x at 10^6 patients)
    ordered = np.take(counts, curve.pid, axis=0)
    _weighted_curves(curve.time, curve.code, np.arange(len(curve.pid)), ordered, 0, counts.shape[1], _LANDMARKS_DAYS,
                     _TAU_DAYS, out)
    return out


def _statistic_column(e: Endpoint) -> tuple[str, int]:
    """(curve, column of :func:`curve_statistics`) holding a bootstrap endpoint."""
    n_land = len(LANDMARK_MONTHS)
    if e.kind == "median":
        return e.curve, n_land
    if e.kind == "rmst":
        return e.curve, n_land + 1
    j = LANDMARK_MONTHS.index(e.months)
    if e.kind == "incidence":  # relapse is cause 1, death without relapse cause 2
        return "competing", (n_land + 2 if e.curve == "cir" else 2 * n_land + 2) + j
    return e.curve, j


#: where each bootstrap outcome of the endpoint table is read
_COLUMNS = {e.name: _statistic_column(e) for e in ENDPOINTS if e.method == "bootstrap"}


def _outcomes_from_statistics(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every bootstrap outcome from the statistics of the five curves."""
    return {name: stats[curve][:, j] for name, (curve, j) in _COLUMNS.items()}


def _bootstrap_outcomes(curves: dict[str, _Curve], counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every bootstrap outcome of one scenario under each column of ``counts``."""
    return _outcomes_from_statistics({c: curve_statistics(curves[c], counts) for c in _CURVE_NAMES})


def bootstrap_counts(seed: int, replicates: range, n: int) -> np.ndarray:
    """Resampling counts (patients x replicates, uint8) of patients 0..n-1: replicate
    b draws n ids with replacement from a Philox stream addressed by (seed, b) alone,
    so a replicate does not depend on the batch it is computed in."""
    rows = np.empty((len(replicates), n), np.uint8)
    for j, b in enumerate(replicates):
        rng = np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, b, _BOOTSTRAP_STREAM])))
        c = np.bincount(rng.integers(0, n, n), minlength=n)
        if c.max() > np.iinfo(np.uint8).max:  # P(any count > 255) < n * 1e-500: never in practice
            raise RuntimeError("bootstrap count overflow")
        rows[j] = c
    return np.ascontiguousarray(rows.T)  # patients x replicates: one patient's counts side by side
