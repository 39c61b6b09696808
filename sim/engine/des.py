"""The SimPy engine: patients arrive over calendar time and compete for finite
manufacturing slots, ICU beds and transplant beds.

Each patient runs the kernel's walk (:func:`sim.engine.pathway.walk`) in replay mode:
the walk stops at the patient's first resource request whose wait is not yet known;
the patient queues for the resource (first come, first served), and the walk is
replayed from the start with that wait known. A patient makes only a handful of
requests, so the replays cost little next to SimPy's own bookkeeping.

* manufacturing: the slot is held for the attempt's manufacturing time; a patient
  who dies or progresses (latent times of the walk) while queued leaves the queue;
* ICU: a grade >= 3 CRS/ICANS episode holds a bed; a patient finding none waits
  (recorded as overflow) without a change to its pathway;
* transplant: the bed is held for ``hsct.inpatient_days``; a wait postpones the
  transplant, and relapse or death during the wait cancels it.

With unlimited capacity every wait is 0 and the records equal the kernel's. The
engine does no I/O: it returns the records, the event log and resource summaries.
Calendar days count from the first possible arrival (day 0); patient-relative times
in the records count from each patient's own decision to treat, as in the kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
import simpy

from sim.engine.distributions import exponential_rate
from sim.engine.kernel import N_FLOAT, N_INT
from sim.engine.pathway import N_SLOTS, Request, Slot, max_requests, walk
from sim.engine.rng import make_key, patient_keys, uniform
from sim.model.outputs import N_ECON_COLUMNS, F
from sim.model.parameters import N_THETA
from sim.model.scenario import Capacity
from sim.model.states import Decision

DAYS_PER_MONTH = 30.4375
#: accrual when a scenario names neither a rate nor arrival days (assumption; with
#: unlimited capacity arrivals do not change any record)
DEFAULT_ACCRUAL_PER_MONTH = 10.0
WAIT_EPSILON_DAYS = 1e-9  # waits shorter than this are rounding of the patient's clock
RESOURCES = ("manufacturing", "icu", "transplant")
EVENT_NAMES = ("arrival", "request", "start", "end", "left_queue", "infusion", "relapse", "death")


@dataclass
class ResourceLog:
    """Waits and occupancy of one resource (capacity None = unlimited)."""

    capacity: int | None
    waits: list[float] = field(default_factory=list)
    busy_days: float = 0.0
    max_queue: int = 0
    left_queue: int = 0  # patients who died, progressed or relapsed while queued
    last_release: float = 0.0

    def summary(self) -> dict[str, Any]:
        w = np.asarray(self.waits)
        horizon = self.last_release
        util = (self.busy_days / (self.capacity * horizon)
                if self.capacity is not None and horizon > 0 else None)
        return {
            "capacity": self.capacity,
            "requests": len(w) + self.left_queue,
            "utilisation": util,
            "wait_mean_days": float(w.mean()) if len(w) else 0.0,
            "wait_p95_days": float(np.quantile(w, 0.95)) if len(w) else 0.0,
            "waited": int(np.sum(w > 0)),  # requests that found no free unit (ICU: overflow)
            "max_queue": self.max_queue,
            "deaths_while_waiting": self.left_queue,
        }


@dataclass
class DesResult:
    fout: np.ndarray  # float32 records, as the kernel's
    iout: np.ndarray  # int8 records
    arrival_days: np.ndarray  # calendar day of each patient's decision to treat
    events: dict[str, np.ndarray]  # the event log, column by column
    resources: dict[str, dict[str, Any]]
    eout: np.ndarray | None = None  # float64 economic block (outputs.E) when run with economic inputs


class _EventLog:
    """Resource events as rows (patient_id, event, t_days, resource, wait_days,
    queue_length); pathway events are added from the records at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, float, int, float, int]] = []

    def add(self, patient_id: int, event: str, t_days: float, resource: int = -1, wait_days: float = math.nan,
            queue_length: int = -1) -> None:
        self.rows.append((patient_id, EVENT_NAMES.index(event), t_days, resource, wait_days, queue_length))

    def columns(self, first_patient_id: int, arrivals: np.ndarray, fout: np.ndarray) -> dict[str, np.ndarray]:
        ids = first_patient_id + np.arange(len(arrivals))
        parts = [np.asarray(self.rows, dtype=np.float64).reshape(-1, 6)]
        parts.append(np.column_stack([ids, np.full(len(ids), EVENT_NAMES.index("arrival")), arrivals,
                                      np.full(len(ids), -1), np.full(len(ids), np.nan), np.full(len(ids), -1)]))
        for col, name in ((F.T_INF_DAYS, "infusion"), (F.T_RELAPSE_DAYS, "relapse"), (F.T_DEATH_DAYS, "death")):
            t = fout[:, col].astype(np.float64)
            has = ~np.isnan(t)
            k = int(has.sum())
            parts.append(np.column_stack([ids[has], np.full(k, EVENT_NAMES.index(name)), arrivals[has] + t[has],
                                          np.full(k, -1), np.full(k, np.nan), np.full(k, -1)]))
        table = np.vstack(parts)
        table = table[np.lexsort((table[:, 1], table[:, 2]))]  # by calendar time, then event code
        return {
            "patient_id": table[:, 0].astype(np.int64),
            "event": table[:, 1].astype(np.int8),
            "t_days": table[:, 2],
            "resource": table[:, 3].astype(np.int8),
            "wait_days": table[:, 4].astype(np.float32),
            "queue_length": table[:, 5].astype(np.int32),
        }


_ARRIVAL = int(Decision.ARRIVAL)
_DONE, _MANUFACTURING, _ICU = int(Request.DONE), int(Request.MANUFACTURING), int(Request.ICU)
# ``request.tolist()`` below unpacks the slots in this order
assert [int(s) for s in (Slot.TIME, Slot.DURATION, Slot.DEADLINE)] == list(range(N_SLOTS))
_NAMES = {int(Request.MANUFACTURING): "manufacturing", int(Request.ICU): "icu", int(Request.TRANSPLANT): "transplant"}


@nb.njit(cache=True)
def _arrival_gaps(keys: np.ndarray, rate_per_day: float) -> np.ndarray:
    gaps = np.empty(len(keys))
    for i in range(len(keys)):
        gaps[i] = exponential_rate(rate_per_day, uniform(keys[i], _ARRIVAL, 0, 0, 0))
    return gaps


def arrival_days(keys: np.ndarray, capacity: Capacity) -> np.ndarray:
    """Calendar arrival days of the patients with stream ``keys``: the scenario's list,
    or Poisson accrual whose gaps are drawn at each patient's own address (decision
    ARRIVAL), so that adding a patient moves no earlier arrival."""
    n_patients = len(keys)
    if capacity.arrival_days is not None:
        days = np.asarray(capacity.arrival_days, np.float64)
        if len(days) < n_patients:
            raise ValueError(f"the scenario lists {len(days)} arrival days for {n_patients} patients")
        return days[:n_patients].copy()
    rate_per_day = (capacity.accrual_per_month or DEFAULT_ACCRUAL_PER_MONTH) / DAYS_PER_MONTH
    return np.cumsum(_arrival_gaps(keys, rate_per_day))


def run_des(theta: np.ndarray, seed: int, n_patients: int, horizon_days: float, capacity: Capacity,
            first_patient_id: int = 0, replicate: int = 0,
            progress: Callable[[int, int], None] | None = None, econ: np.ndarray | None = None) -> DesResult:
    """Simulate patients first_patient_id ... with the scenario's finite resources
    (and their costs and QALYs when given ``econ``, economic inputs as a vector)."""
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if theta.shape != (N_THETA,) or np.isnan(theta).any():
        raise ValueError(f"theta must be a complete vector of {N_THETA} parameters")
    keys = patient_keys(*make_key(seed, replicate), first_patient_id, n_patients)
    arrivals = arrival_days(keys, capacity)
    env = simpy.Environment()
    caps = {"manufacturing": capacity.manufacturing_slots, "icu": capacity.icu_beds,
            "transplant": capacity.transplant_beds}
    pools = {name: (simpy.Resource(env, cap) if cap is not None else None) for name, cap in caps.items()}
    logs = {name: ResourceLog(caps[name]) for name in RESOURCES}
    events = _EventLog()
    fout = np.empty((n_patients, N_FLOAT), np.float32)
    iout = np.empty((n_patients, N_INT), np.int8)
    eout = None if econ is None else np.empty((n_patients, N_ECON_COLUMNS))
    # waits granted so far, per patient with a finite request pending; a patient whose
    # every wait so far was 0 (unlimited pools, ICU) replays with the shared zeros
    n_max = max_requests(theta)
    no_waits = np.zeros(n_max)
    waits: dict[int, np.ndarray] = {}
    n_known = [0] * n_patients  # Python ints: cheaper to pass to the compiled walk than numpy scalars
    request = np.empty(N_SLOTS)
    done = [0]
    step = max(1, n_patients // 100)

    def occupy(name: str, patient_id: int, t_request: float, duration: float, deadline: float,
               release_by: float = math.inf):
        """Queue for a unit of ``name`` from t_request; hold it until t_request +
        ``duration`` (or ``release_by``). Returns the wait (inf if the deadline came
        first). A generator for SimPy."""
        pool, log = pools[name], logs[name]
        res_id = RESOURCES.index(name)
        if pool is None:
            log.waits.append(0.0)
            log.busy_days += duration
            log.last_release = max(log.last_release, t_request + duration)
            events.add(patient_id, "start", t_request, res_id, 0.0, 0)
            events.add(patient_id, "end", t_request + duration, res_id)
            return 0.0
        queue = len(pool.queue) + 1 if pool.count >= pool.capacity else 0  # length once this one joins
        log.max_queue = max(log.max_queue, queue)
        events.add(patient_id, "request", env.now, res_id, math.nan, queue)
        req = pool.request()
        patience = deadline - env.now
        got = yield (req if math.isinf(patience) else req | env.timeout(patience))
        if req not in (got if isinstance(got, simpy.events.ConditionValue) else {req: got}):
            req.cancel()
            log.left_queue += 1
            events.add(patient_id, "left_queue", env.now, res_id, env.now - t_request, len(pool.queue))
            return math.inf
        wait = env.now - t_request
        if wait < WAIT_EPSILON_DAYS:
            wait = 0.0  # float rounding of the patient's own clock, not a queue
        log.waits.append(wait)
        events.add(patient_id, "start", env.now, res_id, wait, len(pool.queue))
        # manufacturing and transplant start when the unit is granted; an ICU episode
        # does not last longer because the bed came late; nothing is held after death
        end = t_request + duration if name == "icu" else env.now + duration
        hold = max(0.0, min(end, release_by) - env.now)
        env.process(_hold(pool, req, hold, log, patient_id, res_id))
        return wait

    def _hold(pool: simpy.Resource, req: Any, duration: float, log: ResourceLog, patient_id: int, res_id: int):
        yield env.timeout(duration)
        pool.release(req)
        log.busy_days += duration
        log.last_release = max(log.last_release, env.now)
        events.add(patient_id, "end", env.now, res_id)

    def icu_stay(patient_id: int, t_request: float, duration: float, death: float):
        if t_request >= death:
            return  # the episode would start after death: no bed is needed
        if t_request > env.now:
            yield env.timeout(t_request - env.now)
        yield from occupy("icu", patient_id, t_request, duration, death, release_by=death)

    def replay(i: int) -> tuple[int, float, float, float]:
        """Replay patient i's walk until it needs a finite manufacturing slot or
        transplant bed (or is done): (request, calendar time, duration, calendar
        deadline). Unlimited resources and ICU stays are handled on the way."""
        patient_id = first_patient_id + i
        base = arrivals[i]
        while True:
            req = walk(theta, keys[i], horizon_days, fout[i], iout[i], waits.get(i, no_waits), n_known[i], request,
                       econ, None if eout is None else eout[i])  # type: ignore[arg-type]  # None: no economics
            if req == _DONE:
                waits.pop(i, None)
                done[0] += 1
                if progress is not None and (done[0] % step == 0 or done[0] == n_patients):
                    progress(done[0], n_patients)
                return req, math.nan, math.nan, math.nan
            name = _NAMES[req]
            t_rel, duration, deadline_rel = request.tolist()
            t_req = base + t_rel
            deadline = base + deadline_rel
            if pools[name] is None:  # unlimited: no queue, no interaction, no simulated time
                if t_req < deadline:  # nothing is requested after death, progression or relapse
                    _ = list(occupy(name, patient_id, t_req, duration, math.inf))
            elif req == _ICU:  # the bed is a side process: waiting for it does not stop the pathway
                env.process(icu_stay(patient_id, t_req, duration, deadline))
            else:
                return req, t_req, duration, deadline
            n_known[i] += 1  # granted at once: wait 0

    def grant(i: int, wait: float) -> tuple[int, float, float, float]:
        """The pending request of patient i waited ``wait`` days: replay on."""
        if wait != 0.0 and i not in waits:
            waits[i] = np.zeros(n_max)
        if i in waits:
            waits[i][n_known[i]] = wait
        n_known[i] += 1
        return replay(i)

    def patient(i: int, pending: tuple[int, float, float, float]):
        """A patient's process from its first finite request on."""
        patient_id = first_patient_id + i
        req, t_req, duration, deadline = pending
        while req != _DONE:
            name = _NAMES[req]
            if deadline <= t_req:
                # death, progression or relapse comes before the request: nothing is
                # requested, and the walk resumes at that event (its next request is later)
                if deadline > env.now:
                    yield env.timeout(deadline - env.now)
                req, t_req, duration, deadline = grant(i, math.inf)
                continue
            if t_req > env.now:
                yield env.timeout(t_req - env.now)
            wait = yield from occupy(name, patient_id, t_req, duration, deadline)
            if req == _MANUFACTURING and wait < math.inf:
                # the patient needs the product: the pathway resumes at its release
                yield env.timeout(max(0.0, t_req + wait + duration - env.now))
            req, t_req, duration, deadline = grant(i, wait)

    def source():
        """Arrivals in calendar order; a patient gets a process only once it must queue."""
        for i in range(n_patients):
            if arrivals[i] > env.now:
                yield env.timeout(arrivals[i] - env.now)
            pending = replay(i)
            if pending[0] != _DONE:
                env.process(patient(i, pending))

    env.process(source())
    env.run()
    if done[0] != n_patients:
        raise RuntimeError(f"{n_patients - done[0]} patient processes did not finish")
    return DesResult(fout, iout, arrivals, events.columns(first_patient_id, arrivals, fout),
                     {k: v.summary() for k, v in logs.items()}, eout)
