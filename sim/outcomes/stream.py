"""The run summary of a cohort too large to hold, from chunks of records streamed through
counts: memory is the counts (a few tens of MB) plus one chunk, whatever the cohort size.

Rates, counts, deaths by cause and resource use are sums over patients, so they are
exact (rates and counts equal the in-memory summary's; means differ only by float
rounding, as they are summed in float64 here and by numpy in float32 there).

Curves. Exact Kaplan-Meier needs every event time in order; here each curve keeps, per
time bin of ``1/64`` day (``1/8`` past a 4,096-day horizon), the number of events of each
cause and of censorings, and the largest time seen in the bin. The bins are half-open
``((b-1) w, b w]`` and every landmark (months of 30.4375 days) and the restricted mean's
horizon lies on a bin edge. The binned curve is then estimated by the one compiled
estimator (:func:`sim.stats.weighted.statistics`, bin counts as frequency weights, each
bin at its largest time, censorings at a tie staying at risk). Why this is exact where it
matters: within a bin, ``d`` events at distinct times out of ``n`` at risk give the same
survival factor ``(n - d) / n``, Greenwood term ``d / (n (n - d))`` and cumulative
incidences as ``d`` tied events, as long as no censoring in the bin precedes an event.
The only error is that ordering: each bin's censorings placed after its events (the
reported curve) or before them (the second, bracketing estimate) give factors between
which the true one lies, so the exact survival and incidence at every landmark lie
between the two curves; medians (and their interval ends) are reported at the bin's
largest time, off by at most the distance between the two curves' medians plus one bin,
the restricted mean by at most the two curves' difference plus one bin width. These
bounds are computed for every run and reported under ``streamed.bound`` (with the
default horizon the only censoring is administrative, after the landmarks, so the survival
bounds are 0 and the medians' one bin; both paths round differently, ~1e-12), and
tests/outcomes/test_stream.py checks the streamed summary against the in-memory one on
the same patients within them (rates exactly).
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np

from sim.model.endpoints import DAYS_PER_MONTH, LANDMARK_MONTHS, RMST_MONTHS, Columns
from sim.model.states import DeathCause
from sim.outcomes.curves import CURVE_CODE, NRM_CAUSE, curve_data
from sim.outcomes.summary import (
    CURVE_KEYS,
    assemble,
    competing_block,
    rate_counts,
    rates_block,
    survival_block,
)
from sim.stats.weighted import Layout, loglog_band, sorted_curve, statistics

_LANDMARKS_DAYS = np.array([m * DAYS_PER_MONTH for m in LANDMARK_MONTHS])
_TAU_DAYS = RMST_MONTHS * DAYS_PER_MONTH
_AT = Layout(len(LANDMARK_MONTHS))
#: the streamed curves, in the order of the count arrays' first axis
STREAM_CURVES = (*CURVE_KEYS, "cir")
_SCRATCH = 4096


def bins_per_day(horizon_days: float) -> int:
    """Bins per day: 64 up to a 4,096-day horizon, else 8 (landmarks stay on bin edges:
    6 months is 1461/8 days)."""
    return 64 if horizon_days <= 4096.0 else 8


@nb.njit(cache=True, nogil=True)
def _bin_curve(curve: int, t_inf: np.ndarray, t_last: np.ndarray, t_death: np.ndarray, t_efs: np.ndarray,
               t_relapse: np.ndarray, response: np.ndarray, death_cause: np.ndarray, nrm_cause: np.ndarray,
               per_day: float, counts: np.ndarray, t_top: np.ndarray) -> None:
    """Add the curve's patients of these records to ``counts`` (code x bin: censored,
    cause 1, cause 2) and ``t_top`` (largest time per bin)."""
    pid = np.empty(_SCRATCH, np.int64)
    time = np.empty(_SCRATCH)
    code = np.empty(_SCRATCH, np.int8)
    last = counts.shape[1] - 1
    for start in range(0, t_last.shape[0], _SCRATCH):
        stop = min(t_last.shape[0], start + _SCRATCH)
        m = curve_data(curve, t_inf[start:stop], t_last[start:stop], t_death[start:stop], t_efs[start:stop],
                       t_relapse[start:stop], response[start:stop], death_cause[start:stop], nrm_cause,
                       pid, time, code)
        for j in range(m):
            t = time[j]
            b = min(max(math.ceil(t * per_day), 0), last)  # times are within the horizon
            counts[code[j], b] += 1
            t_top[b] = max(t_top[b], t)


class StreamSummary:
    """Accumulates the run summary over chunks of records (:meth:`add`), then gives it
    (:meth:`summary`, the keys of :func:`sim.outcomes.summary.summarise` plus ``streamed``)."""

    def __init__(self, horizon_days: float) -> None:
        self.per_day = bins_per_day(horizon_days)
        n_bins = math.ceil(horizon_days * self.per_day) + 2
        self.counts = np.zeros((len(STREAM_CURVES), 3, n_bins), np.int64)
        self.t_top = np.full((len(STREAM_CURVES), n_bins), -np.inf)
        self.n = self.n_inf = 0
        self.k: dict[str, int] = {}
        self.causes = np.zeros(max(int(c) for c in DeathCause) + 1, np.int64)
        self.icu_days = 0.0
        self.hsct = self.infusions = self.attempts = 0
        self.chunks = 0

    def add(self, cols: Columns) -> None:
        """Count one chunk of records (any mapping of column name to array)."""
        n, n_inf, k, infused = rate_counts(cols)
        self.n += n
        self.n_inf += n_inf
        for name, kk in k.items():
            self.k[name] = self.k.get(name, 0) + kk
        self.causes += np.bincount(np.asarray(cols["death_cause"]).astype(np.int64), minlength=len(self.causes))
        self.icu_days += float(np.sum(np.asarray(cols["icu_days"])[infused], dtype=np.float64))
        self.hsct += int(np.count_nonzero(~np.isnan(np.asarray(cols["t_hsct_days"]))))
        self.infusions += int(np.sum(np.asarray(cols["n_infusions"]), dtype=np.int64))
        self.attempts += int(np.sum(np.asarray(cols["mfg_attempts"]), dtype=np.int64))
        self.chunks += 1

        def col(key: str) -> np.ndarray:
            return np.ascontiguousarray(np.asarray(cols[key]))

        args = (col("t_inf_days"), col("t_last_days"), col("t_death_days"), col("t_efs_days"),
                col("t_relapse_days"), col("response"), col("death_cause"), NRM_CAUSE, float(self.per_day))
        for c, key in enumerate(STREAM_CURVES):
            _bin_curve(CURVE_CODE[key], *args, self.counts[c], self.t_top[c])

    def binned(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Curve ``key`` (a :data:`STREAM_CURVES` name) as (time in days, code, count) rows,
        one per non-empty (bin, code), in time order: each bin at its largest time."""
        c = STREAM_CURVES.index(key)
        counts = self.counts[c]
        used = np.flatnonzero(counts.sum(0))
        time = np.repeat(self.t_top[c, used], 3)
        code = np.tile(np.array([1, 2, 0], np.int8), len(used))
        weight = counts[[1, 2, 0]][:, used].T.reshape(-1)
        keep = weight > 0
        return time[keep], code[keep], weight[keep]

    def _rows(self, key: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(reported row, bracketing row, patients) of a curve: censorings after, then
        before, the events of their bin."""
        time, code, weight = self.binned(key)
        rows = []
        for early in (False, True):
            t = np.where(early & (code == 0), np.nextafter(time, -np.inf), time)
            rows.append(statistics(sorted_curve(np.arange(len(t)), t, code), weight.reshape(-1, 1), _LANDMARKS_DAYS,
                                   _TAU_DAYS, variance=True)[0])
        return rows[0], rows[1], int(weight.sum())

    def summary(self) -> dict[str, Any]:
        """The run summary of every patient added so far (module docstring)."""
        curves: dict[str, dict[str, Any]] = {}
        bound: dict[str, dict[str, float]] = {}
        width = 1.0 / self.per_day
        for key in CURVE_KEYS:
            row, other, n = self._rows(key)
            curves[key] = survival_block(row, n, int(row[_AT.events])) if n else survival_block(row, 0, 0)
            bound[key] = _bound(row, other, width, competing=False)
        row, other, n = self._rows("cir")
        cr = competing_block(row if n else None, n)
        bound["competing_risks"] = _bound(row, other, width, competing=True)
        n, n_inf = self.n, self.n_inf
        resources = {
            "icu_days_per_infused": self.icu_days / n_inf if n_inf else None,
            "hsct_per_patient": self.hsct / max(n, 1),
            "infusions_per_patient": self.infusions / n if n else None,
            "manufacturing_attempts_per_patient": self.attempts / n if n else None,
        }
        causes = {c.name.lower(): int(self.causes[c]) for c in DeathCause}
        out = assemble(rates_block(n, n_inf, self.k), curves, cr, causes, resources)
        out["streamed"] = {"chunks": self.chunks, "bin_days": width, "bound": bound}
        return out


def _bound(row: np.ndarray, other: np.ndarray, width: float, competing: bool) -> dict[str, float]:
    """Largest distance between the exact and the reported estimates (module docstring):
    survival or incidences at the landmarks (with the interval ends of survival), and for
    survival the median (and its interval's ends) and the restricted mean, in days."""
    def gap(a: np.ndarray, b: np.ndarray) -> float:
        d = np.abs(np.asarray(a, float) - np.asarray(b, float))
        both_inf = np.isinf(a) & np.isinf(b)
        d = np.where(both_inf | (np.isnan(a) & np.isnan(b)), 0.0, d)
        return float(np.max(d)) if d.size else 0.0

    if competing:
        return {"incidence": max(gap(row[_AT.cif1], other[_AT.cif1]), gap(row[_AT.cif2], other[_AT.cif2]))}
    s = gap(row[_AT.survival], other[_AT.survival])
    bands = [np.array([loglog_band(v, g) if np.isfinite(v) else (np.nan, np.nan)
                       for v, g in zip(r[_AT.survival], r[_AT.greenwood], strict=True)]) for r in (row, other)]
    med = slice(_AT.median, _AT.median_high + 1)
    return {"survival": s, "survival_ci": gap(bands[0], bands[1]), "median_days": gap(row[med], other[med]) + width,
            "rmst_days": gap(row[_AT.rmst:_AT.rmst + 1], other[_AT.rmst:_AT.rmst + 1]) + width}
