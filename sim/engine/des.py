"""The SimPy engine: patients arrive over calendar time and compete for finite
manufacturing slots, ICU beds and transplant beds.

Each patient runs the kernel's walk (:func:`sim.engine.pathway.walk`) in replay mode:
the walk stops at the patient's first resource request whose wait is not yet known;
the patient queues for the resource (first come, first served), and the walk is
replayed from the start with that wait known. SimPy schedules only what other
patients can see: a finite request at its time, a release, a queued request's
deadline; a request that finds a free unit is granted without an event, and the
stretch of walk up to the next finite request runs at once (measured, binding
capacity: 4 SimPy events per patient instead of 15, 2.7-2.8x the patients per second).

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

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import Any

import numba as nb
import numpy as np
import simpy
from simpy.events import NORMAL

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

    def add(self, patient_id: int, event: int, t_days: float, resource: int = -1, wait_days: float = math.nan,
            queue_length: int = -1) -> None:
        """A row; ``event`` is the position of its name in ``EVENT_NAMES``."""
        self.rows.append((patient_id, event, t_days, resource, wait_days, queue_length))

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
_REQUEST, _START, _END, _LEFT_QUEUE = (EVENT_NAMES.index(e) for e in ("request", "start", "end", "left_queue"))
_DONE, _MANUFACTURING, _ICU = int(Request.DONE), int(Request.MANUFACTURING), int(Request.ICU)
_TIME, _DURATION, _DEADLINE = int(Slot.TIME), int(Slot.DURATION), int(Slot.DEADLINE)
_NAMES = {int(Request.MANUFACTURING): "manufacturing", int(Request.ICU): "icu", int(Request.TRANSPLANT): "transplant"}


@nb.njit(cache=True)
def _arrival_gaps(keys: np.ndarray, rate_per_day: float) -> np.ndarray:
    gaps = np.empty(len(keys))
    for i in range(len(keys)):
        gaps[i] = exponential_rate(rate_per_day, uniform(keys[i], _ARRIVAL, 0, 0, 0))
    return gaps


@nb.njit(cache=True)
def _replay_walk(theta: np.ndarray, keys: np.ndarray, i: int, horizon_days: float, fout: np.ndarray, iout: np.ndarray,
                 waits: np.ndarray, n_known: int, request: np.ndarray, econ: np.ndarray | None,
                 eout: np.ndarray | None) -> tuple[int, float, float, float]:
    """Patient i's walk in replay mode, its record in row i (and its economic row when
    ``eout`` is given): (request code, time, duration, deadline), days from the patient's
    decision to treat. One compiled call instead of row views and a read-back: the engine
    makes one per request."""
    if eout is None:  # pruned at compile time: no economics
        code = walk(theta, keys[i], horizon_days, fout[i], iout[i], waits, n_known, request)
    else:
        code = walk(theta, keys[i], horizon_days, fout[i], iout[i], waits, n_known, request, econ, eout[i])  # type: ignore[arg-type]  # econ is set whenever eout is
    return code, request[_TIME], request[_DURATION], request[_DEADLINE]


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


_RELEASE = NORMAL + 1  # releases come after the other events of the same time


class _Clock(simpy.Environment):
    """SimPy's environment, plus calls at an absolute time.

    The engine computes each patient's clock exactly as a chain of SimPy timeouts
    would (``now + (t - now)``, rounding included) without an event per link, and
    schedules only the end of the chain; ``call_at`` puts that event at the computed
    time itself, where ``timeout(t - now)`` could land one ulp away.
    """

    def call_at(self, t_days: float, fn: Callable[[Any], None], priority: int = NORMAL) -> None:
        # SimPy types its queue as holding Events; step() reads only what _Call has
        heapq.heappush(self._queue, (t_days, priority, next(self._eid), _Call(fn)))  # type: ignore[misc]


class _Call:
    """An already-triggered event with one callback: all that ``Environment.step``
    reads of an event (a ``simpy.Event`` costs twice as much to make; nothing waits on
    these, so they need no more)."""

    __slots__ = ("callbacks",)
    _ok = True

    def __init__(self, fn: Callable[[Any], None]) -> None:
        self.callbacks: list[Callable[[Any], None]] | None = [fn]


class _Waiter:
    """A queued request: the patient, what it asked for, and what to do with the wait."""

    __slots__ = ("active", "duration", "patient_id", "release_by", "t_request", "then")

    def __init__(self, patient_id: int, t_request: float, duration: float, release_by: float,
                 then: Callable[[float], None] | None) -> None:
        self.patient_id, self.t_request, self.duration = patient_id, t_request, duration
        self.release_by, self.then, self.active = release_by, then, True


class _Pool:
    """A finite resource, first come first served, with the semantics of a
    ``simpy.Resource`` (a unit freed goes to the head of the queue at once; a queued
    request leaves at its deadline) but without SimPy events for a request that finds a
    free unit: only releases and deadlines of queued requests are events."""

    def __init__(self, env: _Clock, name: str, capacity: int, log: ResourceLog, events: _EventLog) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity of {name} must be > 0, got {capacity}")
        self.env, self.capacity, self.log, self.events = env, capacity, log, events
        self.res_id = RESOURCES.index(name)
        self.icu = name == "icu"  # an ICU episode does not last longer because the bed came late
        self.busy = 0
        self.queue: deque[_Waiter] = deque()

    def request(self, patient_id: int, t_request: float, duration: float, deadline: float,
                release_by: float, then: Callable[[float], None] | None) -> float | None:
        """Ask for a unit now: the wait (days; 0 if free) if granted at once, else None,
        and ``then(wait)`` is called when granted, or with inf at the deadline."""
        now = self.env.now
        if self.busy < self.capacity:
            self.events.add(patient_id, _REQUEST, now, self.res_id, math.nan, 0)
            self.busy += 1
            return self._start(patient_id, t_request, duration, release_by)
        queue = len(self.queue) + 1  # length once this one joins
        self.log.max_queue = max(self.log.max_queue, queue)
        self.events.add(patient_id, _REQUEST, now, self.res_id, math.nan, queue)
        waiter = _Waiter(patient_id, t_request, duration, release_by, then)
        self.queue.append(waiter)
        patience = deadline - now
        if not math.isinf(patience):
            self.env.call_at(now + patience, lambda _event: self._leave(waiter))
        return None

    def _start(self, patient_id: int, t_request: float, duration: float, release_by: float) -> float:
        now = self.env.now
        wait = now - t_request
        if wait < WAIT_EPSILON_DAYS:
            wait = 0.0  # float rounding of the patient's own clock, not a queue
        self.log.waits.append(wait)
        self.events.add(patient_id, _START, now, self.res_id, wait, len(self.queue))
        # manufacturing and transplant start when the unit is granted; nothing is held after death
        end = t_request + duration if self.icu else now + duration
        hold = (release_by if release_by < end else end) - now
        if not hold > 0.0:
            hold = 0.0
        # after the holder's own next step at the same time (a failed manufacturing
        # attempt's retry queues behind its own slot), as when the holder's timeout was
        # scheduled before the release's
        self.env.call_at(now + hold, lambda _event: self._release(patient_id, hold), _RELEASE)
        return wait

    def _release(self, patient_id: int, hold: float) -> None:
        log, now = self.log, self.env.now
        log.busy_days += hold
        log.last_release = max(log.last_release, now)
        self.events.add(patient_id, _END, now, self.res_id)
        if not self.queue:
            self.busy -= 1
            return
        waiter = self.queue.popleft()  # the unit passes to the head of the queue
        waiter.active = False
        wait = self._start(waiter.patient_id, waiter.t_request, waiter.duration, waiter.release_by)
        if waiter.then is not None:
            waiter.then(wait)

    def _leave(self, waiter: _Waiter) -> None:
        if not waiter.active:
            return  # granted before its deadline
        waiter.active = False
        self.queue.remove(waiter)
        now = self.env.now
        self.log.left_queue += 1
        self.events.add(waiter.patient_id, _LEFT_QUEUE, now, self.res_id, now - waiter.t_request, len(self.queue))
        if waiter.then is not None:
            waiter.then(math.inf)


def run_des(theta: np.ndarray, seed: int, n_patients: int, horizon_days: float, capacity: Capacity,
            first_patient_id: int = 0, replicate: int = 0,
            progress: Callable[[int, int], None] | None = None, econ: np.ndarray | None = None) -> DesResult:
    """Simulate patients first_patient_id ... with the scenario's finite resources
    (and their costs and QALYs when given ``econ``, economic inputs as a vector).

    Between two requests to finite resources a patient's walk needs no simulated time,
    so it runs at once: the patient's clock is advanced as a chain of timeouts would
    advance it, and SimPy sees one event per request (at its time), one per release
    and one per queued request's deadline.
    """
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if theta.shape != (N_THETA,) or np.isnan(theta).any():
        raise ValueError(f"theta must be a complete vector of {N_THETA} parameters")
    keys = patient_keys(*make_key(seed, replicate), first_patient_id, n_patients)
    arrivals = arrival_days(keys, capacity)
    env = _Clock()
    caps = {"manufacturing": capacity.manufacturing_slots, "icu": capacity.icu_beds,
            "transplant": capacity.transplant_beds}
    logs = {name: ResourceLog(caps[name]) for name in RESOURCES}
    events = _EventLog()
    pools: dict[str, _Pool | None] = {
        name: (_Pool(env, name, cap, logs[name], events) if cap is not None else None) for name, cap in caps.items()}
    # unlimited pools: (clock of the request, days held), summed at the end in clock
    # order, the order in which one SimPy process per patient would have added them
    unlimited_days: dict[str, list[tuple[float, float]]] = {name: [] for name in RESOURCES}
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

    def unlimited(name: str, patient_id: int, t_request: float, duration: float, clock: float) -> None:
        log = logs[name]
        log.waits.append(0.0)
        unlimited_days[name].append((clock, duration))
        log.last_release = max(log.last_release, t_request + duration)
        res_id = RESOURCES.index(name)
        events.add(patient_id, _START, t_request, res_id, 0.0, 0)
        events.add(patient_id, _END, t_request + duration, res_id)

    def icu_stay(patient_id: int, t_request: float, duration: float, death: float, _event: Any = None) -> None:
        pool = pools["icu"]
        assert pool is not None
        pool.request(patient_id, t_request, duration, death, death, None)

    def replay(i: int, clock: float) -> tuple[int, float, float, float]:
        """Replay patient i's walk (the patient's clock at ``clock``) until it needs a
        finite manufacturing slot or transplant bed (or is done): (request, calendar
        time, duration, calendar deadline). Unlimited resources and ICU stays are
        handled on the way."""
        patient_id = first_patient_id + i
        base = arrivals[i]
        while True:
            req, t_rel, duration, deadline_rel = _replay_walk(theta, keys, i, horizon_days, fout, iout,
                                                              waits.get(i, no_waits), n_known[i], request, econ,
                                                              eout)
            if req == _DONE:
                waits.pop(i, None)
                done[0] += 1
                if progress is not None and (done[0] % step == 0 or done[0] == n_patients):
                    progress(done[0], n_patients)
                return req, math.nan, math.nan, math.nan
            name = _NAMES[req]
            t_req = base + t_rel
            deadline = base + deadline_rel
            if pools[name] is None:  # unlimited: no queue, no interaction, no simulated time
                if t_req < deadline:  # nothing is requested after death, progression or relapse
                    unlimited(name, patient_id, t_req, duration, clock)
            elif req == _ICU:  # the bed is a side matter: waiting for it does not stop the pathway
                if t_req < deadline:  # an episode starting after death needs no bed
                    t_icu = clock + (t_req - clock) if t_req > clock else clock
                    if t_icu > env.now:
                        env.call_at(t_icu, partial(icu_stay, patient_id, t_req, duration, deadline))
                    else:
                        icu_stay(patient_id, t_req, duration, deadline)
            else:
                return req, t_req, duration, deadline
            n_known[i] += 1  # granted at once: wait 0

    def grant(i: int, wait: float, clock: float) -> tuple[int, float, float, float]:
        """The pending request of patient i waited ``wait`` days: replay on."""
        if wait != 0.0 and i not in waits:
            waits[i] = np.zeros(n_max)
        if i in waits:
            waits[i][n_known[i]] = wait
        n_known[i] += 1
        return replay(i, clock)

    def advance(i: int, pending: tuple[int, float, float, float], clock: float, due: bool = False,
                _event: Any = None) -> None:
        """Patient i, its clock at ``clock`` (= ``env.now`` or later), from its pending
        finite request on (``due``: the clock has reached the request's time): runs
        until it must wait for simulated time or a queue."""
        patient_id = first_patient_id + i
        req, t_req, duration, deadline = pending
        while req != _DONE:
            if not due:
                if deadline <= t_req:
                    # death, progression or relapse comes before the request: nothing is
                    # requested, and the walk resumes at that event (its next request is later)
                    if deadline > clock:
                        clock = clock + (deadline - clock)
                    req, t_req, duration, deadline = grant(i, math.inf, clock)
                    continue
                if t_req > clock:
                    clock = clock + (t_req - clock)
                if clock > env.now:  # the request is made at its time, among the other patients' events
                    pending = (req, t_req, duration, deadline)
                    env.call_at(clock, partial(advance, i, pending, clock, True))
                    return
            due = False
            pool = pools[_NAMES[req]]
            assert pool is not None
            pending = (req, t_req, duration, deadline)
            wait = pool.request(patient_id, t_req, duration, deadline, math.inf, partial(answered, i, pending))
            if wait is None:
                return  # queued: ``answered`` goes on
            clock, (req, t_req, duration, deadline) = _answer(i, pending, wait, clock)

    def _answer(i: int, pending: tuple[int, float, float, float], wait: float, clock: float
                ) -> tuple[float, tuple[int, float, float, float]]:
        req, t_req, duration, _ = pending
        if req == _MANUFACTURING and wait < math.inf:
            # the patient needs the product: the pathway resumes at its release
            release = t_req + wait + duration - clock
            clock = clock + (release if release > 0.0 else 0.0)
        return clock, grant(i, wait, clock)

    def answered(i: int, pending: tuple[int, float, float, float], wait: float) -> None:
        clock, nxt = _answer(i, pending, wait, env.now)
        advance(i, nxt, clock)

    def arrive(i: int, clock: float) -> None:
        pending = replay(i, clock)
        if pending[0] != _DONE:
            advance(i, pending, clock)

    # the arrivals' clock, as one SimPy process waiting for each arrival in turn would keep it
    clocks = []
    clock = 0.0
    for a in arrivals.tolist():
        if a > clock:
            clock = clock + (a - clock)
        clocks.append(clock)
    if all(pool is None for pool in pools.values()):
        for i in range(n_patients):  # nothing to queue for: no simulated time needed
            arrive(i, clocks[i])
    else:
        def next_arrival(i: int) -> None:
            arrive(i, clocks[i])
            if i + 1 < n_patients:
                if clocks[i + 1] > clocks[i]:
                    env.call_at(clocks[i + 1], lambda _e: next_arrival(i + 1))
                else:
                    next_arrival(i + 1)

        if n_patients:
            env.call_at(clocks[0], lambda _e: next_arrival(0))
    env.run()
    if done[0] != n_patients:
        raise RuntimeError(f"{n_patients - done[0]} patient processes did not finish")
    for name, held in unlimited_days.items():
        for _, days in sorted(held, key=itemgetter(0)):  # stable: same-clock requests keep their order
            logs[name].busy_days += days
    return DesResult(fout, iout, arrivals, events.columns(first_patient_id, arrivals, fout),
                     {k: v.summary() for k, v in logs.items()}, eout)
