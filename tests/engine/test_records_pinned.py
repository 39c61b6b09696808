"""Records pinned bit for bit: the kernel and the SimPy engine must give exactly the
records (and the engine exactly the event log and resource summaries) pinned here.

A refactoring of the walk or of the engines that changes a single bit fails this test.
A change that is meant to change results updates the digests in the same commit and
says why in its message. The digests were computed on Linux x86-64 with numba's
default (no fast-math) floating point, as every run of this project uses.

The digests cover the record columns that existed when they were pinned (``F`` before
``TOCILIZUMAB_DAY``, ``I`` before ``TOCILIZUMAB``), hashed exactly as the whole arrays
were then; the CRS-management columns added after them must be empty in every pinned
case (the default policy gives no drug), which is checked beside each digest.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from sim import api
from sim.engine.des import run_des
from sim.engine.kernel import run_kernel
from sim.model.outputs import F, I
from sim.model.scenario import Capacity
from sim.model.states import DeathCause

HORIZON = 1826.25
BASE = api.as_scenario(None)
#: every cause of death, manufacturing retries, transplants, re-infusions up to 4
STRESS = {"policy.consolidation_shares": [0.2, 0.5, 0.2, 0.1], "policy.p_reinfuse_after_relapse": 0.8,
          "policy.p_reinfuse_after_nonresponse": 0.8, "policy.max_infusions": 4, "manufacturing.p_retry": 0.9,
          "manufacturing.p_fail.recipient": 0.2, "crs.p_death.g4": 0.3, "icans.p_death.g4": 0.5,
          "icans.p_any.crs_severe": 0.6, "gvhd.p_any.donor": 0.3, "waiting.death_rate_per_day": 0.004}
#: queues that bind for every resource
BINDING = Capacity(manufacturing_slots=3, icu_beds=1, transplant_beds=1, accrual_per_month=4.0)


def theta(overrides: dict | None = None) -> np.ndarray:
    return api.with_overrides(BASE, overrides or {}).params.theta()


#: columns of the pinned records: those before the CRS-management stage's columns
PINNED_F = int(F.TOCILIZUMAB_DAY)
PINNED_I = int(I.TOCILIZUMAB)


def records_digest(fout: np.ndarray, iout: np.ndarray) -> str:
    """Digest of the pinned columns; the newer columns must hold nothing (no drug)."""
    assert np.isnan(fout[:, PINNED_F:]).all() and (iout[:, PINNED_I:] == 0).all()
    h = hashlib.sha256()
    for a in (fout[:, :PINNED_F], iout[:, :PINNED_I]):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:24]


def events_digest(events: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(events):
        a = np.ascontiguousarray(events[name])
        h.update(f"{name}{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


def summary_digest(resources: dict) -> str:
    return hashlib.sha256(json.dumps(resources, sort_keys=True).encode()).hexdigest()[:24]


KERNEL_PINS = {
    # re-pinned 2026-11-25 (structure): survival after failure by failure type, re-infusion
    # response by the reason the previous infusion failed, a smooth (decaying) NRM hazard
    # without a window, background mortality from the SSA 2017 life table by sex (a new
    # covariate drawn from an unused lane); then re-pinned for the re-calibration under the
    # external priors and the new structure (params/calibrated.toml of 2026-11-25)
    "baseline": "ce683b99ef2cd756f91d253c",
    "stress": "a3b1c271f51527608829c89a",
    # the comparator without CAR-T (scenarios/standard_care.toml)
    "standard_care": "57fd08232ea8bbf51fee39b8",
}
DES_PINS = {
    # case: (records, event log, resource summaries); re-pinned 2026-11-25 (structure and
    # re-calibration, see KERNEL_PINS)
    "baseline-unlimited": ("a63e37d2685cd5ae96b9bebc",
                          "3204f5f7fbd44db52ed9a60f",
                          "e448d056237ad44d3c529651"),
    "stress-unlimited": ("3c95afd0fc3f817cd8476020",
                        "91bfd5e0b880f14056f8af7f",
                        "5c70a888dcf392b715c4fa6d"),
    "capacity_constrained": ("08f205f71bd73f26fdf109ed",
                            "cca9a4fd0130946da7b5c493",
                            "f189a5db0720643db706ae78"),
    "stress-binding": ("4a512ae38719fb735c19d32c",
                      "00780897297f9f7c406064ac",
                      "2568e62571f536d5de809c47"),
    # finite manufacturing, unlimited ICU and transplant beds (first pinned from the engine
    # that ran one SimPy process per patient, before requests found free were made without events)
    "stress-manufacturing-only": ("7edfcce41a1e4baa905770a6",
                                  "02f6c08fb5b9a9ae7c51c74f",
                                  "b0e7b049a46df70f141851ee"),
}


def kernel_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "baseline":
        return run_kernel(theta(), 20261125, 20_000, HORIZON, first_patient_id=17)
    if name == "standard_care":
        return run_kernel(api.as_scenario("standard_care").params.theta(), 20261125, 20_000, HORIZON)
    return run_kernel(theta(STRESS), 4, 50_000, HORIZON)


def des_case(name: str):
    if name == "baseline-unlimited":
        return run_des(theta(), 11, 2000, HORIZON, Capacity(accrual_per_month=7.0))
    if name == "stress-unlimited":
        return run_des(theta(STRESS), 12, 2000, HORIZON, Capacity(accrual_per_month=7.0))
    if name == "capacity_constrained":
        sc = api.as_scenario("capacity_constrained")
        return run_des(sc.params.theta(), sc.run.seed, 1500, sc.run.horizon_days, sc.capacity)
    if name == "stress-manufacturing-only":
        return run_des(theta(STRESS), 14, 1500, HORIZON, Capacity(manufacturing_slots=2, accrual_per_month=6.0))
    return run_des(theta(STRESS), 13, 1500, HORIZON, BINDING)


@pytest.mark.parametrize("name", sorted(KERNEL_PINS))
def test_kernel_records_are_pinned(name):
    f, i = kernel_case(name)
    assert records_digest(f, i) == KERNEL_PINS[name]


def test_stress_case_covers_every_cause_and_four_infusions():
    """The stressed pin is only as good as the paths it covers."""
    _f, i = kernel_case("stress")
    assert set(np.unique(i[:, I.DEATH_CAUSE])) >= {int(c) for c in DeathCause}
    assert i[:, I.N_INFUSIONS].max() == 4
    assert (i[:, I.MFG_ATTEMPTS] > 1).any()


@pytest.mark.parametrize("name", sorted(DES_PINS))
def test_des_records_events_and_resources_are_pinned(name):
    des = des_case(name)
    got = (records_digest(des.fout, des.iout), events_digest(des.events), summary_digest(des.resources))
    assert got == DES_PINS[name]


def test_binding_cases_do_wait():
    """The binding pins must exercise queues: waits, and patients leaving a queue."""
    for name in ("capacity_constrained", "stress-binding"):
        res = des_case(name).resources
        assert res["manufacturing"]["waited"] > 0 and res["transplant"]["waited"] > 0, name
        assert res["icu"]["waited"] > 0, name
    assert des_case("stress-binding").resources["manufacturing"]["deaths_while_waiting"] > 0
