"""Outcomes of simulated patients: rates, survival endpoints, competing risks, resources.

Endpoint definitions (times in days; months are 30.4375 days):

* origin ``"infusion"`` (the published endpoints): infused patients only, time from
  the first infusion; origin ``"decision"`` (intention to treat): every patient,
  time from the decision to treat (t = 0).
* OS: death from any cause.
* EFS: not infused (drop-out or death before infusion), non-response at the first
  day-28 assessment (dated at the assessment), first relapse, or death.
* LFS: patients in CR after their first infusion; first relapse or death.
* CIR / NRM: the same CR patients; relapse and non-relapse death (CRS, ICANS, GVHD,
  transplant, infection/other) as competing risks (Aalen-Johansen).
* Rates (CR, MRD-negative CR, CRS, ICANS, aGVHD) are over infused patients and
  describe the first infusion; 95% Wilson intervals.

No number past the data (the rule of :mod:`sim.stats.survival`): a landmark, its
CI, a cumulative incidence or a restricted mean at a time beyond the analysis'
maximum follow-up (``max_followup_days``, the largest observed time) is ``None``
(JSON null), and the block's ``not_estimable`` mapping gives, for every key that is
None, the reason (e.g. ``{"m24": "beyond the maximum follow-up of 709.2 d"}``); a
median is None with the reason "not reached" when the curve stays above 1/2.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from sim.model.endpoints import DAYS_PER_MONTH, LANDMARK_MONTHS, POPULATIONS, RMST_MONTHS, SUMMARY_RATES, Columns
from sim.model.states import DeathCause
from sim.outcomes.curves import curve_from_columns, curve_keys
from sim.stats.survival import beyond_reason, wilson_interval
from sim.stats.weighted import Layout, estimate, estimate_packed, loglog_band

__all__ = ["DAYS_PER_MONTH", "LANDMARK_MONTHS", "competing_risks", "endpoint_data", "summarise",
           "survival_summary"]

ENDPOINTS = ("os", "efs", "lfs")
_LANDMARKS_DAYS = np.array([m * DAYS_PER_MONTH for m in LANDMARK_MONTHS])
_TAU_DAYS = RMST_MONTHS * DAYS_PER_MONTH
_AT = Layout(len(LANDMARK_MONTHS))
SUMMARY_THREADS = 2


def endpoint_data(df: Columns, endpoint: str, origin: str = "infusion") -> tuple[np.ndarray, np.ndarray]:
    """(time_days, event) of an endpoint for the patients it applies to (the curves of
    :mod:`sim.outcomes.curves`; origin ``"decision"``: the ITT curves)."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
    if origin not in ("infusion", "decision"):
        raise ValueError("origin must be 'infusion' or 'decision'")
    if origin == "decision" and endpoint == "lfs":
        raise ValueError("LFS is defined from infusion only")
    _, time, code = curve_from_columns(df, endpoint if origin == "infusion" else f"itt_{endpoint}")
    return time, code > 0


def _reason(row: np.ndarray) -> str:
    """Why a value of an estimate row is missing (no patients, or past the data)."""
    if row[_AT.n] == 0:
        return "no observations"
    return beyond_reason(float(row[_AT.max_followup]))


def survival_summary(time: np.ndarray, event: np.ndarray) -> dict[str, Any]:
    """Landmarks (with CIs), median (with CI) and 24-month restricted mean.

    Keys ``n``, ``events``, ``max_followup_days`` (None without patients), ``m6``,
    ``m6_ci`` ([low, high]), ... ``m24_ci``, ``median_days``, ``median_days_ci``
    (a bound the band never takes below 1/2 is None: "not reached"),
    ``rmst_m24_days`` and ``not_estimable`` (key -> reason for every None
    estimate; module docstring)."""
    row = estimate(time, np.asarray(event).astype(np.int8), _LANDMARKS_DAYS, _TAU_DAYS)
    return survival_block(row, len(time), int(np.sum(event)))


def survival_block(row: np.ndarray, n: int, events: int) -> dict[str, Any]:
    """The keys of :func:`survival_summary` from an estimate row (:class:`Layout` of the
    summary's landmarks and restricted-mean horizon) of ``n`` patients with ``events``."""
    out: dict[str, Any] = {"n": n, "events": events, "max_followup_days": _finite_or_none(row[_AT.max_followup])}
    why: dict[str, str] = {}
    for j, months in enumerate(LANDMARK_MONTHS):
        s = row[_AT.survival][j]
        if np.isnan(s):
            out[f"m{months}"] = None
            out[f"m{months}_ci"] = [None, None]
            why[f"m{months}"] = _reason(row)
        else:
            out[f"m{months}"] = float(s)
            out[f"m{months}_ci"] = [float(x) for x in loglog_band(s, row[_AT.greenwood][j])]
    out["median_days"] = _finite_or_none(row[_AT.median])
    out["median_days_ci"] = [_finite_or_none(row[_AT.median_low]), _finite_or_none(row[_AT.median_high])]
    if out["median_days"] is None:
        why["median_days"] = (_reason(row) if row[_AT.n] == 0 else
                              f"not reached: above 1/2 to the maximum follow-up of {row[_AT.max_followup]:.1f} d")
    out["rmst_m24_days"] = _finite_or_none(row[_AT.rmst])
    if out["rmst_m24_days"] is None:
        why["rmst_m24_days"] = _reason(row)
    out["not_estimable"] = why
    return out


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def competing_risks(df: Columns) -> dict[str, Any]:
    """CIR and NRM at the landmarks among first-infusion CRs, from infusion.

    Keys ``n``, ``max_followup_days``, ``cir_m6`` ... ``nrm_m24`` and
    ``not_estimable`` (key -> reason for every None value; module docstring)."""
    keys = curve_keys(df, "cir") if len(df["t_last_days"]) else None
    if keys is not None and len(keys):
        return competing_block(estimate_packed(keys, _LANDMARKS_DAYS, _TAU_DAYS), len(keys))
    _, time, code = curve_from_columns(df, "cir")
    return competing_block(estimate(time, code, _LANDMARKS_DAYS, _TAU_DAYS) if len(time) else None, len(time))


def competing_block(row: np.ndarray | None, n: int) -> dict[str, Any]:
    """The keys of :func:`competing_risks` from an estimate row of ``n`` patients (None: none)."""
    out: dict[str, Any] = {"n": n, "max_followup_days": None}
    why: dict[str, str] = {}
    if row is None or n == 0:
        for months in LANDMARK_MONTHS:
            out[f"cir_m{months}"] = out[f"nrm_m{months}"] = None
            why[f"cir_m{months}"] = why[f"nrm_m{months}"] = "no patients in complete remission"
        out["not_estimable"] = why
        return out
    out["max_followup_days"] = float(row[_AT.max_followup])
    for j, months in enumerate(LANDMARK_MONTHS):
        for key, cif in ((f"cir_m{months}", row[_AT.cif1]), (f"nrm_m{months}", row[_AT.cif2])):
            out[key] = None if np.isnan(cif[j]) else float(cif[j])
            if out[key] is None:
                why[key] = _reason(row)
    out["not_estimable"] = why
    return out


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n)
    return {"k": int(k), "n": int(n), "rate": (k / n) if n else None,
            "ci": [lo if n else None, hi if n else None]}


def summarise(df: Columns) -> dict[str, Any]:
    """Every outcome of ``cartsim run`` from patient records (any mapping of column name
    to array: :class:`sim.model.outputs.Records`, or a DataFrame; see module docstring).

    Survival blocks ``os``, ``efs``, ``lfs`` (from infusion), ``itt.os``, ``itt.efs``
    (from the decision to treat) have the keys of :func:`survival_summary`;
    ``competing_risks`` those of :func:`competing_risks`, whose 24-month values are
    repeated at the top level as ``cir_m24`` / ``nrm_m24`` with their reasons in the
    top-level ``not_estimable``. The six curves are estimated in two threads (their
    compiled passes and sorts release the GIL)."""
    with ThreadPoolExecutor(max_workers=SUMMARY_THREADS) as pool:
        blocks = {key: pool.submit(_survival_of, df, key) for key in CURVE_KEYS}
        competing = pool.submit(competing_risks, df)
        out = rates_and_resources(df)
        resources = out.pop("resource_use")
        curves = {key: b.result() for key, b in blocks.items()}
        cr = competing.result()
    return assemble(out, curves, cr, death_causes(np.asarray(df["death_cause"])), resources)


#: the survival blocks of a summary: key -> (endpoint, origin)
CURVE_KEYS: dict[str, tuple[str, str]] = {"os": ("os", "infusion"), "efs": ("efs", "infusion"),
                                          "lfs": ("lfs", "infusion"), "itt_os": ("os", "decision"),
                                          "itt_efs": ("efs", "decision")}


def _survival_of(df: Columns, key: str) -> dict[str, Any]:
    endpoint, origin = CURVE_KEYS[key]
    keys = curve_keys(df, endpoint if origin == "infusion" else key) if len(df["t_last_days"]) else None
    if keys is None or len(keys) == 0:
        return survival_summary(*endpoint_data(df, endpoint, origin))
    row = estimate_packed(keys, _LANDMARKS_DAYS, _TAU_DAYS)
    return survival_block(row, len(keys), int(row[_AT.events]))


def assemble(rates: dict[str, Any], curves: dict[str, dict[str, Any]], cr: dict[str, Any],
             causes: dict[str, int], resources: dict[str, Any]) -> dict[str, Any]:
    """A summary in its key order from its parts: ``rates`` (patients, infused and the rates,
    :func:`rates_block`), the survival blocks by :data:`CURVE_KEYS` key, the competing
    risks, deaths by cause and the resource use."""
    out = dict(rates)
    for endpoint in ENDPOINTS:
        out[endpoint] = curves[endpoint]
    out["itt"] = {e: curves[f"itt_{e}"] for e in ("os", "efs")}
    out["cir_m24"] = cr["cir_m24"]
    out["nrm_m24"] = cr["nrm_m24"]
    out["competing_risks"] = cr
    # the reasons for the top-level copies of cir_m24 / nrm_m24
    out["not_estimable"] = {k: cr["not_estimable"][k] for k in ("cir_m24", "nrm_m24") if k in cr["not_estimable"]}
    out["death_causes"] = causes
    out["resource_use"] = resources
    return out


def death_causes(causes: np.ndarray) -> dict[str, int]:
    """Patients per cause of death (``alive``: alive at the horizon)."""
    counts = np.bincount(causes.astype(np.int64), minlength=max(int(c) for c in DeathCause) + 1)
    return {c.name.lower(): int(counts[c]) for c in DeathCause}


def rate_counts(df: Columns) -> tuple[int, int, dict[str, int], np.ndarray]:
    """(patients, infused patients, numerator of each first-infusion rate, infused mask)."""
    n = len(np.asarray(df["t_last_days"]))
    infused = POPULATIONS["infused"].members(df)
    k = {e.name: int(np.count_nonzero(e.value(df) & infused)) for e in SUMMARY_RATES if e.value is not None}
    return n, int(np.count_nonzero(infused)), k, infused


def rates_block(n: int, n_inf: int, k: dict[str, int]) -> dict[str, Any]:
    """``patients``, ``infused`` and the first-infusion rates (top level and ``rates``, each
    over infused patients with its Wilson interval)."""
    rates = {name: _rate(kk, n_inf) for name, kk in k.items()}
    out: dict[str, Any] = {"patients": n, "infused": n_inf}
    for key, r in rates.items():
        out[key] = r["rate"]
    out["rates"] = rates
    return out


def rates_and_resources(df: Columns) -> dict[str, Any]:
    """:func:`rates_block` and ``resource_use`` of :func:`summarise`: everything but the curves."""
    n, n_inf, k, infused = rate_counts(df)
    out = rates_block(n, n_inf, k)
    out["resource_use"] = {
        "icu_days_per_infused": float(np.asarray(df["icu_days"])[infused].mean()) if n_inf else None,
        "hsct_per_patient": float(np.count_nonzero(~np.isnan(np.asarray(df["t_hsct_days"]))) / max(n, 1)),
        "infusions_per_patient": float(np.mean(np.asarray(df["n_infusions"]), dtype=np.float64)) if n else None,
        "manufacturing_attempts_per_patient": (float(np.mean(np.asarray(df["mfg_attempts"]), dtype=np.float64))
                                               if n else None),
    }
    return out
