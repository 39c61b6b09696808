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

from typing import Any

import numpy as np
import pandas as pd

from sim.model.endpoints import DAYS_PER_MONTH, LANDMARK_MONTHS, POPULATIONS, SUMMARY_RATES
from sim.model.states import NRM_CAUSES, DeathCause, Response
from sim.stats.incidence import aalen_johansen
from sim.stats.survival import (
    kaplan_meier,
    not_estimable_reason,
    wilson_interval,
)

__all__ = ["DAYS_PER_MONTH", "LANDMARK_MONTHS", "competing_risks", "endpoint_data", "summarise",
           "survival_summary"]

ENDPOINTS = ("os", "efs", "lfs")


def endpoint_data(df: pd.DataFrame, endpoint: str, origin: str = "infusion") -> tuple[np.ndarray, np.ndarray]:
    """(time_days, event) of an endpoint for the patients it applies to."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
    if origin not in ("infusion", "decision"):
        raise ValueError("origin must be 'infusion' or 'decision'")
    t_inf = df["t_inf_days"].to_numpy(np.float64)
    t_last = df["t_last_days"].to_numpy(np.float64)
    if endpoint == "os":
        t_event = df["t_death_days"].to_numpy(np.float64)
        keep = np.ones(len(df), bool)
    elif endpoint == "efs":
        t_event = df["t_efs_days"].to_numpy(np.float64)
        keep = np.ones(len(df), bool)
    else:
        t_event = np.fmin(df["t_relapse_days"].to_numpy(np.float64), df["t_death_days"].to_numpy(np.float64))
        keep = df["response"].to_numpy() >= Response.CR_MRD_POS
    if origin == "infusion":
        keep &= ~np.isnan(t_inf)
        start = np.nan_to_num(t_inf)
    elif endpoint == "lfs":
        raise ValueError("LFS is defined from infusion only")
    else:
        start = np.zeros(len(df))
    event = ~np.isnan(t_event)
    time = np.where(event, t_event, t_last) - start
    return time[keep], event[keep]


def survival_summary(time: np.ndarray, event: np.ndarray) -> dict[str, Any]:
    """Landmarks (with CIs), median (with CI) and 24-month restricted mean.

    Keys ``n``, ``events``, ``max_followup_days`` (None without patients), ``m6``,
    ``m6_ci`` ([low, high]), ... ``m24_ci``, ``median_days``, ``median_days_ci``
    (a bound the band never takes below 1/2 is None: "not reached"),
    ``rmst_m24_days`` and ``not_estimable`` (key -> reason for every None
    estimate; module docstring)."""
    km = kaplan_meier(time, event)
    out: dict[str, Any] = {"n": len(time), "events": int(np.sum(event)),
                           "max_followup_days": _finite_or_none(km.max_followup)}
    why: dict[str, str] = {}
    for months in LANDMARK_MONTHS:
        day = months * DAYS_PER_MONTH
        reason = not_estimable_reason(km, day)
        if reason is None:
            out[f"m{months}"] = float(km.survival_at(day))
            out[f"m{months}_ci"] = [float(x) for x in km.survival_ci_at(day)]
        else:
            out[f"m{months}"] = None
            out[f"m{months}_ci"] = [None, None]
            why[f"m{months}"] = reason
    out["median_days"] = _finite_or_none(km.median())
    out["median_days_ci"] = [_finite_or_none(x) for x in km.median_ci()]
    if out["median_days"] is None:
        why["median_days"] = (not_estimable_reason(km, 0.0)
                              or f"not reached: above 1/2 to the maximum follow-up of {km.max_followup:.1f} d")
    tau = 24 * DAYS_PER_MONTH
    out["rmst_m24_days"] = km.restricted_mean(tau)
    if out["rmst_m24_days"] is None:
        why["rmst_m24_days"] = not_estimable_reason(km, tau) or "not estimable"
    out["not_estimable"] = why
    return out


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def competing_risks(df: pd.DataFrame) -> dict[str, Any]:
    """CIR and NRM at the landmarks among first-infusion CRs, from infusion.

    Keys ``n``, ``max_followup_days``, ``cir_m6`` ... ``nrm_m24`` and
    ``not_estimable`` (key -> reason for every None value; module docstring)."""
    cr = (df["response"].to_numpy() >= Response.CR_MRD_POS) & df["t_inf_days"].notna().to_numpy()
    sub = df.loc[cr]
    t_inf = sub["t_inf_days"].to_numpy(np.float64)
    t_rel = sub["t_relapse_days"].to_numpy(np.float64)
    t_death = sub["t_death_days"].to_numpy(np.float64)
    death_cause = sub["death_cause"].to_numpy()
    relapsed = ~np.isnan(t_rel)
    nrm = ~relapsed & np.isin(death_cause, [int(c) for c in NRM_CAUSES])
    cause = np.where(relapsed, 1, np.where(nrm, 2, 0))
    time = np.where(relapsed, t_rel, np.where(nrm, t_death, sub["t_last_days"].to_numpy(np.float64))) - t_inf
    out: dict[str, Any] = {"n": len(time), "max_followup_days": None}
    why: dict[str, str] = {}
    if len(time) == 0:
        for months in LANDMARK_MONTHS:
            out[f"cir_m{months}"] = out[f"nrm_m{months}"] = None
            why[f"cir_m{months}"] = why[f"nrm_m{months}"] = "no patients in complete remission"
        out["not_estimable"] = why
        return out
    cir = aalen_johansen(time, cause, 1)
    nrm_ci = aalen_johansen(time, cause, 2)
    out["max_followup_days"] = cir.max_followup
    for months in LANDMARK_MONTHS:
        day = months * DAYS_PER_MONTH
        for key, curve in ((f"cir_m{months}", cir), (f"nrm_m{months}", nrm_ci)):
            reason = not_estimable_reason(curve, day)
            out[key] = None if reason else float(curve.cif_at(day))
            if reason:
                why[key] = reason
    out["not_estimable"] = why
    return out


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n)
    return {"k": int(k), "n": int(n), "rate": (k / n) if n else None,
            "ci": [lo if n else None, hi if n else None]}


def summarise(df: pd.DataFrame) -> dict[str, Any]:
    """Every outcome of ``cartsim run`` from a patient table (see module docstring).

    Survival blocks ``os``, ``efs``, ``lfs`` (from infusion), ``itt.os``, ``itt.efs``
    (from the decision to treat) have the keys of :func:`survival_summary`;
    ``competing_risks`` those of :func:`competing_risks`, whose 24-month values are
    repeated at the top level as ``cir_m24`` / ``nrm_m24`` with their reasons in the
    top-level ``not_estimable``."""
    infused = POPULATIONS["infused"].members(df)
    n_inf = int(infused.sum())
    # the first-infusion rates of the endpoint table, each over infused patients
    rates = {e.name: _rate(int(np.sum(e.value(df) & infused)), n_inf) for e in SUMMARY_RATES if e.value is not None}
    out: dict[str, Any] = {"patients": len(df), "infused": n_inf}
    for key, r in rates.items():
        out[key] = r["rate"]
    out["rates"] = rates
    for endpoint in ENDPOINTS:
        out[endpoint] = survival_summary(*endpoint_data(df, endpoint, "infusion"))
    out["itt"] = {e: survival_summary(*endpoint_data(df, e, "decision")) for e in ("os", "efs")}
    cr = competing_risks(df)
    out["cir_m24"] = cr["cir_m24"]
    out["nrm_m24"] = cr["nrm_m24"]
    out["competing_risks"] = cr
    # the reasons for the top-level copies of cir_m24 / nrm_m24
    out["not_estimable"] = {k: cr["not_estimable"][k] for k in ("cir_m24", "nrm_m24") if k in cr["not_estimable"]}
    causes = df["death_cause"].to_numpy()
    out["death_causes"] = {c.name.lower(): int(np.sum(causes == c)) for c in DeathCause}
    n = max(len(df), 1)
    out["resource_use"] = {
        "icu_days_per_infused": float(df["icu_days"].to_numpy()[infused].mean()) if n_inf else None,
        "hsct_per_patient": float(df["t_hsct_days"].notna().sum() / n),
        "infusions_per_patient": float(df["n_infusions"].mean()) if len(df) else None,
        "manufacturing_attempts_per_patient": float(df["mfg_attempts"].mean()) if len(df) else None,
    }
    return out
