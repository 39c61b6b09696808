"""``cartsim sweep``: sensitivity sweeps (oneway, twoway, psa, sobol, morris).

Every sub-command builds a table of parameter sets (``sim.sweeps.designs``), runs it
in resumable chunks locally or on Dask (``sim.sweeps.runner``) and writes, in
``--out``: ``sweep.parquet`` (one row per parameter set: set_id, design columns,
parameter values, outcomes and their Monte Carlo SEs; provenance in the metadata),
``summary.json`` (what ``--json`` prints), a figure, and ``chunks/`` (what ``--resume``
continues from).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sim.api import sweeps as api_sweep
from sim.commands.common import err, progress_bar, say_chunks_kept, stdout_console
from sim.outcomes.sets import OUTCOMES
from sim.sweeps.factors import DEFAULT_PATIENTS
from sim.sweeps.runner import CHUNK_SETS

sweep_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                        rich_markup_mode=None,
                        help="Sensitivity sweeps: one-way (tornado), two-way (heatmap), PSA, Sobol and Morris.")


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")


ScenarioArg = Annotated[str | None, typer.Argument(help="scenario TOML file or name in scenarios/ (default: baseline)")]
PatientsOpt = Annotated[int, typer.Option(help="patients per parameter set")]
SeedOpt = Annotated[int | None, typer.Option(help="root seed (default: the scenario's)")]
HorizonOpt = Annotated[float | None, typer.Option(help="follow-up horizon in days (default: the scenario's)")]
OutcomeOpt = Annotated[str, typer.Option(help="outcome drawn in the figure and indices: " + ", ".join(
    o.name for o in OUTCOMES))]
OutOpt = Annotated[Path, typer.Option(help="output folder (each kind has its own default)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="continue an interrupted sweep in --out "
                                         "(same command line); finished chunks are kept")]
ClusterOpt = Annotated[str | None, typer.Option(help="run chunks on Dask: tcp://HOST:PORT of a running scheduler, "
                                                "or local (a LocalCluster on this machine)")]
WorkersOpt = Annotated[int | None, typer.Option(help="worker processes for --cluster local (default: one per core)")]
ChunkOpt = Annotated[int, typer.Option("--chunk-sets", help="parameter sets per chunk file")]
ThreadsOpt = Annotated[int | None, typer.Option(help="kernel threads for a local run (default: all cores)")]
CrnOpt = Annotated[bool, typer.Option("--crn/--no-crn", help="common random numbers across parameter sets "
                                      "(default), or an independent stream per set")]
ParamsOpt = Annotated[list[str] | None, typer.Option("--params", "--param", metavar="NAME[,NAME...]",
                                                     help="parameter (repeat, or comma-separated); default: every "
                                                     "uncertain parameter")]
TwoParamsOpt = Annotated[list[str] | None, typer.Option("--params", "--param", metavar="NAME",
                                                        help="exactly two parameters (repeat, or comma-separated)")]
BoundsOpt = Annotated[Path | None, typer.Option(help="TOML file: [bounds] \"name\" = [low, high] replacing the "
                                                "2.5%/97.5% quantiles")]


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _execute(kind: str, scenario: str | None, build_options: dict[str, Any], *, patients: int, seed: int | None,
             horizon_days: float | None, outcome: str, out: Path, json_out: bool, resume: bool, cluster: str | None,
             workers: int | None, chunk_sets: int, threads: int | None, crn: bool) -> None:
    """The command-line wrapper of :func:`sim.api.sweeps.sweep`: a progress bar on a
    terminal, a note on Ctrl-C about the chunks kept, a table or one JSON object."""
    kwargs: dict[str, Any] = {"out": out, "outcome": outcome, "patients": patients, "seed": seed,
                              "horizon_days": horizon_days, "resume": resume, "cluster": cluster, "workers": workers,
                              "chunk_sets": chunk_sets, "threads": threads, "crn": crn, **build_options}
    try:
        if err.is_terminal:
            with progress_bar() as bar:
                task = bar.add_task(f"sweep {kind}", total=None)

                def tick(done: int, total: int) -> None:
                    bar.update(task, completed=done * patients, total=total * patients)

                summary = api_sweep.sweep(kind, scenario, progress=tick, **kwargs)
        else:
            summary = api_sweep.sweep(kind, scenario, **kwargs)
    except KeyboardInterrupt:
        say_chunks_kept(out)
        raise
    if json_out:
        sys.stdout.write(json.dumps(summary, allow_nan=False) + "\n")
        return
    _print(kind, summary)


def _fmt(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _print(kind: str, s: dict[str, Any]) -> None:
    console = stdout_console()
    head = (f"cartsim sweep {kind}: {s['scenario']}, {s['sets']:,} parameter sets x {s['patients']:,} patients "
            f"(seed {s['seed']}, {'common random numbers' if s['crn'] else 'independent streams'})")
    if kind == "oneway":
        t = s["tornado"]
        table = Table(title=f"{head}\n{t['outcome']} at base {_fmt(t['base'])} (MC SE {_fmt(t['base_se'], 2)})",
                      title_justify="left")
        for col in ("parameter", "low", "high", "outcome at low", "outcome at high", "swing"):
            table.add_column(col, justify="right")
        for r in t["factors"][:25]:
            table.add_row(escape(r["factor"]), _fmt(r["low"]), _fmt(r["high"]),
                          f"{_fmt(r['outcome_low'])} ± {_fmt(r['outcome_low_se'], 2)}",
                          f"{_fmt(r['outcome_high'])} ± {_fmt(r['outcome_high_se'], 2)}", _fmt(r["swing"], 3))
    elif kind == "twoway":
        g = s["twoway"]
        table = Table(title=f"{head}\n{g['outcome']}: rows {escape(g['factors'][0])}, columns "
                      f"{escape(g['factors'][1])}",
                      title_justify="left")
        table.add_column("")
        for v in g["values"][1]:
            table.add_column(_fmt(v), justify="right")
        for v, row in zip(g["values"][0], g["grid"], strict=True):
            table.add_row(_fmt(v), *(_fmt(x) for x in row))
    elif kind == "psa":
        table = Table(title=f"{head}, from the {s['design']['draws_from']}", title_justify="left")
        for col in ("outcome", "mean", "2.5%", "97.5%", "MC SE (one set)", "parameter share of variance"):
            table.add_column(col, justify="right")
        for name, e in s["psa"].items():
            mc = None if e.get("mc_var") is None else e["mc_var"] ** 0.5
            share = e.get("parameter_share")
            table.add_row(name, _fmt(e.get("mean")), _fmt(e.get("q025")), _fmt(e.get("q975")), _fmt(mc, 2),
                          "-" if share is None else f"{100 * share:.0f}%")
        undefined = [name for name, e in s["psa"].items() if e.get("note")]
        if undefined:  # e.g. landmarks past the horizon: NaN in sweep.parquet, null in summary.json
            table.caption = f"{', '.join(undefined)}: {s['psa'][undefined[0]]['note']}"
            table.caption_justify = "left"
    else:
        ind = s["indices"]
        table = Table(title=f"{head}\n{ind['outcome']}" + (f": {ind['note']}" if ind.get("note") else ""),
                      title_justify="left")
        cols = ("S1", "S1_conf", "ST", "ST_conf") if kind == "sobol" else ("mu_star", "mu_star_conf", "mu", "sigma")
        table.add_column("parameter")
        for col in cols:
            table.add_column(col.replace("_conf", " ±95%"), justify="right")
        for r in ind["indices"][:25]:
            table.add_row(escape(r["parameter"]), *(_fmt(r[c], 3) for c in cols))
    console.print(table)
    rate = "" if s["patients_per_s"] is None else f" ({s['patients_per_s']:,.0f} patients/s)"
    resumed = f"; {s['resumed_chunks']} chunk(s) resumed" if s["resumed_chunks"] else ""
    console.print(f"simulated {s['computed_chunks']} chunk(s) in {s['elapsed_s']:.1f} s{rate}{resumed}; wrote "
                  + ", ".join(s["files"].values()))


@sweep_app.command()
def oneway(scenario: ScenarioArg = None, params: ParamsOpt = None, bounds: BoundsOpt = None,
           outcome: OutcomeOpt = "os_m12", patients: PatientsOpt = DEFAULT_PATIENTS, seed: SeedOpt = None,
           horizon_days: HorizonOpt = None, out: OutOpt = Path("cartsim_sweep_oneway"), json_out: JsonOpt = False,
           resume: ResumeOpt = False, cluster: ClusterOpt = None, workers: WorkersOpt = None,
           chunk_sets: ChunkOpt = CHUNK_SETS, threads: ThreadsOpt = None, crn: CrnOpt = True) -> None:
    """Each uncertain parameter at its 2.5% and 97.5% quantiles (or --bounds); tornado.png."""

    _execute("oneway", scenario, {"params": _split(params), "bounds": bounds},
             patients=patients, seed=seed, horizon_days=horizon_days, outcome=outcome, out=out, json_out=json_out,
             resume=resume, cluster=cluster, workers=workers, chunk_sets=chunk_sets, threads=threads, crn=crn)


@sweep_app.command()
def twoway(scenario: ScenarioArg = None, params: TwoParamsOpt = None,
           grid: Annotated[int, typer.Option(help="grid points per parameter (>= 2)")] = 5,
           bounds: BoundsOpt = None, outcome: OutcomeOpt = "os_m12",
           patients: PatientsOpt = DEFAULT_PATIENTS, seed: SeedOpt = None, horizon_days: HorizonOpt = None,
           out: OutOpt = Path("cartsim_sweep_twoway"), json_out: JsonOpt = False, resume: ResumeOpt = False,
           cluster: ClusterOpt = None, workers: WorkersOpt = None, chunk_sets: ChunkOpt = CHUNK_SETS,
           threads: ThreadsOpt = None, crn: CrnOpt = True) -> None:
    """Two parameters (--param A --param B) on a K x K grid over their 2.5-97.5% ranges; heatmap.png."""

    _execute("twoway", scenario, {"params": _split(params), "bounds": bounds, "grid": grid},
             patients=patients, seed=seed, horizon_days=horizon_days, outcome=outcome, out=out, json_out=json_out,
             resume=resume, cluster=cluster, workers=workers, chunk_sets=chunk_sets, threads=threads, crn=crn)


@sweep_app.command()
def psa(scenario: ScenarioArg = None,
        draws: Annotated[int, typer.Option(help="parameter sets drawn")] = 1000,
        prior: Annotated[bool, typer.Option("--prior", help="draw from the prior distributions even when a "
                                            "calibrated posterior exists")] = False,
        outcome: OutcomeOpt = "os_m12", patients: PatientsOpt = DEFAULT_PATIENTS, seed: SeedOpt = None,
        horizon_days: HorizonOpt = None, out: OutOpt = Path("cartsim_sweep_psa"), json_out: JsonOpt = False,
        resume: ResumeOpt = False, cluster: ClusterOpt = None, workers: WorkersOpt = None,
        chunk_sets: ChunkOpt = CHUNK_SETS, threads: ThreadsOpt = None, crn: CrnOpt = True) -> None:
    """Probabilistic sensitivity analysis: parameter sets from the posterior (default) or the priors; psa.png."""

    _execute("psa", scenario, {"draws": draws, "prior": prior},
             patients=patients, seed=seed, horizon_days=horizon_days, outcome=outcome, out=out, json_out=json_out,
             resume=resume, cluster=cluster, workers=workers, chunk_sets=chunk_sets, threads=threads, crn=crn)


@sweep_app.command()
def sobol(scenario: ScenarioArg = None, params: ParamsOpt = None,
          n: Annotated[int, typer.Option("--n", help="base sample size N (a power of 2); N (D + 2) sets")] = 256,
          outcome: OutcomeOpt = "os_m12", patients: PatientsOpt = DEFAULT_PATIENTS, seed: SeedOpt = None,
          horizon_days: HorizonOpt = None, out: OutOpt = Path("cartsim_sweep_sobol"), json_out: JsonOpt = False,
          resume: ResumeOpt = False, cluster: ClusterOpt = None, workers: WorkersOpt = None,
          chunk_sets: ChunkOpt = CHUNK_SETS, threads: ThreadsOpt = None, crn: CrnOpt = True) -> None:
    """Sobol first-order and total indices (SALib, priors through their quantile functions); sobol.png."""

    _execute("sobol", scenario, {"params": _split(params), "n": n},
             patients=patients, seed=seed, horizon_days=horizon_days, outcome=outcome, out=out, json_out=json_out,
             resume=resume, cluster=cluster, workers=workers, chunk_sets=chunk_sets, threads=threads, crn=crn)


@sweep_app.command()
def morris(scenario: ScenarioArg = None, params: ParamsOpt = None,
           trajectories: Annotated[int, typer.Option(help="Morris trajectories R; R (D + 1) sets")] = 20,
           levels: Annotated[int, typer.Option(help="grid levels (even)")] = 4,
           outcome: OutcomeOpt = "os_m12", patients: PatientsOpt = DEFAULT_PATIENTS, seed: SeedOpt = None,
           horizon_days: HorizonOpt = None, out: OutOpt = Path("cartsim_sweep_morris"), json_out: JsonOpt = False,
           resume: ResumeOpt = False, cluster: ClusterOpt = None, workers: WorkersOpt = None,
           chunk_sets: ChunkOpt = CHUNK_SETS, threads: ThreadsOpt = None, crn: CrnOpt = True) -> None:
    """Morris elementary effects (mu*, sigma) through SALib; morris.png."""

    _execute("morris", scenario, {"params": _split(params), "trajectories": trajectories, "levels": levels},
             patients=patients, seed=seed, horizon_days=horizon_days, outcome=outcome, out=out, json_out=json_out,
             resume=resume, cluster=cluster, workers=workers, chunk_sets=chunk_sets, threads=threads, crn=crn)
