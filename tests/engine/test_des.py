"""The SimPy engine: parity with the kernel, metamorphic capacity checks, a queueing
oracle (M/D/1), the event log."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from sim import api
from sim.engine.des import EVENT_NAMES, RESOURCES, run_des
from sim.engine.kernel import run_kernel
from sim.engine.pathway import N_SLOTS, Request, Slot, max_requests, walk
from sim.engine.rng import make_key, patient_keys
from sim.model.errors import InputError
from sim.model.outputs import F, I
from sim.model.scenario import Capacity
from sim.model.states import Consolidation, DeathCause

HORIZON = 1826.25
BASE = api.as_scenario(None)
SOURCES = ("recipient", "donor", "universal")
#: a stressed pathway: re-infusion loops, transplants, every cause of death
STRESS = {"policy.consolidation_shares": [0.2, 0.5, 0.2, 0.1], "policy.p_reinfuse_after_relapse": 0.8,
          "policy.p_reinfuse_after_nonresponse": 0.8, "policy.max_infusions": 4, "manufacturing.p_retry": 0.9,
          "manufacturing.p_fail.recipient": 0.2, "crs.p_death.g4": 0.3, "icans.p_death.g4": 0.5,
          "icans.p_any.crs_severe": 0.6, "gvhd.p_any.donor": 0.3, "waiting.death_rate_per_day": 0.004}


def theta(overrides: dict | None = None) -> np.ndarray:
    return api.with_overrides(BASE, overrides or {}).params.theta()


def same_records(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return np.array_equal(a[0], b[0], equal_nan=True) and np.array_equal(a[1], b[1])


# --- one pathway, two engines -------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("overrides", [{}, STRESS], ids=["baseline", "stress"])
def test_unlimited_capacity_reproduces_the_kernel_patient_by_patient(seed, overrides):
    th = theta(overrides)
    des = run_des(th, seed, 3000, HORIZON, Capacity(accrual_per_month=7.0))
    kernel = run_kernel(th, seed, 3000, HORIZON)
    assert same_records((des.fout, des.iout), kernel)


def test_stress_scenario_reaches_every_branch():
    """The parity test above is only as good as the paths it covers."""
    _f, i = run_kernel(theta(STRESS), 1, 3000, HORIZON)
    causes = set(np.unique(i[:, I.DEATH_CAUSE]))
    assert causes >= {int(c) for c in DeathCause}
    assert i[:, I.N_INFUSIONS].max() >= 3
    assert (i[:, I.MFG_ATTEMPTS] > 1).any()
    assert (i[:, I.CONSOLIDATION] == 1).any()


def replay_all(th: np.ndarray, key: np.uint64, grant) -> tuple[np.ndarray, np.ndarray, list[tuple[int, np.ndarray]]]:
    """Drive one patient's walk in replay mode as the engine does: ``grant(code, request)``
    gives each request's wait. Returns the record and the requests in order."""
    f, i = np.empty(len(F), np.float32), np.empty(len(I), np.int8)
    waits = np.zeros(max_requests(th))
    request = np.empty(N_SLOTS)
    made: list[tuple[int, np.ndarray]] = []
    n_known = 0
    while (code := walk(th, key, HORIZON, f, i, waits, n_known, request)) != Request.DONE:
        made.append((code, request.copy()))
        waits[n_known] = grant(code, request)
        n_known += 1
    return f, i, made


def test_replaying_with_zero_waits_is_the_unlimited_walk():
    """Replay mode (stop at each request, replay with its wait known) and unlimited
    mode are one walk: identical records for 5,000 patients of a stressed scenario."""
    th = theta(STRESS)
    n = 5000
    f, i = run_kernel(th, 4, n, HORIZON)
    keys = patient_keys(*make_key(4, 0), 0, n)
    counts = []
    for k in range(n):
        f2, i2, made = replay_all(th, keys[k], lambda code, req: 0.0)
        assert same_records((f[k], i[k]), (f2, i2)), k
        counts.append(len(made))
    assert max(counts) > 3  # retries, ICU stays and transplants over several cycles
    assert max(counts) <= max_requests(th)


def first_request_patients(th: np.ndarray, code: int, n: int = 4000) -> list[tuple[np.uint64, np.ndarray]]:
    keys = patient_keys(*make_key(21, 0), 0, n)
    out = []
    for key in keys:
        _f, _i, made = replay_all(th, key, lambda c, req: 0.0)
        if any(c == code for c, _ in made):
            out.append((key, made))
    return out


def test_a_manufacturing_wait_adds_to_the_manufacturing_time():
    th = theta(SINGLE_REQUEST)
    checked = 0
    for key, _made in first_request_patients(th, Request.MANUFACTURING, 300):
        f0, i0, _ = replay_all(th, key, lambda c, req: 0.0)
        f1, i1, _ = replay_all(th, key, lambda c, req: 9.5 if c == Request.MANUFACTURING else 0.0)
        if np.isnan(f0[F.T_INF_DAYS]):
            continue
        assert f1[F.T_INF_DAYS] == pytest.approx(f0[F.T_INF_DAYS] + 9.5, abs=1e-3)
        assert f1[F.AGE_YEARS] == f0[F.AGE_YEARS] and i1[I.CELL_SOURCE] == i0[I.CELL_SOURCE]
        checked += 1
    assert checked > 100
    # a patient who left the queue (wait inf) is never infused
    for key, _made in first_request_patients(th, Request.MANUFACTURING, 50):
        f2, i2, made = replay_all(th, key, lambda c, req: math.inf if c == Request.MANUFACTURING else 0.0)
        assert np.isnan(f2[F.T_INF_DAYS]) and i2[I.N_INFUSIONS] == 0
        assert [c for c, _ in made] == [Request.MANUFACTURING]


def test_an_icu_wait_changes_nothing_and_a_cancelled_transplant_does_not_happen():
    th = theta(STRESS)
    icu = first_request_patients(th, Request.ICU, 3000)
    assert len(icu) > 20
    for key, _made in icu:
        a = replay_all(th, key, lambda c, req: 0.0)
        b = replay_all(th, key, lambda c, req: 40.0 if c == Request.ICU else 0.0)
        assert same_records(a[:2], b[:2])
    hsct = first_request_patients(th, Request.TRANSPLANT, 3000)
    assert len(hsct) > 20
    postponed = 0
    for key, made in hsct:
        f0, _i0, _ = replay_all(th, key, lambda c, req: 0.0)
        f1, i1, _ = replay_all(th, key, lambda c, req: math.inf if c == Request.TRANSPLANT else 0.0)
        assert np.isnan(f1[F.T_HSCT_DAYS]) and i1[I.CONSOLIDATION] != Consolidation.HSCT
        f2, _i2, _ = replay_all(th, key, lambda c, req: 15.0 if c == Request.TRANSPLANT else 0.0)
        first = next(req for c, req in made if c == Request.TRANSPLANT)
        # the first CR's transplant, done with and without the wait
        if not np.isnan(f2[F.T_HSCT_DAYS]) and f0[F.T_HSCT_DAYS] == np.float32(first[Slot.TIME]):
            assert f2[F.T_HSCT_DAYS] == np.float32(first[Slot.TIME] + 15.0)
            postponed += 1
    assert postponed > 10


def test_limited_capacity_changes_records_only_through_the_waits():
    """Patients who never waited for a slot or a transplant bed (ICU waits do not
    change the pathway) have exactly the kernel's record; the others may differ."""
    th = theta()
    cap = Capacity(manufacturing_slots=4, icu_beds=1, transplant_beds=1, accrual_per_month=4.0)
    n = 3000
    des = run_des(th, 8, n, HORIZON, cap)
    f, i = run_kernel(th, 8, n, HORIZON)
    ev = des.events
    pathway_res = np.isin(ev["resource"], [RESOURCES.index("manufacturing"), RESOURCES.index("transplant")])
    delayed = (ev["event"] == EVENT_NAMES.index("start")) & (ev["wait_days"] > 0) & pathway_res
    delayed |= (ev["event"] == EVENT_NAMES.index("left_queue")) & pathway_res
    waited = np.zeros(n, bool)
    waited[ev["patient_id"][delayed]] = True
    assert 0.1 < waited.mean() < 0.95  # the test needs both kinds of patient
    ok = ~waited
    assert np.array_equal(des.fout[ok], f[ok], equal_nan=True)
    assert np.array_equal(des.iout[ok], i[ok])
    assert not np.array_equal(des.fout[waited], f[waited], equal_nan=True)
    # covariates never depend on the queues
    assert np.array_equal(des.iout[:, :8], i[:, :8])


def test_same_seed_same_simulation():
    cap = Capacity(manufacturing_slots=2, icu_beds=1, transplant_beds=1, accrual_per_month=4.0)
    a = run_des(theta(), 3, 1500, HORIZON, cap)
    b = run_des(theta(), 3, 1500, HORIZON, cap)
    assert same_records((a.fout, a.iout), (b.fout, b.iout))
    for col in a.events:
        assert np.array_equal(a.events[col], b.events[col], equal_nan=True)


# --- metamorphic checks ----------------------------------------------------------------------

#: one manufacturing request per patient, at arrival: a plain G/G/c queue
SINGLE_REQUEST = {"policy.p_reinfuse_after_relapse": 0.0, "policy.p_reinfuse_after_nonresponse": 0.0,
                  **{f"manufacturing.p_fail.{s}": 0.0 for s in SOURCES},
                  "waiting.death_rate_per_day": 0.0, "waiting.progression_rate_per_day": 0.0,
                  "background.smr": 1e-6}  # the smallest ratio allowed: background deaths vanish


def test_more_manufacturing_slots_never_lengthen_the_mean_wait():
    th = theta(SINGLE_REQUEST)
    waits = [run_des(th, 5, 4000, HORIZON, Capacity(manufacturing_slots=c, accrual_per_month=8.0))
             .resources["manufacturing"]["wait_mean_days"] for c in (3, 4, 5, 8)]
    assert waits[0] > 1.0  # the queue binds at 3 slots
    assert all(a >= b for a, b in itertools.pairwise(waits)), waits


def test_more_icu_beds_never_increase_icu_overflow():
    th = theta()
    out = [run_des(th, 6, 6000, HORIZON, Capacity(icu_beds=c, accrual_per_month=20.0)).resources["icu"]
           for c in (1, 2, 3, 6)]
    overflow = [r["waited"] for r in out]
    mean_wait = [r["wait_mean_days"] for r in out]
    assert overflow[0] > 0
    assert all(a >= b for a, b in itertools.pairwise(overflow)), overflow
    assert all(a >= b for a, b in itertools.pairwise(mean_wait)), mean_wait


def test_zero_waiting_hazard_means_no_deaths_while_waiting():
    th = theta(SINGLE_REQUEST)
    des = run_des(th, 7, 3000, HORIZON, Capacity(manufacturing_slots=2, accrual_per_month=6.0))
    assert des.resources["manufacturing"]["wait_mean_days"] > 5.0  # people do wait
    assert des.resources["manufacturing"]["deaths_while_waiting"] == 0
    assert not (des.iout[:, I.DEATH_CAUSE] == DeathCause.BEFORE_INFUSION).any()


def test_waiting_hazard_kills_more_people_when_slots_are_scarce():
    th = theta({**SINGLE_REQUEST, "waiting.death_rate_per_day": 0.003})
    few = run_des(th, 7, 3000, HORIZON, Capacity(manufacturing_slots=2, accrual_per_month=6.0))
    many = run_des(th, 7, 3000, HORIZON, Capacity(manufacturing_slots=6, accrual_per_month=6.0))
    dead = [(d.iout[:, I.DEATH_CAUSE] == DeathCause.BEFORE_INFUSION).sum() for d in (few, many)]
    assert dead[0] > dead[1]


# --- a queueing oracle --------------------------------------------------------------------------

def test_single_slot_queue_matches_m_d_1():
    """Poisson arrivals (rate lam), deterministic manufacturing (D days, zero spread),
    one slot: M/D/1, mean wait in queue Wq = rho D / (2 (1 - rho)) and P(wait > 0) =
    rho. Queue waits are autocorrelated, so the standard error comes from 40 batch
    means of 1,000 customers after a 2,000-customer warm-up; tolerance 4 batch SE."""
    d_days, rho = 10.0, 0.6
    lam_per_day = rho / d_days
    over = {**SINGLE_REQUEST, "policy.source_shares": [1.0, 0.0, 0.0], "manufacturing.sdlog": 0.0,
            "manufacturing.median_days.recipient": d_days}
    n = 42_000
    des = run_des(theta(over), 11, n, HORIZON, Capacity(manufacturing_slots=1,
                                                          accrual_per_month=lam_per_day * 30.4375))
    ev = des.events
    start = (ev["event"] == EVENT_NAMES.index("start")) & (ev["resource"] == RESOURCES.index("manufacturing"))
    order = np.argsort(ev["patient_id"][start])
    waits = ev["wait_days"][start][order].astype(np.float64)[2000:]
    assert len(waits) == 40_000
    batches = waits.reshape(40, 1000).mean(axis=1)
    se = batches.std(ddof=1) / math.sqrt(len(batches))
    wq = rho * d_days / (2 * (1 - rho))
    assert abs(waits.mean() - wq) < 4 * se, (waits.mean(), wq, se)
    busy = (waits > 0).reshape(40, 1000).mean(axis=1)
    se_busy = busy.std(ddof=1) / math.sqrt(len(busy))
    assert abs(busy.mean() - rho) < 4 * se_busy, (busy.mean(), rho, se_busy)


# --- event log and API ----------------------------------------------------------------------------

def test_event_log_is_consistent():
    cap = Capacity(manufacturing_slots=2, icu_beds=1, transplant_beds=1, accrual_per_month=4.0)
    des = run_des(theta(), 9, 1500, HORIZON, cap)
    ev = des.events
    assert np.all(np.diff(ev["t_days"]) >= 0)
    n_arrivals = np.sum(ev["event"] == EVENT_NAMES.index("arrival"))
    assert n_arrivals == 1500
    for r, name in enumerate(RESOURCES):
        mine = ev["resource"] == r
        starts = np.sum(mine & (ev["event"] == EVENT_NAMES.index("start")))
        ends = np.sum(mine & (ev["event"] == EVENT_NAMES.index("end")))
        left = np.sum(mine & (ev["event"] == EVENT_NAMES.index("left_queue")))
        requests = np.sum(mine & (ev["event"] == EVENT_NAMES.index("request")))
        assert starts == ends
        assert requests == starts + left
        assert des.resources[name]["requests"] == requests
        assert des.resources[name]["deaths_while_waiting"] == left
    infusions = np.sum(ev["event"] == EVENT_NAMES.index("infusion"))
    assert infusions == np.sum(~np.isnan(des.fout[:, 1]))


def test_api_des_run_writes_events_and_resources(tmp_path):
    sc = api.as_scenario("capacity_constrained").with_run(patients=800, seed=2)
    result = api.run(sc, engine="des")
    assert set(result.summary["resources"]) == set(RESOURCES)
    assert {"utilisation", "wait_mean_days", "wait_p95_days", "max_queue", "deaths_while_waiting"} <= set(
        result.summary["resources"]["manufacturing"])
    paths = api.write_outputs(result, tmp_path)
    assert paths["events"].exists()
    assert set(result.events.columns) == {"patient_id", "event", "t_days", "resource", "wait_days", "queue_length"}


def test_too_few_arrival_days_is_an_input_error():
    sc = replace(BASE.with_run(patients=10), capacity=Capacity(arrival_days=(0.0, 1.0)))
    with pytest.raises(InputError, match="arrival_days"):
        api.run(sc, engine="des")
