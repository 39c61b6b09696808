"""From simulated trials to decisions: the power curve, the searched sample size with its
bootstrap error, the analytic answer beside it, and the assurance (power averaged over
parameter draws)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.model.errors import InputError
from sim.outcomes.summary import DAYS_PER_MONTH
from sim.trials.adaptive import adaptive_block
from sim.trials.designs import (
    exact_binomial_design,
    one_sample_logrank_n,
    schoenfeld_events,
    schoenfeld_events_exact,
    schoenfeld_n,
    two_proportions_n,
)
from sim.trials.gsdesign import GroupSequentialDesign, max_events, solve_design
from sim.trials.nph_analytic import Setting, analytic_grid
from sim.trials.predictive import monitor, operating_characteristics, summarise
from sim.trials.results import SimulatedTrials, TrialResults
from sim.trials.simon import simon_two_stage
from sim.trials.simulate import _accrual_step, _rates_per_day, _simulate, simulate_trials
from sim.trials.spec import BOOTSTRAP_REPLICATES, NPH_TESTS, TrialSpec
from sim.trials.spending import exit_probabilities


def assurance_draws(spec: TrialSpec, trials: int, seed: int, names: list[str] | None = None,
                    source: str | None = None) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """Per-trial theta tables of both arms and where the draws came from:
    ``"posterior"`` (the calibrated sample, ``sim.model.posterior``, with the parameters
    it does not hold drawn from their priors) when it exists and
    neither ``names`` nor ``source="prior"`` asks otherwise, else ``"prior"`` (the
    uncertainty distributions of ``params/defaults.toml``). Each arm's own overrides
    are laid over every draw."""
    from sim.model.posterior import load_posterior  # noqa: PLC0415 - model-level loaders
    from sim.model.uncertainty import sample_thetas  # noqa: PLC0415

    base = spec.control.scenario.params
    post = None if (names is not None or source == "prior") else load_posterior()
    if source == "posterior" and post is None:
        raise InputError("params/posterior.parquet", "", "no calibrated posterior sample", "run the calibration")
    if post is not None:
        # calibrated parameters from the posterior, every other uncertain one from its prior
        draws, used = post.thetas_with_prior(base, trials, seed), "posterior"
    else:
        draws, used = sample_thetas(base, trials, seed, names=names, source=spec.file), "prior"
    base_theta = base.theta()
    out = []
    for a in (spec.control, spec.experimental):
        theta_a = a.scenario.params.theta()
        overridden = theta_a != base_theta
        d = draws.copy()
        d[:, overridden] = theta_a[overridden]
        out.append(np.ascontiguousarray(d))
    return (out[0], out[1]), used


def assurance(spec: TrialSpec, n: int, trials: int | None = None, seed: int | None = None,
              names: list[str] | None = None, threads: int | None = None, source: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[float, float]:
    """Assurance at total size ``n``: the probability of a significant result averaged
    over parameter uncertainty, with its Monte Carlo SE. Trial k uses its own parameter
    draw (:func:`assurance_draws`; ``names`` restricts the prior draws to those
    parameters), with each arm's overrides on top, and otherwise the same patients,
    randomisation, accrual and dropout as :func:`simulate_trials` (with no parameter
    drawn it equals the power there exactly). For a single-arm trial this is the
    probability of success."""
    trials = spec.trials if trials is None else int(trials)
    seed = spec.seed if seed is None else int(seed)
    thetas, _ = assurance_draws(spec, trials, seed, names, source)
    sim = _simulate(spec, thetas, trials, seed, int(n), threads, progress)
    p = float(sim.analyse([int(n)]).power[0])
    return p, math.sqrt(p * (1.0 - p) / trials)


def simulate_with_draws(spec: TrialSpec, n: int, trials: int, seed: int, threads: int | None = None,
                        names: list[str] | None = None) -> tuple[SimulatedTrials, str]:
    """Trials of size ``n`` each with its own parameter draw (see :func:`assurance`)."""
    thetas, used = assurance_draws(spec, trials, seed, names)
    return _simulate(spec, thetas, trials, seed, int(n), threads, None), used


# --------------------------------------------------------------------------- #
# power curve


@dataclass(frozen=True)
class PowerCurve:
    endpoint: str
    test: str
    trials: int
    seed: int
    grid: list[dict[str, float]]  # n, power, se, events_mean, duration_months_mean, ...
    n_required: int | None
    n_required_note: str
    analytic_n: int | None
    analytic_events: int | None
    hazard_ratio_pooled: float | None
    event_fraction_pooled: float
    searched: list[dict[str, float]]  # sizes evaluated by the search (n, power, se)
    assurance: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "test": self.test, "trials": self.trials, "seed": self.seed,
            "grid": self.grid, "n_required": self.n_required, "n_required_note": self.n_required_note,
            "analytic_n": self.analytic_n, "analytic_events": self.analytic_events,
            "hazard_ratio_pooled": self.hazard_ratio_pooled, "event_fraction_pooled": self.event_fraction_pooled,
            "searched": self.searched, "assurance": self.assurance, **self.extra,
        }


def _row(res: TrialResults, g: int) -> dict[str, Any]:
    p = float(res.power[g])
    k = res.p_looks.shape[0]
    row: dict[str, Any] = {
        "n": int(res.sizes[g]), "power": p, "se": math.sqrt(p * (1.0 - p) / k),
        "events_mean": float(res.events[:, g].mean()),
        "duration_months_mean": float(res.duration_days[:, g].mean() / DAYS_PER_MONTH)}
    if res.spec.followup_rule == "events":
        row["events_reached"] = float(res.reached[:, g].mean())
    if res.looks > 1:
        reject, look = res.reject[:, g], res.stop_look[:, g]
        row["stop_probability"] = [float(np.mean(reject & (look == j))) for j in range(res.looks)]
        if res.plan is not None and (res.plan.futility or res.plan.futility_z):
            fut = res.futility_stop[:, g]
            row["futility_probability"] = [float(np.mean(fut & (look == j))) for j in range(res.looks)]
        row["look_happened"] = [float(res.done[:, g, j].mean()) for j in range(res.looks)]
    return row


def search_n(sim: SimulatedTrials, target: float, grid: tuple[int, ...], power: np.ndarray,
             keep: list[np.ndarray] | None = None) -> tuple[int | None, str, list[dict[str, float]]]:
    """Smallest n reaching ``target`` power: bisection over whole n between the last grid
    point below the target and the first at or above it, each midpoint simulated with
    the same K nested trials (so the estimated curve is close to monotone; with Monte
    Carlo noise the answer is a crossing of the estimated curve, not a proof that no
    smaller n reaches the target). ``keep`` collects each midpoint's rejections."""
    above = np.flatnonzero(power >= target)
    if above.size == 0:
        return None, f"no grid size reaches power {target} (largest grid size {grid[-1]})", []
    i = int(above[0])
    if i == 0:
        return int(grid[0]), "reached at the smallest grid size (not searched below it)", []
    lo, hi = int(grid[i - 1]), int(grid[i])
    searched = []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        res = sim.analyse([mid])
        searched.append(_row(res, 0))
        if keep is not None:
            keep.append(res.reject[:, 0])
        if res.power[0] >= target:
            hi = mid
        else:
            lo = mid
    return hi, f"bisection between grid sizes {grid[i - 1]} and {grid[i]}", searched


def _crossing(ns: np.ndarray, power: np.ndarray, target: float) -> float:
    """Linear interpolation of the first crossing of ``target`` (nan: never)."""
    above = np.flatnonzero(power >= target)
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(ns[0])
    p0, p1 = power[i - 1], power[i]
    return float(ns[i - 1] + (target - p0) / (p1 - p0) * (ns[i] - ns[i - 1]))


def bootstrap_n_required(ns: np.ndarray, reject: np.ndarray, target: float, seed: int,
                         replicates: int = BOOTSTRAP_REPLICATES) -> dict[str, Any]:
    """Monte Carlo error of the sample size reaching ``target``: the K simulated trials
    (rows of ``reject``, one column per evaluated size ``ns``) are resampled with
    replacement; in each replicate the power curve is re-estimated at the evaluated sizes
    and its first crossing of the target is found by linear interpolation between
    them. Returns the SD and the 2.5/97.5 percentiles of the crossing over replicates,
    and the share of replicates whose curve never reaches the target."""
    order = np.argsort(ns)
    ns, reject = ns[order], reject[:, order].astype(np.float64)
    K = reject.shape[0]
    rng = np.random.default_rng([seed, 6])  # a local generator: no global state
    weights = rng.multinomial(K, np.full(K, 1.0 / K), size=replicates).astype(np.float64)
    curves = weights @ reject / K
    cross = np.array([_crossing(ns, c, target) for c in curves])
    ok = cross[np.isfinite(cross)]
    out: dict[str, Any] = {"method": f"bootstrap over the {K} simulated trials ({replicates} replicates); "
                           "crossing of the target by linear interpolation between evaluated sizes",
                           "never_reached": float(np.mean(~np.isfinite(cross)))}
    if ok.size >= 2:
        out["se"] = float(np.std(ok, ddof=1))
        out["interval"] = [float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))]
    else:
        out["se"] = None
        out["interval"] = None
    return out


def _pooled_hr(res: TrialResults, g: int) -> float | None:
    v = float(res.variance[:, g].sum())
    return math.exp(float(res.o_minus_e[:, g].sum()) / v) if v > 0 else None


def _analytic(spec: TrialSpec, res: TrialResults, g: int) -> dict[str, Any]:
    """The textbook answer beside the simulated one, with its inputs (hazard ratio,
    event fraction, rates) estimated from the simulated trials at grid size ``g`` (the
    first grid size at or above the simulated answer, else the largest: with
    non-proportional hazards or cure the pooled hazard ratio depends on follow-up, so
    it is read where the design would be)."""
    n_big = spec.grid[g]
    out: dict[str, Any] = {"analytic_n": None, "analytic_events": None, "hazard_ratio_pooled": None,
                           "event_fraction_pooled": float(res.events[:, g].mean()) / n_big}
    frac = out["event_fraction_pooled"]
    if spec.test in ("logrank", "cox", "cox_score", *NPH_TESTS):
        hr = _pooled_hr(res, g)
        out["hazard_ratio_pooled"] = hr
        out["analytic_note"] = ("Schoenfeld with the hazard ratio (pooled Peto estimate) and event fraction pooled "
                                f"over the simulated trials at n = {n_big}")
        if spec.test in NPH_TESTS:
            out["analytic_note"] += f" (the log-rank test's answer, beside the simulated {spec.test} test)"
        if hr is not None and abs(math.log(hr)) > 1e-12:
            d = schoenfeld_events(hr, spec.alpha, spec.power, spec.p_experimental, spec.sides)
            out["analytic_events"] = d
            if spec.followup_rule == "events":
                out["analytic_note"] += ("; event-driven rule: the sample size sets the duration, not the events, "
                                         "so only D is given")
            elif 0.0 < frac < 1.0:
                out["analytic_n"] = schoenfeld_n(hr, frac, spec.alpha, spec.power, spec.p_experimental, spec.sides)
            if spec.interim_fractions:
                ev = np.asarray(spec.look_events(), float)
                gs = _solved(spec, ev / ev[-1])
                exact = schoenfeld_events_exact(hr, spec.alpha, spec.power, spec.p_experimental, spec.sides)
                out["analytic_events_group_sequential"] = max_events(exact, gs)
                out["inflation_factor"] = gs.inflation
    elif spec.test in ("chisq", "chisq_yates", "fisher"):
        c = res.counts[:, g].sum(axis=0)
        pa = c[0] / c[1] if c[1] else math.nan
        pb = c[2] / c[3] if c[3] else math.nan
        out.update(rate_control_pooled=pa, rate_experimental_pooled=pb)
        share = (c[1] + c[3]) / (n_big * res.counts.shape[0])  # denominator per randomised patient
        out["analytic_note"] = ("two proportions, normal approximation with pooled variance and no continuity "
                                f"correction, rates pooled over the simulated trials at n = {n_big}"
                                + ("; divided by the share infused (safety population)"
                                   if spec.endpoint == "crs_grade3plus_rate" else ""))
        if 0 < pa < 1 and 0 < pb < 1 and pa != pb and share > 0:
            n = two_proportions_n(pa, pb, spec.alpha, spec.power, 1.0 - spec.p_experimental, spec.sides)
            out["analytic_n"] = math.ceil(n / share - 1e-9) if spec.endpoint == "crs_grade3plus_rate" else n
    elif spec.test in ("binomial", "simon", "predictive"):
        c = res.counts[:, g].sum(axis=0)
        p_model = c[2] / c[3] if c[3] else math.nan
        p1 = spec.p1 if spec.p1 is not None else p_model
        out.update(p0=spec.p0, p1=p1, p1_source="spec" if spec.p1 is not None else "model",
                   rate_pooled=p_model)
        out["analytic_note"] = "single-stage exact binomial design (smallest n) for p0 and p1"
        assert spec.p0 is not None  # parse_trial requires p0 for the single-arm rate tests
        if p1 is not None and math.isfinite(p1) and spec.p0 < p1 < 1.0:
            out["analytic_n"] = exact_binomial_design(spec.p0, p1, spec.alpha, spec.power).n
        else:
            out["analytic_note"] += f"; none: the model's rate {p_model:.3f} does not exceed p0 = {spec.p0}"
    else:  # logrank1
        o = float(res.events[:, g].sum())
        e = float((res.events[:, g] - res.o_minus_e[:, g]).sum())
        hr = o / e if e > 0 else None
        out["hazard_ratio_pooled"] = hr
        out["historical"] = spec.historical_note
        out["analytic_note"] = ("Wu (2015) one-sample log-rank sample size, exponential historical curve, hazard "
                                f"ratio O/E pooled over the simulated trials at n = {n_big}, uniform "
                                "accrual at the mean rate over the accrual time, the spec's minimum follow-up")
        if hr is not None and abs(math.log(hr)) > 1e-12 and spec.followup_rule == "min_followup":
            out["analytic_n"] = _wu_n(spec, hr)
            if out["analytic_n"] is not None:
                out["analytic_events"] = None
    if spec.interim_fractions and out["analytic_n"] is not None and spec.followup_rule != "events":
        infl = _solved(spec, np.asarray(spec.look_fractions())).inflation
        out["analytic_n_group_sequential"] = math.ceil(out["analytic_n"] * infl - 1e-9)
        out["inflation_factor"] = infl
    return out


def _accrual_months(spec: TrialSpec, n: int) -> float:
    """Expected months to randomise n patients (cumulative intensity = n - 1 gaps)."""
    rates, ends = _rates_per_day(spec)
    return _accrual_step(0.0, float(n - 1), rates, ends) / DAYS_PER_MONTH


def _wu_n(spec: TrialSpec, hr: float) -> int | None:
    assert spec.historical_hazard_per_day is not None  # parse_trial sets it for the logrank1 test
    median0 = math.log(2.0) / spec.historical_hazard_per_day / DAYS_PER_MONTH
    fu = spec.min_followup_days / DAYS_PER_MONTH
    n = 50
    for _ in range(100):  # fixed point: the accrual time depends on n
        new = one_sample_logrank_n(hr, median0, _accrual_months(spec, n), fu, spec.alpha, spec.power,
                                   sides=spec.sides).n
        if new == n:
            return n
        n = new
    return n


def _interim_block(spec: TrialSpec, res: TrialResults, b: np.ndarray) -> dict[str, Any]:
    """The planned group-sequential design and its analytic operating characteristics
    (canonical joint normal at the planned information): per look, the probability of
    stopping for efficacy and for futility under H0 and under the design alternative."""
    rate = res.rate_looks
    ev = spec.look_fractions() if rate else spec.look_events()
    out: dict[str, Any] = {
        "fractions": list(spec.interim_fractions), "spending": spec.spending,
        "look_events": None if rate else list(ev), "information": "patients assessed" if rate else "events",
        "boundaries_z": [float(x) for x in b], "nominal_p_one_sided": [0.5 * math.erfc(v / math.sqrt(2.0)) for v in b],
        "boundaries_note": "planned, at the planned information; every simulated trial's boundaries are "
                           "recomputed at the information it observed at its looks (events, or for a rate the "
                           "patients in the denominator of n), its final look spending the alpha left"}
    if spec.test == "maxcombo":
        out["boundaries_note"] = ("MaxCombo: the median over the simulated trials (first grid size) of the "
                                  "boundaries each trial's own looks give, under the joint normal of its FH "
                                  "statistics at every look; no canonical single-statistic design applies")
    if spec.futility is None and not spec.futility_z:
        return out
    a = res.futility_boundaries()
    plan = res.plan
    assert plan is not None
    out.update(futility=spec.futility or "fixed z", futility_hr=spec.futility_hr, futility_binding=False,
               futility_z=[None if not math.isfinite(x) else float(x) for x in a])
    if spec.test == "maxcombo":
        return out
    info = np.asarray(ev, float)
    oc: dict[str, Any] = {}
    cases = [("h0", 0.0)] + ([("design_alternative", plan.drift_per_sqrt_info)] if spec.futility_hr else [])
    for label, drift in cases:
        up, down = exit_probabilities(info, b, a, drift)
        cont = 1.0 - np.concatenate([[0.0], np.cumsum(up + down)[:-1]])  # P(the trial reaches look k)
        oc[label] = {"efficacy": [float(x) for x in up], "futility": [float(x) for x in down],
                     "reject_total": float(up.sum()),
                     ("expected_information_fraction" if rate else "expected_events"):
                         float(np.sum(info * (up + down)) + info[-1] * (1.0 - np.sum(up + down))),
                     "reach_look": [float(x) for x in cont]}
    out["operating_characteristics"] = oc
    gs = _solved(spec, info / info[-1])
    out["solved_design"] = {**gs.to_dict(), "note": "maximum information solved so that the design with its "
                            "futility boundary obeyed has the target power (non-binding futility, as rpact's "
                            "getDesignGroupSequential(bindingFutility = FALSE)); on the information-fraction scale"}
    if spec.design_hr is not None:
        out["solved_design"]["design_hr"] = spec.design_hr
        out["solved_design"]["max_events"] = spec.events
    return out


def _solved(spec: TrialSpec, t: np.ndarray) -> GroupSequentialDesign:
    """The spec's group-sequential design at fractions ``t``, solved for its target power
    with its futility boundary obeyed (the inflation factor includes futility)."""
    return solve_design(t, spec.alpha / spec.sides, spec.power, spec.spending, spec.futility, spec.futility_z)


def _simon_block(spec: TrialSpec, seed: int, trials: int, threads: int | None, p1_model: float
                 ) -> dict[str, Any]:
    """The Simon design for (p0, p1) and its operating characteristics under the model:
    responders are counted among the first n1, then n, patients (ITT, each patient's
    response known before its dropout; the stage-1 decision waits for the stage-1
    patients' assessments)."""
    p1 = spec.p1 if spec.p1 is not None else p1_model
    assert spec.p0 is not None  # parse_trial requires p0 for the simon test
    if not (math.isfinite(p1) and spec.p0 < p1 < 1.0):
        return {"design": None, "note": f"no Simon design: p1 = {p1:.3f} does not exceed p0 = {spec.p0}"}
    designs = simon_two_stage(spec.p0, p1, spec.alpha, spec.power)
    d = designs.optimal if spec.simon == "optimal" else designs.minimax

    def run(sim: SimulatedTrials) -> dict[str, float]:
        resp = sim.t_event[:, : d.n] <= sim.dropout[:, : d.n]
        x1 = resp[:, : d.n1].sum(axis=1)
        x = resp.sum(axis=1)
        cont = x1 > d.r1
        rej = cont & (x > d.r)
        p = float(rej.mean())
        return {"power": p, "se": math.sqrt(p * (1 - p) / len(rej)), "pet": float(1 - cont.mean()),
                "expected_n": float(np.mean(np.where(cont, d.n, d.n1)))}

    sim = simulate_trials(spec, trials, seed, n_max=d.n, threads=threads)
    out: dict[str, Any] = {"kind": spec.simon, "p0": spec.p0, "p1": p1, "r1": d.r1, "n1": d.n1, "r": d.r,
                           "n": d.n, "en0": d.en0, "pet0": d.pet0, "exact_alpha": d.alpha, "exact_power": d.power}
    out["simulated"] = run(sim)
    draws, used = simulate_with_draws(spec, d.n, trials, seed, threads)
    out["probability_of_success"] = run(draws)["power"]
    out["probability_of_success_source"] = used
    return out


def _predictive_block(spec: TrialSpec, seed: int, trials: int, threads: int | None, p_model: float
                      ) -> dict[str, Any]:
    """The predictive-probability design for (p0, p1) with its exact operating
    characteristics at p0, p1 and the model's pooled rate, and the same rules applied
    to trials simulated through the pathway (responses counted in enrolment order, each
    patient's response known before its dropout, as for Simon's design)."""
    p1 = spec.p1 if spec.p1 is not None else p_model
    assert spec.p0 is not None  # parse_trial sets p0 and the options for this test
    assert spec.predictive is not None
    if not (math.isfinite(p1) and spec.p0 < p1 < 1.0):
        return {"design": None, "note": f"no predictive design: p1 = {p1:.3f} does not exceed p0 = {spec.p0}"}
    try:
        d = spec.predictive.design(spec.p0, p1, spec.alpha, spec.power)
    except ValueError as exc:
        return {"design": None, "note": str(exc)}
    out: dict[str, Any] = {"design": d.to_dict()}
    sim = simulate_trials(spec, trials, seed, n_max=d.rules.n_max, threads=threads)
    resp = sim.t_event[:, : d.rules.n_max] <= sim.dropout[:, : d.rules.n_max]
    rate = float(resp.mean())
    out["simulated"] = summarise(monitor(resp, d.rules))
    out["model_rate"] = rate
    out["exact_at_model_rate"] = operating_characteristics(d.rules, rate).to_dict()
    draws, used = simulate_with_draws(spec, d.rules.n_max, trials, seed, threads)
    out["probability_of_success"] = float(monitor(draws.t_event <= draws.dropout, d.rules)["reject"].mean())
    out["probability_of_success_source"] = used
    return out


def power_curve(spec: TrialSpec, trials: int | None = None, seed: int | None = None, threads: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> PowerCurve:
    """Simulated power per grid size with its Monte Carlo SE ``sqrt(p (1 - p) / K)``,
    mean events and duration (at the analysis where each trial ends), the searched
    smallest n with its bootstrap Monte Carlo error, and the analytic answer."""
    sim = simulate_trials(spec, trials, seed, threads=threads, progress=progress)
    res = sim.analyse(spec.grid)
    rows = [_row(res, g) for g in range(len(spec.grid))]
    keep: list[np.ndarray] = []
    n_req, note, searched = search_n(sim, spec.power, spec.grid, res.power, keep)
    ns = np.array(list(spec.grid) + [r["n"] for r in searched], float)
    reject = np.column_stack([res.reject] + [k[:, None] for k in keep])
    at = [g for g, n in enumerate(spec.grid) if n_req is not None and n >= n_req]
    extra = _analytic(spec, res, at[0] if at else len(spec.grid) - 1)
    analytic_n = extra.pop("analytic_n")
    analytic_d = extra.pop("analytic_events")
    hr = extra.pop("hazard_ratio_pooled")
    frac = extra.pop("event_fraction_pooled")
    extra["n_required_mc"] = bootstrap_n_required(ns, reject, spec.power, sim.seed)
    extra["design"] = spec.design
    extra["sides"] = spec.sides
    extra["follow_up_rule"] = spec.followup_rule
    if spec.design == "two_arm" and spec.survival and res.looks == 1 and spec.adaptive is None:
        extra["analytic_power"] = analytic_grid(spec, [Setting(spec.test, spec.fh_weights, spec.km_days)])[0]
    if res.looks > 1:
        b = res.boundaries()
        extra["interim"] = _interim_block(spec, res, b)
    if spec.test == "simon":
        extra["simon"] = _simon_block(spec, sim.seed, sim.trials, threads,
                                      extra.get("rate_pooled", math.nan))
    if spec.adaptive is not None:
        extra["adaptive"] = adaptive_block(sim, spec.adaptive, spec.grid)
    if spec.test == "predictive":
        extra["predictive"] = _predictive_block(spec, sim.seed, sim.trials, threads,
                                                extra.get("rate_pooled", math.nan))
    return PowerCurve(spec.endpoint, spec.test, sim.trials, sim.seed, rows, n_req, note, analytic_n, analytic_d,
                      hr, frac, searched, extra=extra)
