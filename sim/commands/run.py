"""``cartsim run``: simulate one scenario and summarise it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sim import api
from sim.api.runs import ProgressCallback
from sim.calibration.study_run import MIN_COHORTS
from sim.commands.common import NOT_ESTIMABLE, days, err, pct, progress_bar, stdout_console
from sim.io.files import OutputSet
from sim.model.endpoints import ENDPOINT_BY_NAME, SUMMARY_RATES


def register(app: typer.Typer) -> None:
    app.command()(run)


def _summary_table(s: dict[str, Any]) -> Table:
    table = Table(title=f"cartsim run: {s['scenario']} ({s['patients']:,} patients, {s['infused']:,} infused, "
                  f"seed {s['seed']})", title_justify="left")
    table.add_column("outcome (first infusion; times from infusion)")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for e in SUMMARY_RATES:
        r = s["rates"][e.name]
        table.add_row(e.label, pct(r["rate"]), f"{pct(r['ci'][0])} - {pct(r['ci'][1])}")
    for endpoint in ("os", "efs", "lfs"):
        e = s[endpoint]
        for m in (6, 12, 24):
            table.add_row(_label(f"{endpoint}_m{m}"), *_estimate(e, f"m{m}"))
        ci = e.get("median_days_ci") or [None, None]
        lo, hi = ("not reached" if x is None else f"{x:.0f}" for x in ci)
        band = (e.get("not_estimable", {}).get("median_days", "") if ci == [None, None]
                else f"{lo} - {hi}" + ("" if ci[1] is None else " d"))
        table.add_row(_label(f"{endpoint}_median_days"), days(e["median_days"]), band)
    table.add_row(_label("cir_m24"), *_estimate(s, "cir_m24", band=False))
    table.add_row(_label("nrm_m24"), *_estimate(s, "nrm_m24", band=False))
    table.add_row(_label("itt_os_m12"), *_estimate(s["itt"]["os"], "m12", band=False))
    res = s["resource_use"]
    icu = res["icu_days_per_infused"]  # None: nobody infused (the comparator without CAR-T)
    table.add_row(_label("icu_days_per_infused"), NOT_ESTIMABLE if icu is None else f"{icu:.2f}",
                  "no patient infused" if icu is None else "")
    table.add_row(_label("infusions_per_patient"), f"{res['infusions_per_patient']:.2f}", "")
    table.add_row(_label("hsct_per_patient"), pct(res["hsct_per_patient"]), "")
    return table


def _label(name: str) -> str:
    return ENDPOINT_BY_NAME[name].label


def _estimate(block: dict[str, Any], key: str, band: bool = True) -> tuple[str, str]:
    """(value, CI) cells of a survival estimate; a value past the data is a dash with its
    reason in the CI column (``block["not_estimable"]``)."""
    if block[key] is None:
        return NOT_ESTIMABLE, block.get("not_estimable", {}).get(key, "")
    if not band:
        return pct(block[key]), ""
    lo, hi = block[f"{key}_ci"]
    return pct(block[key]), f"{pct(lo)} - {pct(hi)}"


def _resource_table(resources: dict[str, Any]) -> Table:
    """One column per resource, one row per measure: fits an 80-column terminal
    without cutting names or wrapping numbers."""
    table = Table(title="resources (SimPy engine)", title_justify="left", caption_justify="left",
                  caption="left the queue unserved: died, progressed or relapsed while queued")
    table.add_column("measure", no_wrap=True)
    for name in resources:
        table.add_column(name, justify="right", no_wrap=True)
    rows: list[tuple[str, Any]] = [
        ("slots", lambda r: "unlimited" if r["capacity"] is None else str(r["capacity"])),
        ("utilisation", lambda r: pct(r["utilisation"])),
        ("requests", lambda r: f"{r['requests']:,}"),
        ("requests that waited", lambda r: f"{r['waited']:,}"),
        ("mean wait", lambda r: f"{r['wait_mean_days']:.1f} d"),
        ("95th-percentile wait", lambda r: f"{r['wait_p95_days']:.1f} d"),
        ("longest queue", lambda r: str(r["max_queue"])),
        ("left the queue unserved", lambda r: f"{r['deaths_while_waiting']:,}"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(r) for r in resources.values()))
    return table


def _fmt_target(statistic: str, x: float | str | None) -> str:
    days = "median" in statistic or statistic.startswith("cr_duration")
    if x is None:
        return "not reached" if days else "-"
    if isinstance(x, str):
        return x
    if days:
        return f"{x:.0f} d"
    if statistic.endswith("_or"):
        return f"{x:.2f}"
    return f"{100 * x:+.1f} pp" if statistic.endswith("_diff") else pct(x)


def _study_table(study: dict[str, Any]) -> Table:
    lo, hi = study["followup_days"]
    with_interval = any(r["low"] is not None or r["high"] is not None for r in study["targets"])
    if with_interval:
        caption = "interval: 95% of simulated cohorts of the study's size at these parameter values"
    else:  # say why the column is missing rather than leave it empty
        caption = (f"no interval: it needs at least {MIN_COHORTS} simulated cohorts of the study's size "
                   f"({study['cohort_patients']} infused); run with --patients "
                   f"{MIN_COHORTS * study['cohort_patients'] * 11 // 10:,} or more")
    table = Table(title=f"study {study['study_id']}: {study['infused']:,} infused, administrative follow-up "
                  f"{lo:.0f}-{hi:.0f} days ({study['followup_spread']})", title_justify="left",
                  caption=caption, caption_justify="left")
    table.add_column("target", no_wrap=True)
    for col in ("reported", "simulated", *(("interval",) if with_interval else ())):
        table.add_column(col, justify="right", no_wrap=True)
    for r in study["targets"]:
        kind = r["statistic"]
        cells = [r["id"], _fmt_target(kind, r["reported"]), _fmt_target(kind, r["simulated"])]
        if with_interval:
            cells.append("-" if r["low"] is None and r["high"] is None
                         else f"{_fmt_target(kind, r['low'])} - {_fmt_target(kind, r['high'])}")
        table.add_row(*cells)
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
    api.check_threads(threads)
    api.check_engine(engine)
    sc = api.as_scenario(scenario).with_run(patients=patients, seed=seed, horizon_days=horizon_days)
    # past STREAM_ABOVE_PATIENTS the kernel's chunks stream through the summaries and into
    # patients.parquet as they are simulated: memory stays that of one chunk
    streamed = engine == "kernel" and sc.run.patients > api.STREAM_ABOVE_PATIENTS
    api.check_run_memory(sc, patients_given=patients is not None, engine=engine, streamed=streamed)
    api.check_run_disk(sc, out, patients_given=patients is not None)
    outs = OutputSet(out, retire=api.RUN_FILES).open()  # inputs first, then the folder is locked and checked
    result: api.RunResult | api.StreamedRun

    def simulate(progress: ProgressCallback | None) -> api.RunResult | api.StreamedRun:
        if streamed:
            return api.run_streamed(sc, outs, threads=threads, progress=progress)
        return api.run(sc, threads=threads, engine=engine, progress=progress)

    if err.is_terminal:
        with progress_bar() as bar:
            task = bar.add_task("simulating", total=sc.run.patients)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = simulate(tick)
    else:  # no bar when stderr is a file or a pipe: it would only add blank lines
        result = simulate(None)
    if isinstance(result, api.RunResult):
        api.write_outputs(result, outs)
    outs.commit()
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
                  "wrote " + ", ".join(map(str, outs.written)))
