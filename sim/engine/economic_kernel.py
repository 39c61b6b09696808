"""The kernel with economics: the same parallel loop over patients as ``kernel``, each
patient walked by ``pathway.simulate_patient_economics`` (the one walk, with its
economic accumulation switched on), filling a float64 economic block beside the record.

A separate compiled loop, so the kernel without economics keeps its exact code and
speed; the records of both are identical patient by patient.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from sim.engine.kernel import KEY_BLOCK, N_FLOAT, N_INT
from sim.engine.pathway import simulate_patient_economics
from sim.engine.rng import make_key, patient_key
from sim.model.economic_inputs import N_ECON
from sim.model.outputs import N_ECON_COLUMNS
from sim.model.parameters import N_THETA


@nb.njit(parallel=True, cache=True)
def _simulate_range_economics(theta: np.ndarray, econ: np.ndarray, k0: np.uint64, k1: np.uint64,
                              first_patient_id: int, horizon_days: float, fout: np.ndarray, iout: np.ndarray,
                              eout: np.ndarray) -> None:
    n = fout.shape[0]
    n_blocks = (n + KEY_BLOCK - 1) // KEY_BLOCK
    for b in nb.prange(n_blocks):
        start = b * KEY_BLOCK
        stop = min(n, start + KEY_BLOCK)
        # keys first, as in ``kernel``: independent Philox calls overlap in the pipeline
        keys = np.empty(stop - start, np.uint64)
        for j in range(stop - start):
            keys[j] = patient_key(k0, k1, first_patient_id + start + j)
        for j in range(stop - start):
            simulate_patient_economics(theta, econ, keys[j], horizon_days, fout[start + j], iout[start + j],
                                       eout[start + j])


def run_kernel_economics(theta: np.ndarray, econ: np.ndarray, seed: int, n_patients: int, horizon_days: float,
                         first_patient_id: int = 0, replicate: int = 0,
                         threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``kernel.run_kernel`` plus the economic block: (float32 record, int8 record,
    float64 economics shaped (n_patients, N_ECON_COLUMNS), columns ``outputs.E``).
    ``econ`` is ``EconomicInputs.vector()`` (or a PSA draw of it)."""
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    econ = np.ascontiguousarray(econ, dtype=np.float64)
    if theta.shape != (N_THETA,) or np.isnan(theta).any():
        raise ValueError(f"theta must be a complete vector of {N_THETA} parameters")
    if econ.shape != (N_ECON,) or np.isnan(econ).any():
        raise ValueError(f"econ must be a complete vector of {N_ECON} economic inputs")
    if n_patients < 0 or first_patient_id < 0 or not horizon_days > 0:
        raise ValueError("n_patients, first_patient_id must be >= 0 and horizon_days > 0")
    k0, k1 = make_key(seed, replicate)
    fout = np.empty((n_patients, N_FLOAT), dtype=np.float32)
    iout = np.empty((n_patients, N_INT), dtype=np.int8)
    eout = np.empty((n_patients, N_ECON_COLUMNS), dtype=np.float64)
    previous = nb.get_num_threads()
    if threads is not None:
        nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        _simulate_range_economics(theta, econ, k0, k1, first_patient_id, float(horizon_days), fout, iout, eout)
    finally:
        nb.set_num_threads(previous)
    return fout, iout, eout
