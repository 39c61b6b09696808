"""``cartsim power`` and ``cartsim simon`` run as real processes: every committed trial
spec runs small, the JSON keeps the documented keys, and bad input is one line with
exit status 2.

Each process pays 5-20 s of imports and numba cache loading on a shared 2-core machine,
so the run of every committed spec and most bad-input cases are marked ``slow``
(``-m slow``); the default run keeps one spec (human output) and a few bad inputs. The
spec-level validation behind each bad input is tested in-process in
``tests/trials/test_trial_features.py``."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_process import assert_one_error_line, cartsim, describe

REPO = Path(__file__).resolve().parents[2]
TRIALS = REPO / "scenarios" / "trials"
KEYS = {"endpoint", "test", "grid", "n_required", "analytic_n", "assurance", "assurance_source", "n_required_mc"}
ROW_KEYS = {"n", "power", "se", "events_mean", "duration_months_mean"}
SPECS = sorted(p.stem for p in TRIALS.glob("*.toml"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every committed spec with 30 trials, two at a time (one per core)."""
    root = tmp_path_factory.mktemp("trial_cli")

    def one(name):
        return name, cartsim("power", name, "--trials", "30", "--seed", "5", "--out", name, "--json", cwd=root)

    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        return root, dict(pool.map(one, SPECS))


def test_there_are_committed_specs():
    assert {"two_arm_tandem_vs_cd19", "two_arm_cr_rate_tandem_vs_cd19", "event_driven_os_interims",
            "single_arm_cr_rate", "single_arm_os_logrank1", "single_arm_cr_predictive",
            "multi_arm_products_vs_cd19"} <= set(SPECS)


@pytest.mark.slow
@pytest.mark.parametrize("name", SPECS)
def test_each_committed_spec_runs(runs, name):
    root, procs = runs
    proc = procs[name]
    assert proc.returncode == 0, describe(proc)
    out = json.loads(proc.stdout)
    if out.get("design") == "multi_arm":  # power per comparison, disjunctive and conjunctive (no search)
        row = out["grid"][0]
        assert len(row["arms"]) >= 2 and 0.0 <= row["disjunctive"]["power"] <= 1.0
        assert (root / name / "power.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        return
    assert set(out) >= KEYS
    assert out["assurance_source"] in ("prior", "posterior")
    assert 0.0 <= out["assurance"] <= 1.0
    for row in out["grid"]:
        assert set(row) >= ROW_KEYS
        assert 0.0 <= row["power"] <= 1.0
    assert (root / name / "power.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((root / name / "power.json").read_text())["grid"] == out["grid"]
    if out["design"] == "single_arm":
        assert out["probability_of_success"] == out["assurance"]
    if name == "event_driven_os_interims":
        assert len(out["interim"]["boundaries_z"]) == 3
        assert "events_reached" in out["grid"][0] and "stop_probability" in out["grid"][0]
    if name == "single_arm_cr_rate":
        assert out["simon"]["n1"] < out["simon"]["n"]


def test_human_output_of_a_spec(tmp_path):
    proc = cartsim("power", "two_arm_cr_rate_tandem_vs_cd19", "--trials", "40", "--seed", "2", "--out", "o",
                   cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert "two proportions" in proc.stdout
    assert "assurance" in proc.stdout


BAD_SPECS = {
    "p1_le_p0": ("single_arm_cr_rate", "p1 = \"model\"", "p1 = 0.5", "analysis.p1"),
    "alpha": ("two_arm_tandem_vs_cd19", "alpha = 0.05", "alpha = 1.5", "analysis.alpha"),
    "power": ("two_arm_tandem_vs_cd19", "power = 0.8", "power = 0.0", "analysis.power"),
    "ratio": ("two_arm_tandem_vs_cd19", "ratio = 1.0", "ratio = 0.0", "allocation.ratio"),
    "endpoint": ("two_arm_cr_rate_tandem_vs_cd19", "test = \"chisq\"", "test = \"logrank\"", "analysis.endpoint"),
    "grid": ("two_arm_tandem_vs_cd19", "n = [200, 400", "n = [] # [200, 400", "grid.n"),
    "periods": ("event_driven_os_interims", "period_months = [6.0]", "period_months = [6.0, 2.0]",
                "accrual.period_months"),
    "events": ("event_driven_os_interims", "events = 800", "events = 0", "follow_up.events"),
}


BAD_ARGS = {
    "missing_file": ("no_such_trial.toml",),
    "trials_0": ("two_arm_tandem_vs_cd19", "--trials", "0"),
    "seed_negative": ("two_arm_tandem_vs_cd19", "--seed", "-1"),
    "simon_p1_le_p0": ("--p0", "0.3", "--p1", "0.2"),
    "simon_alpha_0": ("--p0", "0.1", "--p1", "0.3", "--alpha", "0"),
    "simon_power_1": ("--p0", "0.1", "--p1", "0.3", "--power", "1.0"),
}


FAST_BAD = ("p1_le_p0", "events", "trials_0", "simon_p1_le_p0")  # the default run's share of the cases


def _bad_runs(root, cases):
    jobs = {}
    for case, (name, old, new, _) in BAD_SPECS.items():
        if case not in cases:
            continue
        text = (TRIALS / f"{name}.toml").read_text()
        assert old in text, case
        path = root / f"{case}.toml"
        path.write_text(text.replace(old, new, 1).replace('"../baseline.toml"', '"baseline"'))
        jobs[case] = ("power", path, "--trials", "5", "--out", "o")
    for case, args in BAD_ARGS.items():
        if case in cases:
            jobs[case] = (("simon", *args) if case.startswith("simon") else ("power", *args))
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures = {case: pool.submit(cartsim, *args, cwd=root) for case, args in jobs.items()}
        return {case: f.result() for case, f in futures.items()}


@pytest.fixture(scope="module")
def fast_bad(tmp_path_factory):
    return _bad_runs(tmp_path_factory.mktemp("bad_fast"), FAST_BAD)


@pytest.fixture(scope="module")
def slow_bad(tmp_path_factory):
    return _bad_runs(tmp_path_factory.mktemp("bad_slow"), set(BAD_SPECS) | set(BAD_ARGS))


@pytest.mark.parametrize("case", FAST_BAD)
def test_bad_input_is_one_line_exit_2(fast_bad, case):
    key = BAD_SPECS[case][3] if case in BAD_SPECS else ""
    assert_one_error_line(fast_bad[case], key)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(BAD_SPECS) | set(BAD_ARGS)))
def test_every_bad_input_is_one_line_exit_2(slow_bad, case):
    key = BAD_SPECS[case][3] if case in BAD_SPECS else ""
    assert_one_error_line(slow_bad[case], key)
