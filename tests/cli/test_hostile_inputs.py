"""Hostile inputs of issue 12, each through a real ``cartsim`` process: absurd values and
sizes, corrupted posterior files, bounds files, empty paths, calibration settings that
cannot work and a --cluster that is not Dask. Each must give exit 2 and one
``cartsim: error:`` line naming the option or key and what is allowed, promptly, and
never allocate the memory it was asked for (the memory preflight names the size).

Every case fails while checking its input, before simulating: the runs are short.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_process import assert_one_error_line, cartsim, cartsim_in_process, not_dask_server

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "baseline.toml"
POSTERIOR = ROOT / "params" / "posterior.parquet"
TRIAL = ROOT / "scenarios" / "trials" / "single_arm_cr_rate.toml"


def _scenario(tmp: Path, body: str) -> Path:
    path = tmp / "hostile.toml"
    path.write_text(f'[scenario]\nbase = "{ROOT / "params" / "defaults.toml"}"\n{body}\n', encoding="utf-8")
    return path


def _bounds(tmp: Path, body: str) -> Path:
    path = tmp / "bounds.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _posterior_with(tmp: Path, column: str, value: float) -> Path:
    table = pq.read_table(POSTERIOR)
    x = table.column(column).to_numpy().copy()
    x[3] = value
    path = tmp / "corrupt_posterior.parquet"
    pq.write_table(table.set_column(table.column_names.index(column), column, pa.array(x)), path)
    return path


def _trial_with_grid(tmp: Path, grid: str) -> Path:
    text = TRIAL.read_text(encoding="utf-8").replace('scenario = "../baseline.toml"', f'scenario = "{BASELINE}"')
    text = text.replace("n = [20, 40, 60, 80, 100, 120, 140]", f"n = {grid}")
    path = tmp / "hostile_trial.toml"
    path.write_text(text, encoding="utf-8")
    return path


# (id, arguments (a callable of the temporary folder where files are needed), fragments of the error)
CASES = [
    # past 2 x 10^7 patients a run streams (memory of one chunk): its Parquet file bounds it
    ("run-patients-1e10", ["run", "--patients", "10000000000"], ["--patients", "GiB of disk", "free"]),
    ("run-horizon-1e308", ["run", "--horizon-days", "1e308"], ["--horizon-days", "1e+308", "36,525 days"]),
    ("run-out-empty", ["run", "--out", ""], ["--out", "empty value"]),
    ("scenario-age-1e308", lambda t: ["run", _scenario(t, "[cohort]\nage_median_years = 1e308")],
     ["hostile.toml", "cohort.age_median_years", "<= 120 years"]),
    ("scenario-median-1e308",
     lambda t: ["run", _scenario(t, '[overrides]\n"remission.relapse.median_days" = 1e308')],
     ["hostile.toml", "remission.relapse.median_days", "<= 36,525 days"]),
    ("psa-draws-1e8", ["sweep", "psa", "--draws", "100000000"], ["--draws", "of memory", "available"]),
    ("psa-draws-1e10", ["sweep", "psa", "--draws", "10000000000"], ["--draws", "100,000,000"]),
    ("sobol-n-2^40", ["sweep", "sobol", "--n", str(2**40)], ["--n", "16,777,216"]),
    ("twoway-grid-1e5", ["sweep", "twoway", "--param", "nrm.p_year1", "--param", "hsct.p_trm", "--grid", "100000"],
     ["--grid", "1,000"]),
    ("morris-trajectories-1e9", ["sweep", "morris", "--trajectories", "1000000000"], ["--trajectories", "1,000,000"]),
    ("morris-trajectories-5e5", ["sweep", "morris", "--trajectories", "500000"],
     ["--trajectories", "of memory", "available"]),
    ("bounds-1e308", lambda t: ["sweep", "oneway", "--bounds",
                                _bounds(t, '[bounds]\n"remission.relapse.median_days" = [120, 1e308]')],
     ["bounds.toml", "remission.relapse.median_days", "<= 36,525 days"]),
    ("bounds-empty", lambda t: ["sweep", "oneway", "--bounds", _bounds(t, "[bounds]\n")],
     ["bounds.toml", "empty"]),
    ("bounds-not-swept", lambda t: ["sweep", "oneway", "--param", "nrm.p_year1", "--bounds",
                                    _bounds(t, '[bounds]\n"remission.relapse.median_days" = [120, 360]')],
     ["bounds.toml", "remission.relapse.median_days", "does not move", "nrm.p_year1"]),
    ("compare-bootstrap-1e9", ["compare", "baseline", "tandem_for_all", "--bootstrap", "1000000000"],
     ["--bootstrap", "1,000,000"]),
    ("compare-patients-1e8", ["compare", "baseline", "tandem_for_all", "--patients", "100000000"],
     ["--patients", "of memory", "available"]),
    ("power-trials-1e8", ["power", TRIAL, "--trials", "100000000"], ["--trials", "of memory", "available"]),
    ("power-trials-1e10", ["power", TRIAL, "--trials", "10000000000"], ["--trials", "100,000,000"]),
    ("power-grid-1e10", lambda t: ["power", _trial_with_grid(t, "[20, 10000000000]")],
     ["hostile_trial.toml", "grid.n", "got 10000000000", "10,000,000"]),
    ("simon-p0-0.5-p1-0.51", ["simon", "--p0", "0.5", "--p1", "0.51"], ["--p1", "15,486", "<= 400"]),
    ("validate-draws-1e10", ["validate", "--draws", "10000000000"], ["--draws", "100,000,000"]),
    ("validate-draws-above-posterior", ["validate", "--draws", "5000"], ["--draws", "holds 1,000"]),
    ("validate-posterior-p-1.4", lambda t: ["validate", "--posterior",
                                            _posterior_with(t, "response.p_cr.first.cd19", 1.4)],
     ["corrupt_posterior.parquet", "response.p_cr.first.cd19 (draw_id 3)", "1.4", "[0, 1]"]),
    ("validate-posterior-negative-days", lambda t: ["validate", "--posterior",
                                                    _posterior_with(t, "remission.relapse.median_days", -20.0)],
     ["corrupt_posterior.parquet", "remission.relapse.median_days (draw_id 3)", "> 0"]),
    ("calibrate-initial-60-patients-50", lambda t: ["calibrate", "--initial", "60", "--patients-per-study", "50",
                                                    "--posterior", t / "p.parquet", "--calibrated", t / "c.toml"],
     ["--patients-per-study", ">= 1650"]),
    ("calibrate-initial-0", lambda t: ["calibrate", "--initial", "0", "--posterior", t / "p.parquet",
                                       "--calibrated", t / "c.toml"], ["--initial", "from 1"]),
]


#: run as real processes (the rest through the entry point in this process: no import cost)
REAL_PROCESS = {"run-patients-1e10", "simon-p0-0.5-p1-0.51"}


@pytest.mark.parametrize(("args", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_error_line(tmp_path, args, fragments, request, capsys, monkeypatch):
    argv = args(tmp_path) if callable(args) else args
    if request.node.callspec.id in REAL_PROCESS:
        proc = cartsim(*argv, cwd=tmp_path)
    else:
        monkeypatch.chdir(tmp_path)
        proc = cartsim_in_process(argv, capsys, monkeypatch)
    assert_one_error_line(proc, *fragments)
    assert "n-initial" not in proc.stderr  # options are named as the user types them
    written = {p.name for p in tmp_path.rglob("*")} - {"hostile.toml", "bounds.toml", "corrupt_posterior.parquet",
                                                      "hostile_trial.toml"}
    assert not (written - {"cartsim_output", "cartsim_sweep"}), written  # nothing written but an empty --out


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    with not_dask_server() as address:
        yield address


def test_cluster_that_is_not_dask_fails_promptly(tmp_path, silent_server):
    t0 = time.perf_counter()
    proc = cartsim("sweep", "psa", "--draws", "2", "--patients", "10", "--prior", "--cluster", silent_server,
                   cwd=tmp_path)
    assert_one_error_line(proc, "--cluster", silent_server, "no Dask scheduler answered")
    # the handshake's 4 s plus the process start (imports); it hung 14 minutes before
    assert time.perf_counter() - t0 < 60
