"""``cartsim cea``: cost-effectiveness of strategies with common random numbers."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.api import as_scenario
from sim.api.economics import BOOTSTRAP, CeaResult, cea
from sim.commands.common import NOT_ESTIMABLE, err, progress_bar, stdout_console
from sim.io.files import OutputSet, load_economics, write_json
from sim.model.errors import InputError
from sim.model.limits import check_option


def register(app: typer.Typer) -> None:
    app.command(name="cea")(cea_command)


def _money(x: float | None, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return NOT_ESTIMABLE
    return f"{x:{'+' if signed else ''},.0f}"


def _num(x: float | None, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return NOT_ESTIMABLE
    return f"{x:{'+' if signed else ''}.3f}"


def _ci(d: dict, key: str, money: bool) -> str:
    f = _money if money else _num
    return f"{f(d[key], True)} ({f(d[key + '_low'], True)} to {f(d[key + '_high'], True)})"


def _tables(result: CeaResult) -> list[Table]:
    cur = result.economics.currency
    per = Table(title=f"cartsim cea: {result.patients:,} patients per strategy, seed {result.seed}, "
                f"{result.economics.country} ({result.economics.perspective}), {cur} {result.economics.price_year}, "
                f"discount {100 * result.economics.values['discount.costs_per_year']:.1f}% / "
                f"{100 * result.economics.values['discount.outcomes_per_year']:.1f}%", title_justify="left")
    for col in ("strategy", f"cost ({cur})", "QALYs", "life-years", "LYs (disc.)", "alive at end", "status",
                f"ICER ({cur}/QALY)", "NMB"):
        per.add_column(col, justify="left" if col in ("strategy", "status") else "right")
    for s, row in zip(result.strategies, result.frontier, strict=True):
        icer = _money(row["icer"]) + (f" vs {row['versus']}" if row["versus"] else "")
        per.add_row(s.name, _money(s.cost), _num(s.qalys), _num(s.life_years), _num(s.life_years_disc),
                    f"{100 * s.alive_at_horizon:.1f}%", row["status"], icer if row["versus"] else NOT_ESTIMABLE,
                    _money(row["nmb"]))
    inc = Table(title=f"increments against {result.strategies[0].name} (paired, 95% CI); NMB at "
                f"{result.wtp:,.0f} {cur}/QALY", title_justify="left")
    for col in ("strategy", f"d cost ({cur})", "d QALYs", "d life-years", f"ICER ({cur}/QALY)", "d NMB"):
        inc.add_column(col, justify="left" if col == "strategy" else "right")
    for d in result.increments:
        icer = _money(d["icer"]) + (f" ({_money(d['icer_low'])} to {_money(d['icer_high'])})"
                                    if math.isfinite(d["icer_low"]) else " (no interval: d QALYs changes sign)")
        inc.add_row(d["strategy"], _ci(d, "d_cost", True), _ci(d, "d_qalys", False), _ci(d, "d_life_years", False),
                    icer, _ci(d, "d_nmb", True))
    return [per, inc]


def cea_command(
    strategies: Annotated[list[str], typer.Argument(help="two or more scenario TOML files or names in scenarios/; "
                                                    "increments are against the first")],
    economics: Annotated[str, typer.Option(help="economic preset: a name in params/economics (uk_nhs, us_payer) "
                                           "or a TOML file")] = "uk_nhs",
    patients: Annotated[int | None, typer.Option(help="patients per strategy (default: the first scenario's)")]
    = None,
    seed: Annotated[int | None, typer.Option(help="root seed shared by all strategies")] = None,
    horizon_days: Annotated[float | None, typer.Option(help="follow-up in days (default: lifetime, to death)")]
    = None,
    wtp: Annotated[float | None, typer.Option(help="willingness to pay per QALY (default: the preset's)")] = None,
    threads: Annotated[int | None, typer.Option(help="kernel threads (default: all cores)")] = None,
    bootstrap: Annotated[int, typer.Option(help="paired bootstrap replicates for the ICER interval")] = BOOTSTRAP,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("cartsim_output"),
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Cost-effectiveness of strategies simulated with common random numbers: discounted costs, QALYs and
    life-years, paired increments with 95% CIs, ICERs on the efficient frontier, net benefit; writes cea.json
    and cea_plane.png."""
    from sim.report.economics_figures import ce_plane_figure  # noqa: PLC0415 - matplotlib only when needed

    if len(strategies) < 2:
        raise InputError("command line", "STRATEGIES", f"need at least 2 strategies, got {len(strategies)}",
                         "two or more scenario files or names")
    check_option("--patients", patients, "patients")
    check_option("--bootstrap", bootstrap, "bootstrap")
    check_option("--wtp", wtp, "wtp")
    check_option("--horizon-days", horizon_days, "horizon_days")
    check_option("--threads", threads, "threads")
    loaded = [as_scenario(name) for name in strategies]  # bad input is reported before the folder is taken
    preset = load_economics(economics)
    outs = OutputSet(out).open()
    kwargs = {"economics": preset, "patients": patients, "seed": seed, "horizon_days": horizon_days, "wtp": wtp,
              "threads": threads, "bootstrap": bootstrap}
    if err.is_terminal:
        with progress_bar() as bar:
            task = bar.add_task("simulating", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = cea(loaded, progress=tick, **kwargs)  # type: ignore[arg-type]
    else:
        result = cea(loaded, **kwargs)  # type: ignore[arg-type]
    doc = result.to_dict()
    write_json(outs.stage("cea.json"), doc)
    ce_plane_figure([s.name for s in result.strategies], result.samples, result.wtp, result.economics.currency,
                    outs.stage("cea_plane.png"), seed=result.seed)
    outs.commit()
    if json_out:
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
        return
    console = stdout_console()
    for table in _tables(result):
        console.print(table)
    console.print(f"costs and QALYs discounted in continuous time; horizon {result.horizon_days:,.0f} days; "
                  f"computed in {result.elapsed_s:.1f} s; wrote " + ", ".join(map(str, outs.written)))
