"""Trial planning: power and sample size of trials simulated from the pathway.

A trial specification (``scenarios/trials/*.toml``) names a base scenario, the design
(``two_arm``: a control and an experimental arm, each an override of the scenario;
``single_arm``: one arm against a historical value), allocation, accrual, dropout, the
follow-up rule, the endpoint and its test, alpha, the target power, optional interim
analyses and a grid of total sample sizes. :func:`simulate_trials` simulates K whole
trials; :func:`power_curve` turns them into power (with Monte Carlo error) per sample
size, a searched sample size with its own Monte Carlo error, and the analytic answer.

How one simulated trial is built (every random number has an address, DESIGN.md s.4)
-----------------------------------------------------------------------------------
* Trial ``k`` (0-based) of a run with largest size ``N`` consists of patients
  ``k N .. k N + N - 1``. Trials are therefore independent, adding trials changes no
  earlier trial, and the trial of size ``n <= N`` is the first ``n`` randomised
  patients of the size-``N`` trial (nested designs: common random numbers across sizes,
  so the simulated power curve is smooth and close to monotone in ``n``).
* Each patient is simulated by the kernel's per-patient function under the parameters
  of the arm it is randomised to, at its own address (the same (seed, replicate,
  patient) address in either arm: common random numbers between arms; with identical
  arms a patient's outcome does not depend on its arm, so the null hypothesis holds
  exactly). The record equals what ``run_kernel`` gives that patient under that arm.
* Trial-level draws use decision ``Decision.TRIAL`` (``sim.model.states``) at
  the patient's own address: lane 0 randomisation (arm B, the experimental arm, iff
  ``u < ratio / (1 + ratio)``; every patient of a single-arm trial is in B), lane 1 the
  accrual gap before the patient, lane 2 an exponential dropout time
  (``dropout_rate_per_year`` is a hazard per patient-year).
* Accrual is a Poisson process, the first patient randomised on day 0. Piecewise
  accrual: rates ``per_month = [r1, r2, ..., rm]`` over periods ending at
  ``period_months = [e1, ..., e(m-1)]`` months from the first randomisation, the last
  rate continuing; a patient's gap is the inverse of the cumulative intensity at the
  exponential draw of lane 1 (with one rate this is ``-log(u) / rate``).
* Endpoint time is from randomisation = the decision to treat (t = 0 of the records):
  OS = death from any cause, EFS = ``t_efs_days`` (see ``sim.outcomes.summary``).
  Binary endpoints (first infusion): ``cr_rate`` = CR (MRD+ or MRD-) at the day-28
  assessment, over every randomised patient (intention to treat: a patient not
  infused, dead before the assessment, lost before it, or not yet assessed at the
  cut-off counts as a non-responder); ``crs_grade3plus_rate`` = grade >= 3 CRS over the
  safety population (patients infused before their censoring time).
* Follow-up rules (the data cut-off, in days from the first randomisation; each
  patient is censored at the earlier of the cut-off and its dropout, and patients
  randomised after the cut-off are not in the analysis; an event counts when it comes
  no later than the dropout and its calendar day no later than the cut-off):
  ``min_followup``: last randomisation + ``min_followup_days``;
  ``calendar``: ``cutoff_days``;
  ``events`` (survival endpoints): the calendar day of the D-th observed event
  (``events = D``); if fewer than D events occur by the last randomisation +
  ``max_followup_days``, the analysis happens then, and the trial is reported as not
  having reached D. Duration = first randomisation to cut-off.
* Interim analyses (``[interim] fractions``, rule ``events`` only) at ``ceil(f D)``
  events, each at the calendar day of that event (a look whose event count is never
  reached is skipped); efficacy boundaries from Lan-DeMets alpha spending
  (``sim.trials.spending.SequentialPlan``), recomputed for every simulated trial at
  the events it observed at its looks: interim k spends ``alpha(d_k / D)``, the final
  analysis whatever is left, so a trial that ends short of D keeps level alpha. A
  trial stops at the first look whose statistic crosses its boundary (two-sided:
  ``|z|`` against the boundary for alpha / 2 per side; the small chance of crossing the
  opposite side first is ignored, as in the usual symmetric design).
* Rate endpoints (two-arm ``chisq`` on the CR or grade >= 3 CRS rate, rule
  ``min_followup``) take interims too: look k falls on the day the ``ceil(f_k n)``-th
  patient enters the denominator (the information is the patients assessed, the
  planned maximum n), the final analysis at the rule's cut-off; the chi-square z is
  compared with boundaries recomputed in the same way.
* Optional non-binding futility at the interims: ``futility`` (beta spending, "obf" or
  "pocock", with beta = 1 - power under the design hazard ratio ``futility_hr``) or
  ``futility_z`` (fixed thresholds). A trial whose favourable statistic is at or
  below the bound stops without rejecting; the efficacy boundaries ignore futility, so
  the type I error can only fall. The analytic D beside the simulation
  (``analytic_events_group_sequential``) inflates Schoenfeld's D for the efficacy
  looks only.

Tests (all computed in compiled code for every trial and size at once)
---------------------------------------------------------------------
``logrank``: Mantel-Haenszel log-rank (as lifelines), ``z = (O_B - E_B) / sqrt(V)``.
``cox``: Wald test of the Cox model's log hazard ratio (Efron ties, as lifelines'
default), ``cox_score``: its score test at beta = 0 (``sim.stats.cox``).
``chisq`` / ``chisq_yates`` / ``fisher``: tests of two proportions
(``sim.stats.proportions``). Single arm: ``binomial`` (exact, one-sided),
``simon`` (the Simon two-stage design for p0 and p1, optimal or minimax, run on the
first n1 then n patients), ``logrank1`` (one-sample log-rank against an exponential
historical curve: ``z = (O - E) / sqrt(E)``, E the historical cumulative hazard summed
over the patients' follow-up). Survival and CRS endpoints favour the experimental arm
when its statistic is low (fewer events), the CR rate when it is high; one-sided
p-values test in the favourable direction; a trial rejects when ``p < alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from sim.engine.kernel import N_FLOAT, N_INT, simulate_patient
from sim.engine.rng import make_key, patient_key, uniform
from sim.model.errors import InputError, unknown_key_error
from sim.model.limits import check_memory, check_number
from sim.model.outputs import F, I
from sim.model.parameter_set import flatten
from sim.model.parameters import P
from sim.model.scenario import Scenario
from sim.model.states import Decision, Response
from sim.outcomes.summary import DAYS_PER_MONTH
from sim.stats import cox as coxmod
from sim.stats import proportions as props
from sim.trials.designs import (
    exact_binomial_design,
    one_sample_logrank_n,
    schoenfeld_events,
    schoenfeld_n,
    simon_two_stage,
    two_proportions_n,
)
from sim.trials.spending import SPENDING, SequentialPlan, boundaries, crossing_probabilities, exit_probabilities

TRIAL_DECISION = int(Decision.TRIAL)  # a plain int for compiled code
DESIGNS = ("two_arm", "single_arm")
TWO_ARM_TESTS = ("logrank", "cox", "cox_score", "chisq", "chisq_yates", "fisher")
SINGLE_ARM_TESTS = ("binomial", "simon", "logrank1")
TESTS = TWO_ARM_TESTS + SINGLE_ARM_TESTS
#: endpoints a trial spec may name, and those each test can analyse
ENDPOINTS = ("os", "efs", "lfs", "cr_rate", "crs_grade3plus_rate")
SURVIVAL = ("os", "efs")
ANALYSABLE = {
    "logrank": SURVIVAL, "cox": SURVIVAL, "cox_score": SURVIVAL, "logrank1": SURVIVAL,
    "chisq": ("cr_rate", "crs_grade3plus_rate"), "chisq_yates": ("cr_rate", "crs_grade3plus_rate"),
    "fisher": ("cr_rate", "crs_grade3plus_rate"), "binomial": ("cr_rate",), "simon": ("cr_rate",),
}
FOLLOWUP_RULES = ("min_followup", "calendar", "events")
RULE_KEYS = {"min_followup": ("min_followup_days",), "calendar": ("cutoff_days",),
             "events": ("events", "max_followup_days")}
ARM_NAMES = ("control", "experimental")  # arm A, arm B
SECTIONS = ("trial", "arms", "arm", "allocation", "accrual", "dropout", "follow_up", "analysis", "interim", "grid",
            "run")
KEYS: dict[str, tuple[str, ...]] = {
    "trial": ("name", "description", "scenario", "design"),
    "allocation": ("ratio",),
    "accrual": ("per_month", "period_months"),
    "dropout": ("rate_per_year",),
    "follow_up": ("rule", "min_followup_days", "cutoff_days", "events", "max_followup_days"),
    "analysis": ("endpoint", "test", "sides", "alpha", "power", "p0", "p1", "simon", "historical_median_months",
                 "historical_landmark_months", "historical_survival"),
    "interim": ("fractions", "spending", "futility", "futility_hr", "futility_z"),
    "grid": ("n",),
    "run": ("trials", "seed"),
}
ARM_KEYS = ("label", "overrides")
DEFAULT_TRIALS = 2000
DEFAULT_SEED = 20261121
MIN_HORIZON_DAYS = 100 * 365.25  # kernel horizon; extended when a trial follows patients longer
CHUNK_PATIENTS = 250_000  # patients per compiled call (progress granularity; results do not depend on it)
BOOTSTRAP_REPLICATES = 1000

# compiled codes
_RULE = {"min_followup": 0, "calendar": 1, "events": 2}
_TEST = {name: i for i, name in enumerate(TESTS)}
_ENDPOINT = {"os": 0, "efs": 1, "cr_rate": 2, "crs_grade3plus_rate": 3}
T_LOGRANK, T_COX, T_COX_SCORE, T_CHISQ, T_YATES, T_FISHER, T_BINOMIAL, T_SIMON, T_LOGRANK1 = range(9)
assert [_TEST[t] for t in TESTS] == list(range(9))


# --------------------------------------------------------------------------- #
# specification


@dataclass(frozen=True)
class Arm:
    name: str  # "control" (arm A), "experimental" (arm B) or "arm" (single arm)
    label: str
    overrides: dict[str, Any]
    scenario: Scenario = field(repr=False)


@dataclass(frozen=True)
class TrialSpec:
    """A validated trial specification (see the module docstring)."""

    name: str
    description: str
    file: str
    design: str
    arms: tuple[Arm, ...]  # (control = A, experimental = B), or (the single arm,)
    allocation_ratio: float  # experimental : control (single arm: inf)
    accrual_per_month: tuple[float, ...]  # rate per period, the last one continuing
    accrual_period_months: tuple[float, ...]  # ends of all periods but the last
    dropout_rate_per_year: float
    followup_rule: str
    min_followup_days: float
    endpoint: str
    test: str
    sides: int
    alpha: float
    power: float
    grid: tuple[int, ...]  # total patients, ascending, distinct
    trials: int = DEFAULT_TRIALS
    seed: int = DEFAULT_SEED
    cutoff_days: float = 0.0
    events: int = 0  # D of the event-driven rule
    max_followup_days: float = 0.0
    interim_fractions: tuple[float, ...] = ()
    spending: str = "obf"
    futility: str | None = None  # beta-spending function of the non-binding futility boundary
    futility_hr: float | None = None  # the design alternative that beta spending protects
    futility_z: tuple[float, ...] = ()  # or fixed futility thresholds, one per interim
    p0: float | None = None
    p1: float | None = None  # None: from the model (the simulated rate)
    simon: str = "optimal"
    historical_hazard_per_day: float | None = None  # one-sample log-rank: exponential historical curve
    historical_note: str = ""

    @property
    def p_experimental(self) -> float:
        """Probability that a patient is randomised to the experimental arm."""
        if self.design == "single_arm":
            return 1.0
        return self.allocation_ratio / (1.0 + self.allocation_ratio)

    @property
    def control(self) -> Arm:
        return self.arms[0]

    @property
    def experimental(self) -> Arm:
        return self.arms[-1]

    @property
    def direction(self) -> int:
        """+1: a high statistic favours the experimental arm (CR rate); -1: a low one."""
        return 1 if self.endpoint == "cr_rate" else -1

    @property
    def survival(self) -> bool:
        return self.endpoint in SURVIVAL

    def look_events(self) -> tuple[int, ...]:
        """Event counts of the analyses of the event-driven rule (interims, then D); a
        rate endpoint's looks are fractions of its patients (:meth:`look_fractions`)
        and count 0 here."""
        if self.followup_rule != "events":
            return (0,) * (len(self.interim_fractions) + 1)
        return (*(math.ceil(f * self.events - 1e-9) for f in self.interim_fractions), self.events)

    def look_fractions(self) -> tuple[float, ...]:
        """Planned information fractions of the looks (interims, then 1)."""
        return (*self.interim_fractions, 1.0)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _whole(x: Any, lowest: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and lowest <= x < 2**63


def _check_keys(table: Any, section: str, allowed: tuple[str, ...], file: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(file, section, "expected a table", f"[{section}]")
    for key in table:
        if key not in allowed:
            raise unknown_key_error(file, f"{section}.{key}", [f"{section}.{k}" for k in allowed])
    return table


def _parse_futility(interim: dict[str, Any], looks: int, file: str) -> dict[str, Any]:
    """Non-binding futility: beta spending under a stated hazard ratio, or fixed z
    thresholds on the favourable scale (one per interim look)."""
    out: dict[str, Any] = {}
    kind, hr, zs = interim.get("futility"), interim.get("futility_hr"), interim.get("futility_z")
    if zs is not None:
        if kind is not None or hr is not None:
            raise InputError(file, "interim.futility_z", "give either fixed thresholds or beta spending, not both",
                             "futility_z, or futility with futility_hr")
        if not isinstance(zs, list) or len(zs) != looks or not all(_number(z) for z in zs):
            plural = "s" if looks > 1 else ""
            raise InputError(file, "interim.futility_z", f"expected {looks} finite z value{plural} (one per "
                             f"interim look), got {zs!r}", "e.g. [0.0] for one interim: stop if the experimental "
                             "arm is not ahead")
        out["futility_z"] = tuple(float(z) for z in zs)
        return out
    if kind is None:
        if hr is not None:
            raise InputError(file, "interim.futility_hr", "given without a futility spending function",
                             f"futility = one of {', '.join(SPENDING)}")
        return out
    out["futility"] = _choice(kind, "interim.futility", SPENDING, file)
    value = float(hr) if hr is not None and _number(hr) else math.nan
    if not 0.0 < value < 1.0:
        raise InputError(file, "interim.futility_hr", f"expected the design hazard ratio strictly between 0 and 1, "
                         f"got {hr!r}", "0 < futility_hr < 1 (beta spending protects power at this ratio)")
    out["futility_hr"] = value
    return out


def _choice(value: Any, key: str, allowed: tuple[str, ...], file: str) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise InputError(file, key, f"unknown value {value!r}", ", ".join(allowed))
    return value.lower()


def _open_unit(value: Any, key: str, file: str) -> float:
    if not _number(value) or not 0.0 < value < 1.0:
        raise InputError(file, key, f"expected a number strictly between 0 and 1, got {value!r}", "0 < x < 1")
    return float(value)


def _positive(value: Any, key: str, file: str, zero_ok: bool = False) -> float:
    ok = _number(value) and (value >= 0.0 if zero_ok else value > 0.0)
    if not ok:
        bound = ">= 0" if zero_ok else "> 0"
        raise InputError(file, key, f"expected a finite number {bound}, got {value!r}", f"a number {bound}")
    return float(value)


def _parse_arm(name: str, key: str, table: Any, file: str, base: Scenario) -> Arm:
    table = _check_keys(table, key, ARM_KEYS, file)
    label = table.get("label", name)
    if not isinstance(label, str):
        raise InputError(file, f"{key}.label", f"expected text, got {label!r}")
    raw = table.get("overrides", {})
    if not isinstance(raw, dict):
        raise InputError(file, f"{key}.overrides", "expected a table of parameter values by dotted name")
    overrides = flatten(raw)
    try:
        params = base.params.with_values(overrides, file)
    except InputError as exc:  # name the arm in the key
        raise InputError(file, f"{key}.overrides.{exc.key}", exc.problem, exc.allowed) from None
    return Arm(name, label, overrides, replace(base, params=params))


def _parse_accrual(table: dict[str, Any], file: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if "per_month" not in table:
        raise InputError(file, "accrual.per_month", "missing accrual rate", "patients per month > 0, or a list")
    raw = table["per_month"]
    if not isinstance(raw, list):
        return (_positive(raw, "accrual.per_month", file),), ()
    if not raw:
        raise InputError(file, "accrual.per_month", "empty list of accrual rates", "one rate per period")
    rates = tuple(_positive(r, "accrual.per_month", file, zero_ok=True) for r in raw)
    if rates[-1] <= 0.0:
        raise InputError(file, "accrual.per_month", "the last rate (which continues) must be > 0", "a rate > 0")
    ends = table.get("period_months", [])
    if not isinstance(ends, list) or len(ends) != len(rates) - 1:
        raise InputError(file, "accrual.period_months", f"expected {len(rates) - 1} period ends (months) for "
                         f"{len(rates)} rates, got {ends!r}", "one end per rate except the last")
    ends_t = tuple(_positive(e, "accrual.period_months", file) for e in ends)
    if any(b <= a for a, b in pairwise(ends_t)):
        raise InputError(file, "accrual.period_months", f"period ends must increase strictly, got {ends!r}",
                         "strictly increasing months")
    return rates, ends_t


def _parse_followup(fu: dict[str, Any], file: str, survival: bool) -> dict[str, Any]:
    rule = _choice(fu.get("rule", "min_followup"), "follow_up.rule", FOLLOWUP_RULES, file)
    for key in fu:
        if key != "rule" and key not in RULE_KEYS[rule]:
            raise InputError(file, f"follow_up.{key}", f"not used by rule {rule!r}", ", ".join(RULE_KEYS[rule]))
    for key in RULE_KEYS[rule]:
        if key not in fu:
            raise InputError(file, f"follow_up.{key}", f"missing (needed by rule {rule!r})", key)
    out: dict[str, Any] = {"followup_rule": rule}
    if rule == "min_followup":
        out["min_followup_days"] = _positive(fu["min_followup_days"], "follow_up.min_followup_days", file, True)
    elif rule == "calendar":
        out["cutoff_days"] = _positive(fu["cutoff_days"], "follow_up.cutoff_days", file)
    else:
        if not survival:
            raise InputError(file, "follow_up.rule", "the event-driven rule needs a survival endpoint",
                             "min_followup or calendar for rates")
        if not _whole(fu["events"], 1):
            raise InputError(file, "follow_up.events", f"expected a whole number of events >= 1, got "
                             f"{fu['events']!r}", "an integer D >= 1")
        out["events"] = int(fu["events"])
        out["max_followup_days"] = _positive(fu["max_followup_days"], "follow_up.max_followup_days", file)
    return out


def _parse_historical(an: dict[str, Any], file: str) -> tuple[float, str]:
    median = an.get("historical_median_months")
    landmark = an.get("historical_landmark_months")
    surv = an.get("historical_survival")
    if median is not None and (landmark is not None or surv is not None):
        raise InputError(file, "analysis.historical_median_months", "give either a historical median or a "
                         "landmark survival, not both", "one exponential historical curve")
    if median is not None:
        m = _positive(median, "analysis.historical_median_months", file)
        return math.log(2.0) / (m * DAYS_PER_MONTH), f"exponential, median {m:g} months"
    if landmark is None or surv is None:
        raise InputError(file, "analysis.historical_median_months", "the one-sample log-rank test needs a "
                         "historical curve", "historical_median_months, or historical_landmark_months with "
                         "historical_survival")
    lm = _positive(landmark, "analysis.historical_landmark_months", file)
    s = _open_unit(surv, "analysis.historical_survival", file)
    return -math.log(s) / (lm * DAYS_PER_MONTH), f"exponential through S({lm:g} months) = {s:g}"


def parse_trial(doc: dict[str, Any], file: str, base_scenario: Scenario) -> TrialSpec:
    """A validated trial specification from its TOML document; ``base_scenario`` is the
    scenario the arms override (``trial.scenario`` names it; the caller loads it, see
    :func:`load_trial`). Bad input raises :class:`InputError` naming the file and key."""
    for section, table in doc.items():
        if section not in SECTIONS:
            raise unknown_key_error(file, section, SECTIONS, "section")
        if section in KEYS:
            _check_keys(table, section, KEYS[section], file)
    header = doc.get("trial", {})
    design = _choice(header.get("design", "two_arm"), "trial.design", DESIGNS, file)
    scenario_ref = header.get("scenario", "baseline")
    if not isinstance(scenario_ref, str):
        raise InputError(file, "trial.scenario", f"expected a scenario file or name, got {scenario_ref!r}")

    if design == "two_arm":
        if "arm" in doc:
            raise InputError(file, "arm", "a two-arm trial has [arms.control] and [arms.experimental]",
                             "[arms.control], [arms.experimental]")
        arms_table = _check_keys(doc.get("arms", {}), "arms", ARM_NAMES, file)
        for name in ARM_NAMES:
            if name not in arms_table:
                raise InputError(file, f"arms.{name}", "missing arm", "[arms.control] and [arms.experimental]")
        arms: tuple[Arm, ...] = tuple(_parse_arm(n, f"arms.{n}", arms_table[n], file, base_scenario)
                                      for n in ARM_NAMES)
        ratio = _positive(doc.get("allocation", {}).get("ratio", 1.0), "allocation.ratio", file)
    else:
        for section in ("arms", "allocation"):
            if section in doc:
                raise InputError(file, section, "a single-arm trial has one [arm] and no allocation", "[arm]")
        arms = (_parse_arm("arm", "arm", doc.get("arm", {}), file, base_scenario),)
        ratio = math.inf

    rates, ends = _parse_accrual(doc.get("accrual", {}), file)
    dropout = _positive(doc.get("dropout", {}).get("rate_per_year", 0.0), "dropout.rate_per_year", file,
                        zero_ok=True)

    an = doc.get("analysis", {})
    tests = TWO_ARM_TESTS if design == "two_arm" else SINGLE_ARM_TESTS
    endpoint = _choice(an.get("endpoint", "os" if design == "two_arm" else "cr_rate"), "analysis.endpoint",
                       ENDPOINTS, file)
    default_test = ("logrank" if endpoint in SURVIVAL else "chisq") if design == "two_arm" else (
        "logrank1" if endpoint in SURVIVAL else "binomial")
    test = _choice(an.get("test", default_test), "analysis.test", tests, file)
    if endpoint not in ANALYSABLE[test]:
        why = " (LFS is defined among responders only)" if endpoint == "lfs" else ""
        raise InputError(file, "analysis.endpoint", f"the {test} test cannot analyse endpoint {endpoint!r}{why}",
                         ", ".join(ANALYSABLE[test]))
    sides = an.get("sides", 2 if design == "two_arm" else 1)
    if sides not in (1, 2) or isinstance(sides, bool):
        raise InputError(file, "analysis.sides", f"expected 1 or 2, got {sides!r}", "1 or 2")
    if test in ("binomial", "simon") and sides != 1:
        raise InputError(file, "analysis.sides", f"the exact single-arm {test} test is one-sided", "1")
    alpha = _open_unit(an.get("alpha", 0.05), "analysis.alpha", file)
    power = _open_unit(an.get("power", 0.8), "analysis.power", file)
    if power <= alpha:
        raise InputError(file, "analysis.power", f"target power {power} does not exceed alpha {alpha}",
                         "alpha < power < 1")
    extra: dict[str, Any] = {}
    used = {"endpoint", "test", "sides", "alpha", "power"}
    if test in ("binomial", "simon"):
        used |= {"p0", "p1", "simon"}
        if "p0" not in an:
            raise InputError(file, "analysis.p0", f"the {test} test needs the historical rate p0", "0 < p0 < 1")
        p0 = _open_unit(an["p0"], "analysis.p0", file)
        p1_raw = an.get("p1", "model")
        p1 = None
        if not (isinstance(p1_raw, str) and p1_raw.lower() == "model"):
            p1 = _open_unit(p1_raw, "analysis.p1", file)
            if p1 <= p0:
                raise InputError(file, "analysis.p1", f"p1 = {p1} does not exceed p0 = {p0}", "p0 < p1 < 1, or "
                                 "'model'")
        extra.update(p0=p0, p1=p1)
        if test == "simon":
            extra["simon"] = _choice(an.get("simon", "optimal"), "analysis.simon", ("optimal", "minimax"), file)
    if test == "logrank1":
        used |= {"historical_median_months", "historical_landmark_months", "historical_survival"}
        extra["historical_hazard_per_day"], extra["historical_note"] = _parse_historical(an, file)
    for key in an:
        if key not in used:
            raise InputError(file, f"analysis.{key}", f"not used by the {test} test", ", ".join(sorted(used)))

    fu = _parse_followup(_check_keys(doc.get("follow_up", {}), "follow_up", KEYS["follow_up"], file), file,
                         endpoint in SURVIVAL)

    interim = doc.get("interim")
    if interim is not None:
        if test in ("simon", "binomial", "chisq_yates", "fisher"):
            raise InputError(file, "interim", f"no interim analyses with the {test} test",
                             "a survival test, or chisq for a rate")
        if endpoint in SURVIVAL and fu["followup_rule"] != "events":
            raise InputError(file, "interim", "interim analyses of a survival endpoint need the event-driven rule "
                             "(follow_up.rule = 'events')", "follow_up.rule = 'events'")
        if endpoint not in SURVIVAL and fu["followup_rule"] != "min_followup":
            raise InputError(file, "interim", "interim analyses of a rate need follow_up.rule = 'min_followup' "
                             "(looks at fractions of the patients assessed)", "follow_up.rule = 'min_followup'")
        if endpoint not in SURVIVAL and interim.get("futility") is not None:
            raise InputError(file, "interim.futility", "beta spending needs a hazard ratio; a rate endpoint takes "
                             "fixed futility thresholds", "interim.futility_z")
        fr = interim.get("fractions")
        if not isinstance(fr, list) or not fr or not all(_number(f) and 0.0 < f < 1.0 for f in fr):
            raise InputError(file, "interim.fractions", f"expected a list of information fractions in (0, 1), "
                             f"got {fr!r}", "e.g. [0.5] or [0.33, 0.67]")
        if any(b <= a for a, b in pairwise(fr)):
            raise InputError(file, "interim.fractions", f"fractions must increase strictly, got {fr!r}",
                             "strictly increasing fractions")
        looks = [math.ceil(f * fu.get("events", 0) - 1e-9) for f in fr] + [fu.get("events", 0)]
        if endpoint in SURVIVAL and (looks[0] < 1 or any(b <= a for a, b in pairwise(looks))):
            raise InputError(file, "interim.fractions", f"with D = {fu['events']} events the looks fall at "
                             f"{looks} events, which do not increase strictly", "fewer looks or more events")
        extra["interim_fractions"] = tuple(float(f) for f in fr)
        extra["spending"] = _choice(interim.get("spending", "obf"), "interim.spending", SPENDING, file)
        extra.update(_parse_futility(interim, len(fr), file))

    grid = doc.get("grid", {}).get("n", [])
    if not isinstance(grid, list) or not grid:
        raise InputError(file, "grid.n", "the sample-size grid is empty", "a list of total sample sizes >= 2")
    for n in grid:
        check_number(n, "trial_size", file, "grid.n")

    run = doc.get("run", {})
    trials = run.get("trials", DEFAULT_TRIALS)
    check_number(trials, "trials", file, "run.trials")
    seed = run.get("seed", DEFAULT_SEED)
    if not _whole(seed, 0):
        raise InputError(file, "run.seed", f"expected a whole number >= 0, got {seed!r}", "an integer >= 0")

    return TrialSpec(
        name=str(header.get("name", "")) or file, description=str(header.get("description", "")), file=file,
        design=design, arms=arms, allocation_ratio=ratio, accrual_per_month=rates, accrual_period_months=ends,
        dropout_rate_per_year=dropout, followup_rule=fu["followup_rule"],
        min_followup_days=fu.get("min_followup_days", 0.0), endpoint=endpoint, test=test, sides=int(sides),
        alpha=alpha, power=power, grid=tuple(sorted({int(n) for n in grid})), trials=int(trials), seed=int(seed),
        cutoff_days=fu.get("cutoff_days", 0.0), events=fu.get("events", 0),
        max_followup_days=fu.get("max_followup_days", 0.0), **extra)


def load_trial(path: Path | str) -> TrialSpec:
    """Read a trial file and its base scenario (``trial.scenario``: a path relative to the
    trial file, or a scenario name such as ``baseline``)."""
    from sim.io.files import load_scenario, read_toml  # noqa: PLC0415 - io imports model; keep analysis light

    path = Path(path)
    doc = read_toml(path)
    ref = doc.get("trial", {}).get("scenario", "baseline") if isinstance(doc.get("trial"), dict) else "baseline"
    if not isinstance(ref, str):
        raise InputError(str(path), "trial.scenario", f"expected a scenario file or name, got {ref!r}")
    local = path.parent / ref
    base = load_scenario(local if local.is_file() else ref)
    return parse_trial(doc, str(path), base)


# --------------------------------------------------------------------------- #
# compiled parts: trial-level draws, the patients, the analyses


@nb.njit(cache=True)
def _accrual_step(day: float, e: float, rates: np.ndarray, ends: np.ndarray) -> float:
    """Day at which the cumulative accrual intensity has grown by ``e`` after ``day``
    (rates per day over periods ending at ``ends``; the last rate continues)."""
    i = 0
    while i < ends.size and ends[i] <= day:
        i += 1
    while i < ends.size:
        room = (ends[i] - day) * rates[i]
        if e <= room:
            return day + e / rates[i]
        e -= room
        day = ends[i]
        i += 1
    return day + e / rates[rates.size - 1]


@nb.njit(parallel=True, cache=True)
def _trial_draws(k0: np.uint64, k1: np.uint64, first_trial: int, n_max: int, p_b: float, rates_per_day: np.ndarray,
                 ends_days: np.ndarray, dropout_per_day: float, arm: np.ndarray, entry: np.ndarray,
                 dropout: np.ndarray) -> None:
    """Arm (1 = experimental), randomisation day and dropout time of every patient of
    trials first_trial .. first_trial + len(arm) - 1, each at the patient's own address."""
    for k in nb.prange(arm.shape[0]):
        base = (first_trial + k) * n_max
        day = 0.0
        for j in range(n_max):
            key = patient_key(k0, k1, base + j)
            arm[k, j] = 1 if uniform(key, TRIAL_DECISION, 0, 0, 0) < p_b else 0
            if j > 0:
                day = _accrual_step(day, -math.log(uniform(key, TRIAL_DECISION, 0, 0, 1)), rates_per_day,
                                    ends_days)
            entry[k, j] = day
            if dropout_per_day > 0.0:
                dropout[k, j] = -math.log(uniform(key, TRIAL_DECISION, 0, 0, 2)) / dropout_per_day
            else:
                dropout[k, j] = math.inf


@nb.njit(cache=True)
def _inf_if_nan(x: float) -> float:
    return math.inf if math.isnan(x) else x


@nb.njit(parallel=True, cache=True)
def _simulate_block(theta_a: np.ndarray, theta_b: np.ndarray, k0: np.uint64, k1: np.uint64, first_trial: int,
                    n_max: int, arm: np.ndarray, horizon_days: float, endpoint: int, t1: np.ndarray,
                    t2: np.ndarray) -> None:
    """Simulate every patient of trials first_trial .. under its arm's theta (row
    ``first_trial + k`` of a per-trial theta table, or row 0 of a one-row table) and keep
    the endpoint: survival (0 OS, 1 EFS): t1 = event day (inf: none); binary (2 CR,
    3 CRS): t1 = day the patient counts in the numerator, t2 = in the denominator."""
    assess = P.RESPONSE_ASSESSMENT_DAY
    for k in nb.prange(arm.shape[0]):
        g = first_trial + k
        frow = np.empty(N_FLOAT, np.float32)
        irow = np.empty(N_INT, np.int8)
        ra = g if theta_a.shape[0] > 1 else 0
        rb = g if theta_b.shape[0] > 1 else 0
        for j in range(n_max):
            key = patient_key(k0, k1, g * n_max + j)
            if arm[k, j] == 1:
                simulate_patient(theta_b[rb], key, horizon_days, frow, irow)
                day = theta_b[rb, assess]
            else:
                simulate_patient(theta_a[ra], key, horizon_days, frow, irow)
                day = theta_a[ra, assess]
            t_inf = _inf_if_nan(float(frow[F.T_INF_DAYS]))
            if endpoint == 0:
                t1[k, j] = _inf_if_nan(float(frow[F.T_DEATH_DAYS]))
            elif endpoint == 1:
                t1[k, j] = _inf_if_nan(float(frow[F.T_EFS_DAYS]))
            elif endpoint == 2:
                t2[k, j] = 0.0
                t1[k, j] = t_inf + day if irow[I.RESPONSE] >= Response.CR_MRD_POS else math.inf
            else:
                t2[k, j] = t_inf
                t1[k, j] = t_inf if irow[I.CRS_GRADE] >= 3 else math.inf


@nb.njit(cache=True)
def _p_value(z: float, sides: int, direction: int) -> float:
    """Normal p-value: two-sided, or one-sided in the favourable direction."""
    if not math.isfinite(z):
        return 1.0
    if sides == 2:
        return math.erfc(abs(z) / math.sqrt(2.0))
    return 0.5 * math.erfc(direction * z / math.sqrt(2.0))


@nb.njit(parallel=True, cache=True)
def logrank_many(time: np.ndarray, event: np.ndarray, group: np.ndarray, sides: int) -> tuple[np.ndarray, ...]:
    """The two-group log-rank test on every row of (K, n) arrays at once.

    Returns (chi2, z, p, o_minus_e, variance, events), each of length K; ``group`` 1
    marks arm B (z > 0: more events than expected in B; one-sided p = Phi(z)). A row
    without events has z = chi2 = 0 and p = 1."""
    K, n = time.shape
    chi2 = np.zeros(K)
    zs = np.zeros(K)
    ps = np.ones(K)
    oe = np.zeros(K)
    vs = np.zeros(K)
    ev = np.zeros(K, np.int64)
    for k in nb.prange(K):
        r0 = np.empty(n, np.int64)
        r1 = np.empty(n, np.int64)
        d0 = np.empty(n, np.int64)
        d1 = np.empty(n, np.int64)
        m = coxmod.event_table(time[k], event[k], group[k], n, r0, r1, d0, d1)
        o, v, e = coxmod.logrank_from_table(r0, r1, d0, d1, m)
        oe[k] = o
        vs[k] = v
        ev[k] = e
        if v > 0.0:
            z = o / math.sqrt(v)
            zs[k] = z
            chi2[k] = z * z
            ps[k] = _p_value(z, sides, -1)
    return chi2, zs, ps, oe, vs, ev


@nb.njit(cache=True)
def _cutoffs(t1: np.ndarray, t2: np.ndarray, entry: np.ndarray, dropout: np.ndarray, n: int, rule: int,
             fu_days: float, look_events: np.ndarray, look_fractions: np.ndarray, cal: np.ndarray, cut: np.ndarray,
             done: np.ndarray) -> bool:
    """Cut-off day of each look of one trial of size n; returns whether D was reached.
    Rate endpoints with interims (rule min_followup, ``look_fractions`` of the n
    patients): interim k falls on the day the ``ceil(f_k n)``-th patient enters the
    denominator (``t2``), if that comes before the final cut-off."""
    L = look_events.size
    if rule == 0:
        last = entry[n - 1] + fu_days
        if L > 1:
            for j in range(n):
                cal[j] = entry[j] + t2[j] if t2[j] <= dropout[j] else math.inf
            s = np.sort(cal[:n])
            for look in range(L - 1):
                d = max(1, math.ceil(look_fractions[look] * n - 1e-9))
                done[look] = s[d - 1] < last
                cut[look] = s[d - 1] if done[look] else last
        cut[L - 1] = last
        done[L - 1] = True
        return True
    if rule == 1:
        cut[0] = fu_days
        done[0] = True
        return True
    last = entry[n - 1] + fu_days
    for j in range(n):
        cal[j] = entry[j] + t1[j] if t1[j] <= dropout[j] else math.inf
    s = np.sort(cal[:n])
    reached = False
    for look in range(L):
        d = look_events[look]
        hit = d <= n and s[d - 1] <= last
        if look < L - 1:
            done[look] = hit
            cut[look] = s[d - 1] if hit else last
        else:
            done[look] = True
            cut[look] = s[d - 1] if hit else last
            reached = hit
    return reached


@nb.njit(parallel=True, cache=True)
def _analyse(t1: np.ndarray, t2: np.ndarray, arm: np.ndarray, entry: np.ndarray, dropout: np.ndarray,
             sizes: np.ndarray, rule: int, fu_days: float, look_events: np.ndarray, look_fractions: np.ndarray,
             test: int, sides: int,
             direction: int, hazard0: float, p0: float, z_out: np.ndarray, p_out: np.ndarray, est: np.ndarray,
             aux: np.ndarray, oe_out: np.ndarray, var_out: np.ndarray, counts: np.ndarray, dur: np.ndarray,
             done_out: np.ndarray, reached: np.ndarray) -> None:
    """Every trial (rows) at every size (axis 1) and look (axis 2): censoring at the
    look's cut-off and at dropout, then the test. Outputs per (k, g, look): z, p,
    est (log HR for Cox, log OR for Fisher, rate difference or rate, O/E for logrank1),
    aux (Cox SE or score z), log-rank O - E and variance (two-arm survival; logrank1:
    O - E and E), counts (events or numerator, patients or denominator, per arm A, B),
    duration (days), whether the look happened; reached[k, g]: D events reached."""
    K, n_max = t1.shape
    L = look_events.size
    for k in nb.prange(K):
        time = np.empty(n_max)
        event = np.zeros(n_max, np.bool_)
        group = np.empty(n_max, np.int8)
        cal = np.empty(n_max)
        cut = np.empty(L)
        done = np.zeros(L, np.bool_)
        r0 = np.empty(n_max, np.int64)
        r1 = np.empty(n_max, np.int64)
        d0 = np.empty(n_max, np.int64)
        d1 = np.empty(n_max, np.int64)
        for g in range(sizes.size):
            n = sizes[g]
            reached[k, g] = _cutoffs(t1[k], t2[k] if t2.shape[0] == K else t1[k], entry[k], dropout[k], n, rule,
                                     fu_days, look_events, look_fractions, cal, cut, done)
            for look in range(L):
                done_out[k, g, look] = done[look]
                if not done[look]:
                    continue
                cutoff = cut[look]
                dur[k, g, look] = cutoff - entry[k, 0]
                m = 0
                xa = 0
                na = 0
                xb = 0
                nb_ = 0
                exposure = 0.0
                for j in range(n):
                    if entry[k, j] > cutoff:
                        continue
                    c = min(dropout[k, j], cutoff - entry[k, j])
                    b = arm[k, j] == 1
                    if test <= T_COX_SCORE or test == T_LOGRANK1:
                        # compared on the calendar scale, as the event-driven cut-off is found
                        ev = t1[k, j] <= dropout[k, j] and entry[k, j] + t1[k, j] <= cutoff
                        time[m] = t1[k, j] if ev else c
                        event[m] = ev
                        group[m] = arm[k, j]
                        exposure += time[m]
                        m += 1
                        hit = 1 if ev else 0
                        counted = 1
                    else:
                        counted = 1 if t2[k, j] <= dropout[k, j] and entry[k, j] + t2[k, j] <= cutoff else 0
                        hit = 1 if counted == 1 and t1[k, j] <= dropout[k, j] and entry[k, j] + t1[k, j] <= cutoff \
                            else 0
                    if b:
                        xb += hit
                        nb_ += counted
                    else:
                        xa += hit
                        na += counted
                counts[k, g, look, 0] = xa
                counts[k, g, look, 1] = na
                counts[k, g, look, 2] = xb
                counts[k, g, look, 3] = nb_
                z = 0.0
                p = 1.0
                if test <= T_COX_SCORE:
                    mm = coxmod.event_table(time, event, group, m, r0, r1, d0, d1)
                    o, v, _ = coxmod.logrank_from_table(r0, r1, d0, d1, mm)
                    oe_out[k, g, look] = o
                    var_out[k, g, look] = v
                    if test == T_LOGRANK:
                        z = o / math.sqrt(v) if v > 0.0 else 0.0
                        est[k, g, look] = o / v if v > 0.0 else 0.0  # Peto log HR
                    else:
                        beta, se, wald, score, _ = coxmod.cox_fit(r0, r1, d0, d1, mm, coxmod.EFRON)
                        est[k, g, look] = beta
                        aux[k, g, look] = se if test == T_COX else wald
                        z = wald if test == T_COX else score
                    p = _p_value(z, sides, direction) if z != 0.0 else 1.0
                elif test == T_LOGRANK1:
                    e_null = hazard0 * exposure
                    o = xb + xa
                    oe_out[k, g, look] = o - e_null
                    var_out[k, g, look] = e_null
                    est[k, g, look] = o / e_null if e_null > 0.0 else 0.0
                    if e_null > 0.0:
                        z = (o - e_null) / math.sqrt(e_null)
                        p = _p_value(z, sides, direction)
                elif test in (T_CHISQ, T_YATES):
                    z, p = props.chisq_test(xa, na, xb, nb_, test == T_YATES, direction, sides)
                    if na > 0 and nb_ > 0:
                        est[k, g, look] = xb / nb_ - xa / na
                elif test == T_FISHER:
                    lor, p = props.fisher_test(xa, na, xb, nb_, direction, sides)
                    est[k, g, look] = lor
                    z, _ = props.chisq_test(xa, na, xb, nb_, False, direction, sides)
                else:  # binomial / simon: single-arm rate; exact one-sided p
                    if nb_ > 0:
                        est[k, g, look] = xb / nb_
                        z = (xb - nb_ * p0) / math.sqrt(nb_ * p0 * (1.0 - p0))
                    p = props.binomial_test(xb, nb_, p0)
                z_out[k, g, look] = z
                p_out[k, g, look] = p


# --------------------------------------------------------------------------- #
# simulation


@dataclass(frozen=True)
class SimulatedTrials:
    """K simulated trials of the largest size N: per-patient arrays shaped (K, N).

    ``t_event``: survival endpoints: event day from randomisation (inf: no event within
    the kernel horizon); binary endpoints: the day the patient counts as a responder
    (CR) or a case (grade >= 3 CRS), inf if never; ``t_denominator`` (binary only): the
    day the patient enters the denominator. ``arm``: 1 = experimental (B);
    ``entry``: randomisation day from the first randomisation; ``dropout``: days from
    randomisation to dropout."""

    spec: TrialSpec
    seed: int
    t_event: np.ndarray
    arm: np.ndarray
    entry: np.ndarray
    dropout: np.ndarray
    t_denominator: np.ndarray | None = None

    @property
    def trials(self) -> int:
        return self.t_event.shape[0]

    @property
    def n_max(self) -> int:
        return self.t_event.shape[1]

    def cutoff(self, k: int, n: int, look: int = -1) -> float | None:
        """Cut-off day of trial k at size n for a look (plain numpy; None: the look did
        not happen); the reference the compiled analysis is tested against."""
        spec = self.spec
        entry = self.entry[k, :n]
        if spec.followup_rule == "min_followup":
            return float(entry[-1] + spec.min_followup_days)
        if spec.followup_rule == "calendar":
            return float(spec.cutoff_days)
        last = entry[-1] + spec.max_followup_days
        t = self.t_event[k, :n]
        cal = np.sort(np.where(t <= self.dropout[k, :n], entry + t, np.inf))
        looks = spec.look_events()
        d = looks[look]
        hit = d <= n and cal[d - 1] <= last
        if not hit and (look % len(looks)) != len(looks) - 1:
            return None
        return float(cal[d - 1]) if hit else float(last)

    def observed(self, k: int, n: int, look: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, event, arm) of trial k at size n after censoring at a look's cut-off
        (plain numpy: the reference for the compiled analysis; survival endpoints)."""
        cutoff = self.cutoff(k, n, look)
        entry = self.entry[k, :n]
        keep = entry <= cutoff
        cens = np.minimum(self.dropout[k, :n], cutoff - entry)
        t = self.t_event[k, :n]
        event = (t <= self.dropout[k, :n]) & (entry + t <= cutoff)
        return np.where(event, t, cens)[keep], event[keep], self.arm[k, :n][keep].copy()

    def analyse(self, sizes: Any) -> TrialResults:
        """The spec's test of every trial at every size in ``sizes`` (each <= N) and look."""
        spec = self.spec
        sizes = np.asarray(sizes, dtype=np.int64).ravel()
        if sizes.size and (sizes.min() < 2 or sizes.max() > self.n_max):
            raise ValueError(f"sizes must lie in [2, {self.n_max}]")
        looks = np.asarray(spec.look_events(), np.int64)
        fractions = np.asarray(spec.look_fractions(), np.float64)
        shape = (self.trials, sizes.size, looks.size)
        z, p, est, aux, oe, var, dur = (np.zeros(shape) for _ in range(7))
        p[:] = 1.0
        counts = np.zeros((*shape, 4), np.int64)
        done = np.zeros(shape, np.bool_)
        reached = np.zeros(shape[:2], np.bool_)
        rule = _RULE[spec.followup_rule]
        fu = {0: spec.min_followup_days, 1: spec.cutoff_days, 2: spec.max_followup_days}[rule]
        t2 = self.t_denominator if self.t_denominator is not None else self.t_event
        _analyse(self.t_event, t2, self.arm, self.entry, self.dropout, sizes, rule, float(fu), looks, fractions,
                 _TEST[spec.test], spec.sides, spec.direction, float(spec.historical_hazard_per_day or 0.0),
                 float(spec.p0 or 0.5), z, p, est, aux, oe, var, counts, dur, done, reached)
        return TrialResults(spec, sizes, z, p, est, aux, oe, var, counts, dur, done, reached)


@dataclass(frozen=True)
class TrialResults:
    """Per trial (axis 0), size (axis 1) and look (axis 2) analysis results; the
    two-dimensional properties describe the analysis at which each trial ends (the
    look where it stopped for efficacy, else its final analysis)."""

    spec: TrialSpec
    sizes: np.ndarray
    z_looks: np.ndarray
    p_looks: np.ndarray
    estimate_looks: np.ndarray
    aux_looks: np.ndarray
    o_minus_e_looks: np.ndarray
    variance_looks: np.ndarray
    counts_looks: np.ndarray  # (..., 4): x_a, n_a, x_b, n_b (survival: events and patients)
    duration_looks: np.ndarray
    done: np.ndarray
    reached: np.ndarray  # D events reached (event-driven rule; True otherwise)

    @property
    def alpha(self) -> float:
        return self.spec.alpha

    @property
    def looks(self) -> int:
        return self.z_looks.shape[2]

    @property
    def rate_looks(self) -> bool:
        """Interims of a rate endpoint: information is patients in the denominator, and the
        planned maximum is each grid size's n."""
        return self.looks > 1 and self.spec.followup_rule != "events"

    @cached_property
    def plan(self) -> SequentialPlan | None:
        """The planned group-sequential design (None without interim looks); for a rate
        endpoint on the fraction scale (planned information 1)."""
        if self.looks == 1:
            return None
        return sequential_plan(self.spec, 1.0 if self.rate_looks else None)

    def _planned_info(self) -> tuple[float, ...]:
        return self.spec.look_fractions() if self.rate_looks else tuple(map(float, self.spec.look_events()))

    def boundaries(self) -> np.ndarray:
        """Planned efficacy boundaries on the favourable-z scale, one per look (at the
        planned information; each trial's own are recomputed at its observed information)."""
        if self.plan is None:
            return np.array([math.nan])
        return self.plan.bounds(self._planned_info())[0]

    def futility_boundaries(self) -> np.ndarray:
        """Planned futility boundaries (favourable z; -inf: none), one per look."""
        if self.plan is None:
            return np.array([-math.inf])
        return self.plan.bounds(self._planned_info())[1]

    @cached_property
    def look_boundaries(self) -> tuple[np.ndarray, np.ndarray]:
        """(efficacy, futility) boundary of every trial, size and look, recomputed at the
        information each trial observed at its looks (events; for a rate endpoint the
        patients in the denominator, of n planned); inf / -inf where a look did not happen."""
        assert self.plan is not None
        K, G, L = self.z_looks.shape
        c = self.counts_looks
        info = (c[..., 1] + c[..., 3] if self.rate_looks else c[..., 0] + c[..., 2]).astype(np.float64)
        b = np.full((K, G, L), math.inf)
        a = np.full((K, G, L), -math.inf)
        for g in range(G):
            plan = sequential_plan(self.spec, float(self.sizes[g])) if self.rate_looks else self.plan
            rows = np.where(self.done[:, g], info[:, g], -1.0)
            uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
            bu = np.full(uniq.shape, math.inf)
            au = np.full(uniq.shape, -math.inf)
            for u, row in enumerate(uniq):
                at = np.flatnonzero(row >= 0.0)
                bu[u, at], au[u, at] = plan.bounds(row[at])
            inverse = inverse.reshape(-1)
            b[:, g], a[:, g] = bu[inverse], au[inverse]
        return b, a

    @cached_property
    def _stopping(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._stop()

    def _stop(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reject, look index at which each trial ends, stopped for futility)."""
        if self.looks == 1:
            none = np.zeros(self.z_looks.shape[:2], np.int64)
            return self.p_looks[:, :, 0] < self.alpha, none, none.astype(np.bool_)
        b, a = self.look_boundaries
        favourable = self.spec.direction * self.z_looks
        zf = np.abs(self.z_looks) if self.spec.sides == 2 else favourable
        cross = self.done & (zf >= b)
        # futility: an interim whose favourable statistic is at or below its bound (and
        # does not cross for efficacy) ends the trial without rejection
        futile = self.done & ~cross & (favourable <= a)
        stop = cross | futile
        any_stop = stop.any(axis=2)
        first = np.where(any_stop, np.argmax(stop, axis=2), self.looks - 1)
        at = first[:, :, None]
        reject = np.take_along_axis(cross, at, axis=2)[:, :, 0] & any_stop
        futility = np.take_along_axis(futile, at, axis=2)[:, :, 0] & any_stop
        return reject, first, futility

    @property
    def futility_stop(self) -> np.ndarray:
        """Trials (axis 0) at each size that stopped at an interim for futility."""
        return self._stopping[2]

    @property
    def reject(self) -> np.ndarray:
        return self._stopping[0]

    @property
    def stop_look(self) -> np.ndarray:
        return self._stopping[1]

    def _at_end(self, a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, self.stop_look[:, :, None], axis=2)[:, :, 0]

    @property
    def z(self) -> np.ndarray:
        return self._at_end(self.z_looks)

    @property
    def p(self) -> np.ndarray:
        return self._at_end(self.p_looks)

    @property
    def chi2(self) -> np.ndarray:
        return self.z**2

    @property
    def estimate(self) -> np.ndarray:
        return self._at_end(self.estimate_looks)

    @property
    def o_minus_e(self) -> np.ndarray:
        return self._at_end(self.o_minus_e_looks)

    @property
    def variance(self) -> np.ndarray:
        return self._at_end(self.variance_looks)

    @property
    def counts(self) -> np.ndarray:
        return np.take_along_axis(self.counts_looks, self.stop_look[:, :, None, None], axis=2)[:, :, 0]

    @property
    def events(self) -> np.ndarray:
        """Events (survival) or numerator count (binary endpoints) at the end of each trial."""
        c = self.counts
        return c[..., 0] + c[..., 2]

    @property
    def duration_days(self) -> np.ndarray:
        return self._at_end(self.duration_looks)

    @property
    def power(self) -> np.ndarray:
        return self.reject.mean(axis=0)


def sequential_plan(spec: TrialSpec, planned: float | None = None) -> SequentialPlan:
    """Lan-DeMets plan of a spec with interims, for ``planned`` maximum information
    (default: D events): efficacy at one-sided alpha / sides; futility beta = 1 - power
    under ``futility_hr``, whose drift per sqrt(event) is ``-log(HR) sqrt(p (1 - p))``
    for two arms with allocation share p (Schoenfeld 1981) and ``-log(HR)`` for the
    one-sample log-rank (rate endpoints: fixed ``futility_z`` only)."""
    drift = 0.0
    if spec.futility_hr is not None:
        p = spec.p_experimental
        drift = -math.log(spec.futility_hr) * (1.0 if spec.design == "single_arm" else math.sqrt(p * (1.0 - p)))
    return SequentialPlan(float(spec.events) if planned is None else planned, spec.alpha / spec.sides, spec.spending,
                          futility=spec.futility,
                          beta=1.0 - spec.power, drift_per_sqrt_info=drift, futility_z=spec.futility_z)


def _rates_per_day(spec: TrialSpec) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(spec.accrual_per_month, float) / DAYS_PER_MONTH,
            np.asarray(spec.accrual_period_months, float) * DAYS_PER_MONTH)


def _trial_layout(spec: TrialSpec, trials: int, seed: int, n: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(arm, entry, dropout) of K trials of n patients, drawn at the patients' own
    addresses, and a kernel horizon beyond every follow-up (any such horizon gives the
    same observed data)."""
    if trials < 1 or n < 2:
        raise ValueError("trials must be >= 1 and the trial size >= 2")
    k0, k1 = make_key(seed, 0)
    arm = np.empty((trials, n), np.int8)
    entry = np.empty((trials, n))
    dropout = np.empty((trials, n))
    rates, ends = _rates_per_day(spec)
    _trial_draws(k0, k1, 0, n, spec.p_experimental, rates, ends, spec.dropout_rate_per_year / 365.25, arm, entry,
                 dropout)
    follow = max(spec.min_followup_days, spec.max_followup_days, spec.cutoff_days)
    horizon = max(MIN_HORIZON_DAYS, float(entry[:, -1].max()) + follow + 1.0)
    return arm, entry, dropout, horizon


#: bytes held per simulated trial patient: arm (1), entry, dropout and two event times
#: (8 each), doubled for the analysis' work arrays
TRIAL_BYTES_PER_PATIENT = 2 * (1 + 4 * 8)


def check_trial_memory(trials: int, n_max: int, file: str, key: str) -> None:
    """Refuse up front ``trials`` simulated trials of ``n_max`` patients that cannot fit."""
    check_memory(float(trials) * n_max * TRIAL_BYTES_PER_PATIENT, file, key,
                 f"{trials:,} simulated trials of {n_max:,} patients")


def _simulate(spec: TrialSpec, thetas: tuple[np.ndarray, np.ndarray], trials: int, seed: int, n_max: int,
              threads: int | None, progress: Callable[[int, int], None] | None) -> SimulatedTrials:
    arm, entry, dropout, horizon = _trial_layout(spec, trials, seed, n_max)
    k0, k1 = make_key(seed, 0)
    t1 = np.empty((trials, n_max))
    binary = not spec.survival
    t2 = np.empty((trials, n_max)) if binary else np.empty((1, 1))
    code = _ENDPOINT[spec.endpoint]
    per_chunk = max(1, CHUNK_PATIENTS // n_max)
    previous = nb.get_num_threads()
    if threads is not None:
        # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
        nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        for start in range(0, trials, per_chunk):
            stop = min(trials, start + per_chunk)
            out2 = t2[start:stop] if binary else np.empty((stop - start, n_max))
            _simulate_block(thetas[0], thetas[1], k0, k1, start, n_max, arm[start:stop], horizon, code,
                            t1[start:stop], out2)
            if progress is not None:
                progress(stop, trials)
    finally:
        nb.set_num_threads(previous)
    return SimulatedTrials(spec, seed, t1, arm, entry, dropout, t2 if binary else None)


def simulate_trials(spec: TrialSpec, trials: int | None = None, seed: int | None = None, n_max: int | None = None,
                    threads: int | None = None, progress: Callable[[int, int], None] | None = None
                    ) -> SimulatedTrials:
    """Simulate ``trials`` whole trials of ``n_max`` patients (default: the grid's
    largest size), each patient under its arm's parameters (module docstring)."""
    trials = spec.trials if trials is None else int(trials)
    seed = spec.seed if seed is None else int(seed)
    n_max = max(spec.grid) if n_max is None else int(n_max)
    thetas = (spec.control.scenario.params.theta()[None, :], spec.experimental.scenario.params.theta()[None, :])
    return _simulate(spec, thetas, trials, seed, n_max, threads, progress)


def assurance_draws(spec: TrialSpec, trials: int, seed: int, names: list[str] | None = None,
                    source: str | None = None) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """Per-trial theta tables of both arms and where the draws came from:
    ``"posterior"`` (the calibrated sample, ``sim.model.posterior``, with the parameters
    it does not hold drawn from their priors) when it exists and
    neither ``names`` nor ``source="prior"`` asks otherwise, else ``"prior"`` (the
    uncertainty distributions of ``params/defaults.toml``). Each arm's own overrides
    are laid over every draw."""
    from sim.model.posterior import load_posterior  # noqa: PLC0415 - model-level loaders
    from sim.model.uncertainty import sample_thetas  # noqa: PLC0415

    base = spec.control.scenario.params
    post = None if (names is not None or source == "prior") else load_posterior()
    if source == "posterior" and post is None:
        raise InputError("params/posterior.parquet", "", "no calibrated posterior sample", "run the calibration")
    if post is not None:
        # calibrated parameters from the posterior, every other uncertain one from its prior
        draws, used = post.thetas_with_prior(base, trials, seed), "posterior"
    else:
        draws, used = sample_thetas(base, trials, seed, names=names, source=spec.file), "prior"
    base_theta = base.theta()
    out = []
    for a in (spec.control, spec.experimental):
        theta_a = a.scenario.params.theta()
        overridden = theta_a != base_theta
        d = draws.copy()
        d[:, overridden] = theta_a[overridden]
        out.append(np.ascontiguousarray(d))
    return (out[0], out[1]), used


def assurance(spec: TrialSpec, n: int, trials: int | None = None, seed: int | None = None,
              names: list[str] | None = None, threads: int | None = None, source: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[float, float]:
    """Assurance at total size ``n``: the probability of a significant result averaged
    over parameter uncertainty, with its Monte Carlo SE. Trial k uses its own parameter
    draw (:func:`assurance_draws`; ``names`` restricts the prior draws to those
    parameters), with each arm's overrides on top, and otherwise the same patients,
    randomisation, accrual and dropout as :func:`simulate_trials` (with no parameter
    drawn it equals the power there exactly). For a single-arm trial this is the
    probability of success."""
    trials = spec.trials if trials is None else int(trials)
    seed = spec.seed if seed is None else int(seed)
    thetas, _ = assurance_draws(spec, trials, seed, names, source)
    sim = _simulate(spec, thetas, trials, seed, int(n), threads, progress)
    p = float(sim.analyse([int(n)]).power[0])
    return p, math.sqrt(p * (1.0 - p) / trials)


def simulate_with_draws(spec: TrialSpec, n: int, trials: int, seed: int, threads: int | None = None,
                        names: list[str] | None = None) -> tuple[SimulatedTrials, str]:
    """Trials of size ``n`` each with its own parameter draw (see :func:`assurance`)."""
    thetas, used = assurance_draws(spec, trials, seed, names)
    return _simulate(spec, thetas, trials, seed, int(n), threads, None), used


# --------------------------------------------------------------------------- #
# power curve


@dataclass(frozen=True)
class PowerCurve:
    endpoint: str
    test: str
    trials: int
    seed: int
    grid: list[dict[str, float]]  # n, power, se, events_mean, duration_months_mean, ...
    n_required: int | None
    n_required_note: str
    analytic_n: int | None
    analytic_events: int | None
    hazard_ratio_pooled: float | None
    event_fraction_pooled: float
    searched: list[dict[str, float]]  # sizes evaluated by the search (n, power, se)
    assurance: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "test": self.test, "trials": self.trials, "seed": self.seed,
            "grid": self.grid, "n_required": self.n_required, "n_required_note": self.n_required_note,
            "analytic_n": self.analytic_n, "analytic_events": self.analytic_events,
            "hazard_ratio_pooled": self.hazard_ratio_pooled, "event_fraction_pooled": self.event_fraction_pooled,
            "searched": self.searched, "assurance": self.assurance, **self.extra,
        }


def _row(res: TrialResults, g: int) -> dict[str, Any]:
    p = float(res.power[g])
    k = res.p_looks.shape[0]
    row: dict[str, Any] = {
        "n": int(res.sizes[g]), "power": p, "se": math.sqrt(p * (1.0 - p) / k),
        "events_mean": float(res.events[:, g].mean()),
        "duration_months_mean": float(res.duration_days[:, g].mean() / DAYS_PER_MONTH)}
    if res.spec.followup_rule == "events":
        row["events_reached"] = float(res.reached[:, g].mean())
    if res.looks > 1:
        reject, look = res.reject[:, g], res.stop_look[:, g]
        row["stop_probability"] = [float(np.mean(reject & (look == j))) for j in range(res.looks)]
        if res.plan is not None and (res.plan.futility or res.plan.futility_z):
            fut = res.futility_stop[:, g]
            row["futility_probability"] = [float(np.mean(fut & (look == j))) for j in range(res.looks)]
        row["look_happened"] = [float(res.done[:, g, j].mean()) for j in range(res.looks)]
    return row


def search_n(sim: SimulatedTrials, target: float, grid: tuple[int, ...], power: np.ndarray,
             keep: list[np.ndarray] | None = None) -> tuple[int | None, str, list[dict[str, float]]]:
    """Smallest n reaching ``target`` power: bisection over whole n between the last grid
    point below the target and the first at or above it, each midpoint simulated with
    the same K nested trials (so the estimated curve is close to monotone; with Monte
    Carlo noise the answer is a crossing of the estimated curve, not a proof that no
    smaller n reaches the target). ``keep`` collects each midpoint's rejections."""
    above = np.flatnonzero(power >= target)
    if above.size == 0:
        return None, f"no grid size reaches power {target} (largest grid size {grid[-1]})", []
    i = int(above[0])
    if i == 0:
        return int(grid[0]), "reached at the smallest grid size (not searched below it)", []
    lo, hi = int(grid[i - 1]), int(grid[i])
    searched = []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        res = sim.analyse([mid])
        searched.append(_row(res, 0))
        if keep is not None:
            keep.append(res.reject[:, 0])
        if res.power[0] >= target:
            hi = mid
        else:
            lo = mid
    return hi, f"bisection between grid sizes {grid[i - 1]} and {grid[i]}", searched


def _crossing(ns: np.ndarray, power: np.ndarray, target: float) -> float:
    """Linear interpolation of the first crossing of ``target`` (nan: never)."""
    above = np.flatnonzero(power >= target)
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(ns[0])
    p0, p1 = power[i - 1], power[i]
    return float(ns[i - 1] + (target - p0) / (p1 - p0) * (ns[i] - ns[i - 1]))


def bootstrap_n_required(ns: np.ndarray, reject: np.ndarray, target: float, seed: int,
                         replicates: int = BOOTSTRAP_REPLICATES) -> dict[str, Any]:
    """Monte Carlo error of the sample size reaching ``target``: the K simulated trials
    (rows of ``reject``, one column per evaluated size ``ns``) are resampled with
    replacement; in each replicate the power curve is re-estimated at the evaluated sizes
    and its first crossing of the target is found by linear interpolation between
    them. Returns the SD and the 2.5/97.5 percentiles of the crossing over replicates,
    and the share of replicates whose curve never reaches the target."""
    order = np.argsort(ns)
    ns, reject = ns[order], reject[:, order].astype(np.float64)
    K = reject.shape[0]
    rng = np.random.default_rng([seed, 6])  # a local generator: no global state
    weights = rng.multinomial(K, np.full(K, 1.0 / K), size=replicates).astype(np.float64)
    curves = weights @ reject / K
    cross = np.array([_crossing(ns, c, target) for c in curves])
    ok = cross[np.isfinite(cross)]
    out: dict[str, Any] = {"method": f"bootstrap over the {K} simulated trials ({replicates} replicates); "
                           "crossing of the target by linear interpolation between evaluated sizes",
                           "never_reached": float(np.mean(~np.isfinite(cross)))}
    if ok.size >= 2:
        out["se"] = float(np.std(ok, ddof=1))
        out["interval"] = [float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))]
    else:
        out["se"] = None
        out["interval"] = None
    return out


def _pooled_hr(res: TrialResults, g: int) -> float | None:
    v = float(res.variance[:, g].sum())
    return math.exp(float(res.o_minus_e[:, g].sum()) / v) if v > 0 else None


def _analytic(spec: TrialSpec, res: TrialResults, g: int) -> dict[str, Any]:
    """The textbook answer beside the simulated one, with its inputs (hazard ratio,
    event fraction, rates) estimated from the simulated trials at grid size ``g`` (the
    first grid size at or above the simulated answer, else the largest: with
    non-proportional hazards or cure the pooled hazard ratio depends on follow-up, so
    it is read where the design would be)."""
    n_big = spec.grid[g]
    out: dict[str, Any] = {"analytic_n": None, "analytic_events": None, "hazard_ratio_pooled": None,
                           "event_fraction_pooled": float(res.events[:, g].mean()) / n_big}
    frac = out["event_fraction_pooled"]
    if spec.test in ("logrank", "cox", "cox_score"):
        hr = _pooled_hr(res, g)
        out["hazard_ratio_pooled"] = hr
        out["analytic_note"] = ("Schoenfeld with the hazard ratio (pooled Peto estimate) and event fraction pooled "
                                f"over the simulated trials at n = {n_big}")
        if hr is not None and abs(math.log(hr)) > 1e-12:
            d = schoenfeld_events(hr, spec.alpha, spec.power, spec.p_experimental, spec.sides)
            out["analytic_events"] = d
            if spec.followup_rule == "events":
                out["analytic_note"] += ("; event-driven rule: the sample size sets the duration, not the events, "
                                         "so only D is given")
            elif 0.0 < frac < 1.0:
                out["analytic_n"] = schoenfeld_n(hr, frac, spec.alpha, spec.power, spec.p_experimental, spec.sides)
            if spec.interim_fractions:
                ev = np.asarray(spec.look_events(), float)
                infl = inflation_factor(ev / ev[-1], spec.alpha / spec.sides, spec.power, spec.spending)
                out["analytic_events_group_sequential"] = math.ceil(d * infl - 1e-9)
                out["inflation_factor"] = infl
    elif spec.test in ("chisq", "chisq_yates", "fisher"):
        c = res.counts[:, g].sum(axis=0)
        pa = c[0] / c[1] if c[1] else math.nan
        pb = c[2] / c[3] if c[3] else math.nan
        out.update(rate_control_pooled=pa, rate_experimental_pooled=pb)
        share = (c[1] + c[3]) / (n_big * res.counts.shape[0])  # denominator per randomised patient
        out["analytic_note"] = ("two proportions, normal approximation with pooled variance and no continuity "
                                f"correction, rates pooled over the simulated trials at n = {n_big}"
                                + ("; divided by the share infused (safety population)"
                                   if spec.endpoint == "crs_grade3plus_rate" else ""))
        if 0 < pa < 1 and 0 < pb < 1 and pa != pb and share > 0:
            n = two_proportions_n(pa, pb, spec.alpha, spec.power, 1.0 - spec.p_experimental, spec.sides)
            out["analytic_n"] = math.ceil(n / share - 1e-9) if spec.endpoint == "crs_grade3plus_rate" else n
    elif spec.test in ("binomial", "simon"):
        c = res.counts[:, g].sum(axis=0)
        p_model = c[2] / c[3] if c[3] else math.nan
        p1 = spec.p1 if spec.p1 is not None else p_model
        out.update(p0=spec.p0, p1=p1, p1_source="spec" if spec.p1 is not None else "model",
                   rate_pooled=p_model)
        out["analytic_note"] = "single-stage exact binomial design (smallest n) for p0 and p1"
        assert spec.p0 is not None  # parse_trial requires p0 for the binomial and simon tests
        if p1 is not None and math.isfinite(p1) and spec.p0 < p1 < 1.0:
            out["analytic_n"] = exact_binomial_design(spec.p0, p1, spec.alpha, spec.power).n
        else:
            out["analytic_note"] += f"; none: the model's rate {p_model:.3f} does not exceed p0 = {spec.p0}"
    else:  # logrank1
        o = float(res.events[:, g].sum())
        e = float((res.events[:, g] - res.o_minus_e[:, g]).sum())
        hr = o / e if e > 0 else None
        out["hazard_ratio_pooled"] = hr
        out["historical"] = spec.historical_note
        out["analytic_note"] = ("Wu (2015) one-sample log-rank sample size, exponential historical curve, hazard "
                                f"ratio O/E pooled over the simulated trials at n = {n_big}, uniform "
                                "accrual at the mean rate over the accrual time, the spec's minimum follow-up")
        if hr is not None and abs(math.log(hr)) > 1e-12 and spec.followup_rule == "min_followup":
            out["analytic_n"] = _wu_n(spec, hr)
            if out["analytic_n"] is not None:
                out["analytic_events"] = None
    if spec.interim_fractions and out["analytic_n"] is not None and spec.followup_rule != "events":
        infl = inflation_factor(np.asarray(spec.look_fractions()), spec.alpha / spec.sides, spec.power,
                                spec.spending)
        out["analytic_n_group_sequential"] = math.ceil(out["analytic_n"] * infl - 1e-9)
        out["inflation_factor"] = infl
    return out


def _accrual_months(spec: TrialSpec, n: int) -> float:
    """Expected months to randomise n patients (cumulative intensity = n - 1 gaps)."""
    rates, ends = _rates_per_day(spec)
    return _accrual_step(0.0, float(n - 1), rates, ends) / DAYS_PER_MONTH


def _wu_n(spec: TrialSpec, hr: float) -> int | None:
    assert spec.historical_hazard_per_day is not None  # parse_trial sets it for the logrank1 test
    median0 = math.log(2.0) / spec.historical_hazard_per_day / DAYS_PER_MONTH
    fu = spec.min_followup_days / DAYS_PER_MONTH
    n = 50
    for _ in range(100):  # fixed point: the accrual time depends on n
        new = one_sample_logrank_n(hr, median0, _accrual_months(spec, n), fu, spec.alpha, spec.power,
                                   sides=spec.sides).n
        if new == n:
            return n
        n = new
    return n


def _interim_block(spec: TrialSpec, res: TrialResults, b: np.ndarray) -> dict[str, Any]:
    """The planned group-sequential design and its analytic operating characteristics
    (canonical joint normal at the planned information): per look, the probability of
    stopping for efficacy and for futility under H0 and under the design alternative."""
    rate = res.rate_looks
    ev = spec.look_fractions() if rate else spec.look_events()
    out: dict[str, Any] = {
        "fractions": list(spec.interim_fractions), "spending": spec.spending,
        "look_events": None if rate else list(ev), "information": "patients assessed" if rate else "events",
        "boundaries_z": [float(x) for x in b], "nominal_p_one_sided": [0.5 * math.erfc(v / math.sqrt(2.0)) for v in b],
        "boundaries_note": "planned, at the planned information; every simulated trial's boundaries are "
                           "recomputed at the information it observed at its looks (events, or for a rate the "
                           "patients in the denominator of n), its final look spending the alpha left"}
    if spec.futility is None and not spec.futility_z:
        return out
    a = res.futility_boundaries()
    plan = res.plan
    assert plan is not None
    out.update(futility=spec.futility or "fixed z", futility_hr=spec.futility_hr, futility_binding=False,
               futility_z=[None if not math.isfinite(x) else float(x) for x in a])
    info = np.asarray(ev, float)
    oc: dict[str, Any] = {}
    cases = [("h0", 0.0)] + ([("design_alternative", plan.drift_per_sqrt_info)] if spec.futility_hr else [])
    for label, drift in cases:
        up, down = exit_probabilities(info, b, a, drift)
        cont = 1.0 - np.concatenate([[0.0], np.cumsum(up + down)[:-1]])  # P(the trial reaches look k)
        oc[label] = {"efficacy": [float(x) for x in up], "futility": [float(x) for x in down],
                     "reject_total": float(up.sum()),
                     ("expected_information_fraction" if rate else "expected_events"):
                         float(np.sum(info * (up + down)) + info[-1] * (1.0 - np.sum(up + down))),
                     "reach_look": [float(x) for x in cont]}
    out["operating_characteristics"] = oc
    return out


def inflation_factor(t: np.ndarray, alpha: float, power: float, kind: str) -> float:
    """Maximum information of the group-sequential design relative to the fixed design
    with the same power (the drift solving sum of crossing probabilities = power)."""
    from scipy import optimize, stats  # noqa: PLC0415

    b = boundaries(t, alpha, kind).z
    fixed = stats.norm.isf(alpha) + stats.norm.ppf(power)
    drift = optimize.brentq(lambda d: crossing_probabilities(t, b, d).sum() - power, 0.1, 20.0, xtol=1e-10)
    return float((drift / fixed) ** 2)


def _simon_block(spec: TrialSpec, seed: int, trials: int, threads: int | None, p1_model: float
                 ) -> dict[str, Any]:
    """The Simon design for (p0, p1) and its operating characteristics under the model:
    responders are counted among the first n1, then n, patients (ITT, each patient's
    response known before its dropout; the stage-1 decision waits for the stage-1
    patients' assessments)."""
    p1 = spec.p1 if spec.p1 is not None else p1_model
    assert spec.p0 is not None  # parse_trial requires p0 for the simon test
    if not (math.isfinite(p1) and spec.p0 < p1 < 1.0):
        return {"design": None, "note": f"no Simon design: p1 = {p1:.3f} does not exceed p0 = {spec.p0}"}
    designs = simon_two_stage(spec.p0, p1, spec.alpha, spec.power)
    d = designs.optimal if spec.simon == "optimal" else designs.minimax

    def run(sim: SimulatedTrials) -> dict[str, float]:
        resp = sim.t_event[:, : d.n] <= sim.dropout[:, : d.n]
        x1 = resp[:, : d.n1].sum(axis=1)
        x = resp.sum(axis=1)
        cont = x1 > d.r1
        rej = cont & (x > d.r)
        p = float(rej.mean())
        return {"power": p, "se": math.sqrt(p * (1 - p) / len(rej)), "pet": float(1 - cont.mean()),
                "expected_n": float(np.mean(np.where(cont, d.n, d.n1)))}

    sim = simulate_trials(spec, trials, seed, n_max=d.n, threads=threads)
    out: dict[str, Any] = {"kind": spec.simon, "p0": spec.p0, "p1": p1, "r1": d.r1, "n1": d.n1, "r": d.r,
                           "n": d.n, "en0": d.en0, "pet0": d.pet0, "exact_alpha": d.alpha, "exact_power": d.power}
    out["simulated"] = run(sim)
    draws, used = simulate_with_draws(spec, d.n, trials, seed, threads)
    out["probability_of_success"] = run(draws)["power"]
    out["probability_of_success_source"] = used
    return out


def power_curve(spec: TrialSpec, trials: int | None = None, seed: int | None = None, threads: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> PowerCurve:
    """Simulated power per grid size with its Monte Carlo SE ``sqrt(p (1 - p) / K)``,
    mean events and duration (at the analysis where each trial ends), the searched
    smallest n with its bootstrap Monte Carlo error, and the analytic answer."""
    sim = simulate_trials(spec, trials, seed, threads=threads, progress=progress)
    res = sim.analyse(spec.grid)
    rows = [_row(res, g) for g in range(len(spec.grid))]
    keep: list[np.ndarray] = []
    n_req, note, searched = search_n(sim, spec.power, spec.grid, res.power, keep)
    ns = np.array(list(spec.grid) + [r["n"] for r in searched], float)
    reject = np.column_stack([res.reject] + [k[:, None] for k in keep])
    at = [g for g, n in enumerate(spec.grid) if n_req is not None and n >= n_req]
    extra = _analytic(spec, res, at[0] if at else len(spec.grid) - 1)
    analytic_n = extra.pop("analytic_n")
    analytic_d = extra.pop("analytic_events")
    hr = extra.pop("hazard_ratio_pooled")
    frac = extra.pop("event_fraction_pooled")
    extra["n_required_mc"] = bootstrap_n_required(ns, reject, spec.power, sim.seed)
    extra["design"] = spec.design
    extra["sides"] = spec.sides
    extra["follow_up_rule"] = spec.followup_rule
    if res.looks > 1:
        b = res.boundaries()
        extra["interim"] = _interim_block(spec, res, b)
    if spec.test == "simon":
        extra["simon"] = _simon_block(spec, sim.seed, sim.trials, threads,
                                      extra.get("rate_pooled", math.nan))
    return PowerCurve(spec.endpoint, spec.test, sim.trials, sim.seed, rows, n_req, note, analytic_n, analytic_d,
                      hr, frac, searched, extra=extra)
