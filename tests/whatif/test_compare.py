"""``cartsim compare``: common random numbers, paired intervals and their calibration.

Ladder of checks: the compiled weighted estimators against the project's
estimators (unit weights) and against the estimators on explicitly resampled data
(bootstrap counts); a scenario against itself (exact zeros); the variance reduction on
a known case (baseline vs tandem for everyone), checked both as reported and
empirically across independent seeds; the paired intervals' coverage of the difference
from a 40x larger run; the command as a real process (JSON shape, bad input).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_process import assert_one_error_line, cartsim, describe

from sim import api
from sim.io.files import load_scenario
from sim.model.endpoints import LANDMARK_MONTHS, summary_value
from sim.model.errors import InputError
from sim.outcomes.summary import DAYS_PER_MONTH, summarise
from sim.stats import weighted
from sim.stats.incidence import aalen_johansen
from sim.stats.survival import kaplan_meier
from sim.whatif import bootstrap, estimators, result

REPO = Path(__file__).resolve().parents[2]
TANDEM = {"policy.target_shares": [0.0, 0.0, 1.0, 0.0]}


def tandem_scenario():
    base = load_scenario("baseline")
    return replace(base, name="tandem", params=base.params.with_values(TANDEM, "test"))


@pytest.fixture(scope="module")
def baseline_vs_tandem() -> result.CompareResult:
    return api.compare(["baseline", tandem_scenario()], patients=20_000, seed=7)


# ---------------------------------------------------------------------------------
# the compiled estimators


def test_unit_weights_reproduce_the_run_summary(baseline_vs_tandem):
    """With every patient counted once, the bootstrap's compiled estimators give the
    numbers of ``cartsim run`` (sim.outcomes.summary.summarise) to rounding."""
    res = baseline_vs_tandem
    for k, df in enumerate(res.tables):
        ones = np.ones((len(df), 1), np.uint8)
        est = {name: v[0] for name, v in bootstrap._bootstrap_outcomes(bootstrap._curves(df), ones).items()}
        for name, value in est.items():
            expected = res.values[name][k]
            assert expected is not None, name
            # sums of products in a different order: agreement to ~1e-12 relative
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), name
    # the delta-method outcomes: ratio estimators with the summary's definitions
    summary = summarise(res.tables[1])
    ratios = estimators._ratio_data(res.tables[1])
    for name in ("cr_rate", "mrd_neg_cr_rate", "crs_grade3plus", "icans_any", "agvhd_grade2plus"):
        y, x = ratios[name]
        assert y.sum() / x.sum() == summary["rates"][name]["rate"] == res.values[name][1]
    for name in ("icu_days_per_infused", "hsct_per_patient", "infusions_per_patient",
                 "manufacturing_attempts_per_patient"):
        y, x = ratios[name]
        # the summary averages float32 columns in float32: agreement to ~1e-7 relative
        assert y.sum() / x.sum() == pytest.approx(summary["resource_use"][name], rel=1e-6)


def test_weighted_estimators_equal_estimators_on_resampled_patients(baseline_vs_tandem):
    """Bootstrap counts as weights = the plain estimators on the resampled (repeated)
    patients, ties included (every survivor is censored at the same horizon)."""
    df = baseline_vs_tandem.tables[0]
    curves = bootstrap._curves(df)
    counts = bootstrap.bootstrap_counts(11, range(3), len(df))
    for r in range(3):
        est = bootstrap._bootstrap_outcomes(curves, counts[:, [r]])
        for endpoint in ("os", "efs", "lfs"):
            c = curves[endpoint]
            rep = np.repeat(np.arange(len(c.pid)), counts[c.pid, r].astype(np.int64))
            km = kaplan_meier(c.time[rep], c.code[rep] > 0)
            for m in (6, 12, 24):
                assert est[f"{endpoint}_m{m}"][0] == pytest.approx(float(km.survival_at(m * DAYS_PER_MONTH)),
                                                                   rel=1e-9)
            assert est[f"{endpoint}_median_days"][0] == pytest.approx(km.median(), rel=1e-12)
            assert est[f"{endpoint}_rmst_m24_days"][0] == pytest.approx(km.restricted_mean(24 * DAYS_PER_MONTH),
                                                                        rel=1e-9)
        c = curves["competing"]
        rep = np.repeat(np.arange(len(c.pid)), counts[c.pid, r].astype(np.int64))
        for cause, name in ((1, "cir_m24"), (2, "nrm_m24")):
            aj = aalen_johansen(c.time[rep], c.code[rep], cause)
            assert est[name][0] == pytest.approx(float(aj.cif_at(24 * DAYS_PER_MONTH)), rel=1e-9)


def test_a_replicate_gives_no_number_past_its_own_data():
    """The weighted pass applies the rule of sim.stats.survival to each replicate:
    a landmark or restricted mean past the replicate's last resampled time is NaN,
    unless its curve reached 0."""
    time = np.array([100.0, 200.0, 300.0, 800.0])
    code = np.array([1, 0, 1, 0], np.int8)
    curve = weighted.sorted_curve(np.arange(4), time, code)
    # replicate 0: everybody; 1: without the day-800 patient (the death at 300 empties the
    # risk set: S = 0, known for ever); 2: patients 0 and 1 only (last time 200, censored)
    counts = np.array([[1, 1, 1], [1, 1, 2], [1, 1, 0], [1, 0, 0]], np.uint8)
    st = bootstrap.curve_statistics(curve, counts)
    at = weighted.Layout(len(LANDMARK_MONTHS))
    for r in range(3):
        rep = np.repeat(np.arange(4), counts[:, r].astype(np.int64))
        km = kaplan_meier(time[rep], code[rep] > 0)
        s_ref = km.survival_at(bootstrap._LANDMARKS_DAYS)
        np.testing.assert_allclose(st[r, at.survival], s_ref, rtol=1e-12)  # NaN where the reference is NaN
        np.testing.assert_allclose(st[r, at.cif1], 1.0 - s_ref, rtol=1e-12)  # one cause: F = 1 - S
        rmst = km.restricted_mean(bootstrap._TAU_DAYS)
        assert np.isnan(st[r, at.rmst]) if rmst is None else st[r, at.rmst] == pytest.approx(rmst, rel=1e-12)
    assert np.isfinite(st[0, [*range(at.survival.stop), at.median, at.rmst]]).all()
    np.testing.assert_allclose(st[1, at.survival], [2 / 3, 0.0, 0.0], rtol=1e-12)
    assert np.isfinite(st[1, at.rmst])
    assert st[2, 0] == pytest.approx(2 / 3, rel=1e-12) and np.isnan(st[2, 1:at.survival.stop]).all()
    assert np.isnan(st[2, at.rmst])


def test_bootstrap_replicates_do_not_depend_on_batching():
    """Replicate b is addressed by (seed, b): computing it in another batch changes nothing."""
    whole = bootstrap.bootstrap_counts(5, range(6), 1000)
    part = bootstrap.bootstrap_counts(5, range(4, 6), 1000)
    np.testing.assert_array_equal(whole[:, 4:], part)
    assert (whole.sum(axis=0) == 1000).all()  # n ids drawn per replicate
    assert not np.array_equal(whole[:, 0], whole[:, 1])


# ---------------------------------------------------------------------------------
# pairing


def test_a_scenario_compared_with_itself_differs_by_exactly_zero():
    res = api.compare(["baseline", "baseline"], patients=3000, seed=2)
    assert len(res.differences) == len(estimators.OUTCOMES)
    checked = 0
    for row in res.differences:
        if row["diff"] is None:  # e.g. a median not reached
            continue
        checked += 1
        assert row["diff"] == 0.0, row
        assert row["diff_low"] == 0.0 and row["diff_high"] == 0.0, row
        assert row["se_paired"] == 0.0, row
        assert row["variance_reduction"] is None, row  # infinite: reported as no number
    assert checked >= len(estimators.OUTCOMES) - 3


def test_crn_pairing_reduces_variance_on_a_known_case(baseline_vs_tandem):
    """Tandem for everyone changes only the first target: patients share every other
    draw, so the paired difference is far less noisy than an independent one. Measured
    factors at 20,000 patients: CR 3.1, OS 12 m 9.5, EFS 12 m 6.7; the margins below
    leave room for the estimate's own noise (200 replicates: ~10% relative SE)."""
    res = baseline_vs_tandem
    for outcome, margin in (("cr_rate", 2.0), ("os_m12", 4.0), ("efs_m12", 3.0)):
        row = res.row(outcome)
        assert row["variance_reduction"] > margin, row
        assert row["se_paired"] < row["se_independent"], row
        assert row["diff_high"] - row["diff_low"] < 2 * 1.96 * row["se_independent"], row
        assert row["diff_low"] > 0, row  # tandem raises all three


@pytest.fixture(scope="module")
def replicated_runs():
    """K independent paired comparisons at n = 4,000 (seeds 100..), plus an unpaired
    tandem run for each (seed + 1000), and a 40x larger reference comparison."""
    seeds = range(100, 124)
    base = load_scenario("baseline")
    tandem = tandem_scenario()
    paired = [api.compare([base, tandem], patients=4000, seed=s, bootstrap=100) for s in seeds]
    unpaired = [api.run(tandem, patients=4000, seed=s + 1000).summary for s in seeds]
    reference = api.compare([base, tandem], patients=160_000, seed=99, bootstrap=50)
    return paired, unpaired, reference


OUTCOMES_CHECKED = ("cr_rate", "os_m12", "efs_m12", "os_rmst_m24_days", "cir_m24")


@pytest.mark.parametrize("outcome", list(OUTCOMES_CHECKED))
def test_paired_intervals_cover_the_difference_of_a_40x_larger_run(replicated_runs, outcome):
    """24 paired 95% intervals at n = 4,000 against the reference difference at n = 160,000
    (its own SE is 1/sqrt(40) of theirs, ignored): at least 20 of 24 must cover it
    (P(X <= 19 | Bin(24, 0.95)) = 0.8%)."""
    paired, _, reference = replicated_runs
    truth = reference.row(outcome)["diff"]
    covered = sum(r.row(outcome)["diff_low"] <= truth <= r.row(outcome)["diff_high"] for r in paired)
    assert covered >= 20, (outcome, covered)


@pytest.mark.parametrize("outcome", ["cr_rate", "os_m12", "efs_m12"])
def test_reported_standard_errors_match_the_spread_across_seeds(replicated_runs, outcome):
    """The mean reported paired variance matches the variance of the paired differences
    across 24 seeds, and the reported independent variance that of differences between
    unrelated runs; both ratios within the 0.5%/99.5% quantiles of chi2(23)/23
    (0.43, 1.90), widened to (0.35, 2.2) for the bootstrap's own noise. The empirical
    variance reduction exceeds 1.5 (reported: 3 to 10)."""
    paired, unpaired, _ = replicated_runs
    d_paired = np.array([r.row(outcome)["diff"] for r in paired])
    se_paired = np.array([r.row(outcome)["se_paired"] for r in paired])
    se_indep = np.array([r.row(outcome)["se_independent"] for r in paired])
    base_values = np.array([r.values[outcome][0] for r in paired])
    tandem_unpaired = np.array([summary_value(u, outcome) for u in unpaired])  # other seeds: independent
    d_indep = tandem_unpaired - base_values
    ratio_paired = np.var(d_paired, ddof=1) / np.mean(se_paired**2)
    ratio_indep = np.var(d_indep, ddof=1) / np.mean(se_indep**2)
    assert 0.35 < ratio_paired < 2.2, ratio_paired
    assert 0.35 < ratio_indep < 2.2, ratio_indep
    assert np.var(d_indep, ddof=1) / np.var(d_paired, ddof=1) > 1.5


# ---------------------------------------------------------------------------------
# run settings and bad input (Python API)


def test_scenarios_share_the_first_scenarios_run_settings_and_say_so():
    base = load_scenario("baseline").with_run(patients=500, seed=3, horizon_days=1000.0)
    other = load_scenario("tandem_for_all").with_run(patients=800, seed=4, horizon_days=700.0)
    res = api.compare([base, other])
    assert res.patients == 500 and res.seed == 3 and res.horizon_days == 1000.0
    assert all(sc.run == base.run for sc in res.scenarios)
    text = " ".join(res.notes)
    assert "horizon_days = 700" in text and "seed = 4" in text and "patients = 800" in text
    res = api.compare([base, other], patients=600, seed=9)
    assert res.patients == 600 and res.seed == 9
    assert not any("seed" in n or "patients" in n for n in res.notes)


@pytest.mark.parametrize(("args", "kwargs", "key"), [
    (["baseline"], {}, "SCENARIOS"),
    ([], {}, "SCENARIOS"),
    (["baseline", "baseline"], {"patients": 0}, "--patients"),
    (["baseline", "baseline"], {"seed": -1}, "--seed"),
    (["baseline", "baseline"], {"threads": 0}, "--threads"),
    (["baseline", "baseline"], {"bootstrap": 2}, "--bootstrap"),
])
def test_bad_arguments_are_input_errors(args, kwargs, key):
    with pytest.raises(InputError) as info:
        api.compare(args, **kwargs)
    assert info.value.key == key


def test_a_missing_scenario_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        api.compare(["baseline", tmp_path / "nope.toml"], patients=10)


# ---------------------------------------------------------------------------------
# the command as a real process


BAD_CASES = {
    "one scenario": ["compare", "baseline"],
    "missing file": ["compare", "baseline", "no_such_scenario.toml"],
    "invalid file": ["compare", "baseline", "bad.toml"],
    "patients 0": ["compare", "baseline", "baseline", "--patients", "0"],
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """One good ``--json`` run and the bad-input runs, concurrently (each process pays
    ~3-6 s of imports on a shared machine)."""
    cwd = tmp_path_factory.mktemp("compare_cli")
    (cwd / "bad.toml").write_text(f'[scenario]\nbase = "{REPO / "params" / "defaults.toml"}"\n'
                                  '[policy]\ntarget_share = [1.0, 0.0, 0.0, 0.0]\n')  # a misspelt policy key
    # the first scenario sets the horizon: 400 days, so no 24-month landmark has data
    (cwd / "short.toml").write_text(f'[scenario]\nname = "short"\nbase = "{REPO / "params" / "calibrated.toml"}"\n'
                                    '[run]\nhorizon_days = 400.0\n')
    cases = {"good": ["compare", "baseline", REPO / "scenarios" / "tandem_for_all.toml", "universal_product",
                      "--patients", 2000, "--seed", 4, "--out", "OUT", "--json"],
             "short": ["compare", "short.toml", "tandem_for_all", "--patients", 2000, "--seed", 4, "--out", "SHORT"],
             **BAD_CASES}
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {k: pool.submit(cartsim, *a, cwd=cwd) for k, a in cases.items()}
        return cwd, {k: f.result() for k, f in futures.items()}


def test_cli_json_has_the_documented_shape_and_writes_its_files(cli_runs):
    cwd, procs = cli_runs
    proc = procs["good"]
    assert proc.returncode == 0, describe(proc)
    doc = json.loads(proc.stdout)
    assert [s["name"] for s in doc["scenarios"]] == ["baseline", "tandem_for_all", "universal_product"]
    assert doc["seed"] == 4 and doc["patients"] == 2000
    assert len(doc["differences"]) == 2 * len(estimators.OUTCOMES)
    keys = {"outcome", "scenario", "value", "diff", "diff_low", "diff_high", "variance_reduction"}
    for row in doc["differences"]:
        assert keys <= set(row), row
        assert row["scenario"] in ("tandem_for_all", "universal_product")
        if row["diff_low"] is not None:
            assert row["diff_low"] <= row["diff"] <= row["diff_high"], row
    assert set(doc["scenarios"][0]["values"]) == {o.name for o in estimators.OUTCOMES}
    written = json.loads((cwd / "OUT" / "compare.json").read_text())
    assert written["differences"] == doc["differences"]
    assert (cwd / "OUT" / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in (cwd / "OUT").iterdir() if p.name.startswith(".")]  # no temporary files left


def test_cli_gives_no_difference_past_the_follow_up(cli_runs):
    cwd, procs = cli_runs
    proc = procs["short"]
    assert proc.returncode == 0, describe(proc)
    doc = json.loads((cwd / "SHORT" / "compare.json").read_text())
    assert doc["horizon_days"] == 400.0
    rows = {r["outcome"]: r for r in doc["differences"]}
    beyond = ("os_m24", "efs_m24", "lfs_m24", "os_rmst_m24_days", "efs_rmst_m24_days", "lfs_rmst_m24_days", "cir_m24",
              "nrm_m24", "itt_os_m24")
    for name in beyond:
        r = rows[name]
        assert r["reference_value"] is None and r["value"] is None, name
        assert r["diff"] is r["diff_low"] is r["diff_high"] is r["se_paired"] is r["variance_reduction"] is None
        assert r["not_estimable"].startswith("short: beyond the maximum follow-up of"), r
        assert "; tandem_for_all: beyond the maximum follow-up of" in r["not_estimable"], r
        for sc in doc["scenarios"]:
            assert sc["values"][name] is None and sc["not_estimable"][name].startswith("beyond the maximum")
    for name in ("os_m6", "os_m12", "efs_m12", "itt_os_m12"):  # inside the data: numbers with intervals
        r = rows[name]
        assert r["diff_low"] <= r["diff"] <= r["diff_high"] and r["not_estimable"] is None, r
    text = [line for line in proc.stdout.splitlines() if line.count("│") >= 6]
    os24 = [line.split("│")[1:7] for line in text if line.split("│")[1].strip().startswith("OS at 24")]
    assert len(os24) == 2  # from infusion, and the ITT row (cells may wrap at the terminal's width)
    cells = [c.strip() for c in os24[0]]
    assert cells[1:4] == ["\u2013"] * 3 and cells[4].startswith("short:")
    median = [line.split("│")[1:7] for line in text if line.split("│")[1].strip() == "OS median"]
    cells = [c.strip() for c in median[0]]
    assert cells[1].startswith("not") and cells[2].startswith("not") and cells[3] == "\u2013"  # "not reached"


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_cli_bad_input_gives_one_line_and_exit_2(cli_runs, case):
    proc = cli_runs[1][case]
    assert_one_error_line(proc)
    if case == "invalid file":
        assert "target_share" in proc.stderr and "target_shares" in proc.stderr, describe(proc)
