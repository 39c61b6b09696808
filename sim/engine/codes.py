"""The model's category codes as plain ints for compiled code.

numba types an ``IntEnum`` member by its enum, and such values do not mix with plain
ints in arithmetic, ``max`` or int8 stores; the walk uses these instead. They are
derived from ``sim.model.states``, never written by hand.
"""

from __future__ import annotations

from sim.model.states import Consolidation, DeathCause, FailureType, RelapseAntigen, Response, Target

NOT_EVALUATED = int(Response.NOT_EVALUATED)
NO_RESPONSE = int(Response.NO_RESPONSE)
CR_MRD_POS = int(Response.CR_MRD_POS)
CR_MRD_NEG = int(Response.CR_MRD_NEG)
HSCT = int(Consolidation.HSCT)
NO_CONSOLIDATION = int(Consolidation.NONE)
ALIVE = int(DeathCause.ALIVE)
DISEASE = int(DeathCause.DISEASE)
CRS = int(DeathCause.CRS)
ICANS = int(DeathCause.ICANS)
GVHD = int(DeathCause.GVHD)
TRANSPLANT = int(DeathCause.TRANSPLANT)
OTHER_NRM = int(DeathCause.OTHER_NRM)
BEFORE_INFUSION = int(DeathCause.BEFORE_INFUSION)
ANTIGEN_POSITIVE = int(RelapseAntigen.POSITIVE)
ANTIGEN_NEGATIVE = int(RelapseAntigen.NEGATIVE)
NO_RELAPSE = int(RelapseAntigen.NONE)
CD22 = int(Target.CD22)
REFRACTORY = int(FailureType.REFRACTORY)
EARLY_RELAPSE = int(FailureType.EARLY_RELAPSE)
LATE_RELAPSE = int(FailureType.LATE_RELAPSE)
NOT_INFUSED = int(FailureType.NOT_INFUSED)
