"""The ``cartsim`` command run as a real process (``python -m sim.cli``).

Good runs: one JSON object on stdout, patients.parquet with provenance, summary.json,
km.png; same seed -> same outputs. Bad input: exit status 2, exactly one stderr line
``cartsim: error: ...``, no traceback, nothing on stdout, earlier outputs untouched.

Each process pays ~3-5 s of imports (numba/scipy/pandas); the first kernel run may
also compile numba (~40 s when its cache is cold). Independent processes therefore
run concurrently (one per core) and patient counts are small.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cli_process import assert_one_error_line, cartsim, describe

from sim.io.files import load_scenario

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = REPO / "params" / "defaults.toml"
OUTPUT_FILES = ("km.png", "patients.parquet", "summary.json")
TIMING_KEYS = ("elapsed_s", "patients_per_s")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEED = 3
PATIENTS = 2000


def cartsim_many(arg_lists: dict[str, list[object]], cwd: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run several independent invocations concurrently, one per core."""
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {key: pool.submit(cartsim, *args, cwd=cwd) for key, args in arg_lists.items()}
        return {key: f.result() for key, f in futures.items()}


def read_table(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def without_timing(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in TIMING_KEYS}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------------------------
# good runs
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def good_run(workdir):
    """``run --patients 2000 --seed 3 --out OUT --json`` (also warms the numba cache)."""
    proc = cartsim("run", "--patients", PATIENTS, "--seed", SEED, "--out", "OUT", "--json", cwd=workdir)
    assert proc.returncode == 0, describe(proc)
    return proc, workdir / "OUT"


@pytest.fixture(scope="module")
def repeat_runs(batch):
    """The same seed into another folder, and a different seed (run in ``batch``)."""
    for key in ("same", "other"):
        assert batch[key].returncode == 0, describe(batch[key])
    return batch


def test_run_json_prints_exactly_one_json_object(good_run):
    proc, _ = good_run
    assert "Traceback" not in proc.stderr
    obj, end = json.JSONDecoder().raw_decode(proc.stdout)
    assert isinstance(obj, dict)
    assert proc.stdout[end:] == "\n"  # one object, one line, nothing after it


def test_run_json_has_the_documented_outcomes(good_run):
    summary = json.loads(good_run[0].stdout)
    top = ("patients", "seed", "scenario", "cr_rate", "mrd_neg_cr_rate", "crs_any", "crs_grade3plus", "icans_any",
           "icans_grade3plus", "agvhd_grade2plus", "os", "efs", "lfs", "cir_m24", "nrm_m24", *TIMING_KEYS)
    assert [k for k in top if k not in summary] == []
    for endpoint in ("os", "efs", "lfs"):
        assert [k for k in ("m6", "m12", "m24", "median_days") if k not in summary[endpoint]] == [], endpoint
    assert summary["patients"] == PATIENTS
    assert summary["seed"] == SEED
    assert summary["scenario"] == "baseline"
    rates = ("cr_rate", "mrd_neg_cr_rate", "crs_any", "crs_grade3plus", "icans_any", "icans_grade3plus",
             "agvhd_grade2plus", "cir_m24", "nrm_m24")
    for key in rates:
        assert 0.0 <= summary[key] <= 1.0, key
    for endpoint in ("os", "efs", "lfs"):
        e = summary[endpoint]
        assert 1.0 >= e["m6"] >= e["m12"] >= e["m24"] >= 0.0, endpoint  # survival curves never rise
    assert summary["elapsed_s"] > 0
    assert summary["patients_per_s"] > 0


def test_run_writes_patients_parquet_with_provenance(good_run):
    summary = json.loads(good_run[0].stdout)
    path = good_run[1] / "patients.parquet"
    table = pq.read_table(path)
    assert table.num_rows == PATIENTS
    provenance = json.loads(table.schema.metadata[b"cartsim"])
    assert provenance["seed"] == SEED
    assert provenance["scenario"] == "baseline"
    assert provenance["parameter_hash"] == load_scenario("baseline").params.digest()
    assert provenance["parameter_hash"] == summary["parameter_hash"]


def test_output_folder_holds_exactly_the_outputs(good_run):
    assert sorted(p.name for p in good_run[1].iterdir()) == sorted(OUTPUT_FILES)  # no temporaries left


def test_summary_json_matches_stdout(good_run):
    proc, out = good_run
    on_disk = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert without_timing(on_disk) == without_timing(json.loads(proc.stdout))


def test_km_png_is_a_png(good_run):
    data = (good_run[1] / "km.png").read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 1000  # a figure, not just a header


def test_same_seed_gives_identical_outputs(good_run, repeat_runs):
    first_proc, first_out = good_run
    same_proc, same_out = repeat_runs["same"], first_out.parent / "SAME"
    pd.testing.assert_frame_equal(read_table(first_out / "patients.parquet"), read_table(same_out / "patients.parquet"))
    assert without_timing(json.loads(same_proc.stdout)) == without_timing(json.loads(first_proc.stdout))
    on_disk = [json.loads((o / "summary.json").read_text(encoding="utf-8")) for o in (first_out, same_out)]
    assert without_timing(on_disk[0]) == without_timing(on_disk[1])


def test_different_seed_gives_different_outputs(good_run, repeat_runs):
    first_proc, first_out = good_run
    other_proc, other_out = repeat_runs["other"], first_out.parent / "OTHER"
    a, b = read_table(first_out / "patients.parquet"), read_table(other_out / "patients.parquet")
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) == PATIENTS
    assert not a.equals(b)
    other = json.loads(other_proc.stdout)
    assert other["seed"] == SEED + 1
    assert without_timing(other) != without_timing(json.loads(first_proc.stdout))
    assert json.loads(pq.read_table(other_out / "patients.parquet").schema.metadata[b"cartsim"])["seed"] == SEED + 1


# ---------------------------------------------------------------------------------
# no number past the data
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_runs(good_run, workdir):
    """A 100-day horizon printed as a table (nobody has 6 months of follow-up) and the
    README's 730.5-day horizon as JSON (nobody has 24 months from infusion)."""
    procs = cartsim_many({
        "h100": ["run", "--patients", PATIENTS, "--seed", SEED, "--horizon-days", 100, "--out", "H100"],
        "h730": ["run", "--patients", PATIENTS, "--seed", SEED, "--horizon-days", 730.5, "--out", "H730", "--json"],
    }, workdir)
    for proc in procs.values():
        assert proc.returncode == 0, describe(proc)
    return procs, workdir


def test_short_horizon_prints_no_landmark_past_the_follow_up(short_runs):
    procs, workdir = short_runs
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:4]]
            for line in procs["h100"].stdout.splitlines() if line.count("│") >= 4}
    summary = json.loads((workdir / "H100" / "summary.json").read_text(encoding="utf-8"))
    for endpoint in ("os", "efs", "lfs"):
        e = summary[endpoint]
        follow = e["max_followup_days"]
        assert 0 < follow <= 100
        for m in (6, 12, 24):
            assert e[f"m{m}"] is None and e[f"m{m}_ci"] == [None, None]
            assert e["not_estimable"][f"m{m}"] == f"beyond the maximum follow-up of {follow:.1f} d"
            value, reason = rows[f"{endpoint.upper()} at {m} months"]
            assert value == "\u2013" and reason.startswith("beyond the maximum follow-up")  # may wrap
        assert e["rmst_m24_days"] is None and "rmst_m24_days" in e["not_estimable"]
        # the curve stays above 1/2 for 100 days: the median is not reached
        assert e["median_days"] is None and e["not_estimable"]["median_days"].startswith("not reached")
        assert rows[f"{endpoint.upper()} median"][0] == "not reached"
    assert summary["cir_m24"] is None and summary["nrm_m24"] is None
    assert summary["not_estimable"]["cir_m24"].startswith("beyond the maximum follow-up of")
    assert summary["itt"]["os"]["m12"] is None
    wrapped = [cells for label, cells in rows.items() if label.startswith(("relapse (CIR)", "OS at 12 months from"))]
    assert len(wrapped) == 2  # labels may wrap at the terminal's width
    for value, reason in wrapped:
        assert value == "\u2013" and reason.startswith("beyond the maximum follow-up")


def test_readme_horizon_has_12_but_not_24_month_landmarks(short_runs, good_run):
    procs, _ = short_runs
    short, long = json.loads(procs["h730"].stdout), json.loads(good_run[0].stdout)
    for endpoint in ("os", "efs", "lfs"):
        e, ref = short[endpoint], long[endpoint]
        assert e["max_followup_days"] < 730.5 < ref["max_followup_days"]
        assert e["m24"] is None and e["m24_ci"] == [None, None] and e["rmst_m24_days"] is None
        assert set(e["not_estimable"]) >= {"m24", "rmst_m24_days"}
        # within the data the estimate is the 5-year run's (same patients; all are infused well before
        # day 365, so nobody's first 12 months are cut by the shorter horizon)
        for key in ("m6", "m12", "m6_ci", "m12_ci"):
            assert e[key] == ref[key], (endpoint, key)
        assert "m24" not in ref["not_estimable"] and ref["m24"] is not None
    assert short["cir_m24"] is None and long["cir_m24"] is not None
    assert short["competing_risks"]["cir_m12"] == long["competing_risks"]["cir_m12"]


# ---------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------

BAD_SCENARIOS = {
    "bad_key.toml": "[cohort]\np_hihg_risk = 0.3\n",
    "bad_probability.toml": "[overrides]\n\"hsct.p_trm\" = 1.4\n",
}
BROKEN_TOML = "broken.toml"


# (id, arguments before --out, words the error line must contain, marks); the output
# folder is appended as `--out <folder>` (except where the case names its own --out)
BAD_CASES = [
    ("unknown-key", ["run", "bad_key.toml", "--patients", "10"], ["bad_key.toml", "cohort.p_hihg_risk",
                                                                  "cohort.p_high_risk"], ()),
    ("probability", ["run", "bad_probability.toml", "--patients", "10"], ["bad_probability.toml", "hsct.p_trm",
                                                                          "1.4"], ()),
    ("malformed-toml", ["run", BROKEN_TOML], [BROKEN_TOML, "TOML"], ()),
    ("missing-scenario", ["run", "no_such_scenario.toml"], ["no_such_scenario.toml", "not found"], ()),
    ("patients-fraction", ["run", "--patients", "1.5"], ["--patients"], ()),
    ("patients-zero", ["run", "--patients", "0"], ["--patients", "0"], ()),
    ("patients-negative", ["run", "--patients", "-3"], ["--patients", "-3"], ()),
    ("threads-zero", ["run", "--patients", "10", "--threads", "0"], ["--threads", "0"], ()),
    ("unknown-option", ["run", "--no-such-option"], ["--no-such-option"], ()),
    ("out-is-a-file", ["run", "--patients", "10", "--out", "{folder}/km.png"], ["km.png"], ()),
    ("out-under-a-file", ["run", "--patients", "10", "--out", "{folder}/km.png/sub"], ["--out", "km.png"], ()),
    ("out-in-package-params", ["run", "--patients", "10", "--out", str(REPO / "params")], ["--out", "params"], ()),
]


@pytest.fixture(scope="module")
def batch(good_run, workdir):
    """Every invocation that needs the good run first, run concurrently: the two repeat
    runs ("same", "other") and each bad case, with ``--out`` at its own copy of the good
    run's outputs (folder and snapshot before the run in ``batch["kept"]``)."""
    _, good_out = good_run
    for name, body in BAD_SCENARIOS.items():
        (workdir / name).write_text(f"[scenario]\nbase = {json.dumps(str(DEFAULTS))}\n\n{body}", encoding="utf-8")
    (workdir / BROKEN_TOML).write_text("[scenario\nname = 'x'\n", encoding="utf-8")
    arg_lists: dict[str, list[object]] = {
        "same": ["run", "--patients", PATIENTS, "--seed", SEED, "--out", "SAME", "--json"],
        "other": ["run", "--patients", PATIENTS, "--seed", SEED + 1, "--out", "OTHER", "--json"],
    }
    kept = {}
    for case_id, args, _, _ in BAD_CASES:
        folder = workdir / f"kept_{case_id}"
        shutil.copytree(good_out, folder)
        kept[case_id] = (folder, snapshot(folder))
        if "--out" in args:
            arg_lists[case_id] = [str(a).format(folder=folder) for a in args]
        else:
            arg_lists[case_id] = [*args, "--out", folder]
    procs = cartsim_many(arg_lists, cwd=workdir)
    return {**procs, "kept": kept}


def test_good_outputs_exist_before_bad_runs(good_run):
    assert snapshot(good_run[1]).keys() == set(OUTPUT_FILES)  # so the "unchanged" checks compare something


@pytest.mark.parametrize("case_id, words",
                         [pytest.param(c[0], c[2], marks=c[3], id=c[0]) for c in BAD_CASES])
def test_bad_input_is_one_error_line_and_exit_2(batch, case_id, words):
    proc = batch[case_id]
    assert proc.returncode == 2, describe(proc)
    assert "Traceback" not in proc.stderr, describe(proc)
    assert proc.stdout == "", describe(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, describe(proc)
    line = lines[0]
    assert line.startswith("cartsim: error:"), line
    assert line.removeprefix("cartsim: error:").strip(), line
    for word in words:
        assert word in line, f"{word!r} missing from {line!r}"


@pytest.mark.parametrize("case_id", [c[0] for c in BAD_CASES])
def test_bad_input_leaves_existing_outputs_unchanged(batch, case_id):
    folder, before = batch["kept"][case_id]
    after = snapshot(folder)
    assert after.keys() == before.keys()  # nothing added (no temporaries), nothing removed
    changed = [name for name in before if after[name] != before[name]]
    assert changed == []


# --- cartsim simon ---------------------------------------------------------------------

def test_simon_json_gives_simon_1989_designs(tmp_path):
    """p0 = 0.10, p1 = 0.30, alpha 0.05, power 0.8: Simon (1989) Table 1."""
    proc = cartsim("simon", "--p0", "0.1", "--p1", "0.3", "--json", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    out = json.loads(proc.stdout)
    opt, mm = out["optimal"], out["minimax"]
    assert (opt["r1"], opt["n1"], opt["r"], opt["n"]) == (1, 10, 5, 29)
    assert (mm["r1"], mm["n1"], mm["r"], mm["n"]) == (1, 15, 5, 25)
    assert round(opt["en0"], 1) == 15.0
    assert round(mm["pet0"], 2) == 0.55


@pytest.mark.parametrize("args", [("--p0", "0.3", "--p1", "0.2"), ("--p0", "0.1", "--p1", "0.3", "--alpha", "1.5"),
                                  ("--p0", "0.1", "--p1", "0.3", "--power", "0")])
def test_simon_bad_input_is_one_line_exit_2(tmp_path, args):
    assert_one_error_line(cartsim("simon", *args, cwd=tmp_path))


# --- cartsim power ----------------------------------------------------------------------

def test_power_json_has_the_documented_keys_and_a_monotone_curve(tmp_path):
    proc = cartsim("power", "two_arm_tandem_vs_cd19", "--trials", "200", "--seed", "5", "--out", "out", "--json",
                   cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    out = json.loads(proc.stdout)
    assert {"endpoint", "test", "grid", "n_required", "analytic_n", "assurance"} <= set(out)
    grid = out["grid"]
    assert {"n", "power", "se", "events_mean", "duration_months_mean"} <= set(grid[0])
    # nested trials: power over 200 trials may wobble, but the ends must be ordered
    assert grid[-1]["power"] > grid[0]["power"]
    assert (tmp_path / "out" / "power.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "out" / "power.json").read_text())["grid"] == grid


@pytest.mark.parametrize("args", [("no_such_trial.toml",), ("two_arm_tandem_vs_cd19", "--trials", "0")])
def test_power_bad_input_is_one_line_exit_2(tmp_path, args):
    assert_one_error_line(cartsim("power", *args, cwd=tmp_path))
