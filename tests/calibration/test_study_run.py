"""``cartsim run`` on a study-replication scenario: the abstract's targets, computed on
the run's own patients under the study's follow-up (sim.calibration.study_run)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_process import cartsim, describe

from sim import api
from sim.api.calibration import load_targets
from sim.io.files import SCENARIOS_DIR
from sim.model.states import Response

S004 = SCENARIOS_DIR / "studies" / "s004_donor_derived.toml"
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s004_large() -> api.RunResult:
    return api.run(S004, patients=20_000)


def test_the_block_lists_exactly_the_studys_targets(s004_large: api.RunResult) -> None:
    study = s004_large.summary["study"]
    expected = [t.target_id for t in load_targets().targets if t.study_id == "004"]
    assert [r["id"] for r in study["targets"]] == expected
    assert study["seed_file"] == "004_ee06c7908afd55a8.txt"
    assert study["cohort_patients"] == 22


def test_response_targets_equal_the_run_table(s004_large: api.RunResult) -> None:
    """The study block re-simulates with a longer kernel horizon; day-28 response does
    not depend on the horizon, so its rate equals the run's own table exactly."""
    table = s004_large.patients
    infused = table[table["t_inf_days"].notna()]
    expected = float(np.mean(infused["response"] >= int(Response.CR_MRD_POS)))
    row = next(r for r in s004_large.summary["study"]["targets"] if r["id"] == "s004_cr_rate")
    assert row["simulated"] == pytest.approx(expected, abs=1e-6)  # rounded to 6 decimals in JSON
    assert s004_large.summary["study"]["infused"] == len(infused)


def test_study_censoring_leaves_the_6_month_os_unbiased(s004_large: api.RunResult) -> None:
    """Administrative censoring is independent of the outcome, so the censored KM at 6
    months estimates the same OS as the uncensored summary. Tolerance: 4 standard
    errors of a difference of two estimates on the same ~20,000 patients (bounded by
    the sum of their SEs, binomial SE sqrt(p(1-p)/n) ~ 0.0031 each)."""
    row = next(r for r in s004_large.summary["study"]["targets"] if r["id"] == "s004_os_6m")
    uncensored = s004_large.summary["os"]["m6"]
    n = s004_large.summary["study"]["infused"]
    se = math.sqrt(uncensored * (1 - uncensored) / n)
    assert abs(row["simulated"] - uncensored) < 4 * 2 * se


def test_study_censoring_bites_beyond_the_shortest_follow_up(s004_large: api.RunResult) -> None:
    """Follow-up ends between 180 and 1900 days: fewer deaths are seen by the study than
    happen, so the share of patients with an observed death falls below the uncensored
    share while the KM estimate does not."""
    from sim.calibration.study_metrics import simulate_study
    from sim.calibration.study_run import study_targets

    sc = s004_large.scenario
    found = study_targets(sc, load_targets())
    assert found is not None
    p = simulate_study(found[0], sc.params.theta(), sc.run.patients, sc.run.seed)
    table = s004_large.patients
    infused = table[table["t_inf_days"].notna()]
    died = (infused["t_death_days"] - infused["t_inf_days"]) <= 1900.0
    assert p.os[1].mean() < died.mean() - 0.05  # ~9% of deaths fall after the cut-off here


def test_intervals_need_many_cohorts_and_contain_the_pooled_value(s004_large: api.RunResult) -> None:
    for r in s004_large.summary["study"]["targets"]:
        if isinstance(r["reported"], str) or r["simulated"] is None:
            continue
        assert r["low"] is not None and r["high"] is not None, r
        assert r["low"] <= r["simulated"] <= r["high"], r
    small = api.run(S004)  # the scenario's own 22 patients: one cohort, no interval
    assert small.summary["study"]["infused"] <= 22
    assert all(r["low"] is None and r["high"] is None for r in small.summary["study"]["targets"])


def test_no_block_without_a_study_section_or_known_seed_file(tmp_path: Path) -> None:
    assert "study" not in api.run(None, patients=500).summary
    text = S004.read_text().replace("004_ee06c7908afd55a8.txt", "999_not_a_seed.txt")
    text = text.replace('base = "../../params/calibrated.toml"', f'base = "{PROJECT / "params" / "calibrated.toml"}"')
    other = tmp_path / "other_study.toml"
    other.write_text(text)
    assert "study" not in api.run(other, patients=200).summary


def test_cli_prints_the_study_table(tmp_path: Path) -> None:
    proc = cartsim("run", "studies/s001_second_infusion", "--patients", "3500", "--out", tmp_path / "out",
                   cwd=PROJECT)
    assert proc.returncode == 0, describe(proc)
    assert "study 001" in proc.stdout and "s001_os_24m" in proc.stdout, describe(proc)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {r["id"] for r in summary["study"]["targets"]} >= {"s001_os_24m", "s001_lfs_24m", "s001_cir_24m"}


def test_study_scenarios_run_on_the_calibrated_point_values() -> None:
    """`cartsim run studies/...` uses calibrated.toml; calibration replaces these very
    slots, so the change of base leaves the calibration's inputs as they were
    (test_inputs: calibrated.toml differs from defaults.toml only in calibrated values)."""
    from sim.calibration.imis import CALIBRATED
    from sim.io.files import load_parameter_set

    calibrated = load_parameter_set(PROJECT / "params" / "calibrated.toml")
    for st in load_targets().studies.values():
        for name in CALIBRATED:
            assert np.array_equal(np.atleast_1d(st.scenario.params.value(name)),
                                  np.atleast_1d(calibrated.value(name))), (st.study_id, name)
