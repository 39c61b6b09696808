"""The one compiled Kaplan-Meier / Aalen-Johansen estimator, with patient weights.

Every feature that estimates a curve in compiled code calls :func:`weighted_curves`:
the run summary and sweep outcomes (one curve, unit weights, with variances:
:func:`estimate_into`), the paired bootstrap of ``cartsim compare`` (many sets of
bootstrap counts at once: :func:`statistics`) and the study statistics of the
calibration (one curve per pseudo-cohort: :func:`estimate_rows`). The readable numpy
estimators of :mod:`sim.stats.survival` and :mod:`sim.stats.incidence` are the reference
it is tested against (tests/stats/test_weighted.py); they agree to rounding (1e-12).

Each replicate's output row has the layout of :class:`Layout` for ``L`` landmarks:
S, the Greenwood sum (Var log S) and the cumulative incidences of causes 1 and 2 at the
landmarks; the median with its log(-log) 95% interval; the restricted mean to ``tau``
and its variance; the maximum follow-up, the (weighted) number of patients and of events.

Conventions (those of :mod:`sim.stats.survival`): times in days; code 0 censored, 1 an
event of cause 1, 2 of cause 2 (Kaplan-Meier counts both as events); at a tied time all
events count together and censorings there stay at risk for it; the product-limit step is
``S <- S (1 - d / n)``; the median is the first time with ``S <= 1/2 + 1e-12`` (inf if not
reached, NaN without patients); a landmark, incidence or restricted mean beyond the
replicate's own largest time (:func:`beyond_data`) is NaN unless the curve reached 0.
Weights are frequency weights (bootstrap counts), so the Greenwood and restricted-mean
variances are those of the data with each patient repeated ``weight`` times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from sim.stats.survival import _HALF_TOL, beyond_data

Z95 = 1.959963984540054  # standard normal 97.5% quantile: the 95% bands


@dataclass(frozen=True)
class Layout:
    """Column offsets of an output row for ``n_land`` landmarks."""

    n_land: int

    @property
    def survival(self) -> slice:
        return slice(0, self.n_land)

    @property
    def greenwood(self) -> slice:
        return slice(self.n_land, 2 * self.n_land)

    @property
    def cif1(self) -> slice:
        return slice(2 * self.n_land, 3 * self.n_land)

    @property
    def cif2(self) -> slice:
        return slice(3 * self.n_land, 4 * self.n_land)

    @property
    def median(self) -> int:
        return 4 * self.n_land

    @property
    def median_low(self) -> int:
        return 4 * self.n_land + 1

    @property
    def median_high(self) -> int:
        return 4 * self.n_land + 2

    @property
    def rmst(self) -> int:
        return 4 * self.n_land + 3

    @property
    def rmst_var(self) -> int:
        return 4 * self.n_land + 4

    @property
    def max_followup(self) -> int:
        return 4 * self.n_land + 5

    @property
    def n(self) -> int:
        return 4 * self.n_land + 6

    @property
    def events(self) -> int:
        return 4 * self.n_land + 7

    @property
    def width(self) -> int:
        return 4 * self.n_land + 8


@nb.njit(cache=True, nogil=True)
def loglog_band(s: float, greenwood: float) -> tuple[float, float]:
    """The log(-log) 95% band of a Kaplan-Meier value (1, 1 where S = 1; as
    :func:`sim.stats.survival.kaplan_meier`)."""
    v = math.log(s) if s > 0.0 else -math.inf
    if v == 0.0:
        return 1.0, 1.0
    half = Z95 * math.sqrt(greenwood) / v
    lv = math.log(-v)
    lo = math.exp(-math.exp(lv - half))
    hi = math.exp(-math.exp(lv + half))
    return (1.0 if math.isnan(lo) else lo), (1.0 if math.isnan(hi) else hi)


@nb.njit(cache=True, nogil=True)
def weighted_curves(time: np.ndarray, code: np.ndarray, pid: np.ndarray, counts: np.ndarray, r0: int,
                    r1: int, landmarks: np.ndarray, tau: float, variance: bool, out: np.ndarray) -> None:
    """Kaplan-Meier (all events) and Aalen-Johansen (causes 1 and 2) under the weights
    ``counts[pid[i], r]`` of replicates ``r0 <= r < r1``, over ``time`` sorted ascending,
    into ``out[r]`` (layout :class:`Layout`). One pass over the patients with the
    replicate loops innermost and contiguous: a pass costs about as much as the
    arithmetic of ~50 replicates, so replicates are done together (threads run
    different curves instead; the function releases the GIL). ``variance`` False skips
    the Greenwood sums, the median's interval and the restricted mean's variance (NaN).
    """
    n = time.shape[0]
    n_rep = r1 - r0
    n_land = landmarks.shape[0]
    at_risk = np.zeros(n_rep)
    events = np.zeros(n_rep)
    for i in range(n):
        p = pid[i]
        for r in range(n_rep):
            w = float(counts[p, r0 + r])
            at_risk[r] += w
            if code[i] > 0:
                events[r] += w
    total = at_risk.copy()
    s = np.ones(n_rep)
    gw = np.zeros(n_rep)
    f1 = np.zeros(n_rep)
    f2 = np.zeros(n_rep)
    area = np.zeros(n_rep)
    g_sums = np.zeros((n_rep, 3))
    med = np.full((n_rep, 3), math.inf)  # median, its interval's low and high ends
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
                out[r0 + r, n_land + k] = gw[r]
                out[r0 + r, 2 * n_land + k] = f1[r]
                out[r0 + r, 3 * n_land + k] = f2[r]
            k += 1
        if last_t < tau:  # S is flat between events: integrate up to this time
            step = min(t, tau) - last_t
            for r in range(n_rep):
                area[r] += s[r] * step
            last_t = min(t, tau)
        if i + 1 == n or time[i + 1] != t:
            # one patient at this time (the usual case)
            p = pid[i]
            c = code[i]
            if c == 0:  # a censoring changes no curve
                for r in range(n_rep):
                    at_risk[r] -= counts[p, r0 + r]
                i += 1
                continue
            one = 1.0 if c == 1 else 0.0
            for r in range(n_rep):  # element loops: a slice copy would allocate
                w = float(counts[p, r0 + r])
                removed[r] = w
                d1[r] = w * one
                d2[r] = w - w * one
            j = i + 1
        else:  # tied times: all events at t count together
            for r in range(n_rep):
                d1[r] = 0.0
                d2[r] = 0.0
                removed[r] = 0.0
            j = i
            while j < n and time[j] == t:
                p = pid[j]
                for r in range(n_rep):
                    w = float(counts[p, r0 + r])
                    removed[r] += w
                    if code[j] == 1:
                        d1[r] += w
                    elif code[j] == 2:
                        d2[r] += w
                j += 1
        # the one product-limit / Aalen-Johansen / Greenwood update: d1 + d2 events
        # (weighted) out of the number at risk, then ``removed`` leave the risk set.
        # Written in the loop body, not a function: a call per event costs reference
        # counting of every array argument, several times the arithmetic
        if variance:
            for r in range(n_rep):
                nr = at_risk[r]
                d = d1[r] + d2[r]
                g = d / (nr * (nr - d)) if d < nr else 0.0
                gw[r] += g
                if t < tau:  # restricted-mean variance: sum g_i (A - a_i)^2, a_i the area to t_i
                    a = area[r]
                    g_sums[r, 0] += g
                    g_sums[r, 1] += g * a
                    g_sums[r, 2] += g * a * a
        lowest = 1.0
        for r in range(n_rep):
            nr = at_risk[r]
            q1 = d1[r] / nr if nr > 0.0 else 0.0
            q2 = d2[r] / nr if nr > 0.0 else 0.0
            f1[r] += s[r] * q1
            f2[r] += s[r] * q2
            s[r] *= 1.0 - (d1[r] + d2[r]) / nr if nr > 0.0 else 1.0
            at_risk[r] = nr - removed[r]
            lowest = min(lowest, s[r])
        if variance:
            for r in range(n_rep):
                if med[r, 2] == math.inf and d1[r] + d2[r] > 0.0:  # the band's upper end reaches 1/2 last
                    lo, hi = loglog_band(s[r], gw[r])
                    if med[r, 1] == math.inf and lo <= 0.5 + _HALF_TOL:
                        med[r, 1] = t
                    if hi <= 0.5 + _HALF_TOL:
                        med[r, 2] = t
        if lowest <= 0.5 + _HALF_TOL:
            for r in range(n_rep):
                if s[r] <= 0.5 + _HALF_TOL and med[r, 0] == math.inf:
                    med[r, 0] = t
        i = j
    while k < n_land:
        for r in range(n_rep):
            out[r0 + r, k] = s[r]
            out[r0 + r, n_land + k] = gw[r]
            out[r0 + r, 2 * n_land + k] = f1[r]
            out[r0 + r, 3 * n_land + k] = f2[r]
        k += 1
    for r in range(n_rep):
        row = r0 + r
        if last_t < tau:
            area[r] += s[r] * (tau - last_t)
        # no estimate past the replicate's own data: its largest time with a positive weight
        t_max = math.nan
        j = n - 1
        while j >= 0:
            if counts[pid[j], r0 + r] > 0:
                t_max = time[j]
                break
            j -= 1
        done = s[r] <= 0.0
        for q in range(n_land):
            if math.isnan(t_max) or beyond_data(landmarks[q], t_max, done):
                out[row, q] = math.nan
                out[row, n_land + q] = math.nan
                out[row, 2 * n_land + q] = math.nan
                out[row, 3 * n_land + q] = math.nan
            elif not variance:
                out[row, n_land + q] = math.nan
        base = 4 * n_land
        if math.isnan(t_max):
            for c in range(3):
                out[row, base + c] = math.nan
        else:
            out[row, base] = med[r, 0]
            out[row, base + 1] = med[r, 1] if variance else math.nan
            out[row, base + 2] = med[r, 2] if variance else math.nan
        if math.isnan(t_max) or beyond_data(tau, t_max, done):
            out[row, base + 3] = math.nan
            out[row, base + 4] = math.nan
        else:
            a = area[r]
            out[row, base + 3] = a
            g0, g1, g2 = g_sums[r, 0], g_sums[r, 1], g_sums[r, 2]
            out[row, base + 4] = max(a * a * g0 - 2.0 * a * g1 + g2, 0.0) if variance else math.nan
        out[row, base + 5] = t_max
        out[row, base + 6] = total[r]
        out[row, base + 7] = events[r]


# --------------------------------------------------------------------------- sorting
@nb.njit(cache=True, nogil=True)
def order_by_time(time: np.ndarray, m: int) -> np.ndarray:
    """Indices that sort the first ``m`` times ascending (ties in any order; +inf last).

    A bucket sort (numba's np.argsort is many times slower than numpy's on 10^4 doubles,
    and sorting dominated the sweep reduction): times are spread over m / 2 buckets by
    value, each bucket sorted by insertion, or by argsort when it holds many."""
    order = np.empty(m, np.int64)
    if m == 0:
        return order
    t_max = 0.0
    for i in range(m):
        if time[i] > t_max and time[i] < math.inf:
            t_max = time[i]
    n_b = max(m // 2, 1)
    scale = n_b / t_max if t_max > 0.0 else 0.0
    first = np.zeros(n_b + 1, np.int64)
    slot = np.empty(m, np.int64)
    for i in range(m):
        b = min(int(time[i] * scale), n_b - 1) if time[i] < math.inf else n_b - 1
        slot[i] = b
        first[b + 1] += 1
    for b in range(n_b):
        first[b + 1] += first[b]
    fill = first[:n_b].copy()
    keys = np.empty(m)  # the times in bucket order, sorted alongside ``order``: direct compares
    for i in range(m):
        b = slot[i]
        order[fill[b]] = i
        keys[fill[b]] = time[i]
        fill[b] += 1
    for b in range(n_b):
        lo = first[b]
        hi = first[b + 1]
        if hi - lo > 48:
            inner = np.argsort(keys[lo:hi])
            part = order[lo:hi].copy()
            for q in range(hi - lo):
                order[lo + q] = part[inner[q]]
            continue
        for i in range(lo + 1, hi):
            o = order[i]
            tk = keys[i]
            j = i - 1
            while j >= lo and keys[j] > tk:
                order[j + 1] = order[j]
                keys[j + 1] = keys[j]
                j -= 1
            order[j + 1] = o
            keys[j + 1] = tk
    return order


# --------------------------------------------------------------------------- entry points
@nb.njit(cache=True, nogil=True)
def estimate_into(time: np.ndarray, code: np.ndarray, m: int, landmarks: np.ndarray, tau: float, variance: bool,
                  out: np.ndarray) -> None:
    """The ordinary (unit-weight) estimates of the first ``m`` (time, code) pairs in any
    order into ``out`` (one row, layout :class:`Layout`; variances if ``variance``)."""
    order = order_by_time(time, m)
    t_sorted = np.empty(m)
    c_sorted = np.empty(m, np.int8)
    for i in range(m):
        t_sorted[i] = time[order[i]]
        c_sorted[i] = code[order[i]]
    ones = np.ones((m, 1), np.uint8)
    res = np.empty((1, out.shape[0]))
    weighted_curves(t_sorted, c_sorted, np.arange(m), ones, 0, 1, landmarks, tau, variance, res)
    out[:] = res[0]


#: the bits of a float64 time that carry the code in a packed sort key
_CODE_BITS = 3
_INF_BITS = 0x7FF0000000000000


@nb.njit(cache=True, nogil=True)
def pack(time: np.ndarray, code: np.ndarray, keys: np.ndarray) -> bool:
    """keys[i] = the bits of time[i] with code[i] in the two lowest bits, which order
    like the times (IEEE doubles >= 0 order like their bit patterns); False, leaving
    ``keys`` partly filled, when a time is negative, NaN or uses those bits (a time
    computed from float32 records never does: 24-bit mantissas, subtracted exactly)."""
    bits = time.view(np.int64)
    for i in range(bits.shape[0]):
        b = bits[i]
        if b < 0 or b > _INF_BITS or (b & _CODE_BITS) != 0:
            return False
        keys[i] = b | np.int64(code[i])
    return True


@nb.njit(cache=True, nogil=True)
def _unpack(keys: np.ndarray, code: np.ndarray) -> None:
    """Split sorted packed keys in place: ``keys`` back to time bits, codes into ``code``."""
    for i in range(keys.shape[0]):
        b = keys[i]
        code[i] = b & _CODE_BITS
        keys[i] = b & ~np.int64(_CODE_BITS)


def estimate(time_days: np.ndarray, code: np.ndarray, landmarks_days: np.ndarray, tau_days: float) -> np.ndarray:
    """The ordinary estimates of one curve (times in any order; code as the module
    docstring, or a boolean event): one row, layout :class:`Layout`.

    Large curves (the run summary and its figure: 10^7 patients) are sorted as packed
    (time, code) keys by :func:`estimate_packed`; other doubles than those of float32
    records, and small curves, by the bucket sort. The estimates are the same bit for bit
    (ties are grouped by time either way; tests/stats/test_weighted.py)."""
    time_days = np.ascontiguousarray(time_days, np.float64)
    code = np.ascontiguousarray(code, np.int8)
    m = len(time_days)
    keys = np.empty(m if m >= PACKED_SORT_MIN else 0, np.int64)
    if m >= PACKED_SORT_MIN and pack(time_days, code, keys):
        return estimate_packed(keys, landmarks_days, tau_days)
    out = np.empty(Layout(len(landmarks_days)).width)
    estimate_into(time_days, code, m, np.ascontiguousarray(landmarks_days, np.float64), float(tau_days), True, out)
    return out


def estimate_packed(keys: np.ndarray, landmarks_days: np.ndarray, tau_days: float) -> np.ndarray:
    """The ordinary estimates of one curve given as packed keys (:func:`pack`), which it
    sorts and unpacks in place: one row, layout :class:`Layout`. numpy's vectorised sort
    of the keys is several times faster than the bucket sort's random accesses at 10^7
    patients and needs no index array; unit weights are a zero-stride view."""
    landmarks_days = np.ascontiguousarray(landmarks_days, np.float64)
    m = len(keys)
    keys.sort()  # releases the GIL: the run summary's curves sort in parallel threads
    sorted_code = np.empty(m, np.int8)
    _unpack(keys, sorted_code)
    res = np.empty((1, Layout(len(landmarks_days)).width))
    weighted_curves(keys.view(np.float64), sorted_code, np.broadcast_to(np.zeros(1, np.int64), (m,)),
                    np.ones((1, 1), np.uint8), 0, 1, landmarks_days, float(tau_days), True, res)
    return res[0]


#: curves at least this long take the packed-key sort of :func:`estimate`
PACKED_SORT_MIN = 50_000


@nb.njit(cache=True, nogil=True)
def estimate_rows(time: np.ndarray, code: np.ndarray, mask: np.ndarray, landmarks: np.ndarray,
                  tau: float, variance: bool) -> np.ndarray:
    """The ordinary estimates of each row's masked entries (pseudo-cohorts, arms):
    shape (rows, width of :class:`Layout`)."""
    rows, n = time.shape
    out = np.empty((rows, 4 * landmarks.shape[0] + 8))
    t = np.empty(n)
    c = np.empty(n, np.int8)
    for r in range(rows):
        m = 0
        for j in range(n):
            if mask[r, j]:
                t[m] = time[r, j]
                c[m] = code[r, j]
                m += 1
        estimate_into(t, c, m, landmarks, tau, variance, out[r])
    return out


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


def statistics(curve: SortedCurve, counts: np.ndarray, landmarks_days: np.ndarray, tau_days: float,
               variance: bool = False) -> np.ndarray:
    """The weighted estimates of one curve under each column of ``counts``
    (patients x replicates): shape (replicates, width of :class:`Layout`)."""
    landmarks_days = np.ascontiguousarray(landmarks_days, np.float64)
    out = np.empty((counts.shape[1], Layout(len(landmarks_days)).width))
    # gather the counts in time order first: one streaming copy, then a sequential pass
    # (random row reads inside the pass cost ~2x at 10^6 patients)
    ordered = np.take(counts, curve.pid, axis=0)
    weighted_curves(curve.time, curve.code, np.arange(len(curve.pid)), ordered, 0, counts.shape[1], landmarks_days,
                    float(tau_days), variance, out)
    return out
