"""Sensitivity sweep designs: which parameter sets to simulate.

A sweep is a table of parameter sets (theta rows) built from a scenario's parameter set.
Each set is simulated on the same seed and patient ids (common random numbers, unless
turned off) and reduced to the outcome row of :mod:`sim.outcomes.sets`; the
chunked, resumable execution is :mod:`sim.sweeps.runner`'s job.

Factors (what a sweep moves): a scalar parameter by its dotted name
(``remission.relapse.median_days``); one share of a share vector by its theta label
(``crs.grade_probs[g3]``: that share moves and the others take their conditional means
given it, ``sim.model.uncertainty.dirichlet_with_element``); and, in Sobol and Morris
designs only, a whole share vector (``crs.grade_probs``), drawn as an exact Dirichlet by
stick breaking from (positive shares - 1) unit coordinates that SALib treats as one group.

Designs:

* ``oneway``: the base set, then each factor at the 2.5% and 97.5% quantiles of its
  uncertainty distribution (or user bounds), the others at their values;
* ``twoway``: a K x K grid over two factors' 2.5-97.5% ranges (or bounds), evenly spaced;
* ``psa``: draws from the calibrated posterior (when ``params/posterior.parquet``
  exists) or from the prior uncertainty distributions;
* ``sobol`` (Saltelli/Sobol' sequence, first-order and total indices, N (D + 2) sets) and
  ``morris`` (R trajectories, R (D + 1) sets) through SALib, over the unit hypercube
  mapped through the prior quantile functions (Sobol indices assume independent inputs,
  which the priors are and the posterior is not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.model.errors import InputError, nearest
from sim.model.limits import LIMITS, check_memory, check_number
from sim.model.parameter_set import ParameterSet
from sim.model.parameters import N_THETA, OFFSETS
from sim.model.posterior import load_posterior
from sim.model.scenario import Scenario
from sim.model.uncertainty import (
    from_unit,
    sample_thetas,
    uncertain_names,
    unit_dimensions,
)
from sim.outcomes.sets import OUTCOME_DAYS, OUTCOME_NAMES
from sim.sweeps.factors import CLI, Q_HIGH, Q_LOW, Factor, factor_range, resolve_factors


# --------------------------------------------------------------------------------------
# designs
# --------------------------------------------------------------------------------------
@dataclass
class Design:
    """Parameter sets to simulate (theta rows) and what they mean."""

    kind: str
    scenario: Scenario
    thetas: np.ndarray = field(repr=False)  # (sets, N_THETA)
    table: pd.DataFrame = field(repr=False)  # set_id, design columns, parameter columns
    factors: list[Factor]
    options: dict[str, Any]  # JSON-ready: everything that defines the design
    unit: np.ndarray | None = field(default=None, repr=False)  # SALib points in the unit hypercube
    problem: dict[str, Any] | None = None  # SALib problem

    @property
    def sets(self) -> int:
        return int(self.thetas.shape[0])


def _table(design_cols: dict[str, Any], thetas: np.ndarray, factors: list[Factor]) -> pd.DataFrame:
    data: dict[str, Any] = {"set_id": np.arange(len(thetas), dtype=np.int64), **design_cols}
    for f in factors:
        for k, col in enumerate(f.columns):
            data[col] = thetas[:, OFFSETS[f.name] + k]
    return pd.DataFrame(data)


def _check_whole(value: Any, key: str) -> int:
    """A size option (``--grid``, ``--draws``, ...) inside its limit (``sim.model.limits``)."""
    check_number(int(value) if isinstance(value, np.integer) else value, key.removeprefix("--"), CLI, key)
    return int(value)


#: bytes held per parameter set: the theta row, its copy in the design table, the
#: hashed copy and the results table (float64 each)
SET_BYTES = 4 * 8 * N_THETA


def _check_sets(sets: int, key: str) -> None:
    """Refuse up front a design whose parameter sets exceed the limit or the memory."""
    if sets > LIMITS["sets"].high:
        raise InputError(CLI, key, f"the design would have {sets:,} parameter sets", LIMITS["sets"].describe())
    check_memory(sets * SET_BYTES, CLI, key, f"a design of {sets:,} parameter sets")


def oneway_design(sc: Scenario, labels: list[str] | None = None,
                  bounds: dict[str, tuple[float, float]] | None = None) -> Design:
    """Set 0: the scenario's values; then, per factor, low and high."""
    params = sc.params
    factors = resolve_factors(params, labels, bounds=bounds)
    base = params.theta()
    n = 1 + 2 * len(factors)
    thetas = np.tile(base, (n, 1))
    factor_col, level_col, value_col, origin_col = ["base"], ["base"], [np.nan], [""]
    for k, f in enumerate(factors):
        lo, hi, origin = factor_range(params, f, bounds)
        rows = thetas[1 + 2 * k: 3 + 2 * k]
        f.write(rows, params, np.array([lo, hi]))
        factor_col += [f.label, f.label]
        level_col += ["low", "high"]
        value_col += [lo, hi]
        origin_col += [origin, origin]
    table = _table({"factor": factor_col, "level": level_col, "value": value_col, "range": origin_col},
                   thetas, factors)
    options = {"factors": [f.label for f in factors], "quantiles": [Q_LOW, Q_HIGH], "bounds": _bounds_json(bounds)}
    return Design("oneway", sc, thetas, table, factors, options)


def twoway_design(sc: Scenario, labels: list[str], grid: int = 5,
                  bounds: dict[str, tuple[float, float]] | None = None) -> Design:
    """A grid x grid table over two factors (row-major: the first factor varies slowest)."""
    grid = _check_whole(grid, "--grid")
    _check_sets(grid * grid, "--grid")
    if not labels or len(labels) != 2:
        raise InputError(CLI, "--param", f"twoway needs exactly two parameters, got {len(labels or [])}",
                         "--param A --param B")
    params = sc.params
    factors = resolve_factors(params, labels, bounds=bounds)
    if len(factors) != 2:
        raise InputError(CLI, "--param", "twoway needs two different parameters")
    if factors[0].name == factors[1].name and factors[0].element is not None:
        raise InputError(CLI, "--param", "two shares of the same vector cannot be moved independently",
                         "parameters from different vectors")
    values = []
    for f in factors:
        lo, hi, _ = factor_range(params, f, bounds)
        values.append(np.linspace(lo, hi, grid))
    ii: np.ndarray
    jj: np.ndarray
    ii, jj = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    thetas = np.tile(params.theta(), (grid * grid, 1))
    factors[0].write(thetas, params, values[0][ii])
    factors[1].write(thetas, params, values[1][jj])
    table = _table({"i": ii, "j": jj}, thetas, factors)
    options = {"factors": [f.label for f in factors], "grid": grid,
               "values": [v.tolist() for v in values], "bounds": _bounds_json(bounds)}
    return Design("twoway", sc, thetas, table, factors, options)


def psa_design(sc: Scenario, draws: int = 1000, prior: bool = False, seed: int | None = None,
               posterior_path: Path | str | None = None) -> Design:
    """Draws from the calibrated posterior (default when it exists; the parameters the
    calibration did not inform are drawn from their priors alongside) or from the priors
    alone (one Philox stream per parameter keyed by ``seed``)."""
    draws = _check_whole(draws, "--draws")
    _check_sets(draws, "--draws")
    params = sc.params
    seed = sc.run.seed if seed is None else seed
    post = None if prior else load_posterior(posterior_path, required=posterior_path is not None)
    if post is not None:
        # calibrated parameters from the posterior, every other uncertain one from its prior
        thetas = post.thetas_with_prior(params, draws, seed)
        names = list(dict.fromkeys([*post.parameter_names, *uncertain_names(params)]))
        source = {"draws_from": "posterior (calibrated parameters) and priors (the others)",
                  "posterior_file": post.file, "posterior_draws": post.draws,
                  "posterior_meta": post.meta}
    else:
        thetas = sample_thetas(params, draws, seed, source=CLI)
        names = uncertain_names(params)
        source = {"draws_from": "prior", "prior_file": params.file,
                  "note": "no calibrated posterior (params/posterior.parquet)" if not prior else "--prior"}
    factors = [Factor(n, n) for n in names]
    table = _table({"draw": np.arange(draws)}, thetas, factors)
    options = {"draws": draws, "design_seed": int(seed), **source}
    return Design("psa", sc, thetas, table, factors, options)


def salib_problem(params: ParameterSet, factors: list[Factor]) -> dict[str, Any]:
    """The SALib problem over the unit hypercube: one coordinate per scalar, (positive
    shares - 1) coordinates per vector, grouped under the vector's name."""
    names, groups = [], []
    for f in factors:
        dims = unit_dimensions(params, f.name)
        if dims == 1 and not f.is_vector:
            names.append(f.label)
        else:
            names.extend(f"{f.label}#{k}" for k in range(dims))
        groups.extend([f.label] * dims)
    problem: dict[str, Any] = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    if any(f.is_vector for f in factors):
        problem["groups"] = groups
    return problem


def _thetas_from_unit(params: ParameterSet, factors: list[Factor], unit: np.ndarray) -> np.ndarray:
    thetas = np.tile(params.theta(), (len(unit), 1))
    col = 0
    for f in factors:
        dims = unit_dimensions(params, f.name)
        values = from_unit(params, f.name, unit[:, col:col + dims])
        f.write(thetas, params, values if f.is_vector else values[:, 0])
        col += dims
    return thetas


def _unit_clip(unit: np.ndarray) -> np.ndarray:
    """Quantile functions need points strictly inside (0, 1); Morris grids reach the
    faces, which are moved in by half of 1/1000 of the cell (a documented nudge)."""
    eps = 5e-4
    return np.clip(unit, eps, 1.0 - eps)


def sobol_design(sc: Scenario, labels: list[str] | None = None, n: int = 256, seed: int | None = None) -> Design:
    """Saltelli's scheme on a scrambled Sobol' sequence (first-order and total indices,
    no second order): n (D + 2) sets, D = factors (a vector counts once)."""
    from SALib.sample import sobol as sobol_sample  # noqa: PLC0415 - SALib only when asked for

    n = _check_whole(n, "--n")
    if n & (n - 1):
        raise InputError(CLI, "--n", f"expected a power of 2 (Sobol' sequences are balanced at powers of 2), "
                         f"got {n}", "2, 4, 8, ..., 1024, ...")
    params = sc.params
    seed = sc.run.seed if seed is None else seed
    factors = resolve_factors(params, labels, key="--params", vectors=True)
    problem = salib_problem(params, factors)
    _check_sets(n * (problem["num_vars"] + 2), "--n")
    unit = sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=seed % 2**32)
    thetas = _thetas_from_unit(params, factors, unit)
    table = _table({}, thetas, factors)
    options = {"factors": [f.label for f in factors], "n": n, "design_seed": int(seed), "draws_from": "prior",
               "second_order": False}
    return Design("sobol", sc, thetas, table, factors, options, unit, problem)


def morris_design(sc: Scenario, labels: list[str] | None = None, trajectories: int = 20, levels: int = 4,
                  seed: int | None = None) -> Design:
    """Morris elementary effects: ``trajectories`` x (D + 1) sets on a ``levels`` grid."""
    from SALib.sample import morris as morris_sample  # noqa: PLC0415

    trajectories = _check_whole(trajectories, "--trajectories")
    levels = _check_whole(levels, "--levels")
    if levels % 2:
        raise InputError(CLI, "--levels", f"expected an even number of levels, got {levels}", "4, 6, 8, ...")
    params = sc.params
    seed = sc.run.seed if seed is None else seed
    factors = resolve_factors(params, labels, key="--params", vectors=True)
    problem = salib_problem(params, factors)
    _check_sets(trajectories * (problem["num_vars"] + 1), "--trajectories")
    unit = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed % 2**32)
    thetas = _thetas_from_unit(params, factors, _unit_clip(unit))
    table = _table({}, thetas, factors)
    options = {"factors": [f.label for f in factors], "trajectories": trajectories, "levels": levels,
               "design_seed": int(seed), "draws_from": "prior"}
    return Design("morris", sc, thetas, table, factors, options, unit, problem)


def _bounds_json(bounds: dict[str, tuple[float, float]] | None) -> dict[str, list[float]]:
    return {k: [float(v[0]), float(v[1])] for k, v in sorted((bounds or {}).items())}


def check_outcome(name: str, horizon_days: float | None = None) -> str:
    """``name`` if it is a sweep outcome that the horizon (days) can estimate: a landmark
    or restricted mean at or past the horizon lies beyond every cohort's follow-up, so it
    would be NaN (not estimable) in every parameter set."""
    if name not in OUTCOME_NAMES:
        guess = nearest(name, OUTCOME_NAMES)
        hint = f"did you mean '{guess}'? " if guess else ""
        raise InputError(CLI, "--outcome", f"unknown outcome {name!r}", hint + ", ".join(OUTCOME_NAMES))
    needs = OUTCOME_DAYS.get(name)
    if horizon_days is not None and needs is not None and needs >= horizon_days:
        raise InputError(CLI, "--outcome", f"{name} needs {needs:g} days of follow-up but the horizon is "
                         f"{horizon_days:g} days: it is beyond the data in every parameter set",
                         f"--horizon-days well above {needs:g} (follow-up starts at the infusion), or an outcome "
                         "within the horizon")
    return name
