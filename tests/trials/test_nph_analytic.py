"""Analytic power of every compared test from the pathway's curves (sim.trials.nph_analytic)
beside the simulated power of the same tests on the same spec."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from sim.api.trials import load_trial
from sim.trials.compare import compare_tests

SPEC = Path(__file__).resolve().parents[2] / "scenarios" / "trials" / "two_arm_tandem_vs_cd19.toml"
TRIALS = 1000


@pytest.fixture(scope="module")
def compared():
    spec = dataclasses.replace(load_trial(SPEC), grid=(700,))
    return compare_tests(spec, trials=TRIALS, seed=5)


def test_analytic_power_beside_simulated(compared):
    # 4 Monte Carlo SE of the simulated power plus 0.03 for the asymptotic approximation
    # and the curves' own Monte Carlo error (200,000 simulated patients per arm)
    for row in compared["tests"]:
        sim, ana = row["power"][0], row["analytic_power"][0]
        tol = 4 * math.sqrt(sim * (1 - sim) / TRIALS) + 0.03
        assert 0.2 < ana < 0.95, row["label"]
        assert abs(sim - ana) < tol, (row["label"], sim, ana)


def test_expected_events_and_average_hazard_ratio(compared):
    assert 0.6 < compared["average_hr"][0] < 1.0
    assert compared["events_expected"][0] > 100
    assert 0.0 < compared["average_hr_power"][0] < 1.0
