"""``cartsim psa``: probabilistic cost-effectiveness analysis and the value of information."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sim.api import as_scenario
from sim.api.economics import PSA_PATIENTS, psa
from sim.commands.common import NOT_ESTIMABLE, err, progress_bar, say_chunks_kept, stdout_console
from sim.io.files import load_economics
from sim.model.errors import InputError


def register(app: typer.Typer) -> None:
    app.command(name="psa")(psa_command)


def _m(x: float | None, se: float | None = None) -> str:
    if x is None or not math.isfinite(x):
        return NOT_ESTIMABLE
    return f"{x:,.0f}" + ("" if se is None or not math.isfinite(se) else f" ± {se:,.0f}")


def _print(s: dict[str, Any]) -> None:
    console = stdout_console()
    cur = s["economics"]["currency"]
    t = Table(title=f"cartsim psa: {s['draws']:,} draws x {s['patients']:,} patients per strategy, seed {s['seed']}, "
              f"{s['economics']['country']} ({cur} {s['economics']['price_year']}), parameters from the "
              f"{s['design']['draws_from']}", title_justify="left")
    for col in ("strategy", f"cost ({cur})", "QALYs", "life-years", "status", f"ICER ({cur}/QALY)",
                f"P(CE) at {s['wtp']:,.0f}"):
        t.add_column(col, justify="left" if col in ("strategy", "status") else "right")
    for r in s["strategies"]:
        icer = _m(r["icer"]) + (f" vs {r['versus']}" if r["versus"] else "")
        t.add_row(r["strategy"], f"{_m(r['cost'])} ({_m(r['cost_q025'])}-{_m(r['cost_q975'])})",
                  f"{r['qalys']:.3f} ({r['qalys_q025']:.2f}-{r['qalys_q975']:.2f})", f"{r['life_years']:.2f}",
                  r["status"], icer if r["versus"] else NOT_ESTIMABLE,
                  f"{r['p_cost_effective']:.3f} ± {r['p_cost_effective_se']:.3f}")
    console.print(t)
    e = s["evpi"]
    pop = (f"; population {_m(e['population'], e['population_se'])} ({e['incidence_per_year']:g} patients a year "
           f"over {e['decision_years']:g} years)" if e["population"] is not None else "")
    console.print(f"EVPI per patient at {s['wtp']:,.0f} {cur}/QALY: {_m(e['per_patient'], e['per_patient_se'])}{pop}; "
                  f"patient-noise share of the incremental net benefit variance "
                  f"{100 * (s['patient_noise_share'] or 0):.1f}%")
    v = Table(title="EVPPI by parameter group (± Monte Carlo SE)", title_justify="left")
    for col in ("group", "inputs", f"per patient ({cur})", f"population ({cur})", "metamodel"):
        v.add_column(col, justify="left" if col in ("group", "metamodel") else "right")
    for r in sorted(s["evppi"], key=lambda r: -(r["evppi"] or 0)):
        v.add_row(escape(r["group"]), str(len(r["inputs"])), _m(r["evppi"], r["evppi_se"]),
                  _m(r["population"], r["population_se"]), r["metamodel"])
    console.print(v)
    if "trial" in s:
        b = s["trial"]
        w = Table(title=f"value of the trial {b['trial']} ({b['endpoint']}, {b['test']}); trial cost "
                  f"{_m(b['cost_fixed'])} + {_m(b['cost_per_patient'])} per patient", title_justify="left")
        rows = b.get("enbs", b.get("evsi", []))
        for col in ("n", f"EVSI per patient ({cur})", "duration (years)", f"population EVSI ({cur})", f"ENBS ({cur})"):
            w.add_column(col, justify="right")
        for r in rows:
            w.add_row(str(r["n"]), _m(r["evsi"], r["evsi_se"]), f"{r['duration_years']:.1f}",
                      _m(r.get("population_evsi"), r.get("population_evsi_se")), _m(r.get("enbs"), r.get("enbs_se")))
        console.print(w)
        p = b["power"]
        opt = b.get("optimum")
        line = b.get("note", "")
        if opt:
            line = f"ENBS-optimal n = {opt['n']} (ENBS {_m(opt['enbs'], opt['enbs_se'])})"
            line += f"; {opt['note']}" if opt["note"] else ""
        console.print(f"{line}; power-based n = {p['n_required'] if p['n_required'] is not None else NOT_ESTIMABLE} "
                      f"for {100 * p['target_power']:.0f}% power at alpha {p['alpha']:g} (analytic {p['analytic_n']})")
    sw = s["sweep"]
    resumed = f"; {sw['resumed_chunks']} chunk(s) resumed" if sw["resumed_chunks"] else ""
    console.print(f"simulated {sw['computed_chunks']} chunk(s) in {sw['elapsed_s']:.1f} s{resumed}; total "
                  f"{s['elapsed_s']:.1f} s; wrote " + ", ".join(s["files"]))


def psa_command(
    strategies: Annotated[list[str], typer.Argument(help="two or more scenario TOML files or names in scenarios/; "
                                                    "increments are against the first")],
    economics: Annotated[str, typer.Option(help="economic preset: a name in params/economics (uk_nhs, us_payer) "
                                           "or a TOML file")] = "uk_nhs",
    draws: Annotated[int, typer.Option(help="joint draws of the model parameters and economic inputs")] = 1000,
    patients: Annotated[int, typer.Option(help="patients per strategy and draw")] = PSA_PATIENTS,
    prior: Annotated[bool, typer.Option("--prior", help="draw model parameters from their priors even when a "
                                        "calibrated posterior exists")] = False,
    seed: Annotated[int | None, typer.Option(help="root seed (default: the first scenario's)")] = None,
    horizon_days: Annotated[float | None, typer.Option(help="follow-up in days (default: lifetime, to death)")]
    = None,
    wtp: Annotated[float | None, typer.Option(help="willingness to pay per QALY for net benefit and the value of "
                                              "information (default: the preset's)")] = None,
    wtp_max: Annotated[float | None, typer.Option(help="top of the CEAC grid (default: 3 x --wtp)")] = None,
    wtp_points: Annotated[int, typer.Option(help="points of the CEAC grid")] = 61,
    group: Annotated[list[str] | None, typer.Option(metavar="NAME=PREFIX[,PREFIX...]", help="an EVPPI parameter "
                                                    "group by name prefix (repeat); economic inputs are econ.NAME; "
                                                    "default: one group per parameter family and input kind")]
    = None,
    incidence: Annotated[float | None, typer.Option(help="patients a year who face the decision (population "
                                                    "EVPI, EVPPI, EVSI)")] = None,
    decision_years: Annotated[float, typer.Option(help="years the decision applies (discounted at the preset's "
                                                  "cost rate)")] = 10.0,
    trial: Annotated[str | None, typer.Option(help="a trial spec (scenarios/trials/ name or TOML file): EVSI, "
                                              "ENBS and its optimal size")] = None,
    trial_sizes: Annotated[str | None, typer.Option(metavar="N[,N...]", help="trial sizes for EVSI (default: the "
                                                    "spec's grid)")] = None,
    trial_cost_per_patient: Annotated[float, typer.Option(help="trial cost per patient enrolled (preset currency)")]
    = 0.0,
    trial_fixed_cost: Annotated[float, typer.Option(help="fixed trial cost (preset currency)")] = 0.0,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("cartsim_psa"),
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted run in --out (same command "
                                         "line); finished chunks are kept")] = False,
    cluster: Annotated[str | None, typer.Option(help="run chunks on Dask: tcp://HOST:PORT of a running scheduler, "
                                                "or local")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes for --cluster local")] = None,
    chunk_sets: Annotated[int, typer.Option("--chunk-sets", help="draws per chunk file")] = 64,
    threads: Annotated[int | None, typer.Option(help="kernel threads for a local run (default: all cores)")] = None,
    crn: Annotated[bool, typer.Option("--crn/--no-crn", help="the same patients in every draw (default), or an "
                                      "independent stream per draw (strategies always share patients)")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Probabilistic cost-effectiveness: parameter draws (posterior and economic priors) simulated for every
    strategy with common random numbers; CE-plane cloud, CEAC/CEAF, EVPI, EVPPI by group and, with --trial,
    EVSI and the expected net benefit of sampling; writes psa.parquet, psa.json and figures."""
    if len(strategies) < 2:
        raise InputError("command line", "STRATEGIES", f"need at least 2 strategies, got {len(strategies)}",
                         "two or more scenario files or names")
    sizes = None
    if trial_sizes is not None:
        try:
            sizes = [int(x) for x in trial_sizes.split(",") if x.strip()]
        except ValueError:
            raise InputError("command line", "--trial-sizes", f"expected whole numbers, got {trial_sizes!r}",
                             "e.g. 100,200,400") from None
        if not sizes:
            raise InputError("command line", "--trial-sizes", "no size given", "e.g. 100,200,400")
    loaded = [as_scenario(name) for name in strategies]
    preset = load_economics(economics)
    kwargs: dict[str, Any] = {"economics": preset, "out": out, "draws": draws, "patients": patients, "seed": seed,
                              "horizon_days": horizon_days, "wtp": wtp, "wtp_max": wtp_max, "wtp_points": wtp_points,
                              "groups": group, "incidence": incidence, "decision_years": decision_years,
                              "prior": prior, "trial": trial, "trial_sizes": sizes,
                              "trial_cost_per_patient": trial_cost_per_patient, "trial_fixed_cost": trial_fixed_cost,
                              "resume": resume, "cluster": cluster, "workers": workers, "chunk_sets": chunk_sets,
                              "threads": threads, "crn": crn}
    try:
        if err.is_terminal:
            with progress_bar() as bar:
                task = bar.add_task("psa", total=None)

                def tick(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summary = psa(loaded, progress=tick, **kwargs)
        else:
            summary = psa(loaded, **kwargs)
    except KeyboardInterrupt:
        say_chunks_kept(out)
        raise
    if json_out:
        sys.stdout.write(json.dumps(summary, allow_nan=False) + "\n")
        return
    _print(summary)
