"""Readable labels with units for parameter and outcome names in figures and reports.

Outcome labels and units come from the endpoint table (:mod:`sim.model.endpoints`).
Parameter units come from the registry (``sim.model.parameters.SPEC_BY_NAME``); the
registry has no prose names, so the words for each part of a dotted name are kept here,
once (:data:`WORDS`); a part missing from it is shown as written.
"""

from __future__ import annotations

import re

from sim.model.endpoints import ENDPOINT_BY_NAME, label_with_unit
from sim.model.parameters import LIFE_TABLE_AGES, SPEC_BY_NAME

#: words for the parts of the registry's dotted parameter names
WORDS: dict[str, str] = {
    # stages (first part of a name)
    "cohort": "Cohort", "policy": "Policy", "manufacturing": "Manufacturing", "waiting": "Waiting for product",
    "lymphodepletion": "Lymphodepletion", "crs": "CRS", "icans": "ICANS", "gvhd": "Acute GVHD",
    "response": "Response", "hsct": "Consolidative allo-HSCT", "remission": "Remission", "nrm": "Non-relapse mortality",
    "background": "Background mortality", "salvage": "Salvage",
    "standard_care": "Standard care", "tocilizumab": "Tocilizumab for CRS",
    "steroids": "Corticosteroids for CRS",
    # quantities
    "age_median_years": "median age", "age_sdlog": "age spread (SD of log)", "age_min_years": "minimum age",
    "age_max_years": "maximum age", "site_shares": "relapse site shares", "p_two_prior_hsct": "P(two prior HSCTs)",
    "p_prior_cart": "P(prior CAR-T)", "p_high_risk": "P(high-risk genetics)",
    "p_early_relapse": "P(relapse < 6 months after HSCT)", "source_shares": "cell source shares",
    "target_shares": "target shares", "p_decitabine_ld": "P(decitabine-primed lymphodepletion)",
    "consolidation_shares": "consolidation shares", "manufacturing_max_attempts": "maximum manufacturing attempts",
    "max_infusions": "maximum infusions", "p_reinfuse_after_nonresponse": "P(re-infusion after non-response)",
    "p_reinfuse_after_relapse": "P(re-infusion after relapse)",
    "reinfusion_target_shares": "re-infusion target shares",
    "switch_to_cd22_on_cd19_loss": "switch to CD22 after CD19-negative relapse",
    "median_days": "median time", "sdlog": "spread (SD of log)", "p_fail": "P(failure)", "p_retry": "P(retry)",
    "death_rate_per_day": "death rate", "progression_rate_per_day": "progression rate", "days": "duration",
    "grade_probs": "grade shares", "onset_median_days": "median onset", "onset_sdlog": "onset spread (SD of log)",
    "duration_median_days": "median duration", "duration_sdlog": "duration spread (SD of log)",
    "p_death": "P(death)", "p_any": "P(any grade)", "onset_lag_median_days": "median onset after CRS",
    "onset_min_days": "earliest onset", "onset_max_days": "latest onset", "death_median_days": "median time to death",
    "nrm_hr_severe": "NRM hazard ratio, severe GVHD", "assessment_day": "assessment day", "p_cr": "P(CR)",
    "p_mrd_neg_given_cr": "P(MRD-negative | CR)", "or_extramedullary": "odds ratio of CR, extramedullary",
    "or_high_risk": "odds ratio of CR, high risk", "or_source": "odds ratio of CR, cell source",
    "or_decitabine_ld": "odds ratio of CR, decitabine lymphodepletion", "p_eligible": "P(eligible)",
    "median_days_from_infusion": "median time from infusion", "p_trm": "P(transplant-related death)",
    "trm_median_days": "median time to transplant-related death", "inpatient_days": "inpatient stay",
    "p_cure": "P(cure)", "or_cure": "odds ratio of cure", "relapse": "relapse", "relapse_hr": "relapse hazard ratio",
    "p_antigen_negative": "P(antigen-negative relapse)", "p_year1": "probability in year 1", "shape": "shape",
    "hazard_halflife_days": "hazard half-life", "life_table": "life table", "smr": "standardised mortality ratio",
    "survival": "survival", "p_male": "P(male)", "cart": "CAR-T (false: standard care)",
    "salvage_shares": "salvage regimen shares", "or_reinfusion": "odds ratio of re-infusion CR",
    "after_nonresponse": "after non-response", "same_target_after_antigen_loss": "same target after antigen loss",
    "refractory": "primary refractory", "late_relapse": "late relapse", "not_infused": "never infused",
    "early_relapse_days": "early-relapse cut-off", "survival_median_days": "median survival",
    "survival_shape": "survival shape", "p_hsct": "P(later allo-HSCT)", "blinatumomab": "blinatumomab",
    "inotuzumab": "inotuzumab ozogamicin", "chemotherapy": "chemotherapy",
    "family": "distribution family", "tocilizumab_grade": "tocilizumab at CRS grade",
    "steroid_grade": "corticosteroids at CRS grade", "time_to_peak_fraction": "time to peak",
    "p_escalate": "P(next grade step)", "duration_factor": "factor on the remaining duration",
    "or_icans": "odds ratio of ICANS",
    # categories and qualifiers
    "first": "first infusion", "reinfusion": "re-infusion", "cd19": "CD19", "cd22": "CD22",
    "tandem": "tandem CD19/CD22", "sequential": "sequential CD19 then CD22", "recipient": "recipient cells",
    "donor": "donor cells", "universal": "universal product", "none": "none", "bcl2i": "BCL2 inhibitor",
    "decitabine": "decitabine", "consolidation": "consolidation", "target": "target", "source": "cell source",
    "high_risk": "high risk", "early_relapse": "early relapse", "decitabine_ld": "decitabine lymphodepletion",
    "mrd_neg": "MRD-negative", "mrd_pos": "MRD-positive", "mild": "grade 1-2 CRS", "severe": "grade >= 3",
    "g0": "grade 0", "g1": "grade 1", "g2": "grade 2", "g3": "grade 3", "g4": "grade 4", "low": "grade 1-2",
    "high": "grade 3-4", "crs_none": "without CRS",
    "crs_mild": "after grade 1-2 CRS", "crs_severe": "after grade >= 3 CRS", "after_mild_crs": "after grade 1-2 CRS",
    "after_severe_crs": "after grade >= 3 CRS", "without_crs": "without CRS", "after_one": "after one infusion",
    "after_two": "after two infusions", "marrow": "marrow only", "cns": "CNS only",
    "emd_other": "other extramedullary only", "combined": "marrow and extramedullary",
}

# the life table's slots (background.life_table[male_0] ... [female_120])
WORDS.update({f"{sex}_{age}": f"{sex}, age {age}" for sex in ("male", "female") for age in range(LIFE_TABLE_AGES)})

_ELEMENT = re.compile(r"^(?P<name>[^\[]+)\[(?P<element>[^\]]+)\]$")
#: units that a label states in other words (a probability is "P(...)")
_QUIET_UNITS = {"probability", "switch", "family", "count", "flag"}


_STAGES = {spec.name.split(".")[0] for spec in SPEC_BY_NAME.values()}


def _lower_stage(part: str) -> str:
    word = WORDS.get(part, part)
    return word[0].lower() + word[1:] if part in _STAGES and word[1:2].islower() else word


def parameter_label(name: str, unit: bool = True) -> str:
    """``response.p_cr.first.cd19`` -> ``Response: P(CR), first infusion, CD19``; with the
    registry's unit in parentheses where it adds something (days, per day, odds ratio)."""
    m = _ELEMENT.match(name)
    base, element = (m["name"], m["element"]) if m else (name, None)
    names = base.split(".")
    # a stage's word inside a name (the "hsct" consolidation category) is not capitalised
    parts = [WORDS.get(names[0], names[0])] + [_lower_stage(p) for p in names[1:]]
    if element is not None:
        parts.append(WORDS.get(element, element))
    text = parts[0] + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")
    spec = SPEC_BY_NAME.get(base)
    if (unit and spec is not None and spec.unit not in _QUIET_UNITS and spec.unit.split()[0] != "probability"
            and not spec.unit.startswith("family-specific")  # a pointer to the code, not a unit
            and spec.unit not in text):  # "odds ratio of CR" needs no "(odds ratio)"
        text += f" ({spec.unit})"
    return text


def outcome_label(name: str) -> str:
    """An endpoint's label with its unit: ``os_m12`` -> ``OS at 12 months (probability)``;
    unknown names are returned as given."""
    return label_with_unit(name)


def outcome_unit(name: str) -> str:
    """The unit of an endpoint ("" when unknown)."""
    e = ENDPOINT_BY_NAME.get(name)
    return e.unit if e is not None else ""
