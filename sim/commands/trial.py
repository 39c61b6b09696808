"""``cartsim power`` and ``cartsim simon``: trial planning."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from sim import api
from sim.commands.common import err, progress_bar, stdout_console
from sim.io.files import OutputSet, write_json


def register(app: typer.Typer) -> None:
    app.command()(power)
    app.command()(simon)


def power(
    trial: Annotated[str, typer.Argument(help="trial spec TOML (see scenarios/trials/) or its name")],
    trials: Annotated[int | None, typer.Option(help="simulated trials per sample size (default: the spec's)")] = None,
    seed: Annotated[int | None, typer.Option(help="root seed (default: the spec's)")] = None,
    threads: Annotated[int | None, typer.Option(help="kernel threads (default: all cores)")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("cartsim_output"),
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
    compare_tests: Annotated[bool, typer.Option("--compare-tests", help="power of log-rank, Cox, FH and MaxCombo "
                                                "on the same simulated trials (two-arm survival specs)")] = False,
) -> None:
    """Power and sample size from whole trials simulated through the pathway; writes power.json and power.png
    (with --compare-tests: compare_tests.json and compare_tests.png)."""
    from sim.report.figures import power_figure  # noqa: PLC0415 - matplotlib only when needed

    spec = api.power_spec(trial, trials, seed, threads)  # bad input is reported before the folder is taken
    if compare_tests:
        _compare(trial, spec, trials, seed, threads, out, json_out)
        return
    outs = OutputSet(out).open()  # locked and checked before simulating
    if spec.design == "multi_arm":
        _multi(api.power(trial, trials=trials, seed=seed, threads=threads), outs, json_out)
        return
    if err.is_terminal:
        with progress_bar("trials") as bar:
            tasks: dict[str, TaskID] = {}

            def tick(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"simulating trials: {stage}", total=total)
                bar.update(tasks[stage], completed=done, total=total)

            curve = api.power(trial, trials=trials, seed=seed, threads=threads, progress=tick)
    else:  # no bar when stderr is a file or a pipe
        curve = api.power(trial, trials=trials, seed=seed, threads=threads)
    write_json(outs.stage("power.json"), curve)
    power_figure(curve, outs.stage("power.png"), f"{curve['trial']}: {curve['endpoint']}, {curve['test']}, "
                 f"alpha {curve['alpha']}")
    outs.commit()
    if json_out:
        sys.stdout.write(json.dumps(curve, allow_nan=False) + "\n")
        return
    _print_power(curve)
    stdout_console().print("wrote " + ", ".join(map(str, outs.written)))


def _multi(curve: dict, outs: OutputSet, json_out: bool) -> None:
    """Write and show a multi-arm power curve (power per comparison after adjustment,
    disjunctive and conjunctive power)."""
    from sim.report.trial_tests_figure import compare_tests_figure  # noqa: PLC0415 - matplotlib only when needed

    write_json(outs.stage("power.json"), curve)
    arms = curve["grid"][0]["arms"]
    lines = [{"label": f"{a['label']} vs control ({curve['method']})",
              "power": [g["arms"][i]["adjusted"]["power"] for g in curve["grid"]],
              "se": [g["arms"][i]["adjusted"]["se"] for g in curve["grid"]]} for i, a in enumerate(arms)]
    for key in ("disjunctive", "conjunctive"):
        lines.append({"label": f"{key} power", "power": [g[key]["power"] for g in curve["grid"]],
                      "se": [g[key]["se"] for g in curve["grid"]]})
    compare_tests_figure({"grid": [g["n"] for g in curve["grid"]], "tests": lines, "trials": curve["trials"]},
                         outs.stage("power.png"), f"{curve['trial']}: {curve['endpoint']}, {curve['test']}, "
                         f"{curve['sides']}-sided family-wise alpha {curve['alpha']}")
    outs.commit()
    if json_out:
        sys.stdout.write(json.dumps(curve, allow_nan=False) + "\n")
        return
    table = Table(title=f"cartsim power: {curve['trial']} (multi-arm against {curve['control']}, "
                  f"{curve['trials']:,} simulated trials per size, {curve['method']} adjustment)", title_justify="left")
    table.add_column("patients", justify="right")
    for line in lines:
        table.add_column(f"{line['label']} (MC SE)", justify="right")
    for g, row in enumerate(curve["grid"]):
        table.add_row(f"{row['n']:,}", *(f"{x['power'][g]:.3f} ({x['se'][g]:.3f})" for x in lines))
    console = stdout_console()
    console.print(table)
    console.print("wrote " + ", ".join(map(str, outs.written)))


def _compare(trial: str, spec: object, trials: int | None, seed: int | None, threads: int | None, out: Path,
             json_out: bool) -> None:
    from sim.report.trial_tests_figure import compare_tests_figure  # noqa: PLC0415 - matplotlib only when needed
    from sim.trials.compare import check_comparable  # noqa: PLC0415 - compile only when used
    from sim.trials.spec import TrialSpec  # noqa: PLC0415

    assert isinstance(spec, TrialSpec)
    check_comparable(spec)  # before the output folder is taken
    outs = OutputSet(out).open()
    result = api.trials.compare_tests(trial, trials, seed, threads)
    write_json(outs.stage("compare_tests.json"), result)
    compare_tests_figure(result, outs.stage("compare_tests.png"), f"{result['trial']}: {result['endpoint']}, "
                         f"{result['sides']}-sided alpha {result['alpha']}")
    outs.commit()
    if json_out:
        sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
        return
    table = Table(title=f"cartsim power --compare-tests: {result['trial']} ({result['trials']:,} simulated trials "
                  f"per size, the same trials for every test)", title_justify="left")
    table.add_column("patients", justify="right")
    for row in result["tests"]:
        table.add_column(f"{row['label']} (MC SE)", justify="right")
    for g, n in enumerate(result["grid"]):
        table.add_row(f"{n:,}", *(f"{r['power'][g]:.3f} ({r['se'][g]:.3f})" for r in result["tests"]))
    console = stdout_console()
    console.print(table)
    console.print(result["note"])
    console.print("wrote " + ", ".join(map(str, outs.written)))


ANALYTIC_NAMES = {"logrank": "Schoenfeld", "cox": "Schoenfeld", "cox_score": "Schoenfeld",
                  "chisq": "two proportions (normal)", "chisq_yates": "two proportions (normal)",
                  "fisher": "two proportions (normal)", "binomial": "exact binomial", "simon": "exact binomial",
                  "predictive": "exact binomial", "fh": "Schoenfeld (log-rank)",
                  "maxcombo": "Schoenfeld (log-rank)", "rmst": "Schoenfeld (log-rank)",
                  "milestone": "Schoenfeld (log-rank)", "logrank1": "one-sample log-rank (Wu)"}


def _print_power(curve: dict) -> None:
    table = Table(title=f"cartsim power: {curve['trial']} ({curve['trials']:,} simulated trials per size, "
                  f"seed {curve['seed']}; {curve['design']}, {curve['endpoint']}, {curve['test']}, "
                  f"{curve['sides']}-sided alpha {curve['alpha']})", title_justify="left")
    binary = curve["endpoint"] in ("cr_rate", "crs_grade3plus_rate")
    cols = ["patients", "power", "MC SE", "responders/cases (mean)" if binary else "events (mean)",
            "duration (months, mean)"]
    events_rule = curve["follow_up_rule"] == "events"
    looks = len(curve["grid"][0].get("stop_probability", []))
    if events_rule:
        cols.append("D reached")
    cols += [f"efficacy at look {j + 1}" for j in range(looks)]
    futility = "futility_probability" in curve["grid"][0]
    if futility:  # no futility stop at the final look
        cols += [f"futility at look {j + 1}" for j in range(looks - 1)]
    for col in cols:
        table.add_column(col, justify="right")
    for g in curve["grid"]:
        row = [f"{g['n']:,}", f"{g['power']:.3f}", f"{g['se']:.3f}", f"{g['events_mean']:.0f}",
               f"{g['duration_months_mean']:.1f}"]
        if events_rule:
            row.append(f"{g['events_reached']:.3f}")
        row += [f"{x:.3f}" for x in g.get("stop_probability", [])]
        if futility:
            row += [f"{x:.3f}" for x in g["futility_probability"][:-1]]
        table.add_row(*row)
    console = stdout_console()
    console.print(table)
    mc = curve.get("n_required_mc", {})
    band = ""
    if mc.get("interval"):
        lo, hi = mc["interval"]
        band = f", Monte Carlo SE {mc['se']:.0f}, 95% interval {lo:.0f}-{hi:.0f} (bootstrap over trials)"
    console.print(f"smallest n reaching power {curve['target_power']}: {curve['n_required']} "
                  f"({curve['n_required_note']}{band})")
    analytic = f"{ANALYTIC_NAMES[curve['test']]}: n = {curve['analytic_n']}"
    if curve.get("analytic_events"):
        analytic += f" ({curve['analytic_events']} events"
        if curve.get("hazard_ratio_pooled"):
            analytic += f" at pooled HR {curve['hazard_ratio_pooled']:.3f}"
        analytic += ")"
        if curve.get("analytic_events_group_sequential"):
            analytic += (f"; with the interim looks {curve['analytic_events_group_sequential']} events "
                         f"(inflation {curve['inflation_factor']:.3f})")
    if curve.get("analytic_n_group_sequential"):
        analytic += (f"; with the interim looks n = {curve['analytic_n_group_sequential']} "
                     f"(inflation {curve['inflation_factor']:.3f}, futility obeyed)")
    console.print(analytic)
    ap = curve.get("analytic_power")
    if ap:
        pw = ", ".join(f"n = {g['n']:,}: " + ("-" if p is None else f"{p:.3f}")
                       for g, p in zip(curve["grid"], ap["power"], strict=True))
        ahr = ap["average_hr"][-1]
        console.print(f"analytic power of the {curve['test']} test ({ap['method']}, from each arm's simulated "
                      f"curve): {pw}" + ("" if ahr is None else f"; average hazard ratio {ahr:.3f} at the largest "
                                         "size"))
    solved = curve.get("interim", {}).get("solved_design")
    if solved and solved.get("max_events"):
        console.print(f"events solved for power {curve['target_power']} at design HR {solved['design_hr']} with "
                      f"futility obeyed: D = {solved['max_events']} (inflation {solved['inflation_factor']:.3f})")
    if curve.get("interim"):
        it = curve["interim"]
        where = ([f"{e} events" for e in it["look_events"]] if it.get("look_events") is not None
                 else [f"{100 * f:.0f}% of patients assessed" for f in [*it["fractions"], 1.0]])
        bounds = ", ".join(f"{w}: z >= {b:.3f}" for w, b in zip(where, it["boundaries_z"], strict=True))
        console.print(f"efficacy boundaries ({it['spending']} spending, planned; recomputed per trial at its "
                      f"observed {it.get('information', 'events')}): {bounds}")
        if it.get("futility_z"):
            how = (f"{it['futility']} beta spending at HR {it['futility_hr']}" if it.get("futility_hr")
                   else "fixed z")
            fut = ", ".join(f"{w}: z <= {a:.3f}" for w, a in zip(where, it["futility_z"], strict=True)
                            if a is not None)
            console.print(f"futility boundaries (non-binding, {how}): {fut}")
            for label, oc in it.get("operating_characteristics", {}).items():
                name = "under H0" if label == "h0" else f"at the design HR {it['futility_hr']}"
                expected = (f"expected events {oc['expected_events']:.0f}" if "expected_events" in oc else
                            f"expected information {100 * oc['expected_information_fraction']:.0f}% of n")
                console.print(f"  analytic {name}: reject {oc['reject_total']:.3f}, stop for futility "
                              f"{sum(oc['futility']):.3f}, {expected}")
    if curve.get("simon"):
        sm = curve["simon"]
        if sm.get("r1") is not None:
            console.print(f"Simon {sm['kind']} design for p0 = {sm['p0']}, p1 = {sm['p1']:.3f}: stop if <= "
                          f"{sm['r1']}/{sm['n1']}, reject if > {sm['r']}/{sm['n']}; simulated power "
                          f"{sm['simulated']['power']:.3f} (PET {sm['simulated']['pet']:.2f}, expected n "
                          f"{sm['simulated']['expected_n']:.1f}); probability of success "
                          f"{sm['probability_of_success']:.3f} ({sm['probability_of_success_source']} draws)")
        else:
            console.print(sm.get("note", ""))
    if curve.get("predictive"):
        _print_predictive(curve["predictive"])
    label = "probability of success" if curve["design"] == "single_arm" else "assurance"
    console.print(f"{label} at n = {curve['assurance_n']}: {curve['assurance']:.3f} "
                  f"(MC SE {curve['assurance_se']:.3f}; over {curve['assurance_source']} parameter draws)")


def _print_predictive(pp: dict) -> None:
    console = stdout_console()
    d = pp.get("design")
    if d is None:
        console.print(pp.get("note", ""))
        return
    stops = ", ".join(f"<= {f}/{n}" for n, f in zip(d["looks"], d["futility_stop_if_at_most"], strict=True) if f >= 0)
    console.print(f"predictive-probability design (Lee & Liu) for p0 = {d['p0']}, p1 = {d['p1']:.3f}, Beta"
                  f"({d['prior'][0]:g}, {d['prior'][1]:g}) prior: n_max {d['n_max']}, theta_t {d['theta_t']}, "
                  f"theta_l {d['theta_l']}; success if >= {d['success_threshold']}/{d['n_max']} responses; "
                  f"exact alpha {d['exact_alpha']:.4f}, power {d['exact_power']:.4f}, PET(p0) {d['h0']['pet']:.3f}, "
                  f"EN(p0) {d['h0']['expected_n']:.1f}")
    console.print(f"  stop for futility if responses {stops or 'never'}")
    sm, ex = pp["simulated"], pp["exact_at_model_rate"]
    console.print(f"  simulated through the pathway (CR rate {pp['model_rate']:.3f}): success {sm['reject']:.3f} "
                  f"(MC SE {sm['reject_se']:.3f}; exact at that rate {ex['reject']:.3f}), stopped early "
                  f"{sm['pet']:.3f}, expected n {sm['expected_n']:.1f}; probability of success "
                  f"{pp['probability_of_success']:.3f} ({pp['probability_of_success_source']} draws)")


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
    stdout_console().print(table)
