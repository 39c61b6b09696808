"""What-if comparisons of scenarios with common random numbers and paired intervals.

:func:`compare` simulates two or more scenarios with the **same** seed, patient ids
and horizon. Every random number has an address (seed, patient id, decision, cycle,
...; ``sim.engine.rng``), so patient *i* meets the same random
numbers in every scenario and a difference between scenarios is estimated from
paired patient records: the noise that both scenarios share cancels.

For every outcome of ``cartsim run`` it reports each scenario's value and the
difference ``scenario - first scenario`` with a 95% interval, and the variance
reduction the pairing gave: ``var(independent difference) / var(paired difference)``,
where the independent variance is the sum of the two scenarios' own variances (what
two runs with unrelated random numbers would have had for the same patient count).

How the paired intervals are computed (the ``method`` of each row):

* ``delta`` — rates, shares and means per patient or per infused patient. Each is a
  ratio estimator ``r = sum(y_i) / sum(x_i)`` over the patients (``x_i`` = 1 for
  per-patient means, ``x_i`` = infused for rates among infused patients, so the
  denominators may differ between scenarios). Its influence function is
  ``IF_i = (y_i - r x_i) / mean(x)``, and the paired difference has the variance
  ``sum_i (IF_B,i - IF_A,i)^2 / n^2`` (delta method; the per-patient pairing enters
  through the difference of the two influence values of the same patient).
* ``bootstrap`` — Kaplan-Meier landmarks, medians and 24-month restricted means,
  Aalen-Johansen incidences (CIR, NRM) and intention-to-treat landmarks: a paired
  bootstrap over patient ids. Replicate *b* resamples the n patient ids with
  replacement (multinomial counts from a Philox stream addressed by (seed, b)) and
  applies the **same** resample to every scenario; the estimators are recomputed as
  weighted curves by a compiled pass over the presorted times, all replicates of a
  batch at once (200 replicates x 100,000 patients x 2 scenarios: about 2 s on 2
  busy cores). The standard error is the standard deviation of the replicate
  differences.

Intervals are ``diff +- z * SE`` (z = 1.96 for 95%). They measure Monte Carlo error
only: the scenarios run at their point parameter values, so the interval says how
precisely the simulation pins down the difference the model implies, not how
uncertain that difference is given the evidence (parameter uncertainty is what the
probabilistic sweeps are for). A scenario compared with itself
has identical records, so every difference and its standard error are exactly 0. A
median that is not reached (in the estimate or in a replicate) has no interval.

No number past the data (the rule of :mod:`sim.stats.survival`): a landmark,
incidence or restricted mean beyond a scenario's maximum follow-up is None in that
scenario, its difference row has no difference and no interval, and the row's
``not_estimable`` says which scenario and why; the bootstrap applies the same rule to
every replicate (a replicate past its own data gives no number, so no interval).

Known limit of the pairing: a categorical policy choice (cell source, target,
consolidation) is drawn by inverse CDF over its categories in code order, so moving
share from one category to a non-adjacent one re-assigns *which* patients get each
option; an outcome driven by that choice then pairs poorly (a variance reduction
near or below 1, e.g. ``hsct_per_patient`` when the "none" share moves to
decitabine). The interval stays valid; it is just no narrower than unpaired.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.kernel import run_kernel
from sim.io.files import json_safe
from sim.model.errors import InputError
from sim.model.limits import RUN_BYTES_PER_PATIENT, check_memory, check_option
from sim.model.outputs import F, I
from sim.model.scenario import Scenario
from sim.model.states import NRM_CAUSES, DeathCause, Response
from sim.outcomes.summary import DAYS_PER_MONTH, LANDMARK_MONTHS, summarise
from sim.stats.survival import beyond_data

DEFAULT_BOOTSTRAP = 200
MIN_BOOTSTRAP = 10
LEVEL = 0.95
CHUNK_PATIENTS = 1_000_000  # progress granularity; results do not depend on it
_BOOTSTRAP_STREAM = 0xB0075  # separates the resampling stream from the pathway's draws
_HALF_TOL = 1e-12  # as sim.stats.survival: a curve at 1/2 up to rounding reaches the median
RMST_MONTHS = 24

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Outcome:
    """One compared outcome: its key, label, unit and how its interval is computed."""

    name: str
    label: str
    unit: str  # "probability", "days" or "per patient" / "per infused patient"
    method: str  # "delta" or "bootstrap"


def _outcome_table() -> tuple[Outcome, ...]:
    rows = [
        Outcome("cr_rate", "CR/CRi, first infusion", "probability", "delta"),
        Outcome("mrd_neg_cr_rate", "MRD-negative CR, first infusion", "probability", "delta"),
        Outcome("crs_any", "CRS any grade", "probability", "delta"),
        Outcome("crs_grade3plus", "CRS grade >= 3", "probability", "delta"),
        Outcome("icans_any", "ICANS any grade", "probability", "delta"),
        Outcome("icans_grade3plus", "ICANS grade >= 3", "probability", "delta"),
        Outcome("agvhd_grade2plus", "acute GVHD grade II-IV", "probability", "delta"),
    ]
    for endpoint in ("os", "efs", "lfs"):
        for m in LANDMARK_MONTHS:
            rows.append(Outcome(f"{endpoint}_m{m}", f"{endpoint.upper()} at {m} months", "probability", "bootstrap"))
        rows.append(Outcome(f"{endpoint}_median_days", f"{endpoint.upper()} median", "days", "bootstrap"))
        rows.append(Outcome(f"{endpoint}_rmst_m24_days", f"{endpoint.upper()} restricted mean to 24 months",
                            "days", "bootstrap"))
    rows += [
        Outcome("cir_m24", "relapse (CIR) at 24 months, CR patients", "probability", "bootstrap"),
        Outcome("nrm_m24", "non-relapse mortality at 24 months, CR patients", "probability", "bootstrap"),
        Outcome("itt_os_m12", "OS at 12 months from decision to treat (ITT)", "probability", "bootstrap"),
        Outcome("itt_os_m24", "OS at 24 months from decision to treat (ITT)", "probability", "bootstrap"),
        Outcome("infused_share", "infused (share of patients)", "probability", "delta"),
        Outcome("death_before_infusion", "died before a first infusion (share of patients)", "probability", "delta"),
        Outcome("days_to_infusion_mean", "days from decision to first infusion (mean, infused)", "days", "delta"),
        Outcome("icu_days_per_infused", "ICU days per infused patient", "per infused patient", "delta"),
        Outcome("infusions_per_patient", "CAR-T infusions per patient", "per patient", "delta"),
        Outcome("hsct_per_patient", "consolidative allo-HSCT per patient", "per patient", "delta"),
        Outcome("manufacturing_attempts_per_patient", "manufacturing attempts per patient", "per patient", "delta"),
    ]
    return tuple(rows)


#: every compared outcome, in report order
OUTCOMES: tuple[Outcome, ...] = _outcome_table()
OUTCOME_BY_NAME = {o.name: o for o in OUTCOMES}


# --------------------------------------------------------------------------- #
# per-patient data of one simulated scenario


def patient_frame(fout: np.ndarray, iout: np.ndarray) -> pd.DataFrame:
    """The kernel's blocks as a DataFrame with the public column names (as ``cartsim run``)."""
    data: dict[str, np.ndarray] = {"patient_id": np.arange(len(fout))}
    for col in F:
        data[col.name.lower()] = np.ascontiguousarray(fout[:, col])
    for icol in I:
        data[icol.name.lower()] = np.ascontiguousarray(iout[:, icol])
    return pd.DataFrame(data)


def _ratio_data(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-patient (numerator y, denominator x) of every delta-method outcome; the
    outcome is sum(y) / sum(x), the definitions of ``sim.outcomes.summary.summarise``."""
    t_inf = df["t_inf_days"].to_numpy(np.float64)
    infused = ~np.isnan(t_inf)
    x_inf = infused.astype(np.float64)
    ones = np.ones(len(df))
    resp = df["response"].to_numpy()
    crs = df["crs_grade"].to_numpy()
    icans = df["icans_grade"].to_numpy()
    gvhd = df["gvhd_grade"].to_numpy()
    cause = df["death_cause"].to_numpy()

    def among_infused(flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (flag & infused).astype(np.float64), x_inf

    return {
        "cr_rate": among_infused(resp >= Response.CR_MRD_POS),
        "mrd_neg_cr_rate": among_infused(resp == Response.CR_MRD_NEG),
        "crs_any": among_infused(crs >= 1),
        "crs_grade3plus": among_infused(crs >= 3),
        "icans_any": among_infused(icans >= 1),
        "icans_grade3plus": among_infused(icans >= 3),
        "agvhd_grade2plus": among_infused(gvhd >= 2),
        "infused_share": (x_inf, ones),
        "death_before_infusion": (((cause == DeathCause.BEFORE_INFUSION) & ~infused).astype(np.float64), ones),
        "days_to_infusion_mean": (np.where(infused, t_inf, 0.0), x_inf),
        "icu_days_per_infused": (np.where(infused, df["icu_days"].to_numpy(np.float64), 0.0), x_inf),
        "infusions_per_patient": (df["n_infusions"].to_numpy(np.float64), ones),
        "hsct_per_patient": ((~np.isnan(df["t_hsct_days"].to_numpy(np.float64))).astype(np.float64), ones),
        "manufacturing_attempts_per_patient": (df["mfg_attempts"].to_numpy(np.float64), ones),
    }


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


def _outcomes_from_statistics(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every bootstrap outcome from the statistics of the five curves."""
    n_land = len(LANDMARK_MONTHS)
    i24 = LANDMARK_MONTHS.index(24)
    i12 = LANDMARK_MONTHS.index(12)
    out: dict[str, np.ndarray] = {}
    for endpoint in ("os", "efs", "lfs"):
        st = stats[endpoint]
        for j, m in enumerate(LANDMARK_MONTHS):
            out[f"{endpoint}_m{m}"] = st[:, j]
        out[f"{endpoint}_median_days"] = st[:, n_land]
        out[f"{endpoint}_rmst_m24_days"] = st[:, n_land + 1]
    out["itt_os_m12"] = stats["itt_os"][:, i12]
    out["itt_os_m24"] = stats["itt_os"][:, i24]
    out["cir_m24"] = stats["competing"][:, n_land + 2 + i24]
    out["nrm_m24"] = stats["competing"][:, 2 * n_land + 2 + i24]
    return out


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


# --------------------------------------------------------------------------- #
# the comparison


def _summary_value(summary: dict[str, Any], name: str) -> float | None:
    """An outcome's value as ``cartsim run`` reports it."""
    if name in summary["rates"]:
        return summary["rates"][name]["rate"]
    if name in summary["resource_use"]:
        return summary["resource_use"][name]
    if name in ("cir_m24", "nrm_m24"):
        return summary[name]
    if name.startswith("itt_os_"):
        return summary["itt"]["os"][name.removeprefix("itt_os_")]
    endpoint, _, key = name.partition("_")
    if endpoint in ("os", "efs", "lfs"):
        return summary[endpoint][key]
    return None


def _summary_reason(summary: dict[str, Any], name: str) -> str | None:
    """Why ``cartsim run`` has no value for an outcome (its ``not_estimable`` entry), or None."""
    if name in ("cir_m24", "nrm_m24"):
        block, key = summary, name
    elif name.startswith("itt_os_"):
        block, key = summary["itt"]["os"], name.removeprefix("itt_os_")
    else:
        endpoint, _, key = name.partition("_")
        if endpoint not in ("os", "efs", "lfs"):
            return None
        block = summary[endpoint]
    reason: str | None = block.get("not_estimable", {}).get(key)
    return reason


def _ratio_value(y: np.ndarray, x: np.ndarray) -> float | None:
    sx = x.sum()
    return float(y.sum() / sx) if sx > 0 else None


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass
class CompareResult:
    """Scenarios simulated with common random numbers and their paired differences.

    ``values[outcome][k]`` is scenario k's value; ``differences`` one row per outcome
    and scenario k >= 1 against scenario 0 (keys ``outcome``, ``label``, ``unit``,
    ``scenario``, ``scenario_index``, ``reference``, ``reference_value``, ``value``,
    ``diff``, ``diff_low``, ``diff_high``, ``se_paired``, ``se_independent``,
    ``variance_reduction``, ``method``, ``not_estimable``). No number past the data: where
    either scenario has no value (a landmark or restricted mean beyond its maximum
    follow-up, a median not reached), the difference and its interval are None and
    ``not_estimable`` names the scenario(s) and the reason (else None); no bootstrap
    replicate is used there. ``reasons[outcome][k]`` is scenario k's reason or None."""

    scenarios: list[Scenario]
    summaries: list[dict[str, Any]]
    values: dict[str, list[float | None]]
    reasons: dict[str, list[str | None]]
    differences: list[dict[str, Any]]
    patients: int
    seed: int
    horizon_days: float
    bootstrap: int
    level: float
    notes: list[str]
    elapsed_s: float
    simulate_s: float
    tables: list[pd.DataFrame] = field(repr=False, default_factory=list)

    def row(self, outcome: str, scenario_index: int = 1) -> dict[str, Any]:
        """The difference row of an outcome for one scenario (index >= 1)."""
        for r in self.differences:
            if r["outcome"] == outcome and r["scenario_index"] == scenario_index:
                return r
        raise KeyError(f"no difference row for {outcome!r} and scenario {scenario_index}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"scenarios": [...], "differences": [...], ...}`` (NaN -> None)."""
        scenarios = []
        for k, (sc, summary) in enumerate(zip(self.scenarios, self.summaries, strict=True)):
            scenarios.append({
                "index": k, "name": sc.name, "file": sc.file, "description": sc.description,
                "parameter_hash": sc.params.digest(), "patients": summary["patients"], "infused": summary["infused"],
                "values": {o.name: self.values[o.name][k] for o in OUTCOMES},
                "not_estimable": {o.name: self.reasons[o.name][k] for o in OUTCOMES
                                  if self.reasons[o.name][k] is not None},
            })
        return json_safe({
            "scenarios": scenarios,
            "differences": self.differences,
            "seed": self.seed,
            "patients": self.patients,
            "horizon_days": self.horizon_days,
            "level": self.level,
            "bootstrap_replicates": self.bootstrap,
            "methods": {
                "delta": "rates, shares and means: ratio estimators sum(y)/sum(x) over patients; paired variance "
                         "from per-patient differences of delta-method influence values",
                "bootstrap": f"Kaplan-Meier, Aalen-Johansen and ITT estimates: paired bootstrap over patient ids "
                             f"({self.bootstrap} replicates, the same resample applied to every scenario)",
                "interval": "diff +- z * paired SE (normal approximation); Monte Carlo error only, at the "
                            "scenarios' point parameter values (no parameter uncertainty)",
                "variance_reduction": "(var of scenario + var of reference) / var of the paired difference",
                "not_estimable": "a landmark, incidence or restricted mean past a scenario's maximum follow-up, or a "
                                 "median not reached, is null; the row's not_estimable gives the scenario and reason",
            },
            "notes": self.notes,
            "elapsed_s": self.elapsed_s,
            "simulate_s": self.simulate_s,
        })


def _check_whole(name: str, value: Any, lowest: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest):
        raise InputError("command line", name, f"expected a whole number >= {lowest}, got {value!r}",
                         f"an integer >= {lowest}")


def _load(scenario: str | Path | Scenario, load: Callable[[str | Path], Scenario] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if load is None:
        raise TypeError(f"scenario {scenario!r} is a name: pass Scenario objects or a loader (sim.api.compare does)")
    return load(scenario)


def _settings(scenarios: list[Scenario], patients: int | None, seed: int | None) -> tuple[list[Scenario], list[str]]:
    """Every scenario with the shared run settings (the first scenario's unless given)."""
    first = scenarios[0].run
    notes = []
    for sc in scenarios[1:]:
        if sc.run.horizon_days != first.horizon_days:
            notes.append(f"{sc.name} sets horizon_days = {sc.run.horizon_days:g}; every scenario uses the first "
                         f"scenario's horizon, {first.horizon_days:g} days")
        if seed is None and sc.run.seed != first.seed:
            notes.append(f"{sc.name} sets seed = {sc.run.seed}; every scenario uses the first scenario's seed, "
                         f"{first.seed} (common random numbers)")
        if patients is None and sc.run.patients != first.patients:
            notes.append(f"{sc.name} sets patients = {sc.run.patients:,}; every scenario simulates the first "
                         f"scenario's {first.patients:,}")
    n = first.patients if patients is None else patients
    s = first.seed if seed is None else seed
    return [sc.with_run(patients=n, seed=s, horizon_days=first.horizon_days) for sc in scenarios], notes


def _simulate(sc: Scenario, threads: int | None, done: int, total: int,
              progress: ProgressCallback | None) -> tuple[np.ndarray, np.ndarray]:
    n = sc.run.patients
    theta = sc.params.theta()
    fout = np.empty((n, len(F)), np.float32)
    iout = np.empty((n, len(I)), np.int8)
    for start in range(0, n, CHUNK_PATIENTS):
        stop = min(n, start + CHUNK_PATIENTS)
        fout[start:stop], iout[start:stop] = run_kernel(theta, sc.run.seed, stop - start, sc.run.horizon_days,
                                                        first_patient_id=start, threads=threads)
        if progress is not None:
            progress(done + stop, total)
    return fout, iout


def _delta_se(ya: np.ndarray, xa: np.ndarray, yb: np.ndarray, xb: np.ndarray) -> tuple[float, float]:
    """(paired SE, independent SE) of sum(yb)/sum(xb) - sum(ya)/sum(xa) by the delta method."""
    n = len(ya)
    sxa, sxb = xa.sum(), xb.sum()
    if sxa == 0 or sxb == 0:
        return math.nan, math.nan
    ifa = (ya - ya.sum() / sxa * xa) / (sxa / n)
    ifb = (yb - yb.sum() / sxb * xb) / (sxb / n)
    paired = float(np.sqrt(np.sum((ifb - ifa) ** 2)) / n)
    independent = float(np.sqrt(np.sum(ifa**2) + np.sum(ifb**2)) / n)
    return paired, independent


def compare(scenarios: Sequence[str | Path | Scenario], patients: int | None = None, seed: int | None = None,
            threads: int | None = None, bootstrap: int = DEFAULT_BOOTSTRAP, level: float = LEVEL,
            progress: ProgressCallback | None = None,
            load: Callable[[str | Path], Scenario] | None = None) -> CompareResult:
    """Simulate the scenarios with common random numbers and compare each with the first.

    ``scenarios``: two or more ``Scenario`` objects, or names that ``load`` turns into
    scenarios (this package reads no files; :func:`sim.api.compare` passes the loader).
    Run settings: the first scenario's patients and seed unless given, and
    always its horizon (differences are reported in ``notes``). ``bootstrap``:
    paired bootstrap replicates for the survival outcomes. Methods: module docstring.
    Bad input raises :class:`~sim.model.errors.InputError`.
    """
    t0 = time.perf_counter()
    if isinstance(scenarios, (str, Path, Scenario)) or len(scenarios) < 2:
        got = 1 if isinstance(scenarios, (str, Path, Scenario)) else len(scenarios)
        raise InputError("command line", "SCENARIOS", f"need at least 2 scenarios to compare, got {got}",
                         "two or more scenario files or names")
    _check_whole("--patients", patients, 1)
    _check_whole("--seed", seed, 0)
    _check_whole("--threads", threads, 1)
    _check_whole("--bootstrap", bootstrap, MIN_BOOTSTRAP)
    for key, value, limit in (("--patients", patients, "patients"), ("--seed", seed, "seed"),
                              ("--threads", threads, "threads"), ("--bootstrap", bootstrap, "bootstrap")):
        check_option(key, value, limit)
    if not 0.0 < level < 1.0:
        raise InputError("command line", "level", f"expected a confidence level in (0, 1), got {level!r}")
    loaded, notes = _settings([_load(s, load) for s in scenarios], patients, seed)
    run = loaded[0].run
    n = run.patients
    # every scenario's patient table and every bootstrap replicate's outcomes are held at once
    key, file = ("--patients", "command line") if patients is not None else ("run.patients", loaded[0].file)
    check_memory(len(loaded) * n * RUN_BYTES_PER_PATIENT, file, key, f"{len(loaded)} x {n:,} patients")
    check_memory(len(loaded) * bootstrap * len(OUTCOMES) * 8.0, "command line", "--bootstrap",
                 f"{bootstrap:,} bootstrap replicates")

    tables = []
    for k, sc in enumerate(loaded):
        fout, iout = _simulate(sc, threads, k * n, len(loaded) * n, progress)
        tables.append(patient_frame(fout, iout))
    simulate_s = time.perf_counter() - t0
    summaries = [summarise(df) for df in tables]
    ratio = [_ratio_data(df) for df in tables]
    values = {o.name: [_finite(_summary_value(s, o.name)) for s in summaries] for o in OUTCOMES}
    reasons = {o.name: [_summary_reason(s, o.name) if v is None else None for s, v in zip(summaries, values[o.name],
                                                                                          strict=True)]
               for o in OUTCOMES}
    for name in ratio[0]:  # outcomes that summarise() does not report (access to infusion)
        if all(v is None for v in values[name]):
            values[name] = [_ratio_value(*r[name]) for r in ratio]

    # delta-method outcomes
    se: dict[tuple[str, int], tuple[float, float]] = {}
    for name in ratio[0]:
        ya, xa = ratio[0][name]
        for k in range(1, len(loaded)):
            se[name, k] = _delta_se(ya, xa, *ratio[k][name])

    # bootstrap outcomes: the same resample of patient ids for every scenario
    curves = [_curves(df) for df in tables]
    boot_names = [o.name for o in OUTCOMES if o.method == "bootstrap"]
    reps = np.empty((len(loaded), bootstrap, len(boot_names)))
    # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
    workers = threads if threads is not None else nb.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    step = _replicate_batch(n, bootstrap)
    # the compiled pass releases the GIL: threads run different (scenario, curve) passes
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for first in range(0, bootstrap, step):
            batch = range(first, min(bootstrap, first + step))
            counts = bootstrap_counts(run.seed, batch, n)
            jobs = {(k, c): pool.submit(curve_statistics, cur[c], counts)
                    for k, cur in enumerate(curves) for c in _CURVE_NAMES}
            for k in range(len(loaded)):
                st = _outcomes_from_statistics({c: jobs[k, c].result() for c in _CURVE_NAMES})
                for j, name in enumerate(boot_names):
                    reps[k, batch.start:batch.stop, j] = st[name]
    with np.errstate(invalid="ignore"):
        for j, name in enumerate(boot_names):
            for k in range(1, len(loaded)):
                a, bk = reps[0, :, j], reps[k, :, j]
                if not (np.isfinite(a).all() and np.isfinite(bk).all()):
                    se[name, k] = (math.nan, math.nan)
                    continue
                se[name, k] = (float(np.std(bk - a, ddof=1)), float(np.sqrt(np.var(a, ddof=1) + np.var(bk, ddof=1))))

    z = float(stats.norm.ppf(0.5 + level / 2.0))
    differences = []
    for k in range(1, len(loaded)):
        for o in OUTCOMES:
            ref, val = values[o.name][0], values[o.name][k]
            se_p, se_i = se[o.name, k]
            diff = None if ref is None or val is None else val - ref
            why = "; ".join(f"{loaded[j].name}: {reasons[o.name][j]}" for j in (0, k)
                            if reasons[o.name][j] is not None) if diff is None else ""
            ok = diff is not None and math.isfinite(se_p)
            differences.append({
                "outcome": o.name, "label": o.label, "unit": o.unit, "scenario": loaded[k].name,
                "scenario_index": k, "reference": loaded[0].name, "reference_value": ref, "value": val,
                "diff": diff,
                "diff_low": diff - z * se_p if ok and diff is not None else None,
                "diff_high": diff + z * se_p if ok and diff is not None else None,
                "se_paired": se_p if ok else None,
                "se_independent": se_i if ok else None,
                "variance_reduction": (se_i / se_p) ** 2 if ok and se_p > 0 else None,
                "method": o.method,
                "not_estimable": why or None,
            })
    return CompareResult(loaded, summaries, values, reasons, differences, n, run.seed, run.horizon_days, bootstrap,
                         level, notes, time.perf_counter() - t0, simulate_s, tables)
