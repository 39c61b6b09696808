"""The patient-level record: one row per simulated patient, declared once.

The engine fills two row-major blocks, one float32 (times, in days) and one int8
(categories and counts); these enums are their column offsets, and ``COLUMNS`` gives
each column its public name, unit and meaning. Times are days from the decision to
treat (t = 0) unless the name says otherwise; NaN means "did not happen before the
horizon". Toxicity fields describe the patient's first infusion (the published
safety endpoints are per first infusion); ``icu_days`` adds up every infusion.
The CRS-management columns come last, so the columns before them keep their offsets:
with the default policy (no drug by policy) they are 0 / NaN.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from sim.model.states import (
    CellSource,
    Consolidation,
    DeathCause,
    RelapseAntigen,
    RelapseSite,
    Response,
    Target,
)


class F(IntEnum):
    """float32 columns."""

    AGE_YEARS = 0
    T_INF_DAYS = 1
    CRS_ONSET_DAYS = 2
    CRS_DURATION_DAYS = 3
    ICANS_ONSET_DAYS = 4
    ICANS_DURATION_DAYS = 5
    GVHD_ONSET_DAYS = 6
    ICU_DAYS = 7
    T_HSCT_DAYS = 8
    T_RELAPSE_DAYS = 9
    T_DEATH_DAYS = 10
    T_LAST_DAYS = 11
    T_EFS_DAYS = 12
    TOCILIZUMAB_DAY = 13
    STEROIDS_DAY = 14


class I(IntEnum):  # noqa: E742 - short on purpose: the kernel writes irow[I.CRS_GRADE]
    """int8 columns."""

    RELAPSE_SITE = 0
    PRIOR_HSCT = 1
    PRIOR_CART = 2
    HIGH_RISK = 3
    EARLY_RELAPSE = 4
    CELL_SOURCE = 5
    TARGET = 6
    DECITABINE_LD = 7
    MFG_ATTEMPTS = 8
    N_INFUSIONS = 9
    CRS_GRADE = 10
    ICANS_GRADE = 11
    GVHD_GRADE = 12
    RESPONSE = 13
    BEST_RESPONSE = 14
    CONSOLIDATION = 15
    CURED = 16
    RELAPSE_ANTIGEN = 17
    N_RELAPSES = 18
    DEATH_CAUSE = 19
    TOCILIZUMAB = 20
    STEROIDS = 21


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    description: str
    categories: type[IntEnum] | None = None


_FLOAT_DOCS: dict[F, tuple[str, str]] = {
    F.AGE_YEARS: ("years", "age at the decision to treat"),
    F.T_INF_DAYS: ("days", "first CAR-T infusion (NaN: never infused)"),
    F.CRS_ONSET_DAYS: ("days after infusion", "CRS onset, first infusion"),
    F.CRS_DURATION_DAYS: ("days", "CRS duration, first infusion"),
    F.ICANS_ONSET_DAYS: ("days after infusion", "ICANS onset, first infusion"),
    F.ICANS_DURATION_DAYS: ("days", "ICANS duration, first infusion"),
    F.GVHD_ONSET_DAYS: ("days after infusion", "acute GVHD onset, first infusion"),
    F.ICU_DAYS: ("days", "ICU days for grade >= 3 CRS/ICANS, all infusions"),
    F.T_HSCT_DAYS: ("days", "consolidative allo-HSCT"),
    F.T_RELAPSE_DAYS: ("days", "first relapse after a CR"),
    F.T_DEATH_DAYS: ("days", "death (NaN: alive at the horizon)"),
    F.T_LAST_DAYS: ("days", "end of follow-up: death or the horizon"),
    F.T_EFS_DAYS: ("days", "first event: not infused (drop-out or death), non-response at the "
                   "first assessment, first relapse, or death"),
    F.TOCILIZUMAB_DAY: ("days after infusion", "tocilizumab given for CRS (policy.tocilizumab_grade), "
                        "first infusion"),
    F.STEROIDS_DAY: ("days after infusion", "corticosteroids given for CRS (policy.steroid_grade), first infusion"),
}

_INT_DOCS: dict[I, tuple[str, str, type[IntEnum] | None]] = {
    I.RELAPSE_SITE: ("code", "site of the post-HSCT relapse", RelapseSite),
    I.PRIOR_HSCT: ("count", "allo-HSCTs before CAR-T (1 or 2)", None),
    I.PRIOR_CART: ("count", "CAR-T infusions before entering (0 or 1)", None),
    I.HIGH_RISK: ("flag", "high-risk genetics (e.g. Ph+, TP53)", None),
    I.EARLY_RELAPSE: ("flag", "relapse < 6 months after HSCT", None),
    I.CELL_SOURCE: ("code", "cell source", CellSource),
    I.TARGET: ("code", "target of the first infusion", Target),
    I.DECITABINE_LD: ("flag", "decitabine-primed lymphodepletion", None),
    I.MFG_ATTEMPTS: ("count", "manufacturing attempts for the first product", None),
    I.N_INFUSIONS: ("count", "CAR-T infusions received in this programme", None),
    I.CRS_GRADE: ("grade", "maximum ASTCT CRS grade, first infusion", None),
    I.ICANS_GRADE: ("grade", "maximum ASTCT ICANS grade, first infusion", None),
    I.GVHD_GRADE: ("grade", "maximum acute GVHD grade (0-IV), first infusion", None),
    I.RESPONSE: ("code", "day-28 response to the first infusion", Response),
    I.BEST_RESPONSE: ("code", "best day-28 response over all infusions", Response),
    I.CONSOLIDATION: ("code", "consolidation after the first CR", Consolidation),
    I.CURED: ("flag", "latent cure indicator (not observable in a trial)", None),
    I.RELAPSE_ANTIGEN: ("code", "antigen phenotype of the first relapse", RelapseAntigen),
    I.N_RELAPSES: ("count", "relapses after CR", None),
    I.DEATH_CAUSE: ("code", "cause of death", DeathCause),
    I.TOCILIZUMAB: ("flag", "tocilizumab given for CRS, first infusion", None),
    I.STEROIDS: ("flag", "corticosteroids given for CRS, first infusion", None),
}

COLUMNS: tuple[Column, ...] = tuple(
    Column(c.name.lower(), *_FLOAT_DOCS[c]) for c in F
) + tuple(Column(c.name.lower(), *_INT_DOCS[c]) for c in I)


class Records(Mapping[str, np.ndarray]):
    """Patient records column by column: ``patient_id`` and every column of ``COLUMNS``
    by its public name, each a contiguous array (float32 times in days, int8 codes).

    The kernel fills row-major blocks; :meth:`put` copies a block of rows in, so a whole
    run is held once, in the layout the summaries, the Parquet writer and the figure
    read without copying (a pandas table of 10^7 patients took as long to build as the
    simulation and twice its memory). ``len`` is the number of columns (a mapping);
    :attr:`patients` the number of rows."""

    def __init__(self, floats: np.ndarray, ints: np.ndarray, first_patient_id: int = 0) -> None:
        self.floats = floats  # (len(F), patients) float32
        self.ints = ints  # (len(I), patients) int8
        self.first_patient_id = first_patient_id

    @classmethod
    def empty(cls, patients: int, first_patient_id: int = 0) -> Records:
        return cls(np.empty((len(F), patients), np.float32), np.empty((len(I), patients), np.int8), first_patient_id)

    @classmethod
    def from_blocks(cls, fout: np.ndarray, iout: np.ndarray, first_patient_id: int = 0) -> Records:
        """The records of the kernel's blocks (copied)."""
        out = cls.empty(fout.shape[0], first_patient_id)
        out.put(0, fout, iout)
        return out

    def put(self, start: int, fout: np.ndarray, iout: np.ndarray) -> None:
        """Copy the kernel's blocks (rows ``start`` .. ``start + len(fout)``) in."""
        self.floats[:, start:start + fout.shape[0]] = fout.T
        self.ints[:, start:start + iout.shape[0]] = iout.T

    @property
    def patients(self) -> int:
        return int(self.floats.shape[1])

    @property
    def names(self) -> list[str]:
        return ["patient_id", *(c.name for c in COLUMNS)]

    def __getitem__(self, name: str) -> np.ndarray:
        if name == "patient_id":
            return np.arange(self.first_patient_id, self.first_patient_id + self.patients)
        upper = name.upper()
        if upper in F.__members__ and name == name.lower():
            return self.floats[F[upper]]
        if upper in I.__members__ and name == name.lower():
            return self.ints[I[upper]]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(COLUMNS) + 1

    def blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """The kernel's row-major blocks (float32, int8) again (copies)."""
        return np.ascontiguousarray(self.floats.T), np.ascontiguousarray(self.ints.T)

    def frame(self) -> Any:
        """The records as a pandas DataFrame (a copy; pandas only when asked for)."""
        import pandas as pd  # noqa: PLC0415 - the run path itself never builds a DataFrame

        return pd.DataFrame({name: self[name] for name in self.names})


# --------------------------------------------------------------------------------------
# economic block: filled only when a run is given economic inputs (sim.engine.economy)
# --------------------------------------------------------------------------------------
class CostCategory(IntEnum):
    """What a cost pays for."""

    CART = 0  # apheresis, product, lymphodepletion, infusion admission (every infusion)
    TOXICITY = 1  # ICU days, tocilizumab, corticosteroids, severe acute GVHD
    TRANSPLANT = 2  # consolidative allo-HSCT
    MAINTENANCE = 3  # decitabine or BCL2-inhibitor cycles
    B_CELL_APLASIA = 4  # immunoglobulin replacement in remission
    SALVAGE = 5  # salvage course after the last failure
    FOLLOW_UP = 6  # specialist follow-up after the first infusion
    END_OF_LIFE = 7


_N_COST = len(CostCategory)


class E(IntEnum):
    """float64 economic columns: ``COST + category`` undiscounted, ``COST_DISC + category``
    discounted (currency of the preset), then life-years and QALYs (years)."""

    COST = 0
    COST_DISC = _N_COST
    LY = 2 * _N_COST
    LY_DISC = 2 * _N_COST + 1
    QALY = 2 * _N_COST + 2
    QALY_DISC = 2 * _N_COST + 3


N_ECON_COLUMNS = 2 * _N_COST + 4


def econ_column_names() -> list[str]:
    """Public names of the economic columns, in ``E`` order."""
    cats = [c.name.lower() for c in CostCategory]
    return ([f"cost_{c}" for c in cats] + [f"cost_{c}_disc" for c in cats]
            + ["life_years", "life_years_disc", "qalys", "qalys_disc"])
