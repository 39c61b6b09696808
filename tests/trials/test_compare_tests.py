"""``cartsim power SPEC --compare-tests``: every test analyses the same simulated trials
(common random numbers), the Monte Carlo errors, the files written, and the one-line
error for a spec that cannot be compared."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from cli_process import assert_one_error_line, cartsim_in_process, describe

from sim.api import as_scenario
from sim.model.errors import InputError
from sim.trials import compare, simulate
from sim.trials import spec as tspec

ROOT = Path(__file__).resolve().parents[2]
TRIALS = ROOT / "scenarios" / "trials"


@pytest.fixture(scope="module")
def base():
    return as_scenario("baseline")


def _spec(base, name="two_arm_tandem_vs_cd19"):
    with (TRIALS / f"{name}.toml").open("rb") as fh:
        d = copy.deepcopy(tomllib.load(fh))
    d["grid"] = {"n": [100, 200]}
    return tspec.parse_trial(d, "test.toml", base)


def test_tests_share_the_simulated_trials(base):
    spec = _spec(base)
    out = compare.compare_tests(spec, trials=60, seed=5)
    labels = [r["label"] for r in out["tests"]]
    assert labels == ["log-rank", "Cox (Wald)", "FH(0,1)", "FH(1,0)", "MaxCombo", "RMST difference",
                      "milestone survival"]
    sim = simulate.simulate_trials(spec, trials=60, seed=5)
    for row, (_, test, weights) in zip(out["tests"], compare.COMPARED, strict=True):
        res = dataclasses.replace(sim, spec=dataclasses.replace(spec, test=test, fh_weights=weights,
                                                                km_days=365.25)).analyse(
            spec.grid)
        np.testing.assert_array_equal(row["power"], res.power)
        assert row["se"] == [math.sqrt(p * (1 - p) / 60) for p in row["power"]]
    assert out["grid"] == [100, 200]
    assert out["rmst_tau_and_milestone_months"] == pytest.approx(12.0)  # the spec's minimum follow-up


def test_single_arm_spec_is_refused(base):
    with pytest.raises(InputError) as exc:
        compare.compare_tests(_spec(base, "single_arm_os_logrank1"), trials=5, seed=1)
    assert exc.value.key == "analysis.endpoint"


def test_command_writes_json_and_figure(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proc = cartsim_in_process(["power", "two_arm_tandem_vs_cd19", "--compare-tests", "--trials", "20", "--seed", "3",
                               "--out", "o", "--json"], capsys, monkeypatch)
    assert proc.returncode == 0, describe(proc)
    out = json.loads(proc.stdout)
    assert len(out["tests"]) == 7 and out["trials"] == 20
    assert json.loads((tmp_path / "o" / "compare_tests.json").read_text()) == out
    assert (tmp_path / "o" / "compare_tests.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = cartsim_in_process(["power", "single_arm_cr_rate", "--compare-tests", "--out", "p"], capsys, monkeypatch)
    assert_one_error_line(bad, "analysis.endpoint", "two-arm survival")
    assert not (tmp_path / "p").exists()
