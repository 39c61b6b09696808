"""The public Python API (re-exported from ``sim``): notebooks and the CLI call this.

>>> import sim
>>> result = sim.run("baseline", patients=10_000, seed=1)
>>> result.summary["cr_rate"]            # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.api.calibration import load_targets
from sim.calibration.study_run import study_report
from sim.calibration.targets import TargetSet
from sim.engine.des import EVENT_NAMES, RESOURCES, DesResult, run_des
from sim.engine.kernel import run_kernel
from sim.io.files import TARGETS_PATH, OutputSet, json_safe, load_scenario, write_json
from sim.io.parquet import PatientWriter, write_events, write_patients
from sim.model.errors import InputError
from sim.model.limits import RUN_BYTES_PER_PATIENT, check_memory, check_option
from sim.model.outputs import COLUMNS, F, I, Records
from sim.model.scenario import Scenario
from sim.outcomes.stream import StreamSummary
from sim.outcomes.summary import summarise

__version__ = "0.1.0"
CHUNK_PATIENTS = 1_000_000  # progress granularity; results do not depend on it
#: ``cartsim run`` streams larger runs through the summaries (:func:`run_streamed`)
STREAM_ABOVE_PATIENTS = 20_000_000

ProgressCallback = Callable[[int, int], None]


ENGINES = ("kernel", "des")


@dataclass
class RunResult:
    """A simulated cohort: its records, their summary and where they came from."""

    scenario: Scenario
    records: Records
    summary: dict[str, Any]
    elapsed_s: float  # simulation wall time (engine only)
    engine: str = "kernel"
    events: pd.DataFrame | None = None  # SimPy engine: one row per event

    @cached_property
    def patients(self) -> pd.DataFrame:
        """The patient table (built on first use: a run's outputs are written from ``records``)."""
        return self.records.frame()

    def provenance(self) -> dict[str, Any]:
        return provenance(self.scenario, self.engine)


def provenance(scenario: Scenario, engine: str = "kernel") -> dict[str, Any]:
    """What identifies a simulation: scenario, seed, size, horizon and parameter hash."""
    return {
        "cartsim_version": __version__,
        "scenario": scenario.name,
        "scenario_file": scenario.file,
        "seed": scenario.run.seed,
        "patients": scenario.run.patients,
        "horizon_days": scenario.run.horizon_days,
        "parameter_hash": scenario.params.digest(),
        "engine": engine,
    }


def as_scenario(scenario: str | Path | Scenario | None) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def with_overrides(scenario: str | Path | Scenario | None, overrides: dict[str, Any],
                   source: str = "overrides") -> Scenario:
    """A scenario with parameters replaced by dotted name, validated like a file's
    ``[overrides]`` (e.g. ``{"response.p_cr.first.tandem": 0.9}``)."""
    sc = as_scenario(scenario)
    return replace(sc, params=sc.params.with_values(overrides, source))


def check_threads(threads: int | None) -> None:
    check_option("--threads", threads, "threads")


#: peak memory of a kernel run held in memory, per patient: 82 bytes of records, the
#: summary's two packed curves (16) and infused mask (8), the Parquet writer's row group
#: (measured 2026-11-25: ~1.3 GB peak for 10^7 patients with ~0.3 GB of code and libraries)
KERNEL_RUN_BYTES_PER_PATIENT = 120


#: patients.parquet bytes per patient (zstd; measured 34 on the baseline, rounded up)
PARQUET_BYTES_PER_PATIENT = 40


def check_run_disk(sc: Scenario, out: Path | str, patients_given: bool) -> None:
    """Refuse up front a run whose patients.parquet cannot fit on the disk of ``out`` (a
    streamed run's memory no longer bounds its size: its file does)."""
    folder = Path(out).resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    need = sc.run.patients * PARQUET_BYTES_PER_PATIENT
    if need > free:
        key, file = ("--patients", "command line") if patients_given else ("run.patients", sc.file)
        raise InputError(file, key, f"{sc.run.patients:,} patients would need about {need / 2**30:,.1f} GiB of disk "
                         f"for patients.parquet, {free / 2**30:,.1f} GiB is free", "a smaller size, or another --out")


def check_run_memory(sc: Scenario, patients_given: bool, engine: str = "kernel", streamed: bool = False) -> None:
    """Refuse up front a run whose records cannot fit in the memory available (a streamed
    run holds one chunk)."""
    key, file = ("--patients", "command line") if patients_given else ("run.patients", sc.file)
    held = min(sc.run.patients, CHUNK_PATIENTS) if streamed else sc.run.patients
    per = KERNEL_RUN_BYTES_PER_PATIENT if engine == "kernel" else RUN_BYTES_PER_PATIENT
    check_memory(held * per, file, key, f"{sc.run.patients:,} patients")


def simulate(scenario: Scenario, threads: int | None = None, chunk_patients: int = CHUNK_PATIENTS,
             progress: ProgressCallback | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw kernel output (float32 block, int8 block) for the scenario's run settings."""
    n = scenario.run.patients
    theta = scenario.params.theta()
    fout = np.empty((n, len(F)), np.float32)
    iout = np.empty((n, len(I)), np.int8)
    for start in range(0, n, chunk_patients):
        stop = min(n, start + chunk_patients)
        f, i = run_kernel(theta, scenario.run.seed, stop - start, scenario.run.horizon_days,
                          first_patient_id=start, threads=threads)
        fout[start:stop] = f
        iout[start:stop] = i
        if progress is not None:
            progress(stop, n)
    return fout, iout


def simulate_records(scenario: Scenario, threads: int | None = None, chunk_patients: int = CHUNK_PATIENTS,
                     progress: ProgressCallback | None = None) -> Records:
    """The scenario's patients as :class:`~sim.model.outputs.Records`, simulated a chunk at a
    time (memory: the records plus one chunk of kernel blocks)."""
    n = scenario.run.patients
    theta = scenario.params.theta()
    records = Records.empty(n)
    for start in range(0, n, chunk_patients):
        stop = min(n, start + chunk_patients)
        f, i = run_kernel(theta, scenario.run.seed, stop - start, scenario.run.horizon_days,
                          first_patient_id=start, threads=threads)
        records.put(start, f, i)
        del f, i  # before the next chunk is allocated
        if progress is not None:
            progress(stop, n)
    return records


def patient_table(fout: np.ndarray, iout: np.ndarray, first_patient_id: int = 0) -> pd.DataFrame:
    """The kernel's blocks as a DataFrame with the public column names."""
    data: dict[str, np.ndarray] = {"patient_id": np.arange(first_patient_id, first_patient_id + len(fout))}
    for col in F:
        data[col.name.lower()] = np.ascontiguousarray(fout[:, col])
    for icol in I:
        data[icol.name.lower()] = np.ascontiguousarray(iout[:, icol])
    return pd.DataFrame(data)


def column_documentation() -> dict[str, str]:
    """Public column name -> 'unit: description'."""
    return {c.name: f"{c.unit}: {c.description}" for c in COLUMNS}


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise InputError("command line", "--engine", f"unknown engine {engine!r}", ", ".join(ENGINES))


def simulate_des(scenario: Scenario, progress: ProgressCallback | None = None) -> DesResult:
    """The SimPy engine on the scenario's capacity (unlimited where not given)."""
    days = scenario.capacity.arrival_days
    if days is not None and len(days) < scenario.run.patients:
        raise InputError(scenario.file, "capacity.arrival_days",
                         f"lists {len(days)} arrival days for {scenario.run.patients} patients",
                         "at least one arrival day per patient (or set run.patients)")
    return run_des(scenario.params.theta(), scenario.run.seed, scenario.run.patients, scenario.run.horizon_days,
                   scenario.capacity, progress=progress)


def event_table(result: DesResult) -> pd.DataFrame:
    """The SimPy engine's event log with readable event and resource names."""
    df = pd.DataFrame(result.events)
    df["event"] = pd.Categorical.from_codes(df["event"], categories=list(EVENT_NAMES))
    codes = df["resource"].to_numpy()
    names = np.array(["", *RESOURCES], dtype=object)
    df["resource"] = names[np.where(codes < 0, 0, codes + 1)]
    return df


def _study_targets(sc: Scenario) -> TargetSet | None:
    """The calibration targets when ``sc`` replicates a study and the targets file exists."""
    return load_targets() if sc.study is not None and TARGETS_PATH.exists() else None


def run(scenario: str | Path | Scenario | None = None, *, patients: int | None = None,
        seed: int | None = None, horizon_days: float | None = None, threads: int | None = None,
        engine: str = "kernel", progress: ProgressCallback | None = None) -> RunResult:
    """Simulate a scenario (default: the built-in baseline) and summarise it.

    ``engine="kernel"``: the numba Monte Carlo kernel (no resources, fastest);
    ``engine="des"``: the SimPy engine with the scenario's ``[capacity]`` (queues for
    manufacturing slots, ICU beds, transplant beds), adding an event log and resource
    summaries. With unlimited capacity both give identical patient records.
    A study-replication scenario (``[study]`` section) adds ``summary["study"]``: its
    abstract's targets on the run's patients, censored like the study
    (:func:`sim.calibration.study_run.study_report`).
    """
    check_threads(threads)
    check_engine(engine)
    sc = as_scenario(scenario).with_run(patients=patients, seed=seed, horizon_days=horizon_days)
    check_run_memory(sc, patients is not None, engine)
    if engine == "kernel":  # compile (or load the compiled code) outside the timing: patients/s is the kernel's
        run_kernel(sc.params.theta(), sc.run.seed, 1, sc.run.horizon_days, threads=threads)
    t0 = time.perf_counter()
    events = None
    resources = None
    if engine == "kernel":
        records = simulate_records(sc, threads=threads, progress=progress)
    else:
        des = simulate_des(sc, progress=progress)
        records, resources = Records.from_blocks(des.fout, des.iout), des.resources
        events = event_table(des)
    elapsed = time.perf_counter() - t0
    summary = {"scenario": sc.name, "seed": sc.run.seed, "engine": engine, **summarise(records)}
    if resources is not None:
        summary["resources"] = resources
    # a study scenario: its abstract's targets, censored like the study
    study = study_report(sc, _study_targets(sc), threads=threads)
    if study is not None:
        summary["study"] = study
    summary["horizon_days"] = sc.run.horizon_days
    summary["parameter_hash"] = sc.params.digest()
    summary["elapsed_s"] = elapsed
    summary["patients_per_s"] = sc.run.patients / elapsed if elapsed > 0 else None
    return RunResult(sc, records, json_safe(summary), elapsed, engine, events)


RUN_FILES = ("patients.parquet", "summary.json", "km.png", "events.parquet")


def write_outputs(result: RunResult, out_dir: Path | str | OutputSet) -> dict[str, Path]:
    """patients.parquet, summary.json, km.png (and events.parquet for the SimPy engine) in
    ``out_dir``, written as one set: all replace the earlier run's files or none does, and
    an events.parquet of an earlier SimPy run is removed. Returns the final paths.
    ``out_dir`` may be an open :class:`~sim.io.files.OutputSet` (committed by its owner)."""
    from sim.report.figures import km_figure  # noqa: PLC0415 - matplotlib only when figures are asked for

    if not isinstance(out_dir, OutputSet):
        with OutputSet(out_dir, retire=RUN_FILES) as outs:
            return write_outputs(result, outs)
    outs = out_dir
    # the Parquet encoder releases the GIL: the file is written while the figure is drawn
    with ThreadPoolExecutor(max_workers=1) as pool:
        parquet = pool.submit(write_patients, outs.stage("patients.parquet"), result.records, result.provenance())
        write_json(outs.stage("summary.json"), result.summary)
        # the figure's curves binned as a streamed run's (StreamSummary): on its 600-point grid
        # they equal the exact curves to far below a pixel, at a few MB instead of ~40 bytes a patient
        curves = StreamSummary(result.scenario.run.horizon_days)
        curves.add(result.records)
        try:
            km_figure(curves, outs.stage("km.png"), f"{result.scenario.name}: "
                      f"{result.scenario.run.patients:,} patients, seed {result.scenario.run.seed}",
                      result.scenario.run.horizon_days)
        finally:
            parquet.result()
    paths = {"patients": outs.target("patients.parquet"), "summary": outs.target("summary.json"),
             "km": outs.target("km.png")}
    if result.events is not None:
        write_events(outs.stage("events.parquet"), result.events, result.provenance())
        paths["events"] = outs.target("events.parquet")
    return paths


@dataclass
class StreamedRun:
    """A run streamed to its output files: the summary (with ``streamed``: chunks, bin width
    and the curves' error bounds, :mod:`sim.outcomes.stream`) and where it came from."""

    scenario: Scenario
    summary: dict[str, Any]
    elapsed_s: float  # simulation, summaries and patients.parquet together
    curves: StreamSummary

    def provenance(self) -> dict[str, Any]:
        return provenance(self.scenario)


def run_streamed(scenario: str | Path | Scenario | None, out: OutputSet | None, *, patients: int | None = None,
                 seed: int | None = None, horizon_days: float | None = None, threads: int | None = None,
                 chunk_patients: int = CHUNK_PATIENTS, progress: ProgressCallback | None = None) -> StreamedRun:
    """Simulate with the kernel a chunk at a time, each chunk counted into the summary
    (:class:`~sim.outcomes.stream.StreamSummary`) and appended to patients.parquet as it is
    simulated: memory is one chunk plus the counts, whatever the number of patients. With
    ``out`` (an open :class:`~sim.io.files.OutputSet`, committed by its owner) the run's
    files are staged there (patients.parquet, summary.json, km.png); without, only the
    summary is computed. Records are those of :func:`run`; the summary's rates equal
    its, its curves are within the bounds it reports. A study scenario's targets are not
    computed (run it in memory)."""
    from sim.report.figures import km_figure  # noqa: PLC0415 - matplotlib only when figures are asked for

    check_threads(threads)
    sc = as_scenario(scenario).with_run(patients=patients, seed=seed, horizon_days=horizon_days)
    n = sc.run.patients
    theta = sc.params.theta()
    run_kernel(theta, sc.run.seed, 1, sc.run.horizon_days, threads=threads)  # compile outside the timing
    counts = StreamSummary(sc.run.horizon_days)
    t0 = time.perf_counter()
    names = Records.empty(0).names
    writer = None if out is None else PatientWriter(out.stage("patients.parquet"), names, provenance(sc))
    with writer or nullcontext():
        for start in range(0, n, chunk_patients):
            stop = min(n, start + chunk_patients)
            f, i = run_kernel(theta, sc.run.seed, stop - start, sc.run.horizon_days, first_patient_id=start,
                              threads=threads)
            records = Records.from_blocks(f, i, start)
            del f, i
            counts.add(records)
            if writer is not None:
                writer.write(records)
            if progress is not None:
                progress(stop, n)
    elapsed = time.perf_counter() - t0
    summary = {"scenario": sc.name, "seed": sc.run.seed, "engine": "kernel", **counts.summary(),
               "horizon_days": sc.run.horizon_days, "parameter_hash": sc.params.digest(), "elapsed_s": elapsed,
               "patients_per_s": n / elapsed if elapsed > 0 else None}
    result = StreamedRun(sc, json_safe(summary), elapsed, counts)
    if out is not None:
        write_json(out.stage("summary.json"), result.summary)
        km_figure(counts, out.stage("km.png"), f"{sc.name}: {n:,} patients, seed {sc.run.seed} (streamed)",
                  sc.run.horizon_days)
    return result
