"""The outcomes a comparison reports (name, label, unit, method) and their paired
estimators: the per-patient ratio data of the delta method and the values read from
a run summary."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.model.outputs import F, I
from sim.model.states import DeathCause, Response
from sim.outcomes.summary import LANDMARK_MONTHS

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
