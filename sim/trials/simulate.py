"""The compiled simulation of whole trials: trial-level draws (randomisation, accrual,
dropout) and the patients of both arms at their own addresses (package docstring)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numba as nb
import numpy as np

from sim.engine.kernel import N_FLOAT, N_INT, simulate_patient
from sim.engine.rng import make_key, patient_key, uniform
from sim.model.limits import check_memory
from sim.model.outputs import F, I
from sim.model.parameters import P
from sim.model.states import Decision, Response
from sim.outcomes.summary import DAYS_PER_MONTH
from sim.trials.results import SimulatedTrials
from sim.trials.spec import _ENDPOINT, CHUNK_PATIENTS, MIN_HORIZON_DAYS, TrialSpec

TRIAL_DECISION = int(Decision.TRIAL)  # a plain int for compiled code

# --------------------------------------------------------------------------- #
# compiled parts: trial-level draws and the patients


@nb.njit(cache=True)
def _accrual_step(day: float, e: float, rates: np.ndarray, ends: np.ndarray) -> float:
    """Day at which the cumulative accrual intensity has grown by ``e`` after ``day``
    (rates per day over periods ending at ``ends``; the last rate continues)."""
    i = 0
    while i < ends.size and ends[i] <= day:
        i += 1
    while i < ends.size:
        room = (ends[i] - day) * rates[i]
        if e <= room:
            return day + e / rates[i]
        e -= room
        day = ends[i]
        i += 1
    return day + e / rates[rates.size - 1]


@nb.njit(parallel=True, cache=True)
def _trial_draws(k0: np.uint64, k1: np.uint64, first_trial: int, n_max: int, p_b: float, rates_per_day: np.ndarray,
                 ends_days: np.ndarray, dropout_per_day: float, arm: np.ndarray, entry: np.ndarray,
                 dropout: np.ndarray, n_arms: int = 2, cum_shares: np.ndarray | None = None) -> None:
    """Arm (1 = experimental; with ``n_arms`` > 2 the arm index 0 .. n_arms - 1, equal
    allocation, or by the cumulative allocation shares ``cum_shares``), randomisation day
    and dropout time of every patient of trials first_trial .. first_trial + len(arm) - 1,
    each at the patient's own address."""
    for k in nb.prange(arm.shape[0]):
        base = (first_trial + k) * n_max
        day = 0.0
        for j in range(n_max):
            key = patient_key(k0, k1, base + j)
            u = uniform(key, TRIAL_DECISION, 0, 0, 0)
            if n_arms > 2 and cum_shares is not None:
                a = 0
                while a < n_arms - 1 and u >= cum_shares[a]:
                    a += 1
                arm[k, j] = a
            elif n_arms > 2:
                arm[k, j] = min(int(u * n_arms), n_arms - 1)
            else:
                arm[k, j] = 1 if u < p_b else 0
            if j > 0:
                day = _accrual_step(day, -math.log(uniform(key, TRIAL_DECISION, 0, 0, 1)), rates_per_day,
                                    ends_days)
            entry[k, j] = day
            if dropout_per_day > 0.0:
                dropout[k, j] = -math.log(uniform(key, TRIAL_DECISION, 0, 0, 2)) / dropout_per_day
            else:
                dropout[k, j] = math.inf


@nb.njit(cache=True)
def _inf_if_nan(x: float) -> float:
    return math.inf if math.isnan(x) else x


@nb.njit(parallel=True, cache=True)
def _simulate_block(theta_a: np.ndarray, theta_b: np.ndarray, k0: np.uint64, k1: np.uint64, first_trial: int,
                    n_max: int, arm: np.ndarray, horizon_days: float, endpoint: int, t1: np.ndarray,
                    t2: np.ndarray) -> None:
    """Simulate every patient of trials first_trial .. under its arm's theta (row
    ``first_trial + k`` of a per-trial theta table, or row 0 of a one-row table) and keep
    the endpoint: survival (0 OS, 1 EFS): t1 = event day (inf: none); binary (2 CR,
    3 CRS): t1 = day the patient counts in the numerator, t2 = in the denominator."""
    assess = P.RESPONSE_ASSESSMENT_DAY
    for k in nb.prange(arm.shape[0]):
        g = first_trial + k
        frow = np.empty(N_FLOAT, np.float32)
        irow = np.empty(N_INT, np.int8)
        ra = g if theta_a.shape[0] > 1 else 0
        rb = g if theta_b.shape[0] > 1 else 0
        for j in range(n_max):
            key = patient_key(k0, k1, g * n_max + j)
            if arm[k, j] == 1:
                simulate_patient(theta_b[rb], key, horizon_days, frow, irow)
                day = theta_b[rb, assess]
            else:
                simulate_patient(theta_a[ra], key, horizon_days, frow, irow)
                day = theta_a[ra, assess]
            t_inf = _inf_if_nan(float(frow[F.T_INF_DAYS]))
            if endpoint == 0:
                t1[k, j] = _inf_if_nan(float(frow[F.T_DEATH_DAYS]))
            elif endpoint == 1:
                t1[k, j] = _inf_if_nan(float(frow[F.T_EFS_DAYS]))
            elif endpoint == 2:
                t2[k, j] = 0.0
                t1[k, j] = t_inf + day if irow[I.RESPONSE] >= Response.CR_MRD_POS else math.inf
            else:
                t2[k, j] = t_inf
                t1[k, j] = t_inf if irow[I.CRS_GRADE] >= 3 else math.inf




def _rates_per_day(spec: TrialSpec) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(spec.accrual_per_month, float) / DAYS_PER_MONTH,
            np.asarray(spec.accrual_period_months, float) * DAYS_PER_MONTH)


def _trial_layout(spec: TrialSpec, trials: int, seed: int, n: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(arm, entry, dropout) of K trials of n patients, drawn at the patients' own
    addresses, and a kernel horizon beyond every follow-up (any such horizon gives the
    same observed data)."""
    if trials < 1 or n < 2:
        raise ValueError("trials must be >= 1 and the trial size >= 2")
    k0, k1 = make_key(seed, 0)
    arm = np.empty((trials, n), np.int8)
    entry = np.empty((trials, n))
    dropout = np.empty((trials, n))
    rates, ends = _rates_per_day(spec)
    cum = None
    if spec.design == "multi_arm" and spec.arm_weights:
        w = np.asarray(spec.arm_weights, float)
        cum = np.cumsum(w / w.sum())
    _trial_draws(k0, k1, 0, n, spec.p_experimental, rates, ends, spec.dropout_rate_per_year / 365.25, arm, entry,
                 dropout, len(spec.arms) if spec.design == "multi_arm" else 2, cum)
    follow = max(spec.min_followup_days, spec.max_followup_days, spec.cutoff_days)
    horizon = max(MIN_HORIZON_DAYS, float(entry[:, -1].max()) + follow + 1.0)
    return arm, entry, dropout, horizon


#: bytes held per simulated trial patient: arm (1), entry, dropout and two event times
#: (8 each), doubled for the analysis' work arrays
TRIAL_BYTES_PER_PATIENT = 2 * (1 + 4 * 8)


def check_trial_memory(trials: int, n_max: int, file: str, key: str) -> None:
    """Refuse up front ``trials`` simulated trials of ``n_max`` patients that cannot fit."""
    check_memory(float(trials) * n_max * TRIAL_BYTES_PER_PATIENT, file, key,
                 f"{trials:,} simulated trials of {n_max:,} patients")


def _simulate(spec: TrialSpec, thetas: tuple[np.ndarray, np.ndarray], trials: int, seed: int, n_max: int,
              threads: int | None, progress: Callable[[int, int], None] | None) -> SimulatedTrials:
    arm, entry, dropout, horizon = _trial_layout(spec, trials, seed, n_max)
    t1, t2 = _patients(spec, thetas, arm, seed, horizon, threads, progress)
    return SimulatedTrials(spec, seed, t1, arm, entry, dropout, t2)


def _simulate_arms(spec: TrialSpec, trials: int, seed: int, n_max: int, threads: int | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray] | None]:
    """A multi-arm trial: (arm index, entry, dropout, event days per comparison, the
    binary endpoints' denominator days per comparison): comparison e simulates the
    control and arm e patients under their own parameters at their own addresses."""
    arm, entry, dropout, horizon = _trial_layout(spec, trials, seed, n_max)
    control = spec.arms[0].scenario.params.theta()[None, :]
    t1s, t2s = [], []
    for e in range(1, len(spec.arms)):
        theta_e = spec.arms[e].scenario.params.theta()[None, :]
        t1, t2 = _patients(spec, (control, theta_e), (arm == e).astype(np.int8), seed, horizon, threads, None)
        t1s.append(t1)
        if t2 is not None:
            t2s.append(t2)
    return arm, entry, dropout, t1s, (t2s if t2s else None)


def _patients(spec: TrialSpec, thetas: tuple[np.ndarray, np.ndarray], arm: np.ndarray, seed: int, horizon: float,
              threads: int | None, progress: Callable[[int, int], None] | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Every patient under its arm's theta (arm 1: ``thetas[1]``): the endpoint's event
    days, and for a binary endpoint the denominator days."""
    trials, n_max = arm.shape
    k0, k1 = make_key(seed, 0)
    t1 = np.empty((trials, n_max))
    binary = not spec.survival
    t2 = np.empty((trials, n_max)) if binary else np.empty((1, 1))
    code = _ENDPOINT[spec.endpoint]
    per_chunk = max(1, CHUNK_PATIENTS // n_max)
    previous = nb.get_num_threads()
    if threads is not None:
        # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
        nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        for start in range(0, trials, per_chunk):
            stop = min(trials, start + per_chunk)
            out2 = t2[start:stop] if binary else np.empty((stop - start, n_max))
            _simulate_block(thetas[0], thetas[1], k0, k1, start, n_max, arm[start:stop], horizon, code,
                            t1[start:stop], out2)
            if progress is not None:
                progress(stop, trials)
    finally:
        nb.set_num_threads(previous)
    return t1, (t2 if binary else None)


def simulate_trials(spec: TrialSpec, trials: int | None = None, seed: int | None = None, n_max: int | None = None,
                    threads: int | None = None, progress: Callable[[int, int], None] | None = None
                    ) -> SimulatedTrials:
    """Simulate ``trials`` whole trials of ``n_max`` patients (default: the grid's
    largest size), each patient under its arm's parameters (module docstring)."""
    trials = spec.trials if trials is None else int(trials)
    seed = spec.seed if seed is None else int(seed)
    n_max = max(spec.grid) if n_max is None else int(n_max)
    thetas = (spec.control.scenario.params.theta()[None, :], spec.experimental.scenario.params.theta()[None, :])
    return _simulate(spec, thetas, trials, seed, n_max, threads, progress)
