"""The streamed run summary (sim.outcomes.stream) against the in-memory summary of the same
patients: counts and rates exactly, means to float rounding, every curve statistic within
the bound the streamed summary reports (the bracket of its module docstring)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sim import api
from sim.outcomes.stream import StreamSummary
from sim.outcomes.summary import summarise

N = 60_000
HORIZON_DAYS = 1000.0


@pytest.fixture(scope="module")
def runs() -> tuple[dict[str, Any], dict[str, Any]]:
    memory = api.run("baseline", patients=N, seed=17, horizon_days=HORIZON_DAYS).summary
    streamed = api.run_streamed("baseline", None, patients=N, seed=17, horizon_days=HORIZON_DAYS,
                                chunk_patients=7_000).summary
    return memory, streamed


def test_counts_and_rates_are_exact(runs):
    memory, streamed = runs
    assert streamed["streamed"]["chunks"] == math.ceil(N / 7_000)
    for key in ("patients", "infused", "rates", "death_causes"):
        assert streamed[key] == memory[key], key
    for key in ("os", "efs", "lfs"):
        assert (streamed[key]["n"], streamed[key]["events"]) == (memory[key]["n"], memory[key]["events"])
        assert streamed[key]["max_followup_days"] == memory[key]["max_followup_days"]
    assert streamed["competing_risks"]["n"] == memory["competing_risks"]["n"]
    for key, value in memory["resource_use"].items():  # float64 sums here, numpy's float32 mean there
        assert streamed["resource_use"][key] == pytest.approx(value, rel=1e-6), key


def _close(a: float | None, b: float | None, bound: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= bound + 1e-9  # float rounding: tied bins against one event at a time


@pytest.mark.parametrize("block", ["os", "efs", "lfs", "itt.os", "itt.efs"])
def test_survival_statistics_are_within_the_reported_bound(runs, block):
    memory, streamed = runs
    first, _, second = block.partition(".")
    exact = memory[first][second] if second else memory[first]
    got = streamed[first][second] if second else streamed[first]
    bound = streamed["streamed"]["bound"][block.replace(".", "_")]
    assert bound["survival"] < 1e-3 and bound["median_days"] < 2.0  # the bounds are small ...
    for m in (6, 12, 24):
        assert _close(got[f"m{m}"], exact[f"m{m}"], bound["survival"]), m  # ... and hold
        for g, e in zip(got[f"m{m}_ci"], exact[f"m{m}_ci"], strict=True):
            assert _close(g, e, bound["survival_ci"]), m
    assert _close(got["median_days"], exact["median_days"], bound["median_days"])
    for g, e in zip(got["median_days_ci"], exact["median_days_ci"], strict=True):
        assert _close(g, e, bound["median_days"])
    assert _close(got["rmst_m24_days"], exact["rmst_m24_days"], bound["rmst_days"])


def test_incidences_are_within_the_reported_bound(runs):
    memory, streamed = runs
    bound = streamed["streamed"]["bound"]["competing_risks"]["incidence"]
    assert bound < 1e-3
    for key in ("cir_m6", "cir_m12", "cir_m24", "nrm_m6", "nrm_m12", "nrm_m24"):
        assert _close(streamed["competing_risks"][key], memory["competing_risks"][key], bound), key


def test_times_on_the_bin_grid_give_the_exact_curves():
    """Without a censoring inside an event's bin (here every time is a whole day and the
    censorings fall on days without events) the binned estimator is the exact one."""
    rng = np.random.default_rng(3)
    n = 5_000
    t_inf = np.full(n, 10.0, np.float32)
    death = (10 + rng.integers(1, 400, n) * 2).astype(np.float32)  # deaths on even days
    alive = rng.random(n) < 0.3
    t_last = np.where(alive, (11 + rng.integers(0, 400, n) * 2).astype(np.float32), death)  # censored on odd days
    nan = np.full(n, np.nan, np.float32)
    cols = {"t_inf_days": t_inf, "t_last_days": t_last, "t_death_days": np.where(alive, nan, death),
            "t_efs_days": np.where(alive, nan, death), "t_relapse_days": nan, "t_hsct_days": nan,
            "icu_days": np.zeros(n, np.float32), "response": np.zeros(n, np.int8),
            "death_cause": np.where(alive, 0, 1).astype(np.int8), "n_infusions": np.ones(n, np.int8),
            "mfg_attempts": np.ones(n, np.int8), "crs_grade": np.zeros(n, np.int8),
            "icans_grade": np.zeros(n, np.int8), "gvhd_grade": np.zeros(n, np.int8)}
    acc = StreamSummary(900.0)
    acc.add({k: v[: n // 2] for k, v in cols.items()})
    acc.add({k: v[n // 2:] for k, v in cols.items()})
    streamed, exact = acc.summary(), summarise(cols)
    for key in ("os", "efs"):
        for stat in ("m6", "m12", "m24", "m6_ci", "median_days", "median_days_ci", "rmst_m24_days"):
            assert streamed[key][stat] == pytest.approx(exact[key][stat], rel=1e-12, abs=1e-12), (key, stat)
        assert streamed["streamed"]["bound"][key]["survival"] == 0.0
