"""The pathway's categories, declared once.

Every other place (parameter names, output columns, the kernel, the reports) derives
its labels from these enums, so a category is added or renamed here and nowhere else.
Member values are the integer codes stored in the patient-level output.
"""

from __future__ import annotations

from enum import IntEnum, unique


class RelapseSite(IntEnum):
    """Site of the post-transplant relapse that brings the patient to CAR-T."""

    MARROW = 0
    CNS = 1  # isolated extramedullary, central nervous system
    EMD_OTHER = 2  # isolated extramedullary, other (testis, soft tissue, ...)
    COMBINED = 3  # marrow plus extramedullary


class CellSource(IntEnum):
    """Where the T cells for the CAR product come from."""

    RECIPIENT = 0  # collected from the patient after HSCT (usually donor-chimeric)
    DONOR = 1  # collected from the HSCT donor
    UNIVERSAL = 2  # third-party / off-the-shelf allogeneic


class Target(IntEnum):
    """Antigen target of a CAR-T infusion."""

    CD19 = 0
    CD22 = 1
    TANDEM = 2  # bispecific CD19/CD22 construct
    SEQUENTIAL = 3  # CD19 then CD22 products given in sequence


class Consolidation(IntEnum):
    """Consolidation received by a patient in remission (NONE also for non-responders)."""

    NONE = 0
    HSCT = 1  # consolidative allo-HSCT
    DECITABINE = 2  # decitabine (demethylating agent) maintenance
    BCL2I = 3  # BCL2-inhibitor (venetoclax) maintenance


class Response(IntEnum):
    """Day-28 response to an infusion."""

    NOT_EVALUATED = 0  # died before assessment, or never infused
    NO_RESPONSE = 1
    CR_MRD_POS = 2
    CR_MRD_NEG = 3


class RelapseAntigen(IntEnum):
    """Antigen phenotype of a relapse after CAR-T."""

    NONE = 0  # no relapse observed
    POSITIVE = 1  # antigen of the last product still expressed
    NEGATIVE = 2  # antigen escape (e.g. CD19-negative)


class DeathCause(IntEnum):
    """Cause of death; ALIVE for patients censored at the horizon."""

    ALIVE = 0
    DISEASE = 1  # leukaemia (after non-response, relapse or failed manufacturing)
    CRS = 2
    ICANS = 3
    GVHD = 4
    TRANSPLANT = 5  # transplant-related mortality of consolidative allo-HSCT
    OTHER_NRM = 6  # infection and other non-relapse deaths, background mortality
    BEFORE_INFUSION = 7  # died while waiting for a product (first infusion or a re-infusion)



class FailureType(IntEnum):
    """Why a patient's disease is active again, which sets survival without further CAR-T."""

    REFRACTORY = 0  # no response to an infusion (primary non-response)
    EARLY_RELAPSE = 1  # relapse within salvage.early_relapse_days of the infusion
    LATE_RELAPSE = 2  # later relapse
    NOT_INFUSED = 3  # failed manufacture or progression before infusion


class SalvageRegimen(IntEnum):
    """Standard salvage without CAR-T (the comparator strategy, policy.cart = false)."""

    BLINATUMOMAB = 0
    INOTUZUMAB = 1
    CHEMOTHERAPY = 2

#: causes that count as non-relapse mortality in competing-risk analyses
NRM_CAUSES: tuple[DeathCause, ...] = (
    DeathCause.CRS,
    DeathCause.ICANS,
    DeathCause.GVHD,
    DeathCause.TRANSPLANT,
    DeathCause.OTHER_NRM,
)

#: CRS and ICANS grades are ASTCT 2019, 0 (none) to 4; grade 5 is recorded as a death
TOX_GRADES = 5
#: acute GVHD grades 0 (none) to 4 (grade IV)
GVHD_GRADES = 5


def labels(enum: type[IntEnum]) -> list[str]:
    """Lower-case member names in code order, for parameter keys and table labels."""
    return [m.name.lower() for m in sorted(enum, key=int)]


@unique
class Decision(IntEnum):
    """Every random decision, of the pathway and of the drivers around it (arrivals,
    trials): the 'decision' part of a draw's address, declared here and nowhere else.

    A draw is addressed by (seed, replicate, patient_id, decision, cycle, block, lane):
    `cycle` is the infusion cycle (0 for the first), `block` a further counter within
    the decision, `lane` one of the four uniforms a Philox block yields. Codes are part
    of the randomness contract: renumbering them changes every simulated result.
    """

    COVARIATES = 1
    ASSIGNMENT = 2
    MANUFACTURING = 3
    WAITING = 4
    CRS = 5
    ICANS = 6
    GVHD = 7
    RESPONSE = 8
    CONSOLIDATION = 9
    REMISSION = 10
    LATE_MORTALITY = 11
    REINFUSION = 12
    SALVAGE = 13
    ARRIVAL = 14  # SimPy engine: the gap before this patient's arrival
    TRIAL = 15  # trial simulation: randomisation (lane 0), accrual gap (lane 1), dropout (lane 2)
    CRS_MANAGEMENT = 16  # does a CRS still escalate after tocilizumab/steroids (drawn only when one is given)
