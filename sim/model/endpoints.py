"""The endpoints: every quantity reported about simulated patients, declared once.

Each :class:`Endpoint` has its ``name`` (the one key used in every JSON output, table
column and command-line option), a ``label`` for people, a ``unit``, the ``population``
it is computed over (:data:`POPULATIONS`) and its definition:

* a ratio (``kind`` ``"rate"`` or ``"mean"``): ``sum(value) / sum(population)`` over
  the patient records, ``value`` being the per-patient numerator (a flag for a rate);
* a time-to-event statistic (``kind`` ``"landmark"``, ``"median"``, ``"rmst"`` or
  ``"incidence"``): a statistic of the curve :data:`CURVES` ``[curve]`` (its origin,
  event and censoring, or competing event) at ``months`` (landmarks and the restricted
  mean's horizon; months are 30.4375 days).

``summary_key`` is where ``cartsim run``'s summary keeps the number (empty when the
summary does not report it); ``method`` is the paired interval method of
``cartsim compare`` (``"delta"`` for ratios, ``"bootstrap"`` for curve statistics);
``sweep`` marks the outcomes of the compiled per-parameter-set reduction of sweeps.
Record columns are those of :mod:`sim.model.outputs` (lower case), given as any mapping
of column name to array (a pandas DataFrame serves).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.model.states import DeathCause, Response

DAYS_PER_MONTH = 30.4375
LANDMARK_MONTHS = (6, 12, 24)
RMST_MONTHS = 24

Columns = Mapping[str, Any]
Column = Callable[[Columns], np.ndarray]


def _f(cols: Columns, name: str) -> np.ndarray:
    return np.asarray(cols[name], dtype=np.float64)


def infused(cols: Columns) -> np.ndarray:
    """Patients given a first infusion."""
    return ~np.isnan(_f(cols, "t_inf_days"))


def in_cr(cols: Columns) -> np.ndarray:
    """Patients in complete remission (MRD-positive or negative) after their first infusion."""
    return (np.asarray(cols["response"]) >= Response.CR_MRD_POS) & infused(cols)


def everyone(cols: Columns) -> np.ndarray:
    return np.ones(len(np.asarray(cols["t_last_days"])), bool)


@dataclass(frozen=True)
class Population:
    name: str
    description: str
    members: Column


POPULATIONS: dict[str, Population] = {p.name: p for p in (
    Population("all", "every patient, from the decision to treat", everyone),
    Population("infused", "patients given a first infusion", infused),
    Population("cr", "patients in complete remission after their first infusion", in_cr),
)}


@dataclass(frozen=True)
class Curve:
    """A time-to-event analysis: who, from when, which event ends follow-up."""

    name: str
    label: str
    population: str
    origin: str  # "infusion" (the first) or "decision" (to treat, t = 0)
    event: str
    censoring: str  # or, for a cumulative incidence, the competing event


CURVES: dict[str, Curve] = {c.name: c for c in (
    Curve("os", "OS", "infused", "infusion", "death from any cause", "alive at the last follow-up"),
    Curve("efs", "EFS", "infused", "infusion",
          "non-response at the first day-28 assessment (dated at it), first relapse, or death",
          "alive and event-free at the last follow-up"),
    Curve("lfs", "LFS", "cr", "infusion", "first relapse or death", "alive in remission at the last follow-up"),
    Curve("itt_os", "OS from the decision to treat (ITT)", "all", "decision", "death from any cause",
          "alive at the last follow-up"),
    Curve("itt_efs", "EFS from the decision to treat (ITT)", "all", "decision",
          "not infused (drop-out or death before infusion), non-response, first relapse, or death",
          "alive and event-free at the last follow-up"),
    Curve("cir", "relapse (CIR)", "cr", "infusion", "first relapse",
          "competing: death without relapse (CRS, ICANS, GVHD, transplant, infection/other)"),
    Curve("nrm", "non-relapse mortality", "cr", "infusion",
          "death without relapse (CRS, ICANS, GVHD, transplant, infection/other)", "competing: first relapse"),
)}


@dataclass(frozen=True)
class Endpoint:
    name: str
    label: str
    unit: str  # "probability", "days", "per patient" or "per infused patient"
    population: str  # a key of POPULATIONS
    kind: str  # "rate", "mean", "landmark", "median", "rmst" or "incidence"
    definition: str
    summary_key: tuple[str, ...] = ()
    method: str = ""  # compare's paired interval method: "delta", "bootstrap" or "" (not compared)
    sweep: bool = False
    value: Column | None = None  # per-patient numerator of a ratio
    curve: str = ""  # a key of CURVES
    months: int = 0

    def ratio_data(self, cols: Columns) -> tuple[np.ndarray, np.ndarray]:
        """Per-patient (numerator y, denominator x) of a ratio: the endpoint is sum(y) / sum(x)."""
        if self.value is None:
            raise ValueError(f"{self.name} is not a ratio")
        members = POPULATIONS[self.population].members(cols)
        return np.where(members, self.value(cols), 0.0), members.astype(np.float64)

    @property
    def horizon_days(self) -> float | None:
        """The follow-up (days from the curve's origin) a landmark or restricted mean needs."""
        return self.months * DAYS_PER_MONTH if self.kind in ("landmark", "rmst", "incidence") else None


def _first(grade_column: str, threshold: int) -> Column:
    return lambda cols: np.asarray(cols[grade_column]) >= threshold


def _table() -> tuple[Endpoint, ...]:
    rate = "share of infused patients with "
    rows = [
        Endpoint("cr_rate", "CR/CRi, first infusion", "probability", "infused", "rate",
                 rate + "CR/CRi at the day-28 assessment of the first infusion", ("rates", "cr_rate", "rate"),
                 "delta", True, lambda c: np.asarray(c["response"]) >= Response.CR_MRD_POS),
        Endpoint("mrd_neg_cr_rate", "MRD-negative CR, first infusion", "probability", "infused", "rate",
                 rate + "MRD-negative CR after the first infusion", ("rates", "mrd_neg_cr_rate", "rate"), "delta",
                 True, lambda c: np.asarray(c["response"]) == Response.CR_MRD_NEG),
        Endpoint("crs_any", "CRS any grade", "probability", "infused", "rate",
                 rate + "CRS of any grade after the first infusion", ("rates", "crs_any", "rate"), "delta", True,
                 _first("crs_grade", 1)),
        Endpoint("crs_grade3plus", "CRS grade >= 3", "probability", "infused", "rate",
                 rate + "CRS grade >= 3 after the first infusion", ("rates", "crs_grade3plus", "rate"), "delta",
                 True, _first("crs_grade", 3)),
        Endpoint("icans_any", "ICANS any grade", "probability", "infused", "rate",
                 rate + "ICANS of any grade after the first infusion", ("rates", "icans_any", "rate"), "delta",
                 True, _first("icans_grade", 1)),
        Endpoint("icans_grade3plus", "ICANS grade >= 3", "probability", "infused", "rate",
                 rate + "ICANS grade >= 3 after the first infusion", ("rates", "icans_grade3plus", "rate"), "delta",
                 True, _first("icans_grade", 3)),
        Endpoint("agvhd_grade2plus", "acute GVHD grade II-IV", "probability", "infused", "rate",
                 rate + "acute GVHD grade II-IV after the first infusion", ("rates", "agvhd_grade2plus", "rate"),
                 "delta", True, _first("gvhd_grade", 2)),
    ]
    for curve, months_list, median, rmst, sweep in (
            ("os", (6, 12, 24), True, True, (6, 12, 24, "median", "rmst")),
            ("efs", (6, 12, 24), True, True, (12, 24, "median")),
            ("lfs", (6, 12, 24), True, True, ())):
        c = CURVES[curve]
        base = f"{c.label} from the first infusion, {POPULATIONS[c.population].description}"
        for m in months_list:
            rows.append(Endpoint(f"{curve}_m{m}", f"{c.label} at {m} months", "probability", c.population,
                                 "landmark", f"{base}: Kaplan-Meier survival at {m} months", (curve, f"m{m}"),
                                 "bootstrap", m in sweep, curve=curve, months=m))
        if median:
            rows.append(Endpoint(f"{curve}_median_days", f"{c.label} median", "days", c.population, "median",
                                 f"{base}: Kaplan-Meier median (none when not reached)", (curve, "median_days"),
                                 "bootstrap", "median" in sweep, curve=curve))
        if rmst:
            rows.append(Endpoint(f"{curve}_rmst_m24_days", f"{c.label} restricted mean to 24 months", "days",
                                 c.population, "rmst", f"{base}: area under the Kaplan-Meier curve to 24 months",
                                 (curve, "rmst_m24_days"), "bootstrap", "rmst" in sweep, curve=curve,
                                 months=RMST_MONTHS))
    cr_label = POPULATIONS["cr"].description
    rows += [
        Endpoint("cir_m24", "relapse (CIR) at 24 months, CR patients", "probability", "cr", "incidence",
                 f"cumulative incidence of relapse at 24 months from infusion, {cr_label} (Aalen-Johansen)",
                 ("cir_m24",), "bootstrap", curve="cir", months=24),
        Endpoint("nrm_m24", "non-relapse mortality at 24 months, CR patients", "probability", "cr", "incidence",
                 f"cumulative incidence of death without relapse at 24 months from infusion, {cr_label} "
                 "(Aalen-Johansen)", ("nrm_m24",), "bootstrap", curve="nrm", months=24),
    ]
    for m in (12, 24):
        rows.append(Endpoint(f"itt_os_m{m}", f"OS at {m} months from decision to treat (ITT)", "probability", "all",
                             "landmark", f"OS at {m} months from the decision to treat, every patient (Kaplan-Meier)",
                             ("itt", "os", f"m{m}"), "bootstrap", True, curve="itt_os", months=m))
    rows += [
        Endpoint("infused_share", "infused (share of patients)", "probability", "all", "rate",
                 "share of patients given a first infusion by the horizon", (), "delta", True, infused),
        Endpoint("death_before_infusion", "died before a first infusion (share of patients)", "probability", "all",
                 "rate", "share of patients who died before a first infusion", (), "delta", False,
                 lambda c: (np.asarray(c["death_cause"]) == DeathCause.BEFORE_INFUSION) & ~infused(c)),
        Endpoint("days_to_infusion_mean", "days from decision to first infusion (mean, infused)", "days", "infused",
                 "mean", "mean days from the decision to treat to the first infusion, over infused patients", (),
                 "delta", False, lambda c: _f(c, "t_inf_days")),
        Endpoint("icu_days_per_infused", "ICU days per infused patient", "per infused patient", "infused", "mean",
                 "ICU days (grade >= 3 CRS/ICANS, every infusion) per infused patient",
                 ("resource_use", "icu_days_per_infused"), "delta", True, lambda c: _f(c, "icu_days")),
        Endpoint("infusions_per_patient", "CAR-T infusions per patient", "per patient", "all", "mean",
                 "CAR-T infusions per patient", ("resource_use", "infusions_per_patient"), "delta", True,
                 lambda c: _f(c, "n_infusions")),
        Endpoint("hsct_per_patient", "consolidative allo-HSCT per patient", "per patient", "all", "mean",
                 "consolidative allo-HSCTs per patient", ("resource_use", "hsct_per_patient"), "delta", True,
                 lambda c: (~np.isnan(_f(c, "t_hsct_days"))).astype(np.float64)),
        Endpoint("manufacturing_attempts_per_patient", "manufacturing attempts per patient", "per patient", "all",
                 "mean", "manufacturing attempts per patient", ("resource_use", "manufacturing_attempts_per_patient"),
                 "delta", False, lambda c: _f(c, "mfg_attempts")),
    ]
    return tuple(rows)


#: every endpoint, in report order
ENDPOINTS: tuple[Endpoint, ...] = _table()
ENDPOINT_BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}
#: the first-infusion rates of the run summary's ``rates`` block, in order
SUMMARY_RATES: tuple[Endpoint, ...] = tuple(e for e in ENDPOINTS if e.summary_key[:1] == ("rates",))


def label_with_unit(name: str) -> str:
    """``os_m12`` -> ``OS at 12 months (probability)``; an unknown name is returned as given."""
    e = ENDPOINT_BY_NAME.get(name)
    if e is None:
        return name
    return e.label if e.unit in e.label else f"{e.label} ({e.unit})"


def summary_value(summary: Mapping[str, Any], name: str) -> Any:
    """An endpoint's value as the run summary reports it (None when it does not)."""
    block: Any = summary
    for part in ENDPOINT_BY_NAME[name].summary_key or ("\0",):
        if not isinstance(block, Mapping) or part not in block:
            return None
        block = block[part]
    return block


def summary_reason(summary: Mapping[str, Any], name: str) -> str | None:
    """Why the run summary has no value for an endpoint (its ``not_estimable`` entry), or None."""
    key = ENDPOINT_BY_NAME[name].summary_key
    if not key:
        return None
    block: Any = summary
    for part in key[:-1]:
        block = block.get(part, {}) if isinstance(block, Mapping) else {}
    reason = block.get("not_estimable", {}).get(key[-1]) if isinstance(block, Mapping) else None
    return reason if isinstance(reason, str) else None
