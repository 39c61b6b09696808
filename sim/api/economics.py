"""The public API of cost-effectiveness analysis: strategies (scenarios) simulated with
common random numbers and an economic preset, compared on costs, QALYs and life-years.

>>> import sim.api.economics as econ
>>> r = econ.cea(["recipient_collected_cells", "donor_derived_cells"], patients=20_000)  # doctest: +SKIP
>>> r.to_dict()["frontier"]                                                               # doctest: +SKIP

The default horizon is lifetime: every patient is followed to death (a century of
follow-up, ``sim.model.limits.MAX_DAYS``); background deaths come from the life table
``background.life_table`` (params/life_tables, by age and sex) times an SMR.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.economics.decision import Increment, frontier, net_health_benefit, paired_increment, ratio_interval
from sim.engine.kernel import run_kernel_economics
from sim.io.files import load_economics, load_scenario
from sim.model.economic_inputs import EconomicInputs
from sim.model.errors import InputError
from sim.model.limits import MAX_DAYS, check_memory, check_option
from sim.model.outputs import N_ECON_COLUMNS, CostCategory, E, F
from sim.model.scenario import Scenario

__all__ = ["LIFETIME_DAYS", "CeaResult", "cea"]

LIFETIME_DAYS = MAX_DAYS
CHUNK_PATIENTS = 200_000
#: bytes per patient per strategy held at once (records and economic block)
BYTES_PER_PATIENT = 4 * 15 + 22 + 8 * 20
BOOTSTRAP = 1000
ProgressCallback = Callable[[int, int], None]


@dataclass
class StrategyResult:
    name: str
    file: str
    cost: float  # discounted mean per patient
    qalys: float  # discounted
    life_years: float  # undiscounted
    life_years_disc: float
    cost_undiscounted: float
    qalys_undiscounted: float
    costs_by_category: dict[str, float]  # discounted
    alive_at_horizon: float  # share still alive when follow-up ends


@dataclass
class CeaResult:
    """Per-strategy means, paired increments against the first strategy, the frontier."""

    strategies: list[StrategyResult]
    economics: EconomicInputs
    patients: int
    seed: int
    horizon_days: float
    wtp: float
    increments: list[dict[str, Any]]
    frontier: list[dict[str, Any]]
    elapsed_s: float
    #: per strategy, per patient (discounted cost, discounted QALYs), for the CE-plane figure
    samples: list[np.ndarray] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        e = self.economics
        return {
            "economics": {"file": e.file, "currency": e.currency, "price_year": e.price_year,
                          "perspective": e.perspective, "country": e.country,
                          "discount_costs_per_year": e.values["discount.costs_per_year"],
                          "discount_outcomes_per_year": e.values["discount.outcomes_per_year"]},
            "patients": self.patients, "seed": self.seed, "horizon_days": self.horizon_days,
            "wtp_per_qaly": self.wtp,
            "strategies": [_clean(vars(s)) for s in self.strategies],
            "increments": [_clean(d) for d in self.increments],
            "frontier": [_clean(d) for d in self.frontier],
            "elapsed_s": self.elapsed_s,
        }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: NaN and infinities become None."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = _clean(v)
        elif isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        else:
            out[k] = v
    return out


def _simulate(sc: Scenario, econ: np.ndarray, patients: int, seed: int, horizon: float, threads: int | None,
              progress: Callable[[int], None]) -> tuple[np.ndarray, np.ndarray]:
    """(economic block, t_last days) of one strategy, in chunks of patient ids."""
    theta = sc.params.theta()
    eout = np.empty((patients, N_ECON_COLUMNS))
    alive = np.empty(patients, dtype=bool)
    for start in range(0, patients, CHUNK_PATIENTS):
        stop = min(patients, start + CHUNK_PATIENTS)
        f, _, e = run_kernel_economics(theta, econ, seed, stop - start, horizon, first_patient_id=start,
                                       threads=threads)
        eout[start:stop] = e
        alive[start:stop] = np.isnan(f[:, F.T_DEATH_DAYS])
        progress(stop - start)
    return eout, alive


def _increment_dict(name: str, d_cost: Increment, d_qaly: Increment, d_ly: Increment, d_nmb: Increment,
                    icer: float, icer_ci: tuple[float, float]) -> dict[str, Any]:
    out: dict[str, Any] = {"strategy": name}
    for label, inc in (("cost", d_cost), ("qalys", d_qaly), ("life_years", d_ly), ("nmb", d_nmb)):
        out |= {f"d_{label}": inc.mean, f"d_{label}_low": inc.low, f"d_{label}_high": inc.high,
                f"d_{label}_se": inc.se}
    out |= {"icer": icer, "icer_low": icer_ci[0], "icer_high": icer_ci[1]}
    return out


def cea(scenarios: Sequence[str | Path | Scenario], economics: str | Path | EconomicInputs = "uk_nhs",
        patients: int | None = None, seed: int | None = None, horizon_days: float | None = None,
        wtp: float | None = None, threads: int | None = None, bootstrap: int = BOOTSTRAP,
        progress: ProgressCallback | None = None) -> CeaResult:
    """Cost-effectiveness of two or more strategies (scenarios) against the first.

    Every strategy is simulated for the same patient ids with the same seed (common
    random numbers), so increments are paired patient by patient: their 95% intervals
    are normal intervals of the paired means; the ICER's is a paired percentile
    bootstrap (``bootstrap`` replicates; None when the QALY difference changes sign).
    Defaults: patients and seed of the first scenario, lifetime horizon, the preset's
    willingness to pay. Bad input raises :class:`~sim.model.errors.InputError`.
    """
    t0 = time.perf_counter()
    if len(scenarios) < 2:
        raise InputError("command line", "STRATEGIES", f"need at least 2 strategies, got {len(scenarios)}",
                         "two or more scenario files or names")
    loaded = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    econ = economics if isinstance(economics, EconomicInputs) else load_economics(economics)
    check_option("--patients", patients, "patients")
    check_option("--seed", seed, "seed")
    check_option("--horizon-days", horizon_days, "horizon_days")
    check_option("--wtp", wtp, "wtp")
    check_option("--threads", threads, "threads")
    check_option("--bootstrap", bootstrap, "bootstrap")
    n = patients if patients is not None else loaded[0].run.patients
    root = seed if seed is not None else loaded[0].run.seed
    horizon = float(horizon_days) if horizon_days is not None else LIFETIME_DAYS
    lam = float(wtp) if wtp is not None else econ.wtp_per_qaly
    check_memory(2 * n * BYTES_PER_PATIENT, "command line" if patients is not None else loaded[0].file,
                 "--patients" if patients is not None else "run.patients", f"{n:,} patients per strategy")
    vec = econ.vector()
    total, done = n * len(loaded), [0]

    def tick(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], total)

    blocks, alive = [], []
    for sc in loaded:
        e, a = _simulate(sc, vec, n, root, horizon, threads, tick)
        blocks.append(e)
        alive.append(a)
    cats = [c.name.lower() for c in CostCategory]
    strategies = []
    cost = [b[:, E.COST_DISC:E.COST_DISC + len(cats)].sum(axis=1) for b in blocks]
    for sc, b, c, a in zip(loaded, blocks, cost, alive, strict=True):
        strategies.append(StrategyResult(
            sc.name, sc.file, float(c.mean()), float(b[:, E.QALY_DISC].mean()), float(b[:, E.LY].mean()),
            float(b[:, E.LY_DISC].mean()), float(b[:, E.COST:E.COST + len(cats)].sum(axis=1).mean()),
            float(b[:, E.QALY].mean()), {k: float(b[:, E.COST_DISC + i].mean()) for i, k in enumerate(cats)},
            float(a.mean())))
    increments = []
    for k in range(1, len(loaded)):
        d_c, d_q = cost[k] - cost[0], blocks[k][:, E.QALY_DISC] - blocks[0][:, E.QALY_DISC]
        inc_c = paired_increment(cost[0], cost[k])
        inc_q = paired_increment(blocks[0][:, E.QALY_DISC], blocks[k][:, E.QALY_DISC])
        inc_l = paired_increment(blocks[0][:, E.LY], blocks[k][:, E.LY])
        inc_n = paired_increment(lam * blocks[0][:, E.QALY_DISC] - cost[0], lam * blocks[k][:, E.QALY_DISC] - cost[k])
        icer = inc_c.mean / inc_q.mean if inc_q.mean != 0 else math.nan
        ci = ratio_interval(d_c, d_q, n_boot=bootstrap, seed=root)
        increments.append(_increment_dict(loaded[k].name, inc_c, inc_q, inc_l, inc_n, icer, ci))
    costs = np.array([s.cost for s in strategies])
    qalys = np.array([s.qalys for s in strategies])
    nhb = net_health_benefit(costs, qalys, lam) if lam > 0 else np.full(len(costs), math.nan)
    rows = [{"strategy": strategies[r.index].name, "status": r.status, "icer": r.icer,
             "versus": strategies[r.reference].name if r.reference >= 0 else None,
             "nmb": float(lam * qalys[r.index] - costs[r.index]), "nhb": float(nhb[r.index])}
            for r in frontier(costs, qalys)]
    samples = [np.column_stack([c, b[:, E.QALY_DISC]]) for c, b in zip(cost, blocks, strict=True)]
    return CeaResult(strategies, econ, n, root, horizon, lam, increments, rows, time.perf_counter() - t0, samples)


# --------------------------------------------------------------------------------------
# probabilistic analysis
# --------------------------------------------------------------------------------------
PSA_PATIENTS = 10_000
PSA_FILES = ("psa.parquet", "psa.json", "psa_plane.png", "ceac.png", "voi.png", "enbs.png")


def psa(scenarios: Sequence[str | Path | Scenario], economics: str | Path | EconomicInputs = "uk_nhs", *,
        out: str | Path = "cartsim_psa", draws: int = 1000, patients: int = PSA_PATIENTS, seed: int | None = None,
        horizon_days: float | None = None, wtp: float | None = None, wtp_max: float | None = None,
        wtp_points: int = 61, groups: Sequence[str] | None = None, incidence: float | None = None,
        decision_years: float = 10.0, prior: bool = False, trial: str | Path | None = None,
        trial_sizes: Sequence[int] | None = None, trial_cost_per_patient: float = 0.0,
        trial_fixed_cost: float = 0.0, resume: bool = False, cluster: str | None = None,
        workers: int | None = None, chunk_sets: int = 64, threads: int | None = None, crn: bool = True,
        progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Probabilistic cost-effectiveness analysis of two or more strategies (scenarios).

    ``draws`` joint draws of the model parameters (the calibrated posterior, or ``prior``)
    and the preset's economic inputs, each simulated for every strategy with ``patients``
    patients and common random numbers (``sim.economics.psa``), in resumable chunks under
    ``out/chunks`` (``resume``; ``cluster`` runs them on Dask). Writes in ``out``:
    ``psa.parquet`` (one row per draw: inputs, per-strategy means and SEs), ``psa.json``
    (what this returns), ``psa_plane.png``, ``ceac.png``, ``voi.png`` and, with ``trial``,
    ``enbs.png``. EVPI and EVPPI (``groups``: ``NAME=PREFIX,...``; default by parameter
    name) are per patient at ``wtp`` (default the preset's), and for a population with
    ``incidence`` patients a year over ``decision_years`` (discounted at the preset's
    cost rate). With ``trial`` (a ``scenarios/trials`` spec): EVSI per size (default its
    grid), the expected net benefit of sampling against ``trial_fixed_cost`` +
    ``trial_cost_per_patient`` x n (currency of the preset), its optimum, and the
    power-based size of the same spec. Bad input raises InputError before any work.
    """
    from sim.api.runs import check_threads  # noqa: PLC0415
    from sim.economics import psa as ps  # noqa: PLC0415
    from sim.io.chunks import write_table  # noqa: PLC0415
    from sim.io.files import OutputSet, json_safe, write_json  # noqa: PLC0415
    from sim.sweeps.runner import check_cluster, check_scheduler, run_sweep  # noqa: PLC0415

    t0 = time.perf_counter()
    if len(scenarios) < 2:
        raise InputError("command line", "STRATEGIES", f"need at least 2 strategies, got {len(scenarios)}",
                         "two or more scenario files or names")
    check_threads(threads)
    check_cluster(cluster)
    for key, value, limit in (("--draws", draws, "draws"), ("--patients", patients, "patients"),
                              ("--seed", seed, "seed"), ("--horizon-days", horizon_days, "horizon_days"),
                              ("--wtp", wtp, "wtp"), ("--wtp-max", wtp_max, "wtp"),
                              ("--wtp-points", wtp_points, "grid"),
                              ("--incidence", incidence, "positive"), ("--decision-years", decision_years, "positive"),
                              ("--trial-cost-per-patient", trial_cost_per_patient, "cost"),
                              ("--trial-fixed-cost", trial_fixed_cost, "cost"),
                              ("--chunk-sets", chunk_sets, "chunk_sets"),
                              ("--workers", workers, "workers")):
        check_option(key, value, limit)
    if draws < 20:
        raise InputError("command line", "--draws", f"got {draws}: too few draws for acceptability curves and "
                         "metamodels", "at least 20 (1,000 or more for EVPPI and EVSI)")
    for n in trial_sizes or ():
        check_option("--trial-sizes", n, "trial_size")
    loaded = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    econ = economics if isinstance(economics, EconomicInputs) else load_economics(economics)
    lam = float(wtp) if wtp is not None else econ.wtp_per_qaly
    if wtp_max is not None and wtp_max <= lam:
        raise InputError("command line", "--wtp-max", f"{wtp_max:g} is not above the willingness to pay {lam:g}",
                         "a maximum above --wtp (default 3 x --wtp)")
    spec = None
    if trial is not None:
        from sim.api.trials import power_spec  # noqa: PLC0415

        spec = power_spec(trial)
    if cluster is not None and cluster != "local":
        check_scheduler(cluster)
    root = seed if seed is not None else loaded[0].run.seed
    horizon = float(horizon_days) if horizon_days is not None else LIFETIME_DAYS
    design = psa_sweep_design(loaded, econ, draws, root, prior)
    names = [sc.name for sc in loaded]
    cols = ps.parameter_columns(design.table, [])
    chosen = ps.resolve_groups(groups, cols)
    sizes = sorted({int(n) for n in (trial_sizes or (spec.grid if spec is not None else ()))})
    rate = econ.values["discount.costs_per_year"]
    with OutputSet(Path(out), retire=PSA_FILES) as outs:
        results, info = run_sweep(design, out, patients=patients, seed=root, horizon_days=horizon, crn=crn,
                                  chunk_sets=chunk_sets, resume=resume, cluster=cluster, workers=workers,
                                  threads=threads, progress=progress, task=ps.psa_chunk, names=ps.columns(names))
        wtps = ps.wtp_grid(lam, wtp_max, wtp_points)
        summary = ps.analyse(results, names, lam, wtps, chosen, incidence, decision_years, rate, seed=root)
        summary |= {"strategies_files": [sc.file for sc in loaded], "patients": patients, "seed": root,
                    "horizon_days": horizon, "crn": crn, "design": design.options,
                    "economics": {"file": econ.file, "currency": econ.currency, "price_year": econ.price_year,
                                  "perspective": econ.perspective, "country": econ.country},
                    "sweep": {k: info[k] for k in ("spec_hash", "chunks", "computed_chunks", "resumed_chunks",
                                                   "elapsed_s", "patients_per_s", "cluster")}}
        if spec is not None:
            summary["trial"] = _trial_block(spec, results, names, lam, root, sizes, prior, threads, incidence,
                                            decision_years, rate, trial_fixed_cost, trial_cost_per_patient)
        summary["elapsed_s"] = time.perf_counter() - t0
        provenance = {"kind": "cea_psa", "sweep_spec": info["spec"], "spec_hash": info["spec_hash"],
                      "strategies": names, "economics": econ.file, "columns": "per strategy: cost (discounted, "
                      f"{econ.currency} per patient), qalys (discounted), life_years (undiscounted), each with its "
                      "Monte Carlo SE (_se); d_cost, d_qalys: paired increments against the first strategy; "
                      "d_cov: covariance of the two paired means; econ.*: drawn economic inputs"}
        write_table(outs.stage("psa.parquet"), results, json_safe(provenance))
        _psa_figures(summary, results, names, econ.currency, outs)
        summary["files"] = [str(outs.target(f)) for f in PSA_FILES if f != "enbs.png" or spec is not None]
        doc = json_safe(summary)
        write_json(outs.stage("psa.json"), doc)
    return doc


def _digest(econ: EconomicInputs) -> str:
    doc = {"meta": [econ.currency, econ.price_year, econ.perspective, econ.country, econ.wtp_per_qaly],
           "values": econ.values, "uncertainty": econ.uncertainty}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def psa_sweep_design(strategies: Sequence[Scenario], econ: EconomicInputs, draws: int, seed: int, prior: bool = False,
                 posterior_path: str | None = None) -> Any:
    """The draws of a probabilistic CEA as a sweep design: rows :func:`pack`-ed; the table
    holds set_id, draw, every drawn model parameter (columns of the first strategy that
    draws it) and every uncertain economic input (``econ.`` + name)."""
    names = [sc.name for sc in strategies]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError("command line", "STRATEGIES", f"strategy {twice!r} is given twice",
                         "distinct scenarios (increments would be zero)")
    from sim.economics.psa import ECON_PREFIX, pack  # noqa: PLC0415
    from sim.model.economic_inputs import ECON_SPECS, to_vectors  # noqa: PLC0415
    from sim.sweeps.designs import Design, psa_design  # noqa: PLC0415

    parts = [psa_design(sc, draws, prior, seed, posterior_path) for sc in strategies]
    values = econ.sample(draws, seed)
    table = parts[0].table.copy()
    for d in parts[1:]:
        for c in d.table.columns:
            if c not in table.columns:
                table[c] = d.table[c].to_numpy()
    for j, spec in enumerate(ECON_SPECS):
        if spec.name in econ.uncertain_names():
            table[ECON_PREFIX + spec.name] = values[:, j]
    options = {**parts[0].options,
               "strategies": [{"name": sc.name, "file": sc.file, "parameter_hash": sc.params.digest()}
                              for sc in strategies],
               "economics": {"file": econ.file, "hash": _digest(econ), "currency": econ.currency,
                             "price_year": econ.price_year, "uncertain_inputs": econ.uncertain_names()}}
    return Design("cea_psa", strategies[0], pack([d.thetas for d in parts], to_vectors(values)), table,
                  parts[0].factors, options)


def evsi_of_trial(spec: Any, nb: np.ndarray, design_seed: int, sizes: Sequence[int], prior: bool = False,
                threads: int | None = None, seed: int = 0) -> tuple[list[Any], list[float], dict[str, Any]]:
    """EVSI of the trial ``spec`` (two-arm or single-arm) at each size: one trial simulated
    per PSA draw under that draw's parameters (the same posterior rows and prior streams as
    the PSA: ``assurance_draws`` with the PSA's design seed, each arm's overrides on top,
    the spec's own patients, randomisation, accrual and dropout; sizes nested), then
    ``sim.economics.psa.trial_evsi`` on the results. Returns per size the EVSI and the
    trial's mean duration in years, and a description."""
    from sim.economics.psa import trial_evsi  # noqa: PLC0415
    from sim.trials.search import assurance_draws  # noqa: PLC0415 - compiles the trial code only when asked
    from sim.trials.simulate import _simulate, check_trial_memory  # noqa: PLC0415

    if spec.design not in ("two_arm", "single_arm"):
        raise InputError(spec.file, "trial.design", f"EVSI of a {spec.design} trial is not supported",
                         "a two_arm or single_arm trial spec")
    draws = nb.shape[0]
    n_max = int(max(sizes))
    check_trial_memory(draws, n_max, "command line", "--trial-sizes")
    thetas, used = assurance_draws(spec, draws, design_seed, source="prior" if prior else None)
    res = _simulate(spec, thetas, draws, spec.seed, n_max, threads, None).analyse(list(sizes))
    values, durations = trial_evsi(nb, res.counts, res.estimate, res.duration_days, spec.survival,
                                   spec.design == "two_arm", seed)
    about = {"trial": spec.name, "file": spec.file, "design": spec.design, "endpoint": spec.endpoint,
             "test": spec.test, "draws_from": used, "trial_seed": spec.seed,
             "summaries": ("log hazard ratio estimate and each arm's event fraction" if spec.survival
                           else "each arm's observed rate")}
    return values, durations, about


def _trial_block(spec: Any, results: Any, names: list[str], lam: float, root: int, sizes: list[int], prior: bool,
                 threads: int | None, incidence: float | None, years: float, rate: float, fixed: float,
                 per_patient: float) -> dict[str, Any]:
    """EVSI per size, ENBS and its optimum, beside the spec's power-based size."""
    from sim.economics import psa as ps  # noqa: PLC0415
    from sim.trials.search import power_curve  # noqa: PLC0415

    nb = ps.Draws.from_table(results, names).nb(lam)
    values, durations, about = evsi_of_trial(spec, nb, root, sizes, prior, threads, seed=root)
    block: dict[str, Any] = {**about, "sizes": sizes, "cost_fixed": fixed, "cost_per_patient": per_patient,
                             "cost_source": "command line (--trial-fixed-cost, --trial-cost-per-patient)"}
    if incidence:
        rows = ps.enbs(values, sizes, durations, incidence, years, rate, fixed, per_patient)
        block |= {"enbs": rows, "optimum": ps.optimum(rows)}
    else:
        block |= {"evsi": [{"n": n, "evsi": v.value, "evsi_se": v.se, "duration_years": d}
                           for n, v, d in zip(sizes, values, durations, strict=True)],
                  "note": "population EVSI and ENBS need --incidence"}
    curve = power_curve(spec, threads=threads)
    block["power"] = {"n_required": curve.n_required, "n_required_note": curve.n_required_note,
                      "analytic_n": curve.analytic_n, "target_power": spec.power, "alpha": spec.alpha,
                      "trials": curve.trials}
    return block


def _psa_figures(summary: dict[str, Any], results: Any, names: list[str], currency: str, outs: Any) -> None:
    from sim.economics.psa import Draws  # noqa: PLC0415
    from sim.report import economics_figures as figs  # noqa: PLC0415 - matplotlib only when writing figures

    d = Draws.from_table(results, names)
    figs.psa_plane_figure(names, d.cost, d.qalys, summary["wtp"], currency, outs.stage("psa_plane.png"))
    figs.ceac_figure(summary, currency, outs.stage("ceac.png"))
    figs.voi_figure(summary, currency, outs.stage("voi.png"))
    if "trial" in summary:
        figs.enbs_figure(summary["trial"], currency, outs.stage("enbs.png"))
