"""Calibration targets (``params/targets.toml``): the reported numbers of the five seed
abstracts, each tied to a study-replication scenario, a model metric and a likelihood.
The file's header documents every field; this module reads and validates it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.model.errors import InputError, unknown_key_error
from sim.model.limits import check_choice, check_keys, check_number, check_table
from sim.model.scenario import Scenario
from sim.model.states import CellSource, Consolidation, Target

PROPORTIONS = ("cr", "mrd_neg_cr", "crs_any", "crs_g2plus", "crs_g3plus", "icans_any", "icans_g3plus", "agvhd_any",
               "agvhd_g3plus", "hsct_consolidation", "decitabine_consolidation", "relapse_observed")
LANDMARKS = ("os_at", "efs_at", "lfs_at", "cir_at")
MEDIANS = ("os_median", "efs_median")
ORDER_STATISTICS = ("cr_duration_median",)
CONTRASTS = ("cr_diff", "crs_g3plus_diff", "agvhd_any_diff", "os_at_diff", "efs_at_diff", "lfs_at_diff")
METRICS = PROPORTIONS + LANDMARKS + MEDIANS + ORDER_STATISTICS + CONTRASTS
LIKELIHOODS = ("binomial", "binomial_at_most", "km_landmark", "median_ci", "synthetic", "km_joint", "soft_greater",
               "soft_equal", "none")
POPULATIONS = ("infused", "cr")
DIRECTIONS = ("greater", "no difference")
TARGET_KEYS = ("id", "study", "population", "subgroup", "metric", "landmark_days", "groups", "definition", "reported",
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
    metric: str
    likelihood: str
    reported: float | str
    definition: str
    resolution: str
    subgroup: dict[str, tuple[int, ...]] = field(default_factory=dict)
    groups: tuple[dict[str, tuple[int, ...]], ...] = ()
    landmark_days: float | None = None
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
    if "subgroup" in raw:
        kw["subgroup"] = _filters(raw["subgroup"], file, f"{where}.subgroup")
    if metric in CONTRASTS:
        groups = raw.get("groups")
        if not isinstance(groups, list) or len(groups) != 2:
            raise InputError(file, f"{where}.groups", "a contrast needs two groups", "groups = [{...}, {...}]")
        kw["groups"] = tuple(_filters(g, file, f"{where}.groups") for g in groups)
    if metric in LANDMARKS or metric in ("os_at_diff", "efs_at_diff", "lfs_at_diff"):
        kw["landmark_days"] = _number(raw, "landmark_days", file, where)
    reported = raw["reported"]
    if lik == "km_joint" or "joint" in raw:
        if lik != "km_joint" or metric not in LANDMARKS + MEDIANS or not isinstance(raw.get("joint"), str):
            raise InputError(file, f"{where}.joint", "a km_joint likelihood needs a group name, on a landmark or "
                             "median", 'likelihood = "km_joint" with joint = "<group>" on a landmark or median metric')
        kw["joint"] = raw["joint"]
    if metric in CONTRASTS:
        if reported not in DIRECTIONS:
            raise InputError(file, f"{where}.reported", f"a contrast reports a direction, got {reported!r}",
                             ", ".join(DIRECTIONS))
        if lik not in ("soft_greater", "soft_equal", "none"):
            raise InputError(file, f"{where}.likelihood", f"a contrast cannot use {lik!r}",
                             "soft_greater, soft_equal or none")
    elif not isinstance(reported, (int, float)) or isinstance(reported, bool):
        raise InputError(file, f"{where}.reported", f"expected a number, got {reported!r}")
    in_unit = metric in PROPORTIONS or metric in LANDMARKS
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
                             likelihood=lik, reported=reported, definition=str(raw["definition"]),
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
