"""The one compiled weighted Kaplan-Meier and Aalen-Johansen estimator: landmarks,
median, restricted mean and cumulative incidences of a presorted curve under many sets
of patient weights at once (bootstrap counts; unit weights give the ordinary estimates
of :mod:`sim.stats.survival` and :mod:`sim.stats.incidence`, which
tests/stats/test_weighted.py checks), with the beyond-data rule of ``survival``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from sim.stats.survival import _HALF_TOL, beyond_data


@dataclass(frozen=True)
class SortedCurve:
    """Patients of one time-to-event analysis, sorted by time: patient index, time
    (days from the origin) and code (0 censored, 1 event or cause 1, 2 cause 2)."""

    pid: np.ndarray
    time: np.ndarray
    code: np.ndarray


def sorted_curve(pid: np.ndarray, time_days: np.ndarray, code: np.ndarray) -> SortedCurve:
    """A curve of patients ``pid`` (times in days, codes as :class:`SortedCurve`), sorted by time."""
    order = np.argsort(time_days, kind="stable")
    return SortedCurve(np.ascontiguousarray(pid[order], np.int64),
                       np.ascontiguousarray(time_days[order], np.float64),
                       np.ascontiguousarray(code[order], np.int8))


@nb.njit(cache=True, nogil=True)
def weighted_curves(time: np.ndarray, code: np.ndarray, pid: np.ndarray, counts: np.ndarray, r0: int,
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
    reached 0 (the conventions of :mod:`sim.stats.survival`).
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


def statistics(curve: SortedCurve, counts: np.ndarray, landmarks_days: np.ndarray, tau_days: float) -> np.ndarray:
    """The weighted estimates of one curve under each column of ``counts``
    (patients x replicates): shape (replicates, 3 L + 2), layout of :func:`weighted_curves`."""
    out = np.empty((counts.shape[1], 3 * len(landmarks_days) + 2))
    # gather the counts in time order first: one streaming copy, then a sequential pass
    # (random row reads inside the pass cost ~2x at 10^6 patients)
    ordered = np.take(counts, curve.pid, axis=0)
    weighted_curves(curve.time, curve.code, np.arange(len(curve.pid)), ordered, 0, counts.shape[1], landmarks_days,
                    tau_days, out)
    return out
