"""``cartsim calibrate`` and ``cartsim validate``: fit the model to the seed abstracts and
show the fit target by target."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.api import calibration as api
from sim.commands.common import err, progress_bar, stdout_console
from sim.io.files import OutputSet, write_json
from sim.model.errors import InputError


def register(app: typer.Typer) -> None:
    app.command()(calibrate)
    app.command()(validate)


def _with_bar(unit: str, description: str, call: Any) -> Any:
    if not err.is_terminal:
        return call(None)
    with progress_bar(unit) as bar:
        task = bar.add_task(description, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return call(tick)


def calibrate(
    samples: Annotated[int, typer.Option(help="posterior draws to keep")] = api.DEFAULT_SAMPLES,
    seed: Annotated[int, typer.Option(help="root seed (simulation and IMIS)")] = api.DEFAULT_SEED,
    patients_per_study: Annotated[int, typer.Option(help="simulated patients per study and parameter set")] = (
        api.DEFAULT_PATIENTS_PER_STUDY),
    initial: Annotated[int, typer.Option(help="IMIS: initial draws from the prior")] = api.DEFAULT_N_INITIAL,
    iterations: Annotated[int, typer.Option(help="IMIS: most mixture components added (stops earlier once "
                                            "converged)")] = api.DEFAULT_ITERATIONS,
    min_ess: Annotated[float | None, typer.Option(help="IMIS convergence: effective sample size needed (default: "
                                                  "half of --samples)")] = None,
    batch: Annotated[int, typer.Option(help="IMIS: draws per added component")] = api.DEFAULT_BATCH,
    targets: Annotated[Path | None, typer.Option(help="targets file (default params/targets.toml)")] = None,
    out: Annotated[Path, typer.Option(help="output folder of posterior.parquet and calibrated.toml")] = (
        api.DEFAULT_CALIBRATION_DIR),
    posterior: Annotated[Path | None, typer.Option(help="where to write the posterior sample (default: "
                                                   "OUT/posterior.parquet)")] = None,
    calibrated: Annotated[Path | None, typer.Option(help="where to write the point values (default: "
                                                    "OUT/calibrated.toml)")] = None,
    force: Annotated[bool, typer.Option("--force", help="allow writing into the package's params/ (replaces the "
                                        "committed posterior and calibrated values)")] = False,
    threads: Annotated[int | None, typer.Option(help="kernel threads (default: all cores)")] = None,
    loso: Annotated[bool, typer.Option("--loso", help="leave-one-study-out validation instead: calibrate on all "
                                       "studies but one and predict that one, for each study; writes loso.json and "
                                       "loso.txt in --out (one fold file each: a re-run with the same settings "
                                       "resumes)")] = False,
    studies: Annotated[str | None, typer.Option(help="--loso: only these held-out studies, comma-separated "
                                                "(e.g. 001,004; default: all)")] = None,
    holdout_draws: Annotated[int, typer.Option(help="--loso: fold posterior draws simulated as the held-out "
                                               "study")] = api.DEFAULT_HOLDOUT_DRAWS,
    holdout_patients: Annotated[int, typer.Option(help="--loso: patients per held-out draw")] = (
        api.DEFAULT_HOLDOUT_PATIENTS),
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Calibrate to params/targets.toml by IMIS; write the posterior sample and calibrated point values (both or
    neither) in --out; the committed files in the package's params/ are replaced only with --force. With --loso:
    leave-one-study-out validation of the calibration (the IMIS options set each fold's budget)."""
    if loso:
        _loso(samples, seed, patients_per_study, initial, iterations, batch, targets, out, studies, holdout_draws,
              holdout_patients, min_ess, threads, force, json_out, posterior, calibrated)
        return
    if studies is not None:
        raise InputError("command line", "--studies", "only used with --loso", "add --loso, or leave --studies out")
    run = _with_bar("parameter sets", "calibrating", lambda tick: api.calibrate(
        samples=samples, seed=seed, patients_per_study=patients_per_study, n_initial=initial, iterations=iterations,
        batch=batch, targets=targets, out=out, posterior_path=posterior, calibrated_path=calibrated, force=force,
        threads=threads, progress=tick, min_ess=min_ess))
    summary = run.summary()
    if json_out:
        sys.stdout.write(json.dumps(summary, allow_nan=False) + "\n")
        return
    table = Table(title=f"cartsim calibrate: {summary['evaluations']:,} parameter sets in {summary['seconds']:.0f} s; "
                  f"ESS {summary['ess']:.0f}, {summary['unique_draws']} distinct of {samples} draws",
                  title_justify="left")
    for col in ("parameter", "posterior median", "95% interval"):
        table.add_column(col, justify="right" if col != "parameter" else "left")
    for p in summary["parameters"]:
        table.add_row(escape(p["parameter"]), f"{p['median']:.4g}", f"{p['low']:.4g} - {p['high']:.4g}")
    console = stdout_console()
    console.print(table)
    conv = summary["convergence"]
    console.print(("converged" if conv["converged"] else "[red]NOT converged[/red]")
                  + f" after {conv['components']} IMIS components (ESS needed {conv['min_ess']:.0f}, expected share "
                  f"of distinct draws needed {conv['unique_fraction_needed']:.2f})")
    console.print(f"wrote {summary['posterior']} and {summary['calibrated']}; "
                  f"{len(summary['prior_only'])} parameters keep their external priors")


def _loso(samples: int, seed: int, patients_per_study: int, initial: int, iterations: int, batch: int,
          targets: Path | None, out: Path, studies: str | None, holdout_draws: int, holdout_patients: int,
          min_ess: float | None, threads: int | None, force: bool, json_out: bool, posterior: Path | None,
          calibrated: Path | None) -> None:
    from sim.calibration.loso import text_report  # noqa: PLC0415 - only this mode needs it

    for option, given in (("--posterior", posterior), ("--calibrated", calibrated)):
        if given is not None:
            raise InputError("command line", option, "not used with --loso (it writes no posterior)",
                             "--out for the folder of loso.json and loso.txt")
    chosen = None if studies is None else [s.strip() for s in studies.split(",") if s.strip()]
    result = _with_bar("parameter sets", "leave-one-study-out", lambda tick: api.leave_one_out(
        samples=samples, seed=seed, patients_per_study=patients_per_study, n_initial=initial, iterations=iterations,
        batch=batch, targets=targets, out=out, studies=chosen, holdout_draws=holdout_draws,
        holdout_patients=holdout_patients, min_ess=min_ess, threads=threads, force=force, progress=tick))
    if json_out:
        sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
        return
    sys.stdout.write(text_report(result))
    sys.stdout.write(f"wrote {out / 'loso.json'} and {out / 'loso.txt'}\n")


def _fmt(x: Any, metric: str) -> str:
    if x is None:
        return "not reached"
    if isinstance(x, str):
        return x
    if metric.endswith("_days"):
        return f"{x:.0f} d"
    return f"{x:.3f}"


def validate(
    draws: Annotated[int, typer.Option(help="draws simulated (posterior or prior draws; with --params alone, "
                                       "repeats of its point values)")] = api.DEFAULT_VALIDATION_DRAWS,
    patients: Annotated[int, typer.Option(help="patients per study and draw")] = api.DEFAULT_VALIDATION_PATIENTS,
    seed: Annotated[int, typer.Option(help="root seed")] = api.DEFAULT_SEED,
    posterior: Annotated[Path | None, typer.Option(help="posterior sample (default params/posterior.parquet)")] = None,
    params: Annotated[Path | None, typer.Option(help="check the model of this parameter file (e.g. "
                                                "params/defaults.toml): every study built on it, at its point "
                                                "values unless --prior or --posterior is given")] = None,
    prior: Annotated[bool, typer.Option("--prior", help="draw the calibrated parameters from the priors (of "
                                        "--params, default params/defaults.toml): a prior-predictive check")] = False,
    set_values: Annotated[list[str] | None, typer.Option("--set", metavar="NAME=VALUE", help="override a parameter "
                                                         "in every study (repeatable; a calibrated parameter is "
                                                         "then fixed), e.g. --set nrm.p_year1=0.3")] = None,
    targets: Annotated[Path | None, typer.Option(help="targets file (default params/targets.toml)")] = None,
    threads: Annotated[int | None, typer.Option(help="kernel threads (default: all cores)")] = None,
    out: Annotated[Path, typer.Option(help="output folder (validation.json, validation.png, posterior.png)")] = Path(
        "cartsim_output"),
    force: Annotated[bool, typer.Option("--force", help="allow --out inside the package's params/ (overwrites the "
                                        "committed validation files)")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Predictive check of every target for a cohort of the study's size and follow-up: of the committed
    posterior, or of another model (--posterior, --params, --prior, --set)."""
    from sim.report.posterior_figure import posterior_figure  # noqa: PLC0415 - matplotlib only when needed
    from sim.report.validation_figure import validation_figure  # noqa: PLC0415

    # bad input is reported before the folder is taken
    inputs = api.check_validation(draws, patients, posterior, targets, seed, params, prior,
                                  api.parse_overrides(set_values))
    # a check without a posterior writes no posterior.png: an earlier run's would sit beside it
    outs = OutputSet(out, force=force, force_option="--force", retire=("posterior.png",)).open()
    result, target_set = _with_bar("draws", "validating", lambda tick: api.validate(
        draws=draws, patients_per_draw=patients, seed=seed, threads=threads, progress=tick, inputs=inputs))
    payload = {**result.to_json(), "model": inputs.describe()}
    taught = None
    if inputs.draws_from == "posterior":
        taught = api.posterior_learning(posterior, seed=seed, transform=inputs.transform)
        payload["learning"] = taught.learning.to_json()
        payload["cannot_tell"] = {**api.cannot_tell(taught), "posterior_made_under_these_priors": (
            inputs.priors_match)}
    write_json(outs.stage("validation.json"), payload)
    validation_figure(result, target_set, outs.stage("validation.png"))
    if taught is not None:
        posterior_figure(taught.learning, taught.prior, taught.posterior, outs.stage("posterior.png"))
    outs.commit()
    if json_out:
        sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
        return
    what = {"posterior": f"{result.draws} posterior draws", "prior": f"{result.draws} prior draws",
            "point": f"the point values of {inputs.params_file}"}[inputs.draws_from]
    sets = "".join(f"; {k} = {v}" for k, v in inputs.overrides.items())
    table = Table(title=f"cartsim validate: predictive check for each study's size and follow-up ({what}{sets})",
                  title_justify="left")
    for col in ("target", "metric", "reported", "predicted median", "95% interval", "inside"):
        table.add_column(col, justify="left" if col in ("target", "metric") else "right")
    for r in payload["targets"]:
        lo, hi = _fmt(r["predicted_low"], r["metric"]), _fmt(r["predicted_high"], r["metric"])
        table.add_row(r["id"], r["metric"], _fmt(r["reported"], r["metric"]),
                      _fmt(r["predicted_median"], r["metric"]), f"{lo} - {hi}",
                      "yes" if r["inside"] else "[red]NO[/red]")
    console = stdout_console()
    console.print(table)
    console.print(f"{payload['inside']}/{payload['quantitative_targets']} quantitative targets inside their 95% "
                  f"predictive interval ({100 * payload['inside_fraction']:.0f}%); qualitative statements "
                  f"reproducible: {payload['qualitative_inside']}/{payload['qualitative_targets']}.")
    _print_joint(console, payload["joint"])
    _print_sampler(console, payload["model"]["sampler"])
    if "learning" in payload:
        _print_learning(console, payload["learning"])
        _print_cannot_tell(console, payload["cannot_tell"])
    console.print("wrote " + ", ".join(map(str, outs.written)))


def _print_sampler(console: Console, sampler: dict[str, Any] | None) -> None:
    """Whether the posterior checked came from a converged sampler (its file's record)."""
    if sampler is None:
        return
    verdict = {True: f"converged after {sampler['components']} IMIS components",
               False: f"[red]NOT converged[/red] after {sampler['components']} IMIS components",
               None: "[red]no convergence test recorded[/red] (a posterior made before the stopping rule)"}
    ess = sampler["ess"]
    console.print(f"posterior: {escape(str(sampler['method']))}, {sampler['evaluations']} parameter sets, "
                  f"ESS {'-' if ess is None else f'{ess:.0f}'}, {sampler['unique_draws']} distinct draws; "
                  + verdict[sampler["converged"]])
    if sampler["priors_match"] is not True:
        console.print("[red]the posterior was not made under the priors it is compared with[/red]"
                      if sampler["priors_match"] is False else
                      "[red]the posterior does not record its priors[/red] (made before they were recorded)",
                      "- prior against posterior and the cannot-reject ranges below hold only for a posterior made "
                      "under these priors: re-run `cartsim calibrate`")


def _print_joint(console: Console, joint: dict[str, Any]) -> None:
    """Joint predictive p-values: can the model have produced each study as a whole?"""
    table = Table(title="joint posterior-predictive check: a discrepancy over all of a study's quantitative targets "
                  "(small p: the model does not reproduce the study)", title_justify="left")
    for col in ("study", "targets", "p-value", "least likely targets (tail p)", "uniformity check (KS p)"):
        table.add_column(col, justify="left" if col.startswith(("study", "least")) else "right")
    rows = [*joint["studies"].items(), *((("overall", joint["overall"]),) if "overall" in joint else ())]
    for name, j in rows:
        worst = ", ".join(f"{w['id']} ({w['tail_p']:.3f})" for w in j["least_likely"])
        p = f"{j['p_value']:.3f}" if j["p_value"] >= 0.05 else f"[red]{j['p_value']:.3f}[/red]"
        ks = j["uniformity_ks_p"]
        table.add_row(name, str(j["targets"]), p, escape(worst), "-" if ks is None else f"{ks:.2f}")
    console.print(table)


def _print_cannot_tell(console: Console, told: dict[str, Any]) -> None:
    """The values of the decision-relevant parameters the abstracts cannot reject."""
    table = Table(title="what the abstracts cannot tell: values of the decision-relevant parameters the data cannot "
                  "reject (integrated likelihood within the chi-square(1) 95% cut of its maximum; '<=' or '>=': the "
                  "region reaches the prior's 0.5% or 99.5% quantile, so the data exclude nothing on that side)",
                  title_justify="left")
    for col in ("group", "parameter", "prior 95%", "posterior 95%", "cannot reject", "best supported"):
        table.add_column(col, justify="left" if col in ("group", "parameter") else "right")
    for r in told["parameters"]:
        lo = ("<= " if r["open_low"] else "") + f"{r['cannot_reject_low']:.3g}"
        hi = ("" if not r["open_high"] else ">= ") + f"{r['cannot_reject_high']:.3g}"
        table.add_row(r["group"], escape(r["parameter"]), f"{r['prior_low']:.3g} - {r['prior_high']:.3g}",
                      f"{r['posterior_low']:.3g} - {r['posterior_high']:.3g}",
                      f"{lo} - {hi}" + ("" if r["connected"] else " (in pieces)"), f"{r['best']:.3g}")
    console.print(table)
    for group, patterns in told["not_calibrated"].items():
        console.print(f"{group}: no calibrated parameter matches {', '.join(patterns)} (its prior is all there is)")


def _print_learning(console: Console, learned: dict[str, Any]) -> None:
    """What the abstracts taught each calibrated parameter (prior against posterior)."""
    table = Table(title="what the abstracts taught: prior against posterior of each calibrated parameter "
                  "(interval ratio and shift on the prior's quantile scale)", title_justify="left")
    for col in ("parameter", "prior median (95%)", "posterior median (95%)", "interval ratio", "shift (prior SD)"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for p in learned["parameters"]:
        ratio = f"{p['interval_ratio']:.2f}" + (" [red](prior)[/red]" if p["prior_dominated"] else "")
        table.add_row(escape(p["parameter"]), f"{p['prior_median']:.3g} ({p['prior_low']:.3g}-{p['prior_high']:.3g})",
                      f"{p['posterior_median']:.3g} ({p['posterior_low']:.3g}-{p['posterior_high']:.3g})",
                      ratio, f"{p['shift']:+.2f}")
    console.print(table)
    dominated = sum(p["prior_dominated"] for p in learned["parameters"])
    limit = learned["thresholds"]["reported_correlation"]
    pairs = "; ".join(f"{escape(c['a'])} ~ {escape(c['b'])}: {c['spearman']:+.2f}"
                      for c in learned["correlations"]) or "none"
    console.print(f"{dominated} of {len(learned['parameters'])} calibrated slots are prior-dominated (posterior 95% "
                  f"interval at least {learned['thresholds']['prior_dominated_interval_ratio']:.0%} of the prior's). "
                  f"Posterior correlations with |rho| >= {limit}: {pairs}")
