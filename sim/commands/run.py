"""``cartsim run``: simulate one scenario and summarise it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sim import api
from sim.commands.common import check_out_dir, days, err, pct, progress_bar, stdout_console
from sim.model.errors import InputError


def register(app: typer.Typer) -> None:
    app.command()(run)


def _summary_table(s: dict[str, Any]) -> Table:
    table = Table(title=f"cartsim run: {s['scenario']} ({s['patients']:,} patients, {s['infused']:,} infused, "
                  f"seed {s['seed']})", title_justify="left")
    table.add_column("outcome (first infusion; times from infusion)")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for key, label in [("cr_rate", "CR/CRi"), ("mrd_neg_cr_rate", "MRD-negative CR"), ("crs_any", "CRS any grade"),
                       ("crs_grade3plus", "CRS grade >= 3"), ("icans_any", "ICANS any grade"),
                       ("icans_grade3plus", "ICANS grade >= 3"), ("agvhd_grade2plus", "acute GVHD grade II-IV")]:
        r = s["rates"][key]
        table.add_row(label, pct(r["rate"]), f"{pct(r['ci'][0])} - {pct(r['ci'][1])}")
    for endpoint in ("os", "efs", "lfs"):
        e = s[endpoint]
        for m in (6, 12, 24):
            lo, hi = e[f"m{m}_ci"]
            table.add_row(f"{endpoint.upper()} at {m} months", pct(e[f"m{m}"]), f"{pct(lo)} - {pct(hi)}")
        ci = e.get("median_days_ci") or [None, None]
        band = "" if ci[0] is None else f"{ci[0]:.0f} - {'not reached' if ci[1] is None else f'{ci[1]:.0f} d'}"
        table.add_row(f"{endpoint.upper()} median", days(e["median_days"]), band)
    table.add_row("relapse (CIR) at 24 months, CR patients", pct(s["cir_m24"]), "")
    table.add_row("non-relapse mortality at 24 months, CR patients", pct(s["nrm_m24"]), "")
    table.add_row("OS at 12 months from decision to treat (ITT)", pct(s["itt"]["os"]["m12"]), "")
    res = s["resource_use"]
    table.add_row("ICU days per infused patient", f"{res['icu_days_per_infused']:.2f}", "")
    table.add_row("CAR-T infusions per patient", f"{res['infusions_per_patient']:.2f}", "")
    table.add_row("consolidative allo-HSCT per patient", pct(res["hsct_per_patient"]), "")
    return table


def _resource_table(resources: dict[str, Any]) -> Table:
    table = Table(title="resources (SimPy engine)", title_justify="left")
    # "left queue": died, progressed or relapsed while queued
    for col in ("resource", "slots", "use", "requests", "waited", "mean wait", "p95 wait", "max queue", "left queue"):
        table.add_column(col, justify="right")
    for name, r in resources.items():
        table.add_row(name, "unlimited" if r["capacity"] is None else str(r["capacity"]), pct(r["utilisation"]),
                      f"{r['requests']:,}", f"{r['waited']:,}", f"{r['wait_mean_days']:.1f} d",
                      f"{r['wait_p95_days']:.1f} d", str(r["max_queue"]), f"{r['deaths_while_waiting']:,}")
    return table


def _fmt_target(metric: str, x: float | str | None) -> str:
    if x is None:
        return "not reached" if "median" in metric else "-"
    if isinstance(x, str):
        return x
    if "median" in metric:
        return f"{x:.0f} d"
    return f"{100 * x:+.1f} pp" if metric.endswith("_diff") else pct(x)


def _study_table(study: dict[str, Any]) -> Table:
    lo, hi = study["followup_days"]
    table = Table(title=f"study {study['study_id']} ({study['seed_file']}): {study['infused']:,} infused, "
                  f"follow-up {lo:.0f}-{hi:.0f} days ({study['followup_spread']}); interval: 95% of simulated "
                  f"cohorts of the study's size at these parameter values", title_justify="left")
    table.add_column("target", no_wrap=True)
    for col in ("reported", "simulated", "interval"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in study["targets"]:
        interval = ("" if r["low"] is None and r["high"] is None
                    else f"{_fmt_target(r['metric'], r['low'])} - {_fmt_target(r['metric'], r['high'])}")
        table.add_row(r["id"], _fmt_target(r["metric"], r["reported"]),
                      _fmt_target(r["metric"], r["simulated"]), interval)
    return table


def run(
    scenario: Annotated[str | None, typer.Argument(help="scenario TOML file or name in scenarios/ "
                                                   "(default: the built-in baseline)")] = None,
    patients: Annotated[int | None, typer.Option(help="number of patients (default: the scenario's)")] = None,
    seed: Annotated[int | None, typer.Option(help="root seed (default: the scenario's)")] = None,
    horizon_days: Annotated[float | None, typer.Option(help="follow-up horizon in days")] = None,
    threads: Annotated[int | None, typer.Option(help="kernel threads (default: all cores)")] = None,
    engine: Annotated[str, typer.Option(help="kernel (fast, unlimited resources) or des (SimPy: queues for "
                                        "the scenario's [capacity]; adds events.parquet)")] = "kernel",
    out: Annotated[Path, typer.Option(help="output folder")] = Path("cartsim_output"),
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Simulate a scenario with the Monte Carlo kernel; write patients.parquet, summary.json, km.png."""
    if patients is not None and patients < 1:
        raise InputError("command line", "--patients", f"expected a whole number >= 1, got {patients}")
    api.check_threads(threads)
    api.check_engine(engine)
    check_out_dir(out)
    sc = api.as_scenario(scenario).with_run(patients=patients, seed=seed, horizon_days=horizon_days)
    api.check_run_memory(sc, patients_given=patients is not None)
    if err.is_terminal:
        with progress_bar() as bar:
            task = bar.add_task("simulating", total=sc.run.patients)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = api.run(sc, threads=threads, engine=engine, progress=tick)
    else:  # no bar when stderr is a file or a pipe: it would only add blank lines
        result = api.run(sc, threads=threads, engine=engine)
    paths = api.write_outputs(result, out)
    if json_out:
        sys.stdout.write(json.dumps(result.summary, allow_nan=False) + "\n")
        return
    console = stdout_console()
    console.print(_summary_table(result.summary))
    if "resources" in result.summary:
        console.print(_resource_table(result.summary["resources"]))
    if "study" in result.summary:
        console.print(_study_table(result.summary["study"]))
    console.print(f"simulated in {result.elapsed_s:.2f} s ({result.summary['patients_per_s']:,.0f} patients/s); "
                  f"wrote {paths['patients']}, {paths['summary']}, {paths['km']}")
