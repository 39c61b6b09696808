"""Probabilistic cost-effectiveness analysis by simulation, and its value of information.

A draw is one joint sample of the uncertain inputs: the model parameters from the
calibrated posterior (the parameters it does not hold from their priors; or the priors
alone), as the sweeps' PSA design draws them, and the economic inputs from their own
distributions (``EconomicInputs.sample``); the workflow that builds the draws and runs
them (``sim.api.economics.psa``) lives above this module, which only analyses arrays. Every strategy is simulated for
every draw with the same patients (the same seed and patient ids: common random numbers
between strategies; across draws too unless ``crn`` is off) and reduced to its mean
discounted cost, discounted QALYs and life-years with their Monte Carlo SEs, plus the
paired increments against the first strategy. The draws run as a sweep
(``sim.sweeps.runner``: chunked, resumable, local or on Dask) whose chunk task is
:func:`psa_chunk`; the parameter-set rows it receives pack every strategy's theta and the
draw's economic vector side by side (:func:`pack`); both live in ``psa_task``, whose
source hash is part of the sweep's spec (so editing the analysis here keeps ``--resume``).

:func:`analyse` turns the per-draw table into the decision: means and the frontier, the
CE-plane cloud, acceptability curves (CEAC) and frontier (CEAF) over a willingness-to-pay
grid, EVPI, EVPPI of parameter groups (``sim.economics.voi``), each with its Monte Carlo
error; :func:`trial_evsi` adds the EVSI of a trial spec and the expected net benefit of
sampling by sample size.

Two Monte Carlo errors are at work. The *draw* error (finite number of draws) is what the
SEs report: binomial for CEAC, the mean's for EVPI, the metamodel's for EVPPI/EVSI. The
*patient* error (finite cohort per draw) adds noise to each draw's net benefit, which
inflates EVPI (a max over noisy values); ``patient_noise_share`` is the share of the
variance of incremental net benefit across draws that this noise explains (the
patient-level variance of the paired mean over its total variance): small means the
EVPI is little inflated, large calls for more patients per draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.economics.decision import ceac, ceaf, frontier
from sim.economics.psa_task import _se, columns, pack, psa_chunk
from sim.economics.voi import Value, evpi, evppi, population_value
from sim.model.errors import InputError

__all__ = ["ECON_PREFIX", "analyse", "columns", "enbs", "optimum", "pack", "psa_chunk", "trial_evsi"]

ECON_PREFIX = "econ."
WTP_POINTS = 61
#: the columns of a group have interactions only up to this many (beyond, the metamodel
#: is additive: splines of each column); a design wider than draws / MIN_ROWS_PER_COLUMN
#: falls back to linear terms (a metamodel needs many more draws than coefficients)
MIN_ROWS_PER_COLUMN = 10


# --------------------------------------------------------------------------------------
# analysis of the per-draw table
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Draws:
    """Per-draw means, (draws, strategies): discounted cost and QALYs, life-years; paired
    increments against strategy 0 with their patient-level variances and covariance."""

    names: list[str]
    cost: np.ndarray
    qalys: np.ndarray
    life_years: np.ndarray
    d_cost_var: np.ndarray  # (draws, strategies - 1): patient-level variance of the paired mean
    d_qalys_var: np.ndarray
    d_cov: np.ndarray

    @classmethod
    def from_table(cls, table: pd.DataFrame, names: Sequence[str]) -> Draws:
        def get(q: str, ns: Sequence[str], suffix: str = "") -> np.ndarray:
            if not ns:
                return np.empty((len(table), 0))
            return np.column_stack([table[f"{q}:{n}{suffix}"].to_numpy(float) for n in ns])

        rest = list(names[1:])
        return cls(list(names), get("cost", names), get("qalys", names), get("life_years", names),
                   get("d_cost", rest, "_se") ** 2, get("d_qalys", rest, "_se") ** 2, get("d_cov", rest))

    def nb(self, wtp: float) -> np.ndarray:
        return wtp * self.qalys - self.cost

    def patient_noise_share(self, wtp: float) -> float:
        """Mean patient-level variance of the paired incremental net benefit over its
        variance across draws (largest over the strategies after the first)."""
        if self.cost.shape[1] < 2:
            return math.nan
        inb = self.nb(wtp)[:, 1:] - self.nb(wtp)[:, :1]
        noise = wtp**2 * self.d_qalys_var + self.d_cost_var - 2 * wtp * self.d_cov
        total = inb.var(axis=0, ddof=1)
        share = np.where(total > 0, noise.mean(axis=0) / np.where(total > 0, total, 1.0), np.nan)
        return float(np.nanmax(share)) if np.isfinite(share).any() else math.nan


def parameter_columns(table: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """The input columns of the table (drawn parameters and economic inputs) that vary."""
    skip = {"set_id", "draw", *columns(names), *(f"{c}_se" for c in columns(names))}
    return [c for c in table.columns if c not in skip and np.ptp(table[c].to_numpy(float)) > 0]


def default_groups(cols: Sequence[str]) -> dict[str, list[str]]:
    """Model parameters grouped by the first part of their name (``remission``,
    ``crs``, ...), economic inputs by their kind (``econ.cost``, ``econ.utility``, ...)."""
    groups: dict[str, list[str]] = {}
    for c in cols:
        parts = c.split(".")
        key = ".".join(parts[:2]) if c.startswith(ECON_PREFIX) else parts[0]
        groups.setdefault(key, []).append(c)
    return groups


def resolve_groups(specs: Sequence[str] | None, cols: Sequence[str]) -> dict[str, list[str]]:
    """``NAME=PREFIX[,PREFIX...]`` (a column is in the group when its name starts with a
    prefix; ``econ.`` + name for economic inputs), or :func:`default_groups`."""
    if not specs:
        return default_groups(cols)
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, eq, rest = spec.partition("=")
        prefixes = [p.strip() for p in rest.split(",") if p.strip()]
        if not eq or not name.strip() or not prefixes:
            raise InputError("command line", "--group", f"expected NAME=PREFIX[,PREFIX...], got {spec!r}",
                             "e.g. --group relapse=remission.,salvage. --group costs=econ.cost")
        chosen = [c for c in cols if any(c.startswith(p) for p in prefixes)]
        if not chosen:
            raise InputError("command line", "--group", f"group {name.strip()!r}: no varying input starts with "
                             f"{', '.join(map(repr, prefixes))}", "prefixes of: " + ", ".join(cols[:8])
                             + (", ..." if len(cols) > 8 else ""))
        out[name.strip()] = chosen
    return out


def independent_columns(phi: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """The columns of ``phi`` that are not (up to ``tol``, relative) linear combinations
    of the ones before them and a constant: the shares of a Dirichlet vector sum to 1,
    so one of them carries no information, and keeping it makes the metamodel singular."""
    x = np.asarray(phi, dtype=float)
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    keep: list[int] = []
    for j in range(x.shape[1]):
        if sd[j] == 0:
            continue
        trial = z[:, [*keep, j]]
        s = np.linalg.svd(trial, compute_uv=False)
        if s[-1] > tol * s[0] * np.sqrt(len(z)):
            keep.append(j)
    return x[:, keep]


def group_evppi(nb: np.ndarray, phi: np.ndarray, seed: int) -> tuple[Value, str]:
    """EVPPI of one group by the regression metamodel, kept small enough for the draws
    (``MIN_ROWS_PER_COLUMN``): splines with pairwise interactions, else additive
    splines, else linear terms; returns the value and the metamodel used."""
    from sim.economics.voi import N_KNOTS  # noqa: PLC0415

    phi = independent_columns(phi)
    rows, p = phi.shape
    full = 1 + p * (N_KNOTS - 1) + p * (p - 1) // 2
    if full * MIN_ROWS_PER_COLUMN <= rows:
        return evppi(nb, phi, seed=seed), "splines with pairwise interactions"
    if (1 + p * (N_KNOTS - 1)) * MIN_ROWS_PER_COLUMN <= rows:
        return evppi(nb, phi, seed=seed, interactions=False), "additive splines"
    if (1 + p) * MIN_ROWS_PER_COLUMN <= rows:
        return evppi(nb, phi, seed=seed, n_knots=0, interactions=False), "linear"
    return Value(math.nan, math.nan), f"not estimated: {p} inputs need at least {(1 + p) * MIN_ROWS_PER_COLUMN} draws"


def wtp_grid(reference: float, wtp_max: float | None = None, points: int = WTP_POINTS) -> np.ndarray:
    """Evenly spaced willingness-to-pay values from 0 to ``wtp_max`` (default 3 x the reference)."""
    top = 3.0 * reference if wtp_max is None else wtp_max
    return np.linspace(0.0, top, points)


def analyse(table: pd.DataFrame, names: Sequence[str], wtp: float, wtps: np.ndarray,
            groups: dict[str, list[str]], incidence: float | None, years: float, rate: float,
            seed: int = 0) -> dict[str, Any]:
    """The decision from the per-draw table (JSON-ready; NaN where not estimable)."""
    d = Draws.from_table(table, names)
    n = len(table)
    prob = ceac(d.cost, d.qalys, wtps)
    chosen, best_p = ceaf(d.cost, d.qalys, wtps)
    evpi_curve = [evpi(d.nb(lam)) for lam in wtps]
    nb = d.nb(wtp)
    ev = evpi(nb)

    def pop(x: float) -> float | None:
        return population_value(x, incidence, years, rate) if incidence else None

    mean_c, mean_q = d.cost.mean(axis=0), d.qalys.mean(axis=0)
    rows = frontier(mean_c, mean_q)
    at = int(np.argmin(np.abs(wtps - wtp)))
    strategies = [{"strategy": nm, "cost": float(mean_c[k]), "cost_se": _se(d.cost[:, k]),
                   "qalys": float(mean_q[k]), "qalys_se": _se(d.qalys[:, k]),
                   "life_years": float(d.life_years[:, k].mean()),
                   "cost_q025": float(np.quantile(d.cost[:, k], 0.025)),
                   "cost_q975": float(np.quantile(d.cost[:, k], 0.975)),
                   "qalys_q025": float(np.quantile(d.qalys[:, k], 0.025)),
                   "qalys_q975": float(np.quantile(d.qalys[:, k], 0.975)),
                   "status": rows[k].status, "icer": rows[k].icer,
                   "versus": names[rows[k].reference] if rows[k].reference >= 0 else None,
                   "nmb": float(nb[:, k].mean()), "nmb_se": _se(nb[:, k]),
                   "p_cost_effective": float(prob[at, k]),
                   "p_cost_effective_se": math.sqrt(prob[at, k] * (1 - prob[at, k]) / n)}
                  for k, nm in enumerate(names)]
    evppi_rows = []
    for gname, cols in groups.items():
        phi = table[cols].to_numpy(float)
        value, model = group_evppi(nb, phi, seed)
        evppi_rows.append({"group": gname, "inputs": list(cols), "evppi": value.value, "evppi_se": value.se,
                           "population": pop(value.value), "population_se": pop(value.se), "metamodel": model})
    return {
        "draws": n, "wtp": wtp,
        "strategies": strategies,
        "ceac": {"wtp": wtps.tolist(), "probability": {nm: prob[:, k].tolist() for k, nm in enumerate(names)},
                 "se": {nm: np.sqrt(prob[:, k] * (1 - prob[:, k]) / n).tolist() for k, nm in enumerate(names)}},
        "ceaf": {"wtp": wtps.tolist(), "strategy": [names[c] for c in chosen], "probability": best_p.tolist(),
                 "se": np.sqrt(best_p * (1 - best_p) / n).tolist()},
        "evpi": {"per_patient": ev.value, "per_patient_se": ev.se, "population": pop(ev.value),
                 "population_se": pop(ev.se), "incidence_per_year": incidence, "decision_years": years,
                 "discount_per_year": rate,
                 "curve": {"wtp": wtps.tolist(), "per_patient": [v.value for v in evpi_curve],
                           "se": [v.se for v in evpi_curve]}},
        "evppi": evppi_rows,
        "patient_noise_share": d.patient_noise_share(wtp),
    }


# --------------------------------------------------------------------------------------
# EVSI of a trial spec
# --------------------------------------------------------------------------------------
def trial_summaries(counts: np.ndarray, estimate: np.ndarray, survival: bool, two_arm: bool) -> np.ndarray:
    """Summary statistics of simulated trials at one size, (trials, k): survival, the log
    hazard ratio estimate and each arm's event fraction; binary endpoints, each arm's
    rate (a single-arm trial: its arm alone)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_a = np.nan_to_num(counts[:, 0] / counts[:, 1])
        rate_b = np.nan_to_num(counts[:, 2] / counts[:, 3])
    cols = [rate_a, rate_b] if two_arm else [rate_b]
    if survival:
        cols = [estimate, *cols]
    return np.column_stack(cols)


def enbs(evsi_values: Sequence[Value], sizes: Sequence[int], duration_years: Sequence[float],
         incidence: float, years: float, rate: float, cost_fixed: float,
         cost_per_patient: float) -> list[dict[str, Any]]:
    """Expected net benefit of sampling per size: population EVSI (the patients treated
    from the trial's report, at its mean duration, to the end of the decision horizon,
    discounted at ``rate``) minus the trial's cost (fixed + per patient x n)."""
    out = []
    for v, n, dur in zip(evsi_values, sizes, duration_years, strict=True):
        after = max(years - dur, 0.0)
        # patients from the report to the horizon = those of [0, years) less those of [0, dur)
        share = population_value(1.0, incidence, years, rate) - population_value(1.0, incidence, min(dur, years), rate)
        cost = cost_fixed + cost_per_patient * n
        out.append({"n": int(n), "evsi": v.value, "evsi_se": v.se, "duration_years": dur,
                    "patients_after_report": share, "population_evsi": v.value * share,
                    "population_evsi_se": v.se * share, "trial_cost": cost, "enbs": v.value * share - cost,
                    "enbs_se": v.se * share, "years_of_use": after})
    return out


def optimum(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ENBS-maximising size of the grid (and whether it lies at an end of it)."""
    values = [r["enbs"] for r in rows]
    k = int(np.nanargmax(values))
    note = ""
    if values[k] <= 0:
        note = "no size has a positive expected net benefit of sampling: the trial is not worth its cost"
    elif k == len(rows) - 1 and len(rows) > 1:
        note = "the optimum is the largest size tried: larger trials may be better (extend --trial-sizes)"
    elif k == 0 and len(rows) > 1:
        note = "the optimum is the smallest size tried (extend --trial-sizes downwards)"
    return {"n": rows[k]["n"], "enbs": values[k], "enbs_se": rows[k]["enbs_se"], "note": note}


def trial_evsi(nb: np.ndarray, counts: np.ndarray, estimate: np.ndarray, duration_days: np.ndarray,
               survival: bool, two_arm: bool, seed: int = 0) -> tuple[list[Value], list[float]]:
    """EVSI at each trial size by regression of the draws' net benefit ``nb`` (draws,
    strategies) on the summaries of one trial simulated per draw (Strong et al. 2015):
    ``counts``, ``estimate`` and ``duration_days`` are the trials' results (draws, sizes)
    as the trial simulation gives them (trial k simulated under draw k's parameters).
    Returns per size the EVSI and the trial's mean duration in years."""
    values, durations = [], []
    for g in range(counts.shape[1]):
        summ = trial_summaries(counts[:, g].astype(float), estimate[:, g], survival, two_arm)
        values.append(group_evppi(nb, summ, seed)[0])  # EVPPI's guarded metamodel on the summaries
        durations.append(float(np.mean(duration_days[:, g])) / 365.25)
    return values, durations
