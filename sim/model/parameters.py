"""The parameter registry: every number the pathway reads, declared once.

Values, units, uncertainty distributions and sources live in ``params/defaults.toml``;
this module declares *which* parameters exist, what values they admit and where each
sits in the flat ``theta`` vector that the engine reads. ``P`` is an ``IntEnum`` of
offsets into ``theta`` (numba treats its members as compile-time constants), so the
kernel reads ``theta[P.CRS_P_DEATH + grade - 3]`` and nothing is listed twice.

Groups of per-category scalars (one value per target, cell source, ...) are declared
with :func:`_per`; they occupy consecutive slots in the order of their enum, so the
first member's offset plus the category code addresses a member.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.model.states import CellSource, Consolidation, FailureType, RelapseSite, SalvageRegimen, Target, labels


class Support(Enum):
    """What values a parameter admits (checked when parameters are loaded)."""

    PROBABILITY = "a probability in [0, 1]"
    POSITIVE = "a number > 0"
    NONNEGATIVE = "a number >= 0"
    RATIO = "a hazard or odds ratio > 0"
    SIMPLEX = "a list of probabilities summing to 1"
    COUNT = "a whole number >= 1"
    FAMILY = "one of: exponential, weibull, gompertz, lognormal, loglogistic"
    SWITCH = "true or false"
    LIFE_TABLE = "the name of a life table in params/life_tables (e.g. us_ssa_2017)"


class Family(IntEnum):
    """Time-to-event families; all are parametrised by (median_days, shape)."""

    EXPONENTIAL = 0  # shape unused
    WEIBULL = 1  # shape k: S(t) = exp(-(t/lambda)^k)
    GOMPERTZ = 2  # shape g per day: h(t) = b exp(g t)
    LOGNORMAL = 3  # shape sigma of log(t)
    LOGLOGISTIC = 4  # shape beta: S(t) = 1 / (1 + (t/alpha)^beta)


#: background mortality: a life table's cumulative hazard at exact ages 0..LIFE_TABLE_MAX_AGE
#: years, male then female (theta slots of ``background.life_table``)
LIFE_TABLE_MAX_AGE = 120
LIFE_TABLE_AGES = LIFE_TABLE_MAX_AGE + 1
LIFE_TABLE_SLOTS = 2 * LIFE_TABLE_AGES

#: families whose covariate effects act on the time scale (acceleration factors)
AFT_FAMILIES = (Family.LOGNORMAL, Family.LOGLOGISTIC)


@dataclass(frozen=True)
class ParamSpec:
    """One addressable parameter (a scalar, or a simplex vector)."""

    name: str  # stable dotted name, e.g. "response.p_cr.tandem"
    support: Support
    unit: str
    length: int = 1
    element_labels: tuple[str, ...] = ()  # for simplex vectors and the life table
    lower: float | None = None  # extra bounds beyond the support, inclusive
    upper: float | None = None

    @property
    def enum_name(self) -> str:
        return self.name.replace(".", "_").upper()


def _one(name: str, support: Support, unit: str, **kw: float) -> list[ParamSpec]:
    return [ParamSpec(name, support, unit, **kw)]  # type: ignore[arg-type]


def _per(name: str, enum: type[IntEnum], support: Support, unit: str) -> list[ParamSpec]:
    return [ParamSpec(f"{name}.{lab}", support, unit) for lab in labels(enum)]


def _simplex(name: str, element_labels: list[str]) -> list[ParamSpec]:
    return [ParamSpec(name, Support.SIMPLEX, "probability", len(element_labels), tuple(element_labels))]


def _tte(name: str) -> list[ParamSpec]:
    """A parametric time to event: family, median (days) and shape."""
    return [
        ParamSpec(f"{name}.family", Support.FAMILY, "family"),
        ParamSpec(f"{name}.median_days", Support.POSITIVE, "days"),
        ParamSpec(f"{name}.shape", Support.POSITIVE, "family-specific shape (see Family)"),
    ]


PR, POS, NN, RR = Support.PROBABILITY, Support.POSITIVE, Support.NONNEGATIVE, Support.RATIO
_grades = ["g0", "g1", "g2", "g3", "g4"]

SPECS: tuple[ParamSpec, ...] = tuple(
    # --- cohort: who arrives (set by scenarios) ---------------------------------
    _one("cohort.age_median_years", POS, "years")
    + _one("cohort.age_sdlog", NN, "log-years")
    + _one("cohort.age_min_years", NN, "years")
    + _one("cohort.age_max_years", POS, "years")
    + _simplex("cohort.site_shares", labels(RelapseSite))
    + _one("cohort.p_two_prior_hsct", PR, "probability")
    + _one("cohort.p_prior_cart", PR, "probability")
    + _one("cohort.p_high_risk", PR, "probability")
    + _one("cohort.p_early_relapse", PR, "probability")
    + _one("cohort.p_male", PR, "probability")
    # --- policy: what the programme does (set by scenarios) ---------------------
    + _simplex("policy.source_shares", labels(CellSource))
    + _simplex("policy.target_shares", labels(Target))
    + _one("policy.p_decitabine_ld", PR, "probability")
    + _simplex("policy.consolidation_shares", labels(Consolidation))
    # capped by the random-address layout (rng.MAX_BLOCKS, rng.MAX_CYCLES)
    + _one("policy.manufacturing_max_attempts", Support.COUNT, "attempts", upper=16)
    + _one("policy.max_infusions", Support.COUNT, "infusions", upper=16)
    + _one("policy.p_reinfuse_after_nonresponse", PR, "probability")
    + _one("policy.p_reinfuse_after_relapse", PR, "probability")
    + _simplex("policy.reinfusion_target_shares", labels(Target))
    + _one("policy.switch_to_cd22_on_cd19_loss", Support.SWITCH, "switch")
    # CRS grade (1-4) at which each drug is given; 5 = never (the calibrated pathway as it is)
    + _one("policy.tocilizumab_grade", Support.COUNT, "grade", upper=5)
    + _one("policy.steroid_grade", Support.COUNT, "grade", upper=5)
    # false: the comparator without CAR-T (standard salvage from the decision to treat)
    + _one("policy.cart", Support.SWITCH, "switch")
    + _simplex("policy.salvage_shares", labels(SalvageRegimen))
    # --- stage 1: collection and manufacturing ---------------------------------
    + _per("manufacturing.median_days", CellSource, POS, "days")
    + _one("manufacturing.sdlog", NN, "log-days")
    + _per("manufacturing.p_fail", CellSource, PR, "probability per attempt")
    + _one("manufacturing.p_retry", PR, "probability")
    + _one("waiting.death_rate_per_day", NN, "per day")
    + _one("waiting.progression_rate_per_day", NN, "per day")
    # --- stage 2: lymphodepletion ----------------------------------------------
    + _one("lymphodepletion.days", NN, "days")
    # --- stage 4: CRS -----------------------------------------------------------
    + _simplex("crs.grade_probs", _grades)
    + _one("crs.onset_median_days.mild", POS, "days")
    + _one("crs.onset_median_days.severe", POS, "days")
    + _one("crs.onset_sdlog", NN, "log-days")
    + _one("crs.duration_median_days.mild", POS, "days")
    + _one("crs.duration_median_days.g3", POS, "days")
    + _one("crs.duration_median_days.g4", POS, "days")
    + _one("crs.duration_sdlog", NN, "log-days")
    + _one("crs.p_death.g3", PR, "probability")
    + _one("crs.p_death.g4", PR, "probability")
    + _one("crs.time_to_peak_fraction", PR, "fraction of the episode")
    # --- stage 4b: CRS management (tocilizumab, corticosteroids) -------------------
    + _one("tocilizumab.p_escalate", PR, "probability per grade step")
    + _one("tocilizumab.duration_factor", RR, "ratio")
    + _one("tocilizumab.or_icans", RR, "odds ratio")
    + _one("steroids.p_escalate", PR, "probability per grade step")
    + _one("steroids.duration_factor", RR, "ratio")
    + _one("steroids.or_icans", RR, "odds ratio")
    # --- stage 5: ICANS ---------------------------------------------------------
    + _one("icans.p_any.crs_none", PR, "probability")
    + _one("icans.p_any.crs_mild", PR, "probability")
    + _one("icans.p_any.crs_severe", PR, "probability")
    + _simplex("icans.grade_probs.after_mild_crs", _grades[1:])
    + _simplex("icans.grade_probs.after_severe_crs", _grades[1:])
    + _one("icans.onset_lag_median_days", POS, "days")
    + _one("icans.onset_median_days.without_crs", POS, "days")
    + _one("icans.onset_sdlog", NN, "log-days")
    + _one("icans.duration_median_days.low", POS, "days")
    + _one("icans.duration_median_days.high", POS, "days")
    + _one("icans.duration_sdlog", NN, "log-days")
    + _one("icans.p_death.g3", PR, "probability")
    + _one("icans.p_death.g4", PR, "probability")
    # --- stage 6: acute GVHD ----------------------------------------------------
    + _per("gvhd.p_any", CellSource, PR, "probability")
    + _simplex("gvhd.grade_probs", ["g1", "g2", "g3", "g4"])
    + _one("gvhd.onset_min_days", NN, "days")
    + _one("gvhd.onset_max_days", POS, "days")
    + _one("gvhd.p_death.severe", PR, "probability")
    + _one("gvhd.death_median_days", POS, "days")
    + _one("gvhd.nrm_hr_severe", RR, "hazard ratio")
    # --- stage 7: response at day 28 --------------------------------------------
    + _one("response.assessment_day", POS, "days")
    + _per("response.p_cr.first", Target, PR, "probability")
    + _per("response.p_cr.reinfusion", Target, PR, "probability")
    + _one("response.or_reinfusion.after_nonresponse", RR, "odds ratio")
    + _one("response.or_reinfusion.same_target_after_antigen_loss", RR, "odds ratio")
    + _one("response.p_mrd_neg_given_cr", PR, "probability")
    + _one("response.or_extramedullary", RR, "odds ratio")
    + _one("response.or_high_risk", RR, "odds ratio")
    + _per("response.or_source", CellSource, RR, "odds ratio")
    + _one("response.or_decitabine_ld", RR, "odds ratio")
    # --- stage 8: consolidation -------------------------------------------------
    + _one("hsct.p_eligible.after_one", PR, "probability")
    + _one("hsct.p_eligible.after_two", PR, "probability")
    + _one("hsct.median_days_from_infusion", POS, "days")
    + _one("hsct.sdlog", NN, "log-days")
    + _one("hsct.p_trm", PR, "probability")
    + _one("hsct.trm_median_days", POS, "days")
    + _one("hsct.inpatient_days", POS, "days")
    # --- stage 9: remission ------------------------------------------------------
    + _one("remission.p_cure.mrd_neg", PR, "probability")
    + _one("remission.p_cure.mrd_pos", PR, "probability")
    + _per("remission.or_cure.consolidation", Consolidation, RR, "odds ratio")
    + _per("remission.or_cure.target", Target, RR, "odds ratio")
    + _per("remission.or_cure.source", CellSource, RR, "odds ratio")
    + _one("remission.or_cure.high_risk", RR, "odds ratio")
    + _one("remission.or_cure.early_relapse", RR, "odds ratio")
    + _one("remission.or_cure.decitabine_ld", RR, "odds ratio")
    + _tte("remission.relapse")
    + _per("remission.relapse_hr.consolidation", Consolidation, RR, "hazard ratio")
    + _per("remission.p_antigen_negative", Target, PR, "probability")
    + _one("nrm.p_year1", PR, "probability")
    + _one("nrm.hazard_halflife_days", POS, "days")
    + [ParamSpec("background.life_table", Support.LIFE_TABLE, "life table", LIFE_TABLE_SLOTS,
                 tuple(f"{sex}_{age}" for sex in ("male", "female") for age in range(LIFE_TABLE_AGES)))]
    + _one("background.smr", RR, "ratio")
    # --- stage 10: after non-response or relapse, by failure type ------------------
    + [spec for ft in labels(FailureType) for spec in _tte(f"salvage.{ft}")]
    + _one("salvage.early_relapse_days", POS, "days")
    # --- the comparator without CAR-T: standard salvage by regimen -----------------
    + _per("standard_care.survival_median_days", SalvageRegimen, POS, "days")
    + _per("standard_care.survival_shape", SalvageRegimen, POS, "Weibull shape")
    + _per("standard_care.p_hsct", SalvageRegimen, PR, "probability")
)


def _build_layout() -> tuple[dict[str, ParamSpec], dict[str, int], int]:
    by_name: dict[str, ParamSpec] = {}
    offsets: dict[str, int] = {}
    pos = 0
    for spec in SPECS:
        if spec.name in by_name:
            raise RuntimeError(f"parameter {spec.name} declared twice")
        by_name[spec.name] = spec
        offsets[spec.name] = pos
        pos += spec.length
    return by_name, offsets, pos


SPEC_BY_NAME, OFFSETS, N_THETA = _build_layout()


def _enum_members() -> dict[str, int]:
    members = {SPEC_BY_NAME[n].enum_name: off for n, off in OFFSETS.items()}
    # group aliases: "response.p_cr.first" -> offset of its first category
    for name, off in OFFSETS.items():
        group, _, _ = name.rpartition(".")
        alias = group.replace(".", "_").upper()
        if group and alias not in members:
            members[alias] = off
    return members


#: offsets into theta, usable as constants inside numba-compiled code
if TYPE_CHECKING:
    # built from the registry at runtime, so its members are unknown to a type checker
    P: Any
else:
    P = IntEnum("P", _enum_members())


def theta_labels() -> list[str]:
    """Label of every slot of theta ("crs.grade_probs[g3]" for vector elements)."""
    out: list[str] = []
    for spec in SPECS:
        if spec.length == 1:
            out.append(spec.name)
        else:
            out.extend(f"{spec.name}[{lab}]" for lab in spec.element_labels)
    return out


def empty_theta() -> np.ndarray:
    """A theta vector filled with NaN (every slot must then be set)."""
    return np.full(N_THETA, np.nan)
