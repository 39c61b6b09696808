"""Outputs as a set (``sim.io.files.OutputSet``): a failed or killed run never leaves a
folder mixing runs, a second writer into the same folder is refused, what killed writers
left is cleaned or finished, each sweep kind has its own folder, and nothing is written
into the package's committed params/ unless asked for."""

from __future__ import annotations

import gc
import hashlib
import os
from pathlib import Path

import pytest
from cli_process import assert_one_error_line, cartsim, describe

from sim import api
from sim.api import calibration as api_calibration
from sim.api import sweeps as api_sweep
from sim.io.files import STAGING_PREFIX, OutputSet, recover, write_json
from sim.model.errors import InputError

REPO = Path(__file__).resolve().parents[2]
PARAMS = REPO / "params"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in snapshot(folder).items()}


@pytest.fixture(scope="module")
def small_run() -> api.RunResult:
    return api.run("baseline", patients=200, seed=4)


@pytest.fixture(scope="module")
def other_run() -> api.RunResult:
    return api.run("baseline", patients=200, seed=5)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (not an Exception, so no handler catches it)."""


# --- a failed run leaves the previous outputs byte-identical -------------------------------------

def test_failure_while_writing_leaves_previous_outputs_byte_identical(tmp_path, small_run, other_run, monkeypatch):
    api.write_outputs(small_run, tmp_path)
    before = snapshot(tmp_path)
    assert set(before) == {"patients.parquet", "summary.json", "km.png"}

    def broken_figure(*args, **kwargs):  # patients.parquet and summary.json are written by then
        raise RuntimeError("drawing failed")

    monkeypatch.setattr("sim.report.figures.km_figure", broken_figure)
    with pytest.raises(RuntimeError, match="drawing failed"):
        api.write_outputs(other_run, tmp_path)
    assert snapshot(tmp_path) == before  # no temporary left either


def test_killed_between_renames_is_finished_by_the_next_writer(tmp_path, small_run, other_run, monkeypatch):
    api.write_outputs(small_run, tmp_path)
    old = snapshot(tmp_path)
    real_replace = os.replace
    moved: list[str] = []

    def replace_then_die(src, dst):
        if moved and Path(dst).parent == tmp_path:
            raise Killed
        real_replace(src, dst)
        if Path(dst).parent == tmp_path:
            moved.append(Path(dst).name)

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(Killed):
        api.write_outputs(other_run, tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    mixed = snapshot(tmp_path)
    new_names = [n for n in ("patients.parquet", "summary.json", "km.png") if mixed[n] != old[n]]
    assert new_names == moved == ["patients.parquet"]  # the kill left a mixed folder ...
    assert any(p.name.startswith(STAGING_PREFIX) for p in tmp_path.iterdir())  # ... and the commit record
    with OutputSet(tmp_path):  # the next writer into the folder finishes the renames first
        pass
    after = snapshot(tmp_path)
    assert set(after) == {"patients.parquet", "summary.json", "km.png"}
    assert all(after[n] != old[n] for n in after)  # every file is from the second run
    fresh = tmp_path.parent / "fresh"
    api.write_outputs(other_run, fresh)
    assert after["patients.parquet"] == snapshot(fresh)["patients.parquet"]


def test_killed_before_the_commit_record_keeps_the_old_set(tmp_path, small_run, other_run, monkeypatch):
    api.write_outputs(small_run, tmp_path)
    old = snapshot(tmp_path)

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr("sim.report.figures.km_figure", die)
    with pytest.raises(Killed):
        api.write_outputs(other_run, tmp_path)
    assert snapshot(tmp_path) == old


def test_stale_staging_folders_and_temporaries_are_cleaned(tmp_path):
    (tmp_path / "summary.json").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("the user's own file\n")
    stale = tmp_path / f"{STAGING_PREFIX}dead1234"  # a killed writer's staging, never committed
    stale.mkdir()
    (stale / "summary.json").write_text('{"half": ')
    (tmp_path / ".summary.json.k2j4_9zq.tmp").write_text("half")
    (tmp_path / "chunks").mkdir()
    (tmp_path / "chunks" / ".chunk_00003.parquet.ab12cd34.tmp").write_bytes(b"PAR1")
    (tmp_path / "chunks" / "chunk_00001.parquet").write_bytes(b"kept")
    with OutputSet(tmp_path):
        pass
    assert snapshot(tmp_path) == {"summary.json": b"{}\n", "notes.txt": b"the user's own file\n",
                                  "chunks/chunk_00001.parquet": b"kept"}


def write_pair(a: Path, b: Path, then: type[BaseException] | None = None) -> None:
    """x.txt into folders a and b as one set (``then``: raised before the commit)."""
    with OutputSet({a: "--posterior", b: "--calibrated"}) as outs:
        outs.stage(a / "x.txt").write_text("new\n")
        outs.stage(b / "x.txt").write_text("new\n")
        if then is not None:
            raise then


def test_a_committed_record_across_two_folders_is_finished_from_either(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "x.txt").write_text("old\n")
    real_replace = os.replace

    def die_on_b(src, dst):
        if Path(dst) == (b / "x.txt").resolve():
            raise Killed
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", die_on_b)
    with pytest.raises(Killed):
        write_pair(a, b)
    monkeypatch.setattr(os, "replace", real_replace)
    assert ((a / "x.txt").read_text(), (b / "x.txt").read_text()) == ("new\n", "old\n")
    recover(b)  # the secondary folder finds the primary's record and finishes it
    assert (b / "x.txt").read_text() == "new\n"
    recover(a)
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir()) == ["x.txt"]


def test_two_folders_uncommitted_are_both_rolled_back(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with pytest.raises(Killed):
        write_pair(a, b, then=Killed)
    assert list(a.iterdir()) == list(b.iterdir()) == []


def test_an_opened_set_never_committed_is_discarded_when_collected(tmp_path):
    (tmp_path / "summary.json").write_text("old\n")
    outs = OutputSet(tmp_path).open()
    outs.stage("summary.json").write_text("new\n")
    del outs  # the command failed before committing (at exit, the same finaliser runs)
    gc.collect()
    assert snapshot(tmp_path) == {"summary.json": b"old\n"}  # nothing staged left, lock released and removed
    with OutputSet(tmp_path):
        pass


# --- one writer per folder ------------------------------------------------------------------------

def test_second_writer_into_the_same_folder_is_refused(tmp_path):
    with OutputSet(tmp_path / "out") as first:
        with pytest.raises(InputError, match="another cartsim command is writing") as info, \
                OutputSet(tmp_path / "out" / ".", "--out"):
            pass
        assert "\n" not in str(info.value) and "--out" in str(info.value)
        write_json(first.stage("summary.json"), {"a": 1})
    with OutputSet(tmp_path / "out"):  # released: the next writer gets in
        pass
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["summary.json"]  # no lock file left


def test_second_process_into_a_locked_folder_gets_one_line(tmp_path):
    with OutputSet(tmp_path / "busy"):
        proc = cartsim("sweep", "psa", "--draws", "4", "--patients", "50", "--out", tmp_path / "busy", cwd=tmp_path)
        assert_one_error_line(proc, "--out", "another cartsim command is writing", "busy")
        assert not (tmp_path / "busy" / "chunks").exists()  # refused before any work


def test_unwritable_out_is_one_line_before_any_work(tmp_path):
    (tmp_path / "a_file").write_text("not a folder\n")
    proc = cartsim("run", "--patients", "100", "--out", tmp_path / "a_file" / "sub", cwd=tmp_path)
    assert_one_error_line(proc, "--out", "a_file")
    proc = cartsim("calibrate", "--initial", "30", "--iterations", "0", "--samples", "5", "--patients-per-study", "100",
                   "--posterior", tmp_path / "a_file" / "posterior.parquet", cwd=tmp_path)
    assert_one_error_line(proc, "--posterior", "a_file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # no calibration folder, nothing written


def test_package_params_need_force(tmp_path):
    for folder in (PARAMS, PARAMS / "sub"):
        with pytest.raises(InputError, match="params"), OutputSet(folder):
            pass
    assert not (PARAMS / "sub").exists()


# --- calibrate: its own folder, both or neither, never the committed pair unasked --------------

CALIBRATE_SMALL = {"samples": 5, "seed": 2, "patients_per_study": 1700, "n_initial": 30, "iterations": 0, "batch": 1}


def test_calibrate_refuses_the_committed_posterior_without_force(tmp_path):
    before = digests(PARAMS)
    for kwargs in ({"posterior_path": PARAMS / "posterior.parquet"}, {"calibrated_path": PARAMS / "calibrated.toml"},
                   {"out": PARAMS}):
        with pytest.raises(InputError, match="--force"):
            api_calibration.calibrate(**CALIBRATE_SMALL, **kwargs)
    assert digests(PARAMS) == before


def test_calibrate_writes_both_or_neither(tmp_path, monkeypatch):
    out = tmp_path / "fit"
    first = api_calibration.calibrate(**CALIBRATE_SMALL, out=out)
    assert (first.posterior_path, first.calibrated_path) == (out / "posterior.parquet", out / "calibrated.toml")
    before = snapshot(out)
    assert set(before) == {"posterior.parquet", "calibrated.toml"}

    def fail(*args, **kwargs):  # the posterior is written by then
        raise OSError("disk full")

    monkeypatch.setattr(api_calibration, "write_calibrated", fail)
    with pytest.raises(OSError, match="disk full"):
        api_calibration.calibrate(**{**CALIBRATE_SMALL, "seed": 3}, out=out)
    assert snapshot(out) == before


def test_calibrate_from_another_folder_never_writes_into_the_package(tmp_path):
    before = digests(PARAMS)
    proc = cartsim("calibrate", "--initial", "30", "--iterations", "0", "--samples", "5", "--patients-per-study",
                   "1700", "--batch", "1", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert digests(PARAMS) == before
    fit = tmp_path / "cartsim_calibration"
    assert sorted(p.name for p in fit.iterdir()) == ["calibrated.toml", "posterior.parquet"]
    assert "cartsim_calibration/posterior.parquet" in proc.stdout
    proc = cartsim("calibrate", "--initial", "30", "--iterations", "0", "--samples", "5", "--patients-per-study", "100",
                   "--posterior", PARAMS / "posterior.parquet", cwd=tmp_path)
    assert_one_error_line(proc, "--posterior", "--force")
    assert digests(PARAMS) == before


# --- sweeps: one folder per kind, figures of one sweep only ---------------------------------------

def test_each_sweep_kind_has_its_own_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small = {"patients": 50, "seed": 1, "outcome": "cr_rate"}
    api_sweep.sweep("oneway", params=["response.p_cr.first.cd19"], **small)
    api_sweep.sweep("psa", draws=3, **small)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cartsim_sweep_oneway", "cartsim_sweep_psa"]
    assert (tmp_path / "cartsim_sweep_oneway" / "tornado.png").is_file()
    assert not (tmp_path / "cartsim_sweep_oneway" / "psa.png").exists()
    # a different kind into the same folder replaces the other kind's figure with its own
    summary = api_sweep.sweep("psa", draws=3, out="cartsim_sweep_oneway", **small)
    names = sorted(p.name for p in (tmp_path / "cartsim_sweep_oneway").iterdir())
    assert names == ["chunks", "psa.png", "summary.json", "sweep.parquet"]
    assert sorted(Path(p).name for p in summary["files"].values()) == ["psa.png", "summary.json", "sweep.parquet"]


def test_failed_cli_run_leaves_outputs_and_wrote_line_lists_events(tmp_path):
    proc = cartsim("run", "--patients", "300", "--engine", "des", "--out", "o", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    wrote = "".join(proc.stdout.split("wrote ")[-1].split())  # the table width may wrap the line
    for name in ("patients.parquet", "summary.json", "km.png", "events.parquet"):
        assert f"o/{name}" in wrote, wrote
    before = snapshot(tmp_path / "o")
    proc = cartsim("run", "--patients", "300", "--horizon-days", "1e308", "--out", "o", cwd=tmp_path)
    assert proc.returncode != 0, describe(proc)
    assert snapshot(tmp_path / "o") == before
    proc = cartsim("run", "--patients", "300", "--out", "o", cwd=tmp_path)  # a kernel run retires events.parquet
    assert proc.returncode == 0, describe(proc)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["km.png", "patients.parquet", "summary.json"]


def test_patients_parquet_from_records_reads_back_as_the_patient_table(tmp_path, small_run):
    """patients.parquet is written in row groups straight from the record arrays; read back it
    is the pandas patient table (NaN as null, dtypes, provenance), with several row groups."""
    import pyarrow.parquet as pq

    from sim.io import parquet
    from sim.io.parquet import read_patients, write_patients

    path = write_patients(tmp_path / "p.parquet", small_run.records, small_run.provenance())
    table, prov = read_patients(path)
    assert prov == small_run.provenance()
    assert table.equals(small_run.patients) and list(table.dtypes) == list(small_run.patients.dtypes)
    old = parquet.ROW_GROUP_PATIENTS
    parquet.ROW_GROUP_PATIENTS = 64
    try:
        grouped = write_patients(tmp_path / "g.parquet", small_run.records, small_run.provenance())
    finally:
        parquet.ROW_GROUP_PATIENTS = old
    assert pq.ParquetFile(grouped).num_row_groups == 4  # 200 patients in groups of 64
    assert read_patients(grouped)[0].equals(small_run.patients)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_streamed_run_writes_the_same_patients_and_a_bounded_summary(tmp_path, small_run):
    """``run_streamed`` (what ``cartsim run`` does past STREAM_ABOVE_PATIENTS) writes the
    run's three files as one set, chunk by chunk: patients.parquet holds the in-memory
    run's records, the summary its counts (curves: tests/outcomes/test_stream.py)."""
    from sim.io.parquet import read_patients

    with OutputSet(tmp_path / "s", retire=api.RUN_FILES) as outs:
        streamed = api.run_streamed(small_run.scenario, outs, chunk_patients=64)
    files = snapshot(tmp_path / "s")
    assert set(files) == {"patients.parquet", "summary.json", "km.png"}
    table, prov = read_patients(tmp_path / "s" / "patients.parquet")
    assert table.equals(small_run.patients) and prov == small_run.provenance()
    assert streamed.summary["streamed"]["chunks"] == 4
    assert streamed.summary["rates"] == small_run.summary["rates"]
