"""The ``cartsim`` command: thin wiring of the public API (``sim.api``).

Bad input of any kind (files, keys, values, options) prints one line
``cartsim: error: ...`` to stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim import api
from sim.io.files import write_json
from sim.model.errors import InputError

try:  # typer >= 0.16 carries its own copy of click; older typer uses the click package
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as _click_errors  # type: ignore[no-redef]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="cartsim: simulate CAR-T therapy for B-ALL relapsed after allo-HSCT.")
err = Console(stderr=True)
EXIT_BAD_INPUT = 2


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _days(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.0f} d ({x / 30.4375:.1f} mo)"


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
        table.add_row(label, _pct(r["rate"]), f"{_pct(r['ci'][0])} - {_pct(r['ci'][1])}")
    for endpoint in ("os", "efs", "lfs"):
        e = s[endpoint]
        for m in (6, 12, 24):
            lo, hi = e[f"m{m}_ci"]
            table.add_row(f"{endpoint.upper()} at {m} months", _pct(e[f"m{m}"]), f"{_pct(lo)} - {_pct(hi)}")
        table.add_row(f"{endpoint.upper()} median", _days(e["median_days"]), "")
    table.add_row("relapse (CIR) at 24 months, CR patients", _pct(s["cir_m24"]), "")
    table.add_row("non-relapse mortality at 24 months, CR patients", _pct(s["nrm_m24"]), "")
    table.add_row("OS at 12 months from decision to treat (ITT)", _pct(s["itt"]["os"]["m12"]), "")
    res = s["resource_use"]
    table.add_row("ICU days per infused patient", f"{res['icu_days_per_infused']:.2f}", "")
    table.add_row("CAR-T infusions per patient", f"{res['infusions_per_patient']:.2f}", "")
    table.add_row("consolidative allo-HSCT per patient", _pct(res["hsct_per_patient"]), "")
    return table


def _resource_table(resources: dict[str, Any]) -> Table:
    table = Table(title="resources (SimPy engine)", title_justify="left")
    # "left queue": died, progressed or relapsed while queued
    for col in ("resource", "slots", "use", "requests", "waited", "mean wait", "p95 wait", "max queue", "left queue"):
        table.add_column(col, justify="right")
    for name, r in resources.items():
        table.add_row(name, "unlimited" if r["capacity"] is None else str(r["capacity"]), _pct(r["utilisation"]),
                      f"{r['requests']:,}", f"{r['waited']:,}", f"{r['wait_mean_days']:.1f} d",
                      f"{r['wait_p95_days']:.1f} d", str(r["max_queue"]), f"{r['deaths_while_waiting']:,}")
    return table


@app.callback()
def _main() -> None:
    """cartsim: simulate CAR-T therapy for B-ALL relapsed after allo-HSCT."""


def _check_out_dir(out: Path) -> None:
    """The output folder exists or can be made (checked before simulating)."""
    if out.exists() and not out.is_dir():
        raise InputError("command line", "--out", f"{str(out)!r} exists and is not a folder", "a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("command line", "--out", f"cannot create folder {str(out)!r} ({exc.strerror})") from None


def _progress() -> Progress:
    """A transient progress bar on stderr (stdout stays clean for --json)."""
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} patients"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err, transient=True)


@app.command()
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
    _check_out_dir(out)
    sc = api.as_scenario(scenario).with_run(patients=patients, seed=seed, horizon_days=horizon_days)
    if err.is_terminal:
        with _progress() as bar:
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
    console = Console()
    console.print(_summary_table(result.summary))
    if "resources" in result.summary:
        console.print(_resource_table(result.summary["resources"]))
    console.print(f"simulated in {result.elapsed_s:.2f} s ({result.summary['patients_per_s']:,.0f} patients/s); "
                  f"wrote {paths['patients']}, {paths['summary']}, {paths['km']}")


@app.command()
def power(
    trial: Annotated[str, typer.Argument(help="trial spec TOML (see scenarios/trials/) or its name")],
    trials: Annotated[int | None, typer.Option(help="simulated trials per sample size (default: the spec's)")] = None,
    seed: Annotated[int | None, typer.Option(help="root seed (default: the spec's)")] = None,
    threads: Annotated[int | None, typer.Option(help="kernel threads (default: all cores)")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("cartsim_output"),
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Power and sample size from whole trials simulated through the pathway; writes power.json and power.png."""
    from sim.report.figures import power_figure  # noqa: PLC0415 - matplotlib only when needed

    _check_out_dir(out)
    curve = api.power(trial, trials=trials, seed=seed, threads=threads)
    write_json(out / "power.json", curve)
    power_figure(curve, out / "power.png", f"{curve['trial']}: {curve['endpoint'].upper()}, {curve['test']}, "
                 f"alpha {curve['alpha']}")
    if json_out:
        sys.stdout.write(json.dumps(curve, allow_nan=False) + "\n")
        return
    table = Table(title=f"cartsim power: {curve['trial']} ({curve['trials']:,} simulated trials per size, "
                  f"seed {curve['seed']})", title_justify="left")
    for col in ("patients", "power", "MC SE", "events (mean)", "duration (months, mean)"):
        table.add_column(col, justify="right")
    for g in curve["grid"]:
        table.add_row(f"{g['n']:,}", f"{g['power']:.3f}", f"{g['se']:.3f}", f"{g['events_mean']:.0f}",
                      f"{g['duration_months_mean']:.1f}")
    console = Console()
    console.print(table)
    console.print(f"smallest n reaching power {curve['target_power']}: {curve['n_required']} "
                  f"({curve['n_required_note']}); Schoenfeld: n = {curve['analytic_n']} "
                  f"({curve['analytic_events']} events at pooled HR {curve['hazard_ratio_pooled']:.3f}); "
                  f"assurance at n = {curve['assurance_n']}: {curve['assurance']:.3f} "
                  f"(MC SE {curve['assurance_se']:.3f}; over prior parameter draws)")


@app.command()
def simon(
    p0: Annotated[float, typer.Option(help="response rate not worth pursuing (H0)")],
    p1: Annotated[float, typer.Option(help="response rate worth pursuing (H1)")],
    alpha: Annotated[float, typer.Option(help="one-sided type I error")] = 0.05,
    power: Annotated[float, typer.Option(help="power at p1")] = 0.8,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Simon's optimal and minimax two-stage designs (exact binomial), with the single-stage design."""
    result = api.simon(p0, p1, alpha, power)
    if json_out:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    table = Table(title=f"Simon two-stage designs: p0 = {p0}, p1 = {p1}, alpha = {alpha}, power = {power}",
                  title_justify="left")
    for col in ("design", "stage 1: stop if <= r1 of n1", "reject H0 if > r of n", "EN(p0)", "PET(p0)",
                "exact alpha", "exact power"):
        table.add_column(col, justify="right")
    for kind in ("optimal", "minimax"):
        d = result[kind]
        table.add_row(kind, f"{d['r1']}/{d['n1']}", f"{d['r']}/{d['n']}", f"{d['en0']:.1f}", f"{d['pet0']:.2f}",
                      f"{d['alpha']:.4f}", f"{d['power']:.4f}")
    s = result["single_stage"]
    table.add_row("single stage", "-", f"{s['r']}/{s['n']}", f"{s['n']}", "-", f"{s['alpha']:.4f}",
                  f"{s['power']:.4f}")
    Console().print(table)


def main() -> None:
    """Console-script entry point: one-line errors and exit status 2 for bad input."""
    try:
        code = app(standalone_mode=False)
    except InputError as exc:
        _fail(str(exc))
    except _click_errors.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `cartsim`: help was printed
            sys.exit(0)
        _fail(exc.format_message())
    except _click_errors.ClickException as exc:
        _fail(exc.format_message())
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("cartsim: interrupted\n")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str) -> None:
    sys.stderr.write("cartsim: error: " + " ".join(message.split()) + "\n")
    sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
