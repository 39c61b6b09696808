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
