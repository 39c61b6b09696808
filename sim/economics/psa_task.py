"""The chunk task of a probabilistic cost-effectiveness analysis (``sim.economics.psa``):
every strategy simulated for every draw with common random numbers, reduced to means
and Monte Carlo SEs. Its source hash is part of the sweep spec: a change here refuses
``--resume`` of an earlier run."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.engine.kernel import run_kernel_economics
from sim.model.economic_inputs import N_ECON
from sim.model.outputs import CostCategory, E
from sim.model.parameters import N_THETA

N_CATEGORIES = len(CostCategory)
#: per-strategy quantities of the table (means per patient, discounted except life-years)
PER_STRATEGY = ("cost", "qalys", "life_years")
#: paired increments against the first strategy, and the covariance of the two paired means
PER_INCREMENT = ("d_cost", "d_qalys", "d_cov")


def columns(names: Sequence[str]) -> list[str]:
    """The value columns of the per-draw table for strategies ``names``."""
    out = [f"{q}:{n}" for n in names for q in PER_STRATEGY]
    out += [f"{q}:{n}" for n in names[1:] for q in PER_INCREMENT]
    return out


def pack(thetas: Sequence[np.ndarray], econ_vectors: np.ndarray) -> np.ndarray:
    """One row per draw: every strategy's theta, then the economic vector."""
    return np.ascontiguousarray(np.hstack([*thetas, econ_vectors]), dtype=np.float64)


def psa_chunk(packed: np.ndarray, set_ids: np.ndarray, seed: int, patients: int, horizon_days: float,
              crn: bool, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Means and Monte Carlo SEs of :func:`columns` for the packed draws (a sweep chunk
    task). Within a draw every strategy uses the same stream (common random numbers);
    across draws replicate 0 (``crn``) or replicate set_id + 1. The result never depends
    on ``threads``."""
    packed = np.ascontiguousarray(packed, dtype=np.float64)
    n_strat = (packed.shape[1] - N_ECON) // N_THETA
    if n_strat < 1 or packed.shape[1] != n_strat * N_THETA + N_ECON:
        raise ValueError(f"packed rows must hold k x {N_THETA} theta values and {N_ECON} economic inputs")
    width = len(PER_STRATEGY) * n_strat + len(PER_INCREMENT) * (n_strat - 1)
    out = np.empty((len(packed), width))
    se = np.empty((len(packed), width))
    for r, sid in enumerate(np.asarray(set_ids)):
        econ = packed[r, n_strat * N_THETA:]
        replicate = 0 if crn else int(sid) + 1
        per = []
        for s in range(n_strat):
            _, _, e = run_kernel_economics(packed[r, s * N_THETA:(s + 1) * N_THETA], econ, int(seed), int(patients),
                                           float(horizon_days), replicate=replicate, threads=threads)
            per.append((e[:, E.COST_DISC:E.COST_DISC + N_CATEGORIES].sum(axis=1), e[:, E.QALY_DISC], e[:, E.LY]))
        col = 0
        for vals in per:
            for v in vals:
                out[r, col], se[r, col] = v.mean(), _se(v)
                col += 1
        for s in range(1, n_strat):
            dc, dq = per[s][0] - per[0][0], per[s][1] - per[0][1]
            out[r, col], se[r, col] = dc.mean(), _se(dc)
            out[r, col + 1], se[r, col + 1] = dq.mean(), _se(dq)
            out[r, col + 2] = float(np.cov(dc, dq)[0, 1]) / len(dc) if len(dc) > 1 else math.nan
            se[r, col + 2] = math.nan
            col += 3
    return out, se


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan
