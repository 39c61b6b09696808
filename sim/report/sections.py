"""The sections of ``cartsim report`` for each kind of output folder: tables of the
JSON each command writes, its figures with plain-language captions, its provenance.
Each builder returns (heading, lead paragraph, sections of HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.model.endpoints import DAYS_PER_MONTH, ENDPOINT_BY_NAME, SUMMARY_RATES
from sim.report.html import (
    DASH,
    caption,
    esc,
    figure,
    interval,
    missing,
    number,
    parquet_provenance,
    provenance_table,
    read_json,
    reason,
    table,
)
from sim.report.labels import outcome_label, outcome_unit, parameter_label

Block = tuple[str, str, list[str]]

RATES = tuple(e.name for e in SUMMARY_RATES)
ENDPOINT_NAMES = {"os": "Overall survival (OS)", "efs": "Event-free survival (EFS)",
                  "lfs": "Leukaemia-free survival (LFS), patients in CR"}
LANDMARKS = (6, 12, 24)
#: sim.model.states.DeathCause members (lower case, as summary.json writes them) in words
DEATH_LABELS = {"alive": "alive", "disease": "died of leukaemia", "crs": "died of CRS", "icans": "died of ICANS",
                "gvhd": "died of GVHD", "transplant": "died of transplant-related causes",
                "other_nrm": "died of infection or other non-relapse causes",
                "before_infusion": "died waiting for a product"}
ORIGIN_NOTE = ("Time zero is the first CAR-T infusion for OS, EFS and LFS (infused patients only), and the "
               "decision to treat for the intention-to-treat (ITT) rows (every patient).")


def _h2(text: str) -> str:
    return f"<h2>{esc(text)}</h2>"


def _months(days: float | None) -> str:
    return DASH if days is None else f"{days:,.1f} days ({days / DAYS_PER_MONTH:.1f} months)"


def _survival_rows(block: dict[str, Any], label: str) -> list[list[str]]:
    """One row per endpoint: n, events, landmarks with 95% CIs, median with its CI, and
    the restricted mean (null values: "–" with the reason the JSON gives)."""
    cells = [esc(label), number(block.get("n"), "count"), number(block.get("events"), "count")]
    for m in LANDMARKS:
        key = f"m{m}"
        why = reason(block, key)
        ci = block.get(f"{key}_ci") or [None, None]
        value = number(block.get(key), "probability", why)
        if block.get(key) is not None:
            value += f'<span class="why">95% CI {interval(ci[0], ci[1], "probability", "no interval")}</span>'
        cells.append(value)
    median = block.get("median_days")
    ci = block.get("median_days_ci") or [None, None]
    if median is None:
        cells.append(missing(reason(block, "median_days") or "not reached (the curve stays above 50%)"))
    else:
        cells.append(number(median, "days") + '<span class="why">95% CI '
                     + interval(ci[0], ci[1], "days", "no interval", open_high="not reached") + "</span>")
    cells.append(number(block.get("rmst_m24_days"), "days", reason(block, "rmst_m24_days")))
    return [cells]


def _provenance(summary: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    both = {**meta, **{k: v for k, v in summary.items() if v is not None}}
    return {"cartsim version": meta.get("cartsim_version"), "scenario": both.get("scenario"),
            "scenario file": meta.get("scenario_file"), "seed": both.get("seed"),
            "patients": both.get("patients"), "horizon (days from the decision to treat)": both.get("horizon_days"),
            "parameter hash": both.get("parameter_hash"), "engine": both.get("engine")}


def run_report(folder: Path) -> Block:
    s = read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {}
    meta = parquet_provenance(folder / "patients.parquet")
    name = s.get("scenario") or meta.get("scenario") or "?"
    patients, infused = s.get("patients"), s.get("infused")
    horizon = s.get("horizon_days", meta.get("horizon_days"))
    lead = (f"Simulated cohort of scenario {name}: {number(patients, 'count')} patients followed from the decision "
            f"to treat for {_months(horizon)}, of whom {number(infused, 'count')} received CAR-T. "
            "Intervals are 95% confidence intervals of the simulation (Monte Carlo) error at the scenario's "
            "parameter values; they do not include uncertainty about the parameters themselves.")
    parts = [_h2("Provenance"), provenance_table(_provenance(s, meta))]
    if not s:
        parts.append(caption("summary.json is missing: only the provenance and the figure are shown."))
    if "rates" in s:
        rows = []
        for key in RATES:
            label = ENDPOINT_BY_NAME[key].label
            r = s["rates"].get(key) or {}
            ci = r.get("ci") or [None, None]
            why = reason(r, "rate") or reason(s["rates"], key)
            rows.append([esc(label), number(r.get("rate"), "probability", why),
                         interval(ci[0], ci[1], "probability", why), f"{r.get('k', DASH)} / {r.get('n', DASH)}"])
        parts += [_h2("Response and toxicity after the first infusion"),
                  caption("Share of infused patients with each outcome after their first CAR-T infusion; 95% "
                          "Wilson confidence intervals; k / n: patients with the outcome / infused patients."),
                  table(["outcome", "value", "95% CI", "k / n"], rows)]
    endpoints = [(ENDPOINT_NAMES[e], s[e]) for e in ("os", "efs", "lfs") if isinstance(s.get(e), dict)]
    itt = s.get("itt") or {}
    endpoints += [(f"{ENDPOINT_NAMES[e].split(' (')[0]} (ITT), from the decision to treat", itt[e])
                  for e in ("os", "efs") if isinstance(itt.get(e), dict)]
    if endpoints:
        rows = [row for label, block in endpoints for row in _survival_rows(block, label)]
        parts += [_h2("Survival"),
                  caption(f"{ORIGIN_NOTE} Kaplan-Meier estimates with 95% pointwise confidence intervals; median "
                          "with its Brookmeyer-Crowley interval; restricted mean: the average time alive (and "
                          "event-free, for EFS and LFS) within the first 24 months. A value beyond the longest "
                          "follow-up is not estimated and shows as \u2013 with the reason."),
                  table(["endpoint", "patients", "events", *(f"at {m} months" for m in LANDMARKS), "median",
                         "restricted mean to 24 months"], rows)]
    parts += _competing_and_resources(s)
    if isinstance(s.get("study"), dict):
        parts += _study_section(s["study"])
    parts.append(figure(folder / "km.png", "Kaplan-Meier curves of OS and EFS from the first infusion (infused "
                        "patients; shaded: 95% pointwise confidence intervals) and OS from the decision to treat "
                        "(every patient, dashed). The numbers at risk under the plot are the patients still "
                        "followed and event-free at each time; each curve ends at its longest follow-up."))
    return f"cartsim run: {name}", lead, parts


def _competing_and_resources(s: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    cr = s.get("competing_risks")
    if isinstance(cr, dict):
        rows = [[esc(label), *(number(cr.get(f"{key}_m{m}"), "probability", reason(cr, f"{key}_m{m}"))
                               for m in LANDMARKS)]
                for key, label in (("cir", "relapse (cumulative incidence)"), ("nrm", "non-relapse mortality"))]
        parts += [_h2("Relapse and non-relapse mortality (patients in CR)"),
                  caption(f"Among the {number(cr.get('n'), 'count')} patients in CR after their first infusion, "
                          "from infusion; relapse and death without relapse as competing risks (Aalen-Johansen). "
                          "No confidence interval is computed for these estimates."),
                  table(["", *(f"at {m} months" for m in LANDMARKS)], rows)]
    causes = s.get("death_causes")
    if isinstance(causes, dict):
        total = sum(v for v in causes.values() if isinstance(v, int)) or 1
        rows = [[esc(DEATH_LABELS.get(k, k.replace("_", " "))), number(v, "count"), f"{100 * v / total:.1f}%"]
                for k, v in causes.items() if isinstance(v, int)]
        parts += [_h2("Status at the end of follow-up"),
                  caption("Every patient at the horizon: alive, or the cause of death (counts are exact; no "
                          "interval)."), table(["status", "patients", "share"], rows)]
    use = s.get("resource_use")
    if isinstance(use, dict):
        rows = [[esc(ENDPOINT_BY_NAME[k].label if k in ENDPOINT_BY_NAME else k),
                 f"{v:.2f}" if isinstance(v, float) else number(v)]
                for k, v in use.items()]
        parts += [_h2("Resource use"), caption("Means over patients (no interval computed)."),
                  table(["", "mean"], rows)]
    res = s.get("resources")
    if isinstance(res, dict):
        rows = [[esc(n), "unlimited" if r.get("capacity") is None else number(r["capacity"]),
                 number(r.get("utilisation"), "probability"), number(r.get("requests")), number(r.get("waited")),
                 number(r.get("wait_mean_days")), number(r.get("wait_p95_days")), number(r.get("max_queue")),
                 number(r.get("deaths_while_waiting"))] for n, r in res.items()]
        parts += [_h2("Capacity (SimPy engine)"),
                  caption("Per resource: slots, share of slot-time in use, requests, requests that waited, mean and "
                          "95th-percentile wait (days), longest queue, and patients who left the queue (died, "
                          "progressed or relapsed while waiting)."),
                  table(["resource", "slots", "use", "requests", "waited", "mean wait (d)", "p95 wait (d)",
                         "max queue", "left queue"], rows)]
    return parts


def _study_section(study: dict[str, Any]) -> list[str]:
    from sim.calibration.study_run import MIN_COHORTS  # noqa: PLC0415 - only for study scenarios

    lo, hi = study.get("followup_days") or [None, None]
    size, infused = study.get("cohort_patients"), study.get("infused")
    short = (f"an interval needs {MIN_COHORTS} cohorts of {size} patients ({MIN_COHORTS * size:,} infused); this "
             f"run has {infused:,}" if isinstance(size, int) and isinstance(infused, int)
             and infused < MIN_COHORTS * size else "no interval for this target")
    rows = []
    for r in study.get("targets", []):
        unit = "days" if str(r.get("metric")).endswith(("_median", "_days")) else "probability"
        rows.append([esc(r.get("id")), esc(str(r.get("metric")).replace("_", " ")), number(r.get("reported"), unit),
                     number(r.get("simulated"), unit, reason(r, "simulated")),
                     interval(r.get("low"), r.get("high"), unit, reason(r, "low") or short)])
    return [_h2(f"Published study {study.get('study_id', '')}"),
            caption(f"{number(infused, 'count')} infused patients simulated; the study had {number(size, 'count')}, "
                    f"followed from infusion for {number(lo, 'count')} to {number(hi, 'count')} days. Simulated: "
                    "the statistic on this run's patients censored like the study. Interval: 95% of simulated "
                    "cohorts of the study's size at these parameter values."),
            table(["target", "metric", "reported", "simulated", "95% interval"], rows, text_cols=2)]


def compare_report(folder: Path) -> Block:
    doc = read_json(folder / "compare.json")
    scenarios = doc.get("scenarios") or []
    names = [str(sc.get("name")) for sc in scenarios]
    level = doc.get("level", 0.95)
    lead = (f"{len(names)} scenarios simulated with the same {number(doc.get('patients'), 'count')} patients each "
            f"(common random numbers: patient i meets the same chance events in every scenario), followed from the "
            f"decision to treat for {_months(doc.get('horizon_days'))}. Differences are scenario minus "
            f"{names[0] if names else 'the first'}, with paired {100 * level:.0f}% intervals of the simulation "
            "error only (parameters at their point values).")
    prov = {"cartsim version": doc.get("cartsim_version"), "seed": doc.get("seed"),
            "patients per scenario": doc.get("patients"), "horizon (days)": doc.get("horizon_days"),
            "bootstrap replicates": doc.get("bootstrap_replicates")}
    sc_rows = [[esc(sc.get("name")), esc(sc.get("description", "")), esc(sc.get("file", "")),
                esc(sc.get("parameter_hash", DASH)), number(sc.get("infused"), "count")] for sc in scenarios]
    parts = [_h2("Provenance"), provenance_table(prov),
             table(["scenario", "description", "file", "parameter hash", "infused"], sc_rows, text_cols=4)]
    by_outcome: dict[str, list[dict[str, Any]]] = {}
    for d in doc.get("differences", []):
        by_outcome.setdefault(d["outcome"], []).append(d)
    rows = []
    for outcome, diffs in by_outcome.items():
        first = diffs[0]
        unit = first.get("unit", "")
        fmt = "probability" if unit == "probability" else "days" if unit == "days" else ""
        ref = scenarios[0] if scenarios else {}
        row = [esc(f"{first.get('label', outcome)}"),
               number((ref.get("values") or {}).get(outcome), fmt, reason(ref, outcome))]
        for d in diffs:
            why = reason(d, "diff")
            k = d.get("scenario_index")
            own = reason(scenarios[k], outcome) if isinstance(k, int) and 0 <= k < len(scenarios) else None
            row.append(number(d.get("value"), fmt, own or why))
            diff = d.get("diff")
            text = missing(why) if diff is None else (f"{100 * diff:+.1f} pp" if fmt == "probability" else
                                                       f"{diff:+,.1f} d" if fmt == "days" else f"{diff:+.3g}")
            if diff is not None:
                scale = 100 if fmt == "probability" else 1
                lo, hi = d.get("diff_low"), d.get("diff_high")
                band = (missing(reason(d, "diff_low") or "no interval") if lo is None or hi is None else
                        f"{scale * lo:+.1f} to {scale * hi:+.1f}" if fmt else f"{lo:+.3g} to {hi:+.3g}")
                text += f'<span class="why">{100 * level:.0f}% CI {band}</span>'
            vr = d.get("variance_reduction")
            row += [text, DASH if vr is None else f"{vr:.1f}x"]
        rows.append(row)
    header = [ "outcome", names[0] if names else "reference"]
    for n in names[1:]:
        header += [n, f"{n} minus {names[0]}", "variance reduction"]
    parts += [_h2("Outcomes and differences"),
              caption(f"{ORIGIN_NOTE} Rates are over infused patients (first infusion). Values of each scenario "
                      "are point estimates; the intervals are those of the paired differences (percentage points, "
                      "pp, for probabilities; days for times). Variance reduction: how much narrower the paired "
                      "interval is than two independent runs would give."),
              table(header, rows)]
    methods = doc.get("methods")
    if isinstance(methods, dict):
        parts += [_h2("Methods"), table(["", ""], [[esc(k), esc(v)] for k, v in methods.items()], text_cols=2)]
    for note in doc.get("notes") or []:
        parts.append(caption(str(note)))
    parts.append(figure(folder / "compare.png", "Kaplan-Meier OS and EFS from the first infusion, one curve per "
                        "scenario (the reference drawn thicker), numbers at risk underneath."))
    return f"cartsim compare: {', '.join(names)}", lead, parts


def _delta(x: float, fmt: str, signed: bool = False) -> str:
    """A difference or standard error: percentage points for probabilities, days for times."""
    sign = "+" if signed else ""
    if fmt in ("probability", "proportion"):
        return f"{100 * x:{sign}.1f} pp"
    return f"{x:{sign},.1f} d" if fmt == "days" else f"{x:{sign}.3g}"


def _sweep_table(kind: str, s: dict[str, Any]) -> list[str]:
    outcome = str(s.get("outcome", ""))
    unit = outcome_unit(outcome)
    fmt = unit if unit in ("probability", "proportion", "days") else ""
    if kind == "oneway" and isinstance(s.get("tornado"), dict):
        t = s["tornado"]
        rows = []
        for f in t.get("factors", []):
            cells = [esc(parameter_label(f["factor"])), f"{number(f.get('low'))} to {number(f.get('high'))}"]
            for end in ("low", "high"):
                v, se = f.get(f"outcome_{end}"), f.get(f"outcome_{end}_se")
                cells.append(number(v, fmt, reason(f, f"outcome_{end}"))
                             + ("" if v is None or se is None else f'<span class="why">MC SE {_delta(se, fmt)}</span>'))
            cells.append(missing(reason(f, "swing")) if f.get("swing") is None else _delta(f["swing"], fmt, True))
            rows.append(cells)
        return [caption(f"Each uncertain parameter set to the 2.5% and 97.5% quantiles of its distribution (or the "
                        f"given bounds), the others at their base values; base value of {outcome_label(outcome)}: "
                        f"{number(t.get('base'), fmt)}; swing: outcome at high minus outcome at low (pp: percentage "
                        "points). MC SE: Monte Carlo standard error of each end on its own; under common random "
                        "numbers the ends share their noise, so a swing is more precise than these suggest."),
                table(["parameter", "range", "outcome at low", "outcome at high", "swing"], rows)]
    if kind == "twoway" and isinstance(s.get("twoway"), dict):
        g = s["twoway"]
        fa, fb = g["factors"]
        va, vb = g["values"]
        rows = [[number(a)] + [number(z, fmt) + ("" if se is None else f'<span class="why">± {_delta(1.96 * se, fmt)}'
                                                 "</span>") for z, se in zip(zrow, serow, strict=True)]
                for a, zrow, serow in zip(va, g["grid"], g["grid_se"], strict=True)]
        return [caption(f"{outcome_label(outcome)} over the grid of {parameter_label(fa)} (rows) and "
                        f"{parameter_label(fb)} (columns); ±: 1.96 Monte Carlo standard errors of each cell (95% "
                        "simulation noise)."),
                table([f"{parameter_label(fa, unit=False)} \\ {parameter_label(fb, unit=False)}",
                       *(number(b) for b in vb)], rows)]
    if kind == "psa" and isinstance(s.get("psa"), dict):
        rows = []
        for name, v in s["psa"].items():
            if not isinstance(v, dict):
                continue
            u = outcome_unit(name)
            f2 = u if u in ("probability", "proportion", "days") else ""
            share = v.get("parameter_share")
            rows.append([esc(outcome_label(name)), number(v.get("mean"), f2, reason(v, "mean")),
                         interval(v.get("q025"), v.get("q975"), f2, reason(v, "q025")),
                         DASH if share is None else f"{100 * share:.0f}%"])
        return [caption("Distribution of each outcome over the parameter sets drawn (probabilistic sensitivity "
                        "analysis): mean and the 2.5%-97.5% range over the sets; parameter share: the part of the "
                        "spread due to the parameters rather than to the simulation noise of a finite cohort."),
                table(["outcome", "mean", "95% range over parameter sets", "parameter share"], rows)]
    if kind in ("sobol", "morris") and isinstance(s.get("indices"), dict):
        ind = s["indices"]
        keys = ("S1", "ST") if kind == "sobol" else ("mu_star", "sigma")
        rows = []
        for r in ind.get("indices", []):
            cells = [esc(parameter_label(r["parameter"]))]
            for k in keys:
                v, conf = r.get(k), r.get(f"{k}_conf")
                cells.append(number(v, "", reason(r, k)) + ("" if v is None or conf is None else
                                                            f'<span class="why">± {conf:.2g}</span>'))
            rows.append(cells)
        if kind == "sobol":
            text = ("Sobol indices of " + outcome_label(outcome) + ": S1, the share of its variance due to the "
                    "parameter alone; ST, including its interactions; ±: 95% bootstrap interval half-width.")
            header = ["parameter", "first order (S1)", "total (ST)"]
        else:
            text = ("Morris elementary effects on " + outcome_label(outcome) + ": mu*, the mean absolute change "
                    "of the outcome per unit of the parameter's quantile scale; sigma, its spread (interactions "
                    "or non-linearity); ±: 95% bootstrap interval half-width.")
            header = ["parameter", "mu*", "sigma"]
        if ind.get("note"):
            text += f" Note: {ind['note']}."
        return [caption(text), table(header, rows)]
    return [caption("This summary.json holds no table this report knows.")]


SWEEP_FIGURES = {"oneway": "tornado.png", "twoway": "heatmap.png", "psa": "psa.png", "sobol": "sobol.png",
                 "morris": "morris.png"}
SWEEP_CAPTIONS = {
    "oneway": "Tornado: the outcome at each parameter's low (blue) and high (orange) value against the base "
              "value (vertical line), largest swing on top. No error bars: the sets share their random numbers, "
              "so the noise of a swing is far smaller than that of either end, and it is not estimated.",
    "twoway": "The outcome over the two-parameter grid; each cell shows its value and ± 1.96 Monte Carlo "
              "standard errors (the 95% simulation noise of that cell).",
    "psa": "Histograms of each outcome over the parameter sets; dashed lines: 2.5% and 97.5% quantiles; red bar: "
           "± 1.96 Monte Carlo standard errors of a single set, to read the spread against the simulation noise.",
    "sobol": "Sobol first-order (S1) and total (ST) indices with 95% bootstrap intervals.",
    "morris": "Morris mu* (mean absolute elementary effect) with 95% bootstrap intervals.",
}


def sweep_report(folder: Path) -> Block:
    s = read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {}
    meta = parquet_provenance(folder / "sweep.parquet")
    kind = str(s.get("kind") or meta.get("kind") or "sweep")
    name = s.get("scenario") or meta.get("scenario") or "?"
    lead = (f"{kind} sensitivity sweep of scenario {name}: {number(s.get('sets', meta.get('sets')), 'count')} "
            f"parameter sets of {number(s.get('patients', meta.get('patients')), 'count')} patients each, followed "
            f"for {_months(s.get('horizon_days', meta.get('horizon_days')))} from the decision to treat; "
            f"outcome {outcome_label(str(s.get('outcome', '')))}. {ORIGIN_NOTE}")
    crn = s.get("crn", meta.get("crn"))
    prov = {**_provenance(s, meta), "common random numbers": None if crn is None else "yes" if crn else "no",
            "sweep specification hash": s.get("spec_hash", meta.get("spec_hash"))}
    prov.pop("engine", None)
    parts = [_h2("Provenance"), provenance_table(prov), _h2("Results")]
    parts += _sweep_table(kind, s) if s else [caption("summary.json is missing: no table.")]
    for k, png in SWEEP_FIGURES.items():
        parts.append(figure(folder / png, SWEEP_CAPTIONS[k]))
    return f"cartsim sweep {kind}: {name}", lead, parts


def power_report(folder: Path) -> Block:
    c = read_json(folder / "power.json")
    target = c.get("target_power")
    sides = {1: "one-sided ", 2: "two-sided "}.get(int(c.get("sides") or 0), "")
    lead = (f"Trial {c.get('trial', '?')}: power of the {c.get('test', '?')} test of "
            f"{outcome_label(str(c.get('endpoint', '?')))} ({sides}alpha {c.get('alpha', '?')}) against the total "
            "number of patients, from "
            f"{number(c.get('trials'), 'count')} whole trials simulated through the pathway per size.")
    prov = {"cartsim version": c.get("cartsim_version"), "trial": c.get("trial"), "seed": c.get("seed"),
            "trials per size": c.get("trials"), "design": c.get("design"),
            "parameter draws for the assurance": c.get("assurance_source")}
    rows = [[number(g.get("n"), "count"), number(g.get("power"), "probability", reason(g, "power")),
             interval(None if g.get("power") is None or g.get("se") is None else max(0.0, g["power"] - 1.96 * g["se"]),
                      None if g.get("power") is None or g.get("se") is None else min(1.0, g["power"] + 1.96 * g["se"]),
                      "probability", "no interval")] for g in c.get("grid", [])]
    band = (c.get("n_required_mc") or {}).get("interval") or [None, None]
    summary_rows = [
        ["patients needed for the target power (simulated)",
         number(c.get("n_required"), "count", reason(c, "n_required") or "not reached on the grid"),
         interval(band[0], band[1], "count", "no interval")],
        ["patients needed (analytic formula)", number(c.get("analytic_n"), "count", reason(c, "analytic_n")),
         missing("a formula: no simulation error")],
        [f"assurance (probability of success at n = {number(c.get('assurance_n'), 'count')})",
         number(c.get("assurance"), "probability", reason(c, "assurance")),
         interval(None if c.get("assurance") is None or c.get("assurance_se") is None
                  else c["assurance"] - 1.96 * c["assurance_se"],
                  None if c.get("assurance") is None or c.get("assurance_se") is None
                  else c["assurance"] + 1.96 * c["assurance_se"], "probability", "no interval")],
    ]
    parts = [_h2("Provenance"), provenance_table(prov), _h2("Sample size"),
             caption(f"Target power {number(target, 'probability')}. Intervals: 95% Monte Carlo intervals (the "
                     "error of simulating a finite number of trials). Assurance averages the power over the "
                     "uncertainty of the parameters. " + str(c.get("assurance_note", ""))),
             table(["", "value", "95% interval"], [[esc(a), b, d] for a, b, d in summary_rows]),
             _h2("Power by sample size"),
             caption("Share of simulated trials that reject the null hypothesis at each total number of patients."),
             table(["patients", "power", "95% MC interval"], rows),
             figure(folder / "power.png", "Simulated power (dots, with the 95% Monte Carlo band) against the total "
                    "number of patients; dotted line: target power; dashed lines: patients needed, simulated and "
                    "analytic.")]
    return f"cartsim power: {c.get('trial', '?')}", lead, parts


def _target_value(x: Any, metric: str, why: str | None = None) -> str:
    """``metric``: the target's statistic kind when the table has it (a contrast's
    difference, an odds ratio), else its metric name."""
    if metric.endswith(("_median", "_days")) or metric.startswith("cr_duration"):
        return number(x, "days", why)
    if metric.endswith("_diff") and isinstance(x, (int, float)):
        return f"{100 * x:+.1f} pp"
    if metric.endswith("_or") and isinstance(x, (int, float)):
        return f"{x:.2f}"
    return number(x, "probability", why) if not isinstance(x, str) else esc(x)


def validate_report(folder: Path) -> Block:
    v = read_json(folder / "validation.json")
    lead = (f"Every published target against what a study of its size and follow-up would report under the "
            f"calibrated model: {v.get('inside', '?')} of {v.get('quantitative_targets', '?')} quantitative targets "
            f"inside their 95% predictive interval; {v.get('qualitative_inside', '?')} of "
            f"{v.get('qualitative_targets', '?')} qualitative statements reproducible "
            f"({number(v.get('draws'), 'count')} posterior draws, seed {v.get('seed', '?')}).")
    prov = {"cartsim version": v.get("cartsim_version"), "seed": v.get("seed"), "posterior draws": v.get("draws")}
    rows = []
    for r in v.get("targets", []):
        metric = str(r.get("statistic", r.get("metric", "")))
        lo, hi = r.get("predicted_low"), r.get("predicted_high")
        if lo is None and hi is None:
            band = missing(reason(r, "predicted_low") or "not estimable")
        else:
            band = f"{_target_value(lo, metric)} to " + (_target_value(hi, metric) if hi is not None else
                                                         "not reached" if metric.endswith("_median") else DASH)
        rows.append([esc(r.get("id")), esc(r.get("study")), esc(str(r.get("metric", "")).replace("_", " ")),
                     _target_value(r.get("reported"), metric),
                     _target_value(r.get("predicted_median"), metric, reason(r, "predicted_median")
                                   or ("not reached" if metric.endswith("_median") else None)),
                     band, "yes" if r.get("inside") else "<b>no</b>"])
    parts = [_h2("Provenance"), provenance_table(prov), _h2("Targets"),
             caption("Reported: the published value. Predicted: median and 95% interval of the statistic over "
                     "simulated cohorts of the study's size and follow-up, pooled over posterior draws (so the "
                     "interval holds both the parameter uncertainty and the chance of a small study). Survival "
                     "times are from the first infusion."),
             table(["target", "study", "metric", "reported", "predicted", "95% predictive interval", "inside"], rows,
                   text_cols=3)]
    learned = v.get("learning")
    if isinstance(learned, dict) and learned.get("parameters"):
        lrows = [[esc(parameter_label(str(p["parameter"]))),
                  number(p.get("prior_median")) + '<span class="why">'
                  f'{interval(p.get("prior_low"), p.get("prior_high"))}</span>',
                  number(p.get("posterior_median")) + '<span class="why">'
                  f'{interval(p.get("posterior_low"), p.get("posterior_high"))}</span>',
                  number(p.get("interval_ratio")), "yes" if p.get("prior_dominated") else "no"]
                 for p in learned["parameters"]]
        parts += [_h2("What the published studies taught each calibrated parameter"),
                  caption("Median and 95% interval before (prior) and after (posterior) calibration. Interval ratio: "
                          "posterior interval width over the prior's, on the prior's quantile scale (1: nothing "
                          "learnt). Prior-dominated: the studies barely narrowed it."),
                  table(["parameter", "prior", "posterior", "interval ratio", "prior-dominated"], lrows)]
    parts.append(figure(folder / "validation.png", "Per study: model OS and EFS curves from infusion (line: median; "
                        "band: 95% over posterior draws) with the published landmarks and medians and their "
                        "study-size predictive intervals; last panel: every reported proportion (dot) against its "
                        "predictive interval (bar; green inside, red outside)."))
    parts.append(figure(folder / "posterior.png", "Prior (grey) and posterior (line) of each calibrated parameter; "
                        "red: the posterior is still close to the prior."))
    return "cartsim validate", lead, parts
