"""The Monte Carlo kernel: numba, no resources, one patient after another.

:func:`_simulate_range` runs the pathway's walk in unlimited mode
(``pathway.simulate_patient``: every resource granted at once) over a range of
patient ids in parallel. Public entry: :func:`run_kernel`, which validates, allocates
and sets the thread count; the compiled loop only reads ``theta`` and fills the
output rows. The stages, their order and the competing events live in
``sim.engine.pathway``, the one walk that the SimPy engine runs too.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from sim.engine.pathway import simulate_patient
from sim.engine.rng import make_key, patient_key
from sim.model.outputs import F, I
from sim.model.parameters import N_THETA

__all__ = ["KEY_BLOCK", "N_FLOAT", "N_INT", "run_kernel", "simulate_patient"]

KEY_BLOCK = 256  # patients per parallel work item (results do not depend on it)
N_FLOAT = len(F)
N_INT = len(I)


@nb.njit(parallel=True, cache=True)
def _simulate_range(theta: np.ndarray, k0: np.uint64, k1: np.uint64, first_patient_id: int,
                    horizon_days: float, fout: np.ndarray, iout: np.ndarray) -> None:
    n = fout.shape[0]
    n_blocks = (n + KEY_BLOCK - 1) // KEY_BLOCK
    for b in nb.prange(n_blocks):
        start = b * KEY_BLOCK
        stop = min(n, start + KEY_BLOCK)
        # independent Philox calls first: they overlap in the CPU pipeline, whereas
        # one call per patient inside the patient's dependent chain costs ~2x more
        keys = np.empty(stop - start, np.uint64)
        for j in range(stop - start):
            keys[j] = patient_key(k0, k1, first_patient_id + start + j)
        for j in range(stop - start):
            simulate_patient(theta, keys[j], horizon_days, fout[start + j], iout[start + j])


def run_kernel(theta: np.ndarray, seed: int, n_patients: int, horizon_days: float,
               first_patient_id: int = 0, replicate: int = 0,
               threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Simulate patients first_patient_id .. first_patient_id + n_patients - 1.

    Returns (float32 block, int8 block), shaped (n_patients, len(F)) and
    (n_patients, len(I)); columns as in ``sim.model.outputs``. The result depends only
    on (theta, seed, replicate, patient ids, horizon), never on ``threads``.
    """
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if theta.shape != (N_THETA,):
        raise ValueError(f"theta must have shape ({N_THETA},), got {theta.shape}")
    if np.isnan(theta).any():
        raise ValueError("theta has unset (NaN) entries")
    if n_patients < 0 or first_patient_id < 0:
        raise ValueError("n_patients and first_patient_id must be >= 0")
    if not horizon_days > 0:
        raise ValueError("horizon_days must be > 0")
    k0, k1 = make_key(seed, replicate)
    fout = np.empty((n_patients, N_FLOAT), dtype=np.float32)
    iout = np.empty((n_patients, N_INT), dtype=np.int8)
    previous = nb.get_num_threads()
    if threads is not None:
        # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
        nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        _simulate_range(theta, k0, k1, first_patient_id, float(horizon_days), fout, iout)
    finally:
        nb.set_num_threads(previous)
    return fout, iout
