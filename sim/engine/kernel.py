"""The Monte Carlo kernel: numba, no resources, one patient after another.

:func:`_simulate_range` runs the pathway's walk in unlimited mode
(``pathway.simulate_patient``: every resource granted at once) over a range of
patient ids in parallel. Public entries: :func:`run_kernel`, and
:func:`run_kernel_economics`, which also fills each patient's costs and QALYs (the same
loop with the walk's economic accumulation on; without it numba compiles the loop
without any economics, so the plain kernel keeps its code and speed). Both validate,
allocate and set the thread count; the compiled loop only reads its inputs and fills the
output rows. The stages, their order and the competing events live in
``sim.engine.pathway``, the one walk that the SimPy engine runs too.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from sim.engine.pathway import simulate_patient, simulate_patient_economics
from sim.engine.rng import make_key, patient_key
from sim.model.economic_inputs import N_ECON
from sim.model.outputs import N_ECON_COLUMNS, F, I
from sim.model.parameters import N_THETA

__all__ = ["KEY_BLOCK", "N_FLOAT", "N_INT", "run_kernel", "run_kernel_economics", "simulate_patient"]

KEY_BLOCK = 256  # patients per parallel work item (results do not depend on it)
N_FLOAT = len(F)
N_INT = len(I)


@nb.njit(parallel=True, cache=True)
def _simulate_range(theta: np.ndarray, k0: np.uint64, k1: np.uint64, first_patient_id: int,
                    horizon_days: float, fout: np.ndarray, iout: np.ndarray, econ: np.ndarray | None,
                    eout: np.ndarray | None) -> None:
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
            if eout is None:  # pruned at compile time: the plain kernel has no economics
                simulate_patient(theta, keys[j], horizon_days, fout[start + j], iout[start + j])
            else:
                simulate_patient_economics(theta, econ, keys[j], horizon_days, fout[start + j],  # type: ignore[arg-type]
                                           iout[start + j], eout[start + j])


def run_kernel(theta: np.ndarray, seed: int, n_patients: int, horizon_days: float,
               first_patient_id: int = 0, replicate: int = 0,
               threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Simulate patients first_patient_id .. first_patient_id + n_patients - 1.

    Returns (float32 block, int8 block), shaped (n_patients, len(F)) and
    (n_patients, len(I)); columns as in ``sim.model.outputs``. The result depends only
    on (theta, seed, replicate, patient ids, horizon), never on ``threads``.
    """
    fout, iout, _ = _run(theta, None, seed, n_patients, horizon_days, first_patient_id, replicate, threads)
    return fout, iout


def run_kernel_economics(theta: np.ndarray, econ: np.ndarray, seed: int, n_patients: int, horizon_days: float,
                         first_patient_id: int = 0, replicate: int = 0,
                         threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`run_kernel` plus the economic block: (float32 record, int8 record, float64
    economics shaped (n_patients, N_ECON_COLUMNS), columns ``outputs.E``); the records
    equal :func:`run_kernel`'s. ``econ`` is ``EconomicInputs.vector()`` (or a draw of it)."""
    econ = np.ascontiguousarray(econ, dtype=np.float64)
    if econ.shape != (N_ECON,) or np.isnan(econ).any():
        raise ValueError(f"econ must be a complete vector of {N_ECON} economic inputs")
    fout, iout, eout = _run(theta, econ, seed, n_patients, horizon_days, first_patient_id, replicate, threads)
    assert eout is not None
    return fout, iout, eout


def _run(theta: np.ndarray, econ: np.ndarray | None, seed: int, n_patients: int, horizon_days: float,
         first_patient_id: int, replicate: int,
         threads: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate, allocate (the economic block only with ``econ``), set threads, run."""
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
    eout = None if econ is None else np.empty((n_patients, N_ECON_COLUMNS), dtype=np.float64)
    previous = nb.get_num_threads()
    if threads is not None:
        # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
        nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        _simulate_range(theta, k0, k1, first_patient_id, float(horizon_days), fout, iout, econ, eout)
    finally:
        nb.set_num_threads(previous)
    return fout, iout, eout
