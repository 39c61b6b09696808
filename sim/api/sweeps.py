"""The public API of sensitivity sweeps (re-exported by ``sim``): build a table of
parameter sets for a scenario (``sim.sweeps.designs``), run it in resumable chunks
locally or on Dask (``sim.sweeps.runner``), summarise it and write, in ``out``
(default ``cartsim_sweep_KIND``, one folder per kind): ``sweep.parquet`` (one row per
parameter set, provenance in the metadata), ``summary.json`` and a figure, as one set
(``sim.io.files.OutputSet``: all or none; another kind's figure left in the folder is
removed, so a figure never sits beside the table of a different sweep).

>>> import sim
>>> s = sim.sweep("oneway", "baseline", out="sweep1", patients=2000, outcome="cr_rate")   # doctest: +SKIP
>>> s["tornado"]["factors"][0]["factor"]                                                  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.api import runs as api
from sim.io.chunks import write_table
from sim.io.files import OutputSet, json_safe, read_toml, write_json
from sim.model.errors import InputError
from sim.model.limits import RUN_BYTES_PER_PATIENT, check_memory, check_option
from sim.model.scenario import Scenario
from sim.outcomes.sets import OUTCOMES, outcome_description
from sim.sweeps import analysis, designs
from sim.sweeps.factors import DEFAULT_PATIENTS, parse_bounds
from sim.sweeps.runner import CHUNK_SETS, check_cluster, check_scheduler, run_sweep

KINDS = ("oneway", "twoway", "psa", "sobol", "morris")
FIGURES = {"oneway": "tornado.png", "twoway": "heatmap.png", "psa": "psa.png", "sobol": "sobol.png",
           "morris": "morris.png"}
SWEEP_FILES = ("sweep.parquet", "summary.json", *FIGURES.values())


def default_out(kind: str) -> Path:
    """Each kind's own default output folder (relative to the current folder)."""
    return Path(f"cartsim_sweep_{kind}")
Progress = Callable[[int, int], None]


def _design_builder(kind: str, params: list[str] | None, bounds: Path | str | None, grid: int, draws: int,
                    prior: bool, n: int, trajectories: int, levels: int) -> Callable[[Scenario, int], designs.Design]:
    def build(sc: Scenario, seed: int) -> designs.Design:
        b = None
        if bounds is not None and kind in ("oneway", "twoway"):
            b = parse_bounds(read_toml(bounds), str(bounds))
        if kind in ("oneway", "twoway"):
            design = (designs.oneway_design(sc, params, b) if kind == "oneway"
                      else designs.twoway_design(sc, params or [], grid, b))
            unused = sorted(set(b or {}) - set(design.options["factors"]))
            if unused:
                raise InputError(str(bounds), f"bounds.{unused[0]}", "bounds for a parameter this sweep does not move",
                                 "bounds only for the swept parameters: " + ", ".join(design.options["factors"][:6])
                                 + (", ..." if len(design.options["factors"]) > 6 else ""))
            return design
        if kind == "psa":
            return designs.psa_design(sc, draws, prior, seed)
        if kind == "sobol":
            return designs.sobol_design(sc, params, n, seed)
        return designs.morris_design(sc, params, trajectories, levels, seed)

    return build


def sweep(kind: str, scenario: str | Path | Scenario | None = None, *, out: Path | str | None = None,
          outcome: str = "os_m12", patients: int = DEFAULT_PATIENTS, seed: int | None = None,
          horizon_days: float | None = None, params: list[str] | None = None, bounds: Path | str | None = None,
          grid: int = 5, draws: int = 1000, prior: bool = False, n: int = 256, trajectories: int = 20,
          levels: int = 4, resume: bool = False, cluster: str | None = None, workers: int | None = None,
          chunk_sets: int = CHUNK_SETS, threads: int | None = None, crn: bool = True,
          progress: Progress | None = None) -> dict[str, Any]:
    """Run one sweep (``kind`` in oneway, twoway, psa, sobol, morris) and return its summary
    (the object ``cartsim sweep KIND --json`` prints); files are written in ``out`` (default
    :func:`default_out`)."""
    if kind not in KINDS:
        raise InputError("sweep", "kind", f"unknown sweep {kind!r}", ", ".join(KINDS))
    build = _design_builder(kind, params, bounds, grid, draws, prior, n, trajectories, levels)
    folder = default_out(kind) if out is None else Path(out)
    return _execute(kind, scenario, build, patients=patients, seed=seed, horizon_days=horizon_days, outcome=outcome,
                    out=folder, resume=resume, cluster=cluster, workers=workers, chunk_sets=chunk_sets,
                    threads=threads, crn=crn, progress=progress)


def _execute(kind: str, scenario: str | Path | Scenario | None, build: Callable[[Scenario, int], designs.Design], *,
             patients: int, seed: int | None, horizon_days: float | None, outcome: str, out: Path, resume: bool,
             cluster: str | None, workers: int | None, chunk_sets: int, threads: int | None, crn: bool,
             progress: Progress | None) -> dict[str, Any]:
    designs.check_outcome(outcome)
    api.check_threads(threads)
    check_cluster(cluster)
    if cluster is not None and cluster != "local":
        check_scheduler(cluster)  # before any work: a wrong address fails within seconds
    for key, value, limit in (("--patients", patients, "patients"), ("--chunk-sets", chunk_sets, "chunk_sets"),
                              ("--workers", workers, "workers")):
        check_option(key, value, limit)
    # each thread (or worker) holds one parameter set's patients at a time
    check_memory(patients * RUN_BYTES_PER_PATIENT * (threads or os.cpu_count() or 1), "command line",
                 "--patients", f"{patients:,} patients per parameter set")
    sc = api.as_scenario(scenario).with_run(seed=seed, horizon_days=horizon_days)
    if kind != "psa":  # the other kinds analyse this one outcome
        designs.check_outcome(outcome, sc.run.horizon_days)
    design = build(sc, sc.run.seed)
    kwargs: dict[str, Any] = {"patients": patients, "seed": sc.run.seed, "horizon_days": sc.run.horizon_days,
                              "crn": crn, "chunk_sets": chunk_sets, "resume": resume, "cluster": cluster,
                              "workers": workers, "threads": threads}
    # the lock covers the chunks too: a second sweep into this folder is refused, not interleaved
    with OutputSet(out, retire=SWEEP_FILES) as outs:
        results, info = run_sweep(design, out, progress=progress, **kwargs)
        summary = _summarise(kind, design, results, info, outcome, sc)
        _write(kind, design, results, info, summary, outs, sc)
        summary["files"] = {"table": str(outs.target("sweep.parquet")), "summary": str(outs.target("summary.json")),
                            "figure": str(outs.target(FIGURES[kind]))}
        write_json(outs.stage("summary.json"), json_safe(summary))
    return json_safe(summary)


def _summarise(kind: str, design: designs.Design, results: Any, info: dict[str, Any], outcome: str,
               sc: Scenario) -> dict[str, Any]:
    spec = info["spec"]
    summary: dict[str, Any] = {
        "kind": kind, "scenario": sc.name, "seed": spec["seed"], "patients": spec["patients"],
        "horizon_days": spec["horizon_days"], "crn": spec["crn"], "sets": info["sets"], "chunks": info["chunks"],
        "computed_chunks": info["computed_chunks"], "resumed_chunks": info["resumed_chunks"],
        "spec_hash": info["spec_hash"], "parameter_hash": spec["parameter_hash"], "outcome": outcome,
        "cluster": info["cluster"], "elapsed_s": info["elapsed_s"], "patients_per_s": info["patients_per_s"],
        "design": design.options,
    }
    if kind == "oneway":
        summary["tornado"] = analysis.tornado(design, results, outcome)
    elif kind == "twoway":
        summary["twoway"] = analysis.twoway_grid(design, results, outcome)
    elif kind == "psa":
        summary["psa"] = analysis.psa_summary(results)
    elif kind == "sobol":
        summary["indices"] = analysis.sobol_indices(design, results, outcome, spec["seed"])
    elif kind == "morris":
        summary["indices"] = analysis.morris_indices(design, results, outcome, spec["seed"])
    return summary


def _write(kind: str, design: designs.Design, results: Any, info: dict[str, Any], summary: dict[str, Any],
           outs: OutputSet, sc: Scenario) -> None:
    from sim.report import sweep_figures as figs  # noqa: PLC0415 - matplotlib only when writing figures

    spec = info["spec"]
    provenance = {"cartsim_version": api.__version__, "kind": kind, "scenario": sc.name, "scenario_file": sc.file,
                  "seed": spec["seed"], "patients": spec["patients"], "horizon_days": spec["horizon_days"],
                  "parameter_hash": spec["parameter_hash"], "crn": spec["crn"], "spec_hash": info["spec_hash"],
                  "sweep_spec": spec, "outcomes": {o.name: outcome_description(o) for o in OUTCOMES}}
    write_table(outs.stage("sweep.parquet"), results, json_safe(provenance))
    title = (f"{sc.name}: {kind}, {info['sets']:,} parameter sets x {spec['patients']:,} patients, seed {spec['seed']}"
             f"{'' if spec['crn'] else ', independent streams'}")
    figure = outs.stage(FIGURES[kind])
    if kind == "oneway":
        figs.tornado_figure(summary["tornado"], figure, title)
    elif kind == "twoway":
        figs.heatmap_figure(summary["twoway"], figure, title)
    elif kind == "psa":
        figs.psa_figure(results, summary["psa"], figure, f"{title} (from the {design.options['draws_from']})",
                        summary["outcome"])
    else:
        figs.indices_figure(summary["indices"], figure, title, kind)
