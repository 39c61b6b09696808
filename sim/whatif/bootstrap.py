"""The paired bootstrap over patient ids: the same multinomial resample of patients for
every scenario, and the curves whose weighted Kaplan-Meier and Aalen-Johansen estimates
:mod:`sim.stats.weighted` recomputes for a batch of replicates at once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.model.endpoints import DAYS_PER_MONTH, ENDPOINTS, LANDMARK_MONTHS, RMST_MONTHS, Endpoint
from sim.outcomes.curves import curve_from_columns
from sim.stats.weighted import Layout, SortedCurve, sorted_curve, statistics
from sim.whatif.estimators import _BOOTSTRAP_STREAM


def _curves(df: pd.DataFrame) -> dict[str, SortedCurve]:
    """The time-to-event analyses of ``summarise``, from the one curve definition of
    :mod:`sim.outcomes.curves` (``competing``: relapse and non-relapse death)."""
    out = {}
    for name in ("os", "efs", "lfs", "itt_os"):
        out[name] = sorted_curve(*curve_from_columns(df, name))
    out["competing"] = sorted_curve(*curve_from_columns(df, "cir"))
    return out


_LANDMARKS_DAYS = np.array([m * DAYS_PER_MONTH for m in LANDMARK_MONTHS])
_TAU_DAYS = RMST_MONTHS * DAYS_PER_MONTH
_COUNTS_BUDGET_BYTES = 64_000_000  # bootstrap counts held at once (uint8, patients x replicates)
_CURVE_NAMES = ("os", "efs", "lfs", "itt_os", "competing")


def _replicate_batch(n_patients: int, bootstrap: int) -> int:
    """Replicates per pass: as many as the counts budget allows (all 200 up to 320,000
    patients, 64 at 10^6); each pass over a curve costs about the same whatever its width."""
    return max(1, min(bootstrap, _COUNTS_BUDGET_BYTES // max(n_patients, 1)))


def curve_statistics(curve: SortedCurve, counts: np.ndarray) -> np.ndarray:
    """The weighted estimates of one curve under each column of ``counts`` at the
    endpoint table's landmarks and restricted-mean horizon (:func:`sim.stats.weighted.statistics`)."""
    return statistics(curve, counts, _LANDMARKS_DAYS, _TAU_DAYS)


def _statistic_column(e: Endpoint) -> tuple[str, int]:
    """(curve, column of :func:`curve_statistics`) holding a bootstrap endpoint."""
    at = Layout(len(LANDMARK_MONTHS))
    if e.kind == "median":
        return e.curve, at.median
    if e.kind == "rmst":
        return e.curve, at.rmst
    j = LANDMARK_MONTHS.index(e.months)
    if e.kind == "incidence":  # relapse is cause 1, death without relapse cause 2
        return "competing", (at.cif1 if e.curve == "cir" else at.cif2).start + j
    return e.curve, at.survival.start + j


#: where each bootstrap outcome of the endpoint table is read
_COLUMNS = {e.name: _statistic_column(e) for e in ENDPOINTS if e.method == "bootstrap"}


def _outcomes_from_statistics(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every bootstrap outcome from the statistics of the five curves."""
    return {name: stats[curve][:, j] for name, (curve, j) in _COLUMNS.items()}


def _bootstrap_outcomes(curves: dict[str, SortedCurve], counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every bootstrap outcome of one scenario under each column of ``counts``."""
    return _outcomes_from_statistics({c: curve_statistics(curves[c], counts) for c in _CURVE_NAMES})


def bootstrap_counts(seed: int, replicates: range, n: int) -> np.ndarray:
    """Resampling counts (patients x replicates, uint8) of patients 0..n-1: replicate
    b draws n ids with replacement from a Philox stream addressed by (seed, b) alone,
    so a replicate does not depend on the batch it is computed in."""
    rows = np.empty((len(replicates), n), np.uint8)
    for j, b in enumerate(replicates):
        rng = np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, b, _BOOTSTRAP_STREAM])))
        c = np.bincount(rng.integers(0, n, n), minlength=n)
        if c.max() > np.iinfo(np.uint8).max:  # P(any count > 255) < n * 1e-500: never in practice
            raise RuntimeError("bootstrap count overflow")
        rows[j] = c
    return np.ascontiguousarray(rows.T)  # patients x replicates: one patient's counts side by side
