"""The outcomes a comparison reports (the endpoints of :mod:`sim.model.endpoints` with a
paired method) and their paired
estimators: the per-patient ratio data of the delta method and the values read from
a run summary."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sim.model.endpoints import ENDPOINTS, Endpoint
from sim.model.outputs import F, I

DEFAULT_BOOTSTRAP = 200
LEVEL = 0.95
CHUNK_PATIENTS = 1_000_000  # progress granularity; results do not depend on it
_BOOTSTRAP_STREAM = 0xB0075  # separates the resampling stream from the pathway's draws
_HALF_TOL = 1e-12  # as sim.stats.survival: a curve at 1/2 up to rounding reaches the median

ProgressCallback = Callable[[int, int], None]


#: every compared outcome, in report order: the endpoints with a paired method
OUTCOMES: tuple[Endpoint, ...] = tuple(e for e in ENDPOINTS if e.method)
OUTCOME_BY_NAME = {o.name: o for o in OUTCOMES}


# --------------------------------------------------------------------------- #
# per-patient data of one simulated scenario


def patient_frame(fout: np.ndarray, iout: np.ndarray) -> pd.DataFrame:
    """The kernel's blocks as a DataFrame with the public column names (as ``cartsim run``)."""
    data: dict[str, np.ndarray] = {"patient_id": np.arange(len(fout))}
    for col in F:
        data[col.name.lower()] = np.ascontiguousarray(fout[:, col])
    for icol in I:
        data[icol.name.lower()] = np.ascontiguousarray(iout[:, icol])
    return pd.DataFrame(data)


def _ratio_data(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-patient (numerator y, denominator x) of every delta-method outcome; the
    outcome is sum(y) / sum(x) (the endpoint table's definitions)."""
    return {o.name: o.ratio_data(df) for o in OUTCOMES if o.method == "delta"}


# --------------------------------------------------------------------------- #
# the comparison


def _ratio_value(y: np.ndarray, x: np.ndarray) -> float | None:
    sx = x.sum()
    return float(y.sum() / sx) if sx > 0 else None


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None




def _delta_se(ya: np.ndarray, xa: np.ndarray, yb: np.ndarray, xb: np.ndarray) -> tuple[float, float]:
    """(paired SE, independent SE) of sum(yb)/sum(xb) - sum(ya)/sum(xa) by the delta method."""
    n = len(ya)
    sxa, sxb = xa.sum(), xb.sum()
    if sxa == 0 or sxb == 0:
        return math.nan, math.nan
    ifa = (ya - ya.sum() / sxa * xa) / (sxa / n)
    ifb = (yb - yb.sum() / sxb * xb) / (sxb / n)
    paired = float(np.sqrt(np.sum((ifb - ifa) ** 2)) / n)
    independent = float(np.sqrt(np.sum(ifa**2) + np.sum(ifb**2)) / n)
    return paired, independent
