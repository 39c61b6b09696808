"""Calibration targets (``params/targets.toml``): the reported numbers of the five seed
abstracts, each tied to a study-replication scenario, a model metric and a likelihood.
The file's header documents every field; this module reads and validates it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.model.endpoints import ENDPOINT_BY_NAME, ENDPOINTS
from sim.model.errors import InputError, unknown_key_error
from sim.model.limits import check_choice, check_keys, check_number, check_table
from sim.model.scenario import Scenario
from sim.model.states import CellSource, Consolidation, Target

# Statistics a simulated study computes (sim.calibration.study_metrics.statistic): the
# internal kinds behind the target metrics below.
PROPORTIONS = ("cr", "mrd_neg_cr", "crs_any", "crs_g2plus", "crs_g3plus", "icans_any", "icans_g2plus", "icans_g3plus",
               "agvhd_any",
               "agvhd_g2plus", "agvhd_g3plus", "hsct_consolidation", "decitabine_consolidation", "relapse_observed",
               "reinfused", "early_relapse")
LANDMARKS = ("os_at", "efs_at", "lfs_at", "cir_at")
MEDIANS = ("os_median", "efs_median")
ORDER_STATISTICS = ("cr_duration_median", "cr_duration_min", "cr_duration_max")
#: contrasts between two subgroups: a rate's difference or odds ratio, a landmark's difference
CONTRASTS = ("cr_diff", "crs_g3plus_diff", "icans_any_diff", "agvhd_any_diff", "os_at_diff", "efs_at_diff",
             "lfs_at_diff", "cr_or")


@dataclass(frozen=True)
class Metric:
    """What a target metric is computed by: a statistic kind, its landmark (days from
    infusion) and the population the quantity is defined on."""

    statistic: str
    landmark_days: float | None
    population: str


def _metric_table() -> dict[str, Metric]:
    """Target metric names: the endpoint's own name (sim.model.endpoints) wherever the
    endpoint table has the quantity, so one quantity has one name everywhere; the few
    statistics only a published study reports (grade thresholds the endpoint table does not
    carry, consolidation shares among CRs, order statistics of small samples) are named in
    the same style and cannot collide with an endpoint name."""
    rate_kind = {"cr_rate": "cr", "mrd_neg_cr_rate": "mrd_neg_cr", "crs_any": "crs_any",
                 "crs_grade3plus": "crs_g3plus", "icans_any": "icans_any", "icans_grade3plus": "icans_g3plus",
                 "agvhd_grade2plus": "agvhd_g2plus"}
    table: dict[str, Metric] = {}
    for e in ENDPOINTS:
        if e.name in rate_kind:
            table[e.name] = Metric(rate_kind[e.name], None, e.population)
        elif e.kind == "landmark" and e.curve in ("os", "efs", "lfs"):
            table[e.name] = Metric(f"{e.curve}_at", e.horizon_days, e.population)
        elif e.kind == "median" and e.curve in ("os", "efs"):
            table[e.name] = Metric(f"{e.curve}_median", None, e.population)
        elif e.kind == "incidence" and e.curve == "cir":
            table[e.name] = Metric("cir_at", e.horizon_days, e.population)
    study_only = {
        "crs_grade2plus": Metric("crs_g2plus", None, "infused"),
        "icans_grade2plus": Metric("icans_g2plus", None, "infused"),
        "agvhd_any": Metric("agvhd_any", None, "infused"),
        "agvhd_grade3plus": Metric("agvhd_g3plus", None, "infused"),
        "early_relapse_share": Metric("early_relapse", None, "infused"),
        "mrd_neg_share_of_cr": Metric("mrd_neg_cr", None, "cr"),
        "hsct_consolidation_share_of_cr": Metric("hsct_consolidation", None, "cr"),
        "decitabine_consolidation_share_of_cr": Metric("decitabine_consolidation", None, "cr"),
        "relapse_seen_share_of_cr": Metric("relapse_observed", None, "cr"),
        "reinfused_share_of_cr": Metric("reinfused", None, "cr"),
        "cr_duration_median_days": Metric("cr_duration_median", None, "cr"),
        "cr_duration_min_days": Metric("cr_duration_min", None, "cr"),
        "cr_duration_max_days": Metric("cr_duration_max", None, "cr"),
    }
    clash = set(study_only) & set(ENDPOINT_BY_NAME)
    assert not clash, clash
    return {**table, **study_only}


METRICS: dict[str, Metric] = _metric_table()
#: the statistic kinds a contrast can compare (metric with ``groups``)
CONTRAST_BASES = ("cr", "crs_g3plus", "icans_any", "agvhd_any", "os_at", "efs_at", "lfs_at")
LIKELIHOODS = ("binomial", "binomial_at_most", "km_landmark", "median_ci", "synthetic", "km_joint", "soft_greater",
               "soft_equal", "none")
POPULATIONS = ("infused", "cr")
DIRECTIONS = ("greater", "no difference")
TARGET_KEYS = ("id", "study", "population", "subgroup", "metric", "groups", "contrast", "definition", "reported",
               "count", "n", "n_eff", "ci", "range", "joint", "likelihood", "resolution")
STUDY_KEYS = ("scenario", "n_infused")
#: subgroup filters: key -> {label: code}
FILTERS: dict[str, dict[str, int]] = {
    "target": {m.name.lower(): int(m) for m in Target},
    "source": {m.name.lower(): int(m) for m in CellSource},
    "consolidation": {m.name.lower(): int(m) for m in Consolidation},
}


@dataclass(frozen=True)
class Study:
    study_id: str
    scenario: Scenario = field(repr=False)
    n_infused: int


@dataclass(frozen=True)
class CalibrationTarget:
    target_id: str
    study_id: str
    population: str
    metric: str  # a key of METRICS (an endpoint name where the endpoint table has the quantity)
    statistic: str  # the study statistic computing it (PROPORTIONS, LANDMARKS, ..., CONTRASTS)
    likelihood: str
    reported: float | str
    definition: str
    resolution: str
    subgroup: dict[str, tuple[int, ...]] = field(default_factory=dict)
    groups: tuple[dict[str, tuple[int, ...]], ...] = ()
    landmark_days: float | None = None  # from the metric
    count: int | None = None
    n: int | None = None  # denominator of a count, or the patients a statistic was computed on
    n_eff: float | None = None
    ci: tuple[float, float] | None = None
    value_range: tuple[float, float] | None = None
    joint: str | None = None  # the group of a km_joint target (the statistics of one study's curves)

    @property
    def quantitative(self) -> bool:
        """True when the reported value is a number (not a direction)."""
        return not isinstance(self.reported, str)

    @property
    def upper_bound(self) -> bool:
        """True when the reported value is known only as an upper bound (an abstract that
        contradicts itself): likelihood, validation and the joint check all read it as
        "at most", never as a point."""
        return self.likelihood == "binomial_at_most"


@dataclass(frozen=True)
class TargetSet:
    studies: dict[str, Study]
    targets: list[CalibrationTarget]
    file: str


def _filters(raw: Any, file: str, key: str) -> dict[str, tuple[int, ...]]:
    if not isinstance(raw, dict) or not raw:
        raise InputError(file, key, f"expected a table of filters, got {raw!r}", "e.g. { target = [\"tandem\"] }")
    out: dict[str, tuple[int, ...]] = {}
    for fkey, labels in raw.items():
        if fkey not in FILTERS:
            raise unknown_key_error(file, fkey, FILTERS, "filter", key)
        if not isinstance(labels, list) or not labels:
            raise InputError(file, f"{key}.{fkey}", "expected a non-empty list of labels", ", ".join(FILTERS[fkey]))
        codes = []
        for lab in labels:
            if lab not in FILTERS[fkey]:
                raise unknown_key_error(file, f"{key}.{fkey}: {lab!r}", FILTERS[fkey], "label")
            codes.append(FILTERS[fkey][lab])
        out[fkey] = tuple(codes)
    return out


def _number(raw: dict[str, Any], key: str, file: str, where: str) -> float:
    v: Any = raw.get(key)
    check_number(v, "positive", file, f"{where}.{key}")
    return float(v)


def _parse_target(raw: dict[str, Any], file: str, studies: dict[str, Study]) -> CalibrationTarget:
    tid = raw.get("id")
    if not isinstance(tid, str) or not tid:
        raise InputError(file, "target.id", f"expected a non-empty string, got {tid!r}")
    where = f"target[{tid}]"
    check_keys(raw, TARGET_KEYS, file, where)
    for key in ("study", "population", "metric", "likelihood", "reported", "definition", "resolution"):
        if key not in raw:
            raise InputError(file, f"{where}.{key}", "missing", "every target needs study, population, metric, "
                             "likelihood, reported, definition and resolution")
    if raw["study"] not in studies:
        raise unknown_key_error(file, f"{where}.study = {raw['study']!r}", studies, "study")
    population, metric, lik = (check_choice(raw[key], allowed, file, f"{where}.{key}", key) for key, allowed in
                               (("population", POPULATIONS), ("metric", METRICS), ("likelihood", LIKELIHOODS)))
    kw: dict[str, Any] = {}
    m = METRICS[metric]
    if population != m.population:
        raise InputError(file, f"{where}.population", f"metric {metric} is defined on {m.population!r} patients, "
                         f"got {population!r}", repr(m.population))
    if "subgroup" in raw:
        kw["subgroup"] = _filters(raw["subgroup"], file, f"{where}.subgroup")
    kind = m.statistic
    contrast = raw.get("contrast", "difference" if "groups" in raw else None)
    if contrast is not None:
        groups = raw.get("groups")
        if not isinstance(groups, list) or len(groups) != 2:
            raise InputError(file, f"{where}.groups", "a contrast needs two groups", "groups = [{...}, {...}]")
        kw["groups"] = tuple(_filters(g, file, f"{where}.groups") for g in groups)
        check_choice(contrast, ("difference", "odds_ratio"), file, f"{where}.contrast", "contrast")
        kind = f"{m.statistic}_{'or' if contrast == 'odds_ratio' else 'diff'}"
        if kind not in CONTRASTS:
            raise InputError(file, f"{where}.contrast", f"no {contrast} of {metric} between groups",
                             ", ".join(c for c in CONTRASTS))
    kw["landmark_days"] = m.landmark_days
    reported = raw["reported"]
    if lik == "km_joint" or "joint" in raw:
        if lik != "km_joint" or kind not in LANDMARKS + MEDIANS or not isinstance(raw.get("joint"), str):
            raise InputError(file, f"{where}.joint", "a km_joint likelihood needs a group name, on a landmark or "
                             "median", 'likelihood = "km_joint" with joint = "<group>" on a landmark or median metric')
        kw["joint"] = raw["joint"]
    if kind.endswith("_diff"):
        if reported not in DIRECTIONS:
            raise InputError(file, f"{where}.reported", f"a difference reports a direction, got {reported!r}",
                             ", ".join(DIRECTIONS))
        if lik not in ("soft_greater", "soft_equal", "none"):
            raise InputError(file, f"{where}.likelihood", f"a contrast cannot use {lik!r}",
                             "soft_greater, soft_equal or none")
    elif not isinstance(reported, (int, float)) or isinstance(reported, bool):
        raise InputError(file, f"{where}.reported", f"expected a number, got {reported!r}")
    elif kind in CONTRASTS and lik != "none":
        raise InputError(file, f"{where}.likelihood", f"an odds ratio is validated only, got {lik!r}", "none")
    in_unit = kind in PROPORTIONS or kind in LANDMARKS
    if in_unit and isinstance(reported, (int, float)) and not 0 <= reported <= 1:
        raise InputError(file, f"{where}.reported", f"a proportion must be in [0, 1], got {reported}")
    if lik in ("binomial", "binomial_at_most") or "count" in raw or "n" in raw:
        n = raw.get("n")
        check_number(n, "study_size", file, f"{where}.n")
        kw["n"] = n
    if lik in ("binomial", "binomial_at_most") or "count" in raw:
        count = raw.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= kw["n"]:
            raise InputError(file, f"{where}.count", f"expected a whole number in [0, n = {kw['n']}], got {count!r}")
        kw["count"] = count
    if "ci" in raw:
        ci = raw["ci"]
        if (not isinstance(ci, list) or len(ci) != 2 or not all(isinstance(x, (int, float)) for x in ci)
                or not ci[0] < ci[1]):
            raise InputError(file, f"{where}.ci", f"expected [low, high] with low < high, got {ci!r}")
        kw["ci"] = (float(ci[0]), float(ci[1]))
    if "range" in raw:
        rg = raw["range"]
        if not isinstance(rg, list) or len(rg) != 2 or not rg[0] <= rg[1]:
            raise InputError(file, f"{where}.range", f"expected [min, max], got {rg!r}")
        kw["value_range"] = (float(rg[0]), float(rg[1]))
    if "n_eff" in raw:
        kw["n_eff"] = _number(raw, "n_eff", file, where)
    if lik == "km_landmark" and "ci" not in kw and "n_eff" not in kw:
        raise InputError(file, f"{where}.ci", "a km_landmark likelihood needs ci or n_eff")
    if lik == "median_ci" and "ci" not in kw:
        raise InputError(file, f"{where}.ci", "a median_ci likelihood needs ci = [low, high]")
    limit = kw.get("n", studies[raw["study"]].n_infused)
    if kw.get("n_eff", 0.0) > limit:
        raise InputError(file, f"{where}.n_eff", f"an effective sample size cannot exceed the {limit} patients the "
                         f"statistic rests on, got {kw['n_eff']}", f"<= {limit}")
    return CalibrationTarget(target_id=tid, study_id=raw["study"], population=population, metric=metric,
                             statistic=kind, likelihood=lik, reported=reported, definition=str(raw["definition"]),
                             resolution=str(raw["resolution"]), **kw)


def parse_targets(doc: dict[str, Any], file: str, load_study: Callable[[str], Scenario]) -> TargetSet:
    """Validate a parsed targets file (``file`` names it in errors); ``load_study`` turns a
    study's ``scenario`` entry into its scenario (``sim.io`` reads it, relative to the
    targets file)."""
    check_keys(doc, ("study", "target"), file, what="section")
    studies: dict[str, Study] = {}
    for sid, raw in check_table(doc.get("study", {}), file, "study").items():
        check_keys(raw, STUDY_KEYS, file, f"study.{sid}")
        if "scenario" not in raw:
            raise InputError(file, f"study.{sid}.scenario", "missing", "a study-replication scenario file")
        n = raw.get("n_infused")
        check_number(n, "study_size", file, f"study.{sid}.n_infused")
        scenario = load_study(raw["scenario"])
        if scenario.study is None:
            raise InputError(scenario.file, "study", "a study-replication scenario needs a [study] section")
        studies[sid] = Study(sid, scenario, n)
    if not studies:
        raise InputError(file, "study", "no studies", "at least one [study.ID] table")
    targets = [_parse_target(raw, file, studies) for raw in doc.get("target", [])]
    if not targets:
        raise InputError(file, "target", "no targets", "at least one [[target]]")
    seen: set[str] = set()
    for t in targets:
        if t.target_id in seen:
            raise InputError(file, f"target[{t.target_id}].id", "duplicate id", "unique ids")
        seen.add(t.target_id)
    for group, members in joint_groups(targets).items():
        first = members[0]
        for t in members[1:]:
            same = (first.study_id, first.population, first.subgroup, first.n)
            if (t.study_id, t.population, t.subgroup, t.n) != same:
                raise InputError(file, f"target[{t.target_id}].joint", f"the targets of joint group {group!r} must "
                                 "share study, population, subgroup and n", f"as target {first.target_id}")
    return TargetSet(studies, targets, file)


def joint_groups(targets: list[CalibrationTarget]) -> dict[str, list[CalibrationTarget]]:
    """The km_joint groups, each with its targets in file order."""
    out: dict[str, list[CalibrationTarget]] = {}
    for t in targets:
        if t.joint is not None:
            out.setdefault(t.joint, []).append(t)
    return out
