"""A trial specification: its constants, the ``TrialSpec`` it parses into, and the
checks of every key (:func:`parse_trial` takes a parsed TOML dict; the file is read by
``sim.io``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from sim.model.errors import InputError
from sim.model.limits import check_choice, check_keys, check_number, is_number
from sim.model.parameter_set import flatten
from sim.model.scenario import Scenario
from sim.outcomes.summary import DAYS_PER_MONTH
from sim.stats.maxcombo import MAX_RANK
from sim.trials.adaptive import KEYS as ADAPTIVE_KEYS
from sim.trials.adaptive import AdaptiveOptions
from sim.trials.adaptive import parse_options as parse_adaptive
from sim.trials.gsdesign import solved_events
from sim.trials.predictive import OPTION_KEYS, PredictiveOptions, parse_options
from sim.trials.spec_timing import parse_accrual, parse_followup
from sim.trials.spec_timing import positive as _positive
from sim.trials.spending import SPENDING
from sim.trials.weights import parse_weights

DESIGNS = ("two_arm", "single_arm", "multi_arm")
MULTIPLICITY = ("dunnett", "holm", "bonferroni")
NPH_TESTS = ("fh", "maxcombo", "rmst", "milestone")  # weighted log-rank, MaxCombo, Kaplan-Meier contrasts
TWO_ARM_TESTS = ("logrank", "cox", "cox_score", "chisq", "chisq_yates", "fisher", *NPH_TESTS)
SINGLE_ARM_TESTS = ("binomial", "simon", "logrank1", "predictive")
TESTS = TWO_ARM_TESTS[:6] + SINGLE_ARM_TESTS + NPH_TESTS  # compiled codes: new tests at the end
#: endpoints a trial spec may name, and those each test can analyse
ENDPOINTS = ("os", "efs", "lfs", "cr_rate", "crs_grade3plus_rate")
SURVIVAL = ("os", "efs")
ANALYSABLE = {
    "logrank": SURVIVAL, "cox": SURVIVAL, "cox_score": SURVIVAL, "logrank1": SURVIVAL,
    "chisq": ("cr_rate", "crs_grade3plus_rate"), "chisq_yates": ("cr_rate", "crs_grade3plus_rate"),
    "fisher": ("cr_rate", "crs_grade3plus_rate"), "binomial": ("cr_rate",), "simon": ("cr_rate",),
    "predictive": ("cr_rate",), "fh": SURVIVAL, "maxcombo": SURVIVAL, "rmst": SURVIVAL, "milestone": SURVIVAL,
}
ARM_NAMES = ("control", "experimental")  # arm A, arm B
SECTIONS = ("trial", "arms", "arm", "allocation", "accrual", "dropout", "follow_up", "analysis", "interim", "adaptive",
            "grid",
            "run")
KEYS: dict[str, tuple[str, ...]] = {
    "trial": ("name", "description", "scenario", "design"),
    "allocation": ("ratio", "weights"),
    "accrual": ("per_month", "period_months"),
    "dropout": ("rate_per_year",),
    "follow_up": ("rule", "min_followup_days", "cutoff_days", "events", "max_followup_days", "design_hr"),
    "analysis": ("endpoint", "test", "sides", "alpha", "power", "p0", "p1", "simon", *OPTION_KEYS, "rho", "gamma",
                 "combo", "multiplicity", "tau_months", "milestone_months", "historical_median_months",
                 "historical_landmark_months", "historical_survival"),
    "interim": ("fractions", "spending", "futility", "futility_hr", "futility_z"),
    "adaptive": ADAPTIVE_KEYS,
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
(T_LOGRANK, T_COX, T_COX_SCORE, T_CHISQ, T_YATES, T_FISHER, T_BINOMIAL, T_SIMON, T_LOGRANK1, T_PREDICTIVE, T_FH,
 T_MAXCOMBO, T_RMST, T_MILESTONE) = range(14)
assert [_TEST[t] for t in TESTS] == list(range(14))


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
    predictive: PredictiveOptions | None = None  # the predictive-probability design's options
    adaptive: AdaptiveOptions | None = None  # interim event re-estimation (weighted inverse normal)
    fh_weights: tuple[tuple[float, float], ...] = ((0.0, 0.0),)  # (rho, gamma): fh one pair, maxcombo several
    multiplicity: str = "dunnett"  # multi-arm: the adjustment over the comparisons with control
    arm_weights: tuple[float, ...] = ()  # multi-arm allocation weights, control first (empty: equal)
    km_days: float = 0.0  # rmst: the restriction time tau; milestone: the landmark (days from randomisation)
    historical_hazard_per_day: float | None = None  # one-sample log-rank: exponential historical curve
    historical_note: str = ""
    design_hr: float | None = None  # events = "solve": the hazard ratio the solved D powers

    @property
    def p_experimental(self) -> float:
        """Probability that a patient is randomised to the experimental arm (multi-arm:
        within the comparison of the last arm with control)."""
        if self.design == "single_arm":
            return 1.0
        if self.design == "multi_arm":
            w = self.arm_weights or (1.0,) * len(self.arms)
            return w[-1] / (w[-1] + w[0])
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


def _parse_futility(interim: dict[str, Any], looks: int, file: str, design_hr: float | None = None) -> dict[str, Any]:
    """Non-binding futility: beta spending under a stated hazard ratio (by default the
    design hazard ratio of solved events), or fixed z thresholds on the favourable
    scale (one per interim look)."""
    out: dict[str, Any] = {}
    kind, hr, zs = interim.get("futility"), interim.get("futility_hr"), interim.get("futility_z")
    if zs is not None:
        if kind is not None or hr is not None:
            raise InputError(file, "interim.futility_z", "give either fixed thresholds or beta spending, not both",
                             "futility_z, or futility with futility_hr")
        if not isinstance(zs, list) or len(zs) != looks or not all(is_number(z) for z in zs):
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
    out["futility"] = check_choice(kind, SPENDING, file, "interim.futility")
    if design_hr is not None:
        if hr is not None and hr != design_hr:
            raise InputError(file, "interim.futility_hr", f"differs from follow_up.design_hr = {design_hr} (the "
                             "solved design protects power at one hazard ratio)", "omit it, or the same value")
        hr = design_hr
    value = float(hr) if hr is not None and is_number(hr) else math.nan
    if not 0.0 < value < 1.0:
        raise InputError(file, "interim.futility_hr", f"expected the design hazard ratio strictly between 0 and 1, "
                         f"got {hr!r}", "0 < futility_hr < 1 (beta spending protects power at this ratio)")
    out["futility_hr"] = value
    return out


def _open_unit(value: Any, key: str, file: str) -> float:
    check_number(value, "open_unit", file, key)
    return float(value)


def _multi_arms(doc: dict[str, Any], file: str, base: Scenario) -> tuple[Arm, ...]:
    """[arms.control] and two or more experimental [arms.NAME]."""
    if "arm" in doc:
        raise InputError(file, "arm", "a multi-arm trial has [arms.control] and [arms.NAME] per experimental "
                         "arm", "[arms.control], [arms.NAME], ...")
    if "ratio" in doc.get("allocation", {}):
        raise InputError(file, "allocation.ratio", "a multi-arm trial takes one weight per arm",
                         "allocation.weights = [control, then each [arms.NAME] in order]")
    table = doc.get("arms", {})
    if not isinstance(table, dict) or "control" not in table or len(table) < 3:
        raise InputError(file, "arms", "a multi-arm trial needs [arms.control] and at least two experimental arms",
                         "[arms.control], [arms.NAME], [arms.NAME2]")
    names = ["control", *(n for n in table if n != "control")]
    return tuple(_parse_arm(n, f"arms.{n}", table[n], file, base) for n in names)


def _parse_arm(name: str, key: str, table: Any, file: str, base: Scenario) -> Arm:
    table = check_keys(table, ARM_KEYS, file, key)
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
    check_keys(doc, SECTIONS, file, what="section")
    for section, table in doc.items():
        if section in KEYS:
            check_keys(table, KEYS[section], file, section)
    header = doc.get("trial", {})
    design = check_choice(header.get("design", "two_arm"), DESIGNS, file, "trial.design")
    scenario_ref = header.get("scenario", "baseline")
    if not isinstance(scenario_ref, str):
        raise InputError(file, "trial.scenario", f"expected a scenario file or name, got {scenario_ref!r}")

    if design == "two_arm":
        if "arm" in doc:
            raise InputError(file, "arm", "a two-arm trial has [arms.control] and [arms.experimental]",
                             "[arms.control], [arms.experimental]")
        arms_table = check_keys(doc.get("arms", {}), ARM_NAMES, file, "arms")
        for name in ARM_NAMES:
            if name not in arms_table:
                raise InputError(file, f"arms.{name}", "missing arm", "[arms.control] and [arms.experimental]")
        arms: tuple[Arm, ...] = tuple(_parse_arm(n, f"arms.{n}", arms_table[n], file, base_scenario)
                                      for n in ARM_NAMES)
        if "weights" in doc.get("allocation", {}):
            raise InputError(file, "allocation.weights", "a two-arm trial takes the ratio experimental : control",
                             "allocation.ratio")
        ratio = _positive(doc.get("allocation", {}).get("ratio", 1.0), "allocation.ratio", file)
    elif design == "multi_arm":
        arms, ratio = _multi_arms(doc, file, base_scenario), 1.0
        weights = doc.get("allocation", {}).get("weights")
        if weights is not None:
            if not isinstance(weights, list) or len(weights) != len(arms):
                raise InputError(file, "allocation.weights", f"expected {len(arms)} weights (control, then "
                                 f"{', '.join(a.name for a in arms[1:])}), got {weights!r}", "positive numbers")
            extra_weights = tuple(_positive(w, "allocation.weights", file) for w in weights)
        else:
            extra_weights = ()
    else:
        for section in ("arms", "allocation"):
            if section in doc:
                raise InputError(file, section, "a single-arm trial has one [arm] and no allocation", "[arm]")
        arms = (_parse_arm("arm", "arm", doc.get("arm", {}), file, base_scenario),)
        ratio = math.inf

    rates, ends = parse_accrual(doc.get("accrual", {}), file)
    dropout = _positive(doc.get("dropout", {}).get("rate_per_year", 0.0), "dropout.rate_per_year", file,
                        zero_ok=True)

    an = doc.get("analysis", {})
    two = design != "single_arm"  # multi-arm: two-arm comparisons with the shared control
    tests = TWO_ARM_TESTS if two else SINGLE_ARM_TESTS
    endpoint = check_choice(an.get("endpoint", "os" if two else "cr_rate"), ENDPOINTS, file,
                            "analysis.endpoint")
    default_test = ("logrank" if endpoint in SURVIVAL else "chisq") if two else (
        "logrank1" if endpoint in SURVIVAL else "binomial")
    test = check_choice(an.get("test", default_test), tests, file, "analysis.test")
    if endpoint not in ANALYSABLE[test]:
        why = " (LFS is defined among responders only)" if endpoint == "lfs" else ""
        raise InputError(file, "analysis.endpoint", f"the {test} test cannot analyse endpoint {endpoint!r}{why}",
                         ", ".join(ANALYSABLE[test]))
    sides = an.get("sides", 2 if two else 1)
    if sides not in (1, 2) or isinstance(sides, bool):
        raise InputError(file, "analysis.sides", f"expected 1 or 2, got {sides!r}", "1 or 2")
    if test in ("binomial", "simon", "predictive") and sides != 1:
        raise InputError(file, "analysis.sides", f"the exact single-arm {test} test is one-sided", "1")
    alpha = _open_unit(an.get("alpha", 0.05), "analysis.alpha", file)
    power = _open_unit(an.get("power", 0.8), "analysis.power", file)
    if power <= alpha:
        raise InputError(file, "analysis.power", f"target power {power} does not exceed alpha {alpha}",
                         "alpha < power < 1")
    extra: dict[str, Any] = {}
    used = {"endpoint", "test", "sides", "alpha", "power"}
    if test in ("binomial", "simon", "predictive"):
        used |= {"p0", "p1"} | (set(OPTION_KEYS) if test == "predictive" else {"simon"})
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
            extra["simon"] = check_choice(an.get("simon", "optimal"), ("optimal", "minimax"), file, "analysis.simon")
        if test == "predictive":
            extra["predictive"] = parse_options(an, file)
    if design == "multi_arm":
        extra["arm_weights"] = extra_weights
        used.add("multiplicity")
        extra["multiplicity"] = check_choice(an.get("multiplicity", "dunnett"), MULTIPLICITY, file,
                                             "analysis.multiplicity")
    if test in ("fh", "maxcombo"):
        used |= {"rho", "gamma"} if test == "fh" else {"combo"}
        extra["fh_weights"] = parse_weights(an, test, file)
    if test in ("rmst", "milestone"):
        key = "tau_months" if test == "rmst" else "milestone_months"
        used.add(key)
        if key not in an:
            raise InputError(file, f"analysis.{key}", f"the {test} test needs its time", "months > 0, e.g. 24")
        extra["km_days"] = _positive(an[key], f"analysis.{key}", file) * DAYS_PER_MONTH
    if test == "logrank1":
        used |= {"historical_median_months", "historical_landmark_months", "historical_survival"}
        extra["historical_hazard_per_day"], extra["historical_note"] = _parse_historical(an, file)
    for key in an:
        if key not in used:
            raise InputError(file, f"analysis.{key}", f"not used by the {test} test", ", ".join(sorted(used)))

    fu = parse_followup(check_keys(doc.get("follow_up", {}), KEYS["follow_up"], file, "follow_up"), file,
                         endpoint in SURVIVAL)

    interim = doc.get("interim")
    if interim is not None:
        if test in ("simon", "binomial", "predictive", "chisq_yates", "fisher", "rmst", "milestone"):
            raise InputError(file, "interim", f"no interim analyses with the {test} test",
                             "logrank, cox, cox_score, fh, maxcombo or logrank1, or chisq for a rate")
        if test in ("fh", "maxcombo") and interim.get("futility") is not None:
            raise InputError(file, "interim.futility", "beta spending protects a hazard ratio, which a weighted "
                             "log-rank's drift is not", f"interim.futility_z (fixed thresholds) with test {test}")
        fr = interim.get("fractions")
        if test == "maxcombo" and isinstance(fr, list) and len(extra["fh_weights"]) * (len(fr) + 1) > MAX_RANK:
            raise InputError(file, "interim.fractions", f"{len(fr)} interims with {len(extra['fh_weights'])} "
                             f"MaxCombo statistics: the joint boundary integral takes at most {MAX_RANK} "
                             "statistics over all looks", f"at most {MAX_RANK // len(extra['fh_weights']) - 1} "
                             "interims with this combo")
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
        if not isinstance(fr, list) or not fr or not all(is_number(f) and 0.0 < f < 1.0 for f in fr):
            raise InputError(file, "interim.fractions", f"expected a list of information fractions in (0, 1), "
                             f"got {fr!r}", "e.g. [0.5] or [0.33, 0.67]")
        if any(b <= a for a, b in pairwise(fr)):
            raise InputError(file, "interim.fractions", f"fractions must increase strictly, got {fr!r}",
                             "strictly increasing fractions")
        extra["interim_fractions"] = tuple(float(f) for f in fr)
        extra["spending"] = check_choice(interim.get("spending", "obf"), SPENDING, file, "interim.spending")
        extra.update(_parse_futility(interim, len(fr), file, fu.get("design_hr")))
    if "design_hr" in fu:
        if test not in ("logrank", "cox", "cox_score", "logrank1"):
            raise InputError(file, "follow_up.events", f"events are solved for a log-rank or Cox test, not {test}",
                             "an integer number of events")
        fu["events"] = solved_events(fu["design_hr"], alpha / int(sides), power, design, ratio, extra)
    if interim is not None:
        looks = [math.ceil(f * fu.get("events", 0) - 1e-9) for f in fr] + [fu.get("events", 0)]
        if endpoint in SURVIVAL and (looks[0] < 1 or any(b <= a for a, b in pairwise(looks))):
            raise InputError(file, "interim.fractions", f"with D = {fu['events']} events the looks fall at "
                             f"{looks} events, which do not increase strictly", "fewer looks or more events")

    if design == "multi_arm" and (interim is not None or "adaptive" in doc or fu["followup_rule"] == "events"):
        raise InputError(file, "trial.design", "a multi-arm trial has no interim looks, re-estimation or "
                         "event-driven rule here", "follow_up.rule 'min_followup' or 'calendar'")
    if "adaptive" in doc:
        if test != "logrank" or design != "two_arm" or fu["followup_rule"] != "events" or interim is not None:
            raise InputError(file, "adaptive", "event re-estimation needs a two-arm log-rank trial with the "
                             "event-driven rule and no [interim] section", "test logrank, follow_up.rule 'events'")
        extra["adaptive"] = parse_adaptive(doc["adaptive"], file)

    grid = doc.get("grid", {}).get("n", [])
    if not isinstance(grid, list) or not grid:
        raise InputError(file, "grid.n", "the sample-size grid is empty", "a list of total sample sizes >= 2")
    for n in grid:
        check_number(n, "trial_size", file, "grid.n")

    run = doc.get("run", {})
    trials = run.get("trials", DEFAULT_TRIALS)
    check_number(trials, "trials", file, "run.trials")
    seed = run.get("seed", DEFAULT_SEED)
    check_number(seed, "seed", file, "run.seed")

    return TrialSpec(
        name=str(header.get("name", "")) or file, description=str(header.get("description", "")), file=file,
        design=design, arms=arms, allocation_ratio=ratio, accrual_per_month=rates, accrual_period_months=ends,
        dropout_rate_per_year=dropout, followup_rule=fu["followup_rule"],
        min_followup_days=fu.get("min_followup_days", 0.0), endpoint=endpoint, test=test, sides=int(sides),
        alpha=alpha, power=power, grid=tuple(sorted({int(n) for n in grid})), trials=int(trials), seed=int(seed),
        cutoff_days=fu.get("cutoff_days", 0.0), events=fu.get("events", 0),
        max_followup_days=fu.get("max_followup_days", 0.0), design_hr=fu.get("design_hr"), **extra)
