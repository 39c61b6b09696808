"""The time-to-event analyses of :data:`sim.model.endpoints.CURVES`, computed once.

:func:`curve_data` turns patient records into one analysis' (patient, time, code): who
is in it (its population), from which origin, which event ends it and what censors it.
It is compiled, so the compiled sweep reduction calls it on the kernel's blocks, and
the run summary, the paired bootstrap of ``compare`` and the report call it on record
columns: every feature reads a curve from this one definition.

Codes: 0 censored at the last follow-up, 1 the event (for the competing-risks analysis
shared by ``cir`` and ``nrm``: 1 first relapse, 2 death without relapse from a
non-relapse cause). Times are days from the origin, computed in float64 from the
float32 record (the subtraction in float64, so every caller gets the same numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numba as nb
import numpy as np

from sim.model.endpoints import CURVES
from sim.model.outputs import F, I
from sim.model.states import NRM_CAUSES, DeathCause, Response
from sim.stats.weighted import pack

#: compiled curve codes; ``cir`` and ``nrm`` are the two causes of one analysis
OS, EFS, LFS, ITT_OS, ITT_EFS, COMPETING = range(6)
CURVE_CODE: dict[str, int] = {"os": OS, "efs": EFS, "lfs": LFS, "itt_os": ITT_OS, "itt_efs": ITT_EFS,
                              "cir": COMPETING, "nrm": COMPETING}
assert set(CURVE_CODE) == set(CURVES), "every curve of the endpoint table needs its compiled definition"

_CR = int(Response.CR_MRD_POS)
#: death-cause code -> counts as non-relapse mortality
NRM_CAUSE = np.zeros(max(int(c) for c in DeathCause) + 1, np.bool_)
NRM_CAUSE[[int(c) for c in NRM_CAUSES]] = True


@nb.njit(cache=True, nogil=True)
def curve_data(curve: int, t_inf: np.ndarray, t_last: np.ndarray, t_death: np.ndarray, t_efs: np.ndarray,
               t_relapse: np.ndarray, response: np.ndarray, death_cause: np.ndarray, nrm_cause: np.ndarray,
               pid: np.ndarray, time: np.ndarray, code: np.ndarray) -> int:
    """Fill (pid, time in days, code) of analysis ``curve`` for the patients in it, in
    record order; returns how many. Record columns as :mod:`sim.model.outputs` names them
    (any float and integer dtypes); ``nrm_cause`` is :data:`NRM_CAUSE`."""
    m = 0
    for r in range(t_last.shape[0]):
        infused = not np.isnan(t_inf[r])
        from_decision = curve in (ITT_OS, ITT_EFS)
        if not from_decision and not infused:
            continue
        in_cr = infused and response[r] >= _CR
        if (curve in (LFS, COMPETING)) and not in_cr:
            continue
        origin = 0.0 if from_decision else np.float64(t_inf[r])
        last = np.float64(t_last[r])
        c = 0
        end = last
        if curve in (OS, ITT_OS):
            if not np.isnan(t_death[r]):
                c = 1
                end = np.float64(t_death[r])
        elif curve in (EFS, ITT_EFS):
            if not np.isnan(t_efs[r]):
                c = 1
                end = np.float64(t_efs[r])
        elif curve == LFS:
            ev = np.fmin(np.float64(t_relapse[r]), np.float64(t_death[r]))
            if not np.isnan(ev):
                c = 1
                end = ev
        elif not np.isnan(t_relapse[r]):
            c = 1
            end = np.float64(t_relapse[r])
        elif nrm_cause[death_cause[r]] and not np.isnan(t_death[r]):
            c = 2
            end = np.float64(t_death[r])
        pid[m] = r
        time[m] = end - origin
        code[m] = c
        m += 1
    return m


def curve_from_columns(cols: Mapping[str, Any], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patient index, time in days, code) of the curve ``name`` (a key of CURVES) from
    record columns (any mapping of column name to array; a DataFrame serves)."""
    n = len(cols["t_last_days"])
    pid = np.empty(n, np.int64)
    time = np.empty(n)
    code = np.empty(n, np.int8)

    def col(key: str) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(cols[key]))

    m = curve_data(CURVE_CODE[name], col("t_inf_days"), col("t_last_days"), col("t_death_days"), col("t_efs_days"),
                   col("t_relapse_days"), col("response"), col("death_cause"), NRM_CAUSE, pid, time, code)
    return pid[:m], time[:m], code[:m]


def curve_from_blocks(fout: np.ndarray, iout: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(record row, time in days, code) of the curve ``name`` from the kernel's float
    and int blocks (:mod:`sim.model.outputs`)."""
    n = fout.shape[0]
    pid = np.empty(n, np.int64)
    time = np.empty(n)
    code = np.empty(n, np.int8)
    m = curve_data(CURVE_CODE[name], fout[:, F.T_INF_DAYS], fout[:, F.T_LAST_DAYS], fout[:, F.T_DEATH_DAYS],
                   fout[:, F.T_EFS_DAYS], fout[:, F.T_RELAPSE_DAYS], iout[:, I.RESPONSE], iout[:, I.DEATH_CAUSE],
                   NRM_CAUSE, pid, time, code)
    return pid[:m], time[:m], code[:m]


_KEY_BLOCK = 4096  # rows per scratch block of curve_keys


@nb.njit(cache=True, nogil=True)
def _curve_keys(curve: int, t_inf: np.ndarray, t_last: np.ndarray, t_death: np.ndarray, t_efs: np.ndarray,
                t_relapse: np.ndarray, response: np.ndarray, death_cause: np.ndarray, nrm_cause: np.ndarray,
                keys: np.ndarray) -> int:
    """Packed (time, code) keys (:func:`sim.stats.weighted.pack`) of analysis ``curve``
    into ``keys``, through a small scratch block: how many, or -1 if a time cannot be packed."""
    pid = np.empty(_KEY_BLOCK, np.int64)
    time = np.empty(_KEY_BLOCK)
    code = np.empty(_KEY_BLOCK, np.int8)
    m = 0
    for start in range(0, t_last.shape[0], _KEY_BLOCK):
        stop = min(t_last.shape[0], start + _KEY_BLOCK)
        k = curve_data(curve, t_inf[start:stop], t_last[start:stop], t_death[start:stop], t_efs[start:stop],
                       t_relapse[start:stop], response[start:stop], death_cause[start:stop], nrm_cause,
                       pid, time, code)
        if not pack(time[:k], code[:k], keys[m:m + k]):
            return -1
        m += k
    return m


def curve_keys(cols: Mapping[str, Any], name: str) -> np.ndarray | None:
    """The curve ``name`` from record columns as packed (time, code) keys for
    :func:`sim.stats.weighted.estimate_packed`: 8 bytes a patient, no index, time or code
    arrays (the run summary of 10^7 patients estimates curves in two threads). None if
    a time cannot be packed (then :func:`curve_from_columns` serves)."""
    keys = np.empty(len(cols["t_last_days"]), np.int64)

    def col(key: str) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(cols[key]))

    m = _curve_keys(CURVE_CODE[name], col("t_inf_days"), col("t_last_days"), col("t_death_days"), col("t_efs_days"),
                    col("t_relapse_days"), col("response"), col("death_cause"), NRM_CAUSE, keys)
    return None if m < 0 else keys[:m]
