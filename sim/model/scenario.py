"""Scenarios: a base parameter set plus cohort, policy, overrides, capacity and run
settings. Parsing works on already-read TOML documents; ``sim.io.files`` reads them.

Scenario file layout::

    [scenario]   name, description, base (parameter file, relative to this file)
    [cohort]     cohort.* parameters, without the prefix
    [policy]     policy.* parameters, without the prefix
    [overrides]  any parameter by its dotted name (nested tables or quoted keys)
    [capacity]   resources for the SimPy engine (unlimited when absent)
    [run]        patients, horizon_days, seed
    [study]      (study-replication scenarios only) the seed abstract it replicates and
                 its administrative follow-up: seed_file, followup_min_days,
                 followup_max_days, followup_spread ("uniform" or "loguniform")
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sim.model.errors import InputError, unknown_key_error
from sim.model.limits import (
    LIMITS,
    check_choice,
    check_count_or_unlimited,
    check_keys,
    check_number,
    check_table,
)
from sim.model.parameter_set import ParameterSet, flatten
from sim.model.parameters import SPEC_BY_NAME

SECTIONS = ("scenario", "cohort", "policy", "overrides", "capacity", "run", "study")
STUDY_KEYS = ("seed_file", "followup_min_days", "followup_max_days", "followup_spread")
FOLLOWUP_SPREADS = ("uniform", "loguniform")
HEADER_KEYS = ("name", "description", "base")
CAPACITY_KEYS = ("manufacturing_slots", "icu_beds", "transplant_beds", "accrual_per_month", "arrival_days")
DEFAULT_PATIENTS = 100_000
DEFAULT_HORIZON_DAYS = 5 * 365.25
DEFAULT_SEED = 20261121


@dataclass(frozen=True)
class RunSettings:
    patients: int = DEFAULT_PATIENTS
    horizon_days: float = DEFAULT_HORIZON_DAYS
    seed: int = DEFAULT_SEED


@dataclass(frozen=True)
class Capacity:
    """Finite resources (None = unlimited) and arrivals, for the SimPy engine."""

    manufacturing_slots: int | None = None
    icu_beds: int | None = None
    transplant_beds: int | None = None
    accrual_per_month: float | None = None
    arrival_days: tuple[float, ...] | None = None


@dataclass(frozen=True)
class StudyDesign:
    """How a published study followed its patients: each patient's administrative
    follow-up (data cut-off minus infusion date) is spread between the two bounds,
    uniformly or log-uniformly (staggered enrolment, one cut-off)."""

    seed_file: str
    followup_min_days: float
    followup_max_days: float
    followup_spread: str = "uniform"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    file: str
    params: ParameterSet = field(repr=False)
    run: RunSettings
    capacity: Capacity
    study: StudyDesign | None = None

    def with_run(self, patients: int | None = None, seed: int | None = None,
                 horizon_days: float | None = None, source: str = "command line") -> Scenario:
        """A copy with run settings replaced (validated like the file's, and named as
        command-line options: ``--horizon-days``)."""
        for key, value in (("patients", patients), ("seed", seed), ("horizon_days", horizon_days)):
            if value is not None:
                check_number(value, key, source, "--" + key.replace("_", "-"))
        merged = {
            "patients": self.run.patients if patients is None else patients,
            "seed": self.run.seed if seed is None else seed,
            "horizon_days": self.run.horizon_days if horizon_days is None else horizon_days,
        }
        run = parse_run(merged, source)
        return Scenario(self.name, self.description, self.file, self.params, run, self.capacity, self.study)


def check_run_value(key: str, value: Any, file: str) -> None:
    """Validate one run setting (limits in ``sim.model.limits``)."""
    check_number(value, key, file, f"run.{key}")


def parse_run(table: dict[str, Any], file: str) -> RunSettings:
    for key, value in check_keys(table, ("patients", "horizon_days", "seed"), file, "run").items():
        check_run_value(key, value, file)
    return RunSettings(
        int(table.get("patients", DEFAULT_PATIENTS)),
        float(table.get("horizon_days", DEFAULT_HORIZON_DAYS)),
        int(table.get("seed", DEFAULT_SEED)),
    )


def _count_or_unlimited(table: dict[str, Any], key: str, file: str) -> int | None:
    return check_count_or_unlimited(table.get(key, "unlimited"), "capacity_slots", file, f"capacity.{key}")


def parse_capacity(table: dict[str, Any], file: str) -> Capacity:
    check_keys(table, CAPACITY_KEYS, file, "capacity")
    rate = table.get("accrual_per_month")
    if rate is not None:
        check_number(rate, "accrual_per_month", file, "capacity.accrual_per_month")
    days = table.get("arrival_days")
    if days is not None:
        if not isinstance(days, list):
            raise InputError(file, "capacity.arrival_days", f"expected a list of days >= 0, got {days!r}",
                             LIMITS["day"].describe())
        for i, d in enumerate(days):
            check_number(d, "day", file, f"capacity.arrival_days[{i}]")
        if any(b < a for a, b in itertools.pairwise(days)):
            raise InputError(file, "capacity.arrival_days", "arrival days are not sorted", "an ascending list")
    return Capacity(
        _count_or_unlimited(table, "manufacturing_slots", file),
        _count_or_unlimited(table, "icu_beds", file),
        _count_or_unlimited(table, "transplant_beds", file),
        None if rate is None else float(rate),
        None if days is None else tuple(float(d) for d in days),
    )


def check_structure(doc: dict[str, Any], file: str) -> None:
    """Sections and header keys are known (checked before the base file is looked up)."""
    check_keys(doc, SECTIONS, file, what="section")
    for section, table in doc.items():
        check_table(table, file, section)
    check_keys(doc.get("scenario", {}), HEADER_KEYS, file, "scenario")


def build_scenario(doc: dict[str, Any], file: str, base: ParameterSet) -> Scenario:
    """A scenario from its document and its (already parsed) base parameter set."""
    check_structure(doc, file)
    header = doc.get("scenario", {})
    updates: dict[str, Any] = {}
    for prefix in ("cohort", "policy"):
        for key, value in flatten(doc.get(prefix, {})).items():
            name = f"{prefix}.{key}"
            if name not in SPEC_BY_NAME:
                valid = [n.removeprefix(prefix + ".") for n in SPEC_BY_NAME if n.startswith(prefix + ".")]
                raise unknown_key_error(file, key, valid, f"{prefix} key", prefix)
            updates[name] = value
    for name, value in flatten(doc.get("overrides", {})).items():
        if name not in SPEC_BY_NAME:
            raise unknown_key_error(file, name, SPEC_BY_NAME, "parameter", "overrides")
        updates[name] = value
    params = base.with_values(updates, file)
    return Scenario(
        name=str(header.get("name", "")) or file,
        description=str(header.get("description", "")),
        file=file,
        params=params,
        run=parse_run(doc.get("run", {}), file),
        capacity=parse_capacity(doc.get("capacity", {}), file),
        study=parse_study(doc["study"], file) if "study" in doc else None,
    )


def parse_study(table: dict[str, Any], file: str) -> StudyDesign:
    """The ``[study]`` section of a study-replication scenario."""
    check_keys(table, STUDY_KEYS, file, "study")
    for key in STUDY_KEYS[:3]:
        if key not in table:
            raise InputError(file, f"study.{key}", "missing", f"[study] needs {', '.join(STUDY_KEYS[:3])}")
    if not isinstance(table["seed_file"], str) or not table["seed_file"]:
        raise InputError(file, "study.seed_file", f"expected a file name, got {table['seed_file']!r}")
    lo, hi = table["followup_min_days"], table["followup_max_days"]
    for key, v in (("followup_min_days", lo), ("followup_max_days", hi)):
        check_number(v, "horizon_days", file, f"study.{key}")
    if lo > hi:
        raise InputError(file, "study.followup_min_days", f"{lo} exceeds study.followup_max_days = {hi}",
                         "followup_min_days <= followup_max_days")
    spread = check_choice(table.get("followup_spread", "uniform"), FOLLOWUP_SPREADS, file, "study.followup_spread")
    return StudyDesign(table["seed_file"], float(lo), float(hi), spread)
