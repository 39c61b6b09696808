"""Sensitivity sweeps: which parameter sets to simulate, and what to make of their outcomes.

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

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.model.errors import InputError, nearest
from sim.model.limits import LIMITS, check_memory, check_number
from sim.model.parameter_set import ParameterSet, check_value
from sim.model.parameters import N_THETA, OFFSETS, SPEC_BY_NAME, Support
from sim.model.posterior import load_posterior
from sim.model.scenario import Scenario
from sim.model.uncertainty import (
    dirichlet_with_element,
    from_unit,
    quantile,
    sample_thetas,
    uncertain_names,
    unit_dimensions,
)
from sim.outcomes.sets import OUTCOME_DAYS, OUTCOME_NAMES

KINDS = ("oneway", "twoway", "psa", "sobol", "morris")
DEFAULT_PATIENTS = 10_000
Q_LOW, Q_HIGH = 0.025, 0.975
SWEEPABLE = (Support.PROBABILITY, Support.POSITIVE, Support.NONNEGATIVE, Support.RATIO)
CLI = "command line"


# --------------------------------------------------------------------------------------
# factors
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """What a sweep moves: a scalar parameter, one share of a vector, or a whole vector."""

    label: str  # "name", "name[element]" or (a group) the vector's name
    name: str  # the parameter
    element: int | None = None  # index of the share, for "name[element]"

    @property
    def is_vector(self) -> bool:
        return SPEC_BY_NAME[self.name].support is Support.SIMPLEX

    @property
    def columns(self) -> list[str]:
        """Theta labels of the slots this factor writes (every share of a vector)."""
        spec = SPEC_BY_NAME[self.name]
        if spec.length == 1:
            return [self.name]
        return [f"{self.name}[{lab}]" for lab in spec.element_labels]

    def base_value(self, params: ParameterSet) -> float:
        value = params.value(self.name)
        return float(value[self.element]) if self.element is not None else float(value)

    def write(self, thetas: np.ndarray, params: ParameterSet, values: np.ndarray) -> None:
        """Set this factor in every row of ``thetas`` (values: one per row; for a whole
        vector, rows of shares)."""
        off = OFFSETS[self.name]
        if self.element is not None:
            thetas[:, off:off + len(self.columns)] = dirichlet_with_element(params, self.name, self.element, values)
        elif self.is_vector:
            thetas[:, off:off + len(self.columns)] = values
        else:
            thetas[:, off] = values


_ELEMENT = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<element>[^\[\]]+)\]$")


def factor_labels(params: ParameterSet, vectors: bool = False) -> list[str]:
    """The uncertain factors of a parameter set: scalars, and either the shares of each
    uncertain vector (one-way, two-way) or the vectors themselves (Sobol, Morris)."""
    out: list[str] = []
    for name in uncertain_names(params):
        spec = SPEC_BY_NAME[name]
        if spec.support is not Support.SIMPLEX:
            out.append(name)
        elif vectors:
            if unit_dimensions(params, name) > 0:
                out.append(name)
        else:
            value = params.value(name)
            out.extend(f"{name}[{lab}]" for lab, v in zip(spec.element_labels, value, strict=True) if v > 0)
    return out


def _all_labels() -> list[str]:
    out = []
    for name, spec in SPEC_BY_NAME.items():
        out.append(name)
        if spec.length > 1:
            out.extend(f"{name}[{lab}]" for lab in spec.element_labels)
    return out


def resolve_factor(label: str, source: str = CLI, key: str = "--param", vectors: bool = False) -> Factor:
    """A factor from its label; an unknown name, a parameter that cannot be swept or a
    whole vector where shares are expected is an InputError (with the nearest spelling)."""
    label = label.strip()
    m = _ELEMENT.match(label)
    if m and m["name"] in SPEC_BY_NAME and SPEC_BY_NAME[m["name"]].support is Support.SIMPLEX:
        spec = SPEC_BY_NAME[m["name"]]
        if m["element"] not in spec.element_labels:
            raise InputError(source, key, f"{m['name']} has no share {m['element']!r}",
                             ", ".join(f"{m['name']}[{e}]" for e in spec.element_labels))
        if vectors:
            raise InputError(source, key, f"{label!r} is one share of a vector; Sobol and Morris designs draw the "
                             "whole vector", m["name"])
        return Factor(label, m["name"], spec.element_labels.index(m["element"]))
    if label not in SPEC_BY_NAME:
        guess = nearest(label, _all_labels())
        hint = f"did you mean '{guess}'?" if guess else "a parameter name of params/defaults.toml"
        raise InputError(source, key, f"unknown parameter {label!r}", hint)
    spec = SPEC_BY_NAME[label]
    if spec.support is Support.SIMPLEX:
        if vectors:
            return Factor(label, label)
        raise InputError(source, key, f"{label!r} is a vector of shares; name one share",
                         ", ".join(f"{label}[{e}]" for e in spec.element_labels))
    if spec.support not in SWEEPABLE:
        raise InputError(source, key, f"{label!r} is a {spec.support.name.lower()} setting and cannot be swept",
                         "probabilities, durations, rates and ratios")
    return Factor(label, label)


def resolve_factors(params: ParameterSet, labels: list[str] | None, source: str = CLI, key: str = "--param",
                    vectors: bool = False, need_uncertainty: bool = True,
                    bounds: dict[str, tuple[float, float]] | None = None) -> list[Factor]:
    """Factors from labels (default: every uncertain factor); repeated labels count once.
    A fixed parameter needs user bounds (``need_uncertainty``)."""
    chosen = factor_labels(params, vectors) if not labels else list(dict.fromkeys(labels))
    factors = [resolve_factor(lab, source, key, vectors) for lab in chosen]
    for f in factors:
        fixed = params.entries[f.name].uncertainty.get("dist") == "fixed"
        if fixed and need_uncertainty and not (bounds and f.label in bounds):
            raise InputError(source, key, f"{f.label!r} is fixed (no uncertainty distribution)",
                             "an uncertain parameter, or bounds for it in --bounds")
        if fixed and vectors:
            raise InputError(source, key, f"{f.label!r} is fixed (no uncertainty distribution)",
                             "an uncertain parameter")
    if not factors:
        raise InputError(source, key, "no uncertain parameters to sweep")
    return factors


def read_bounds(path: Path | str) -> dict[str, tuple[float, float]]:
    """User bounds from a TOML file: ``[bounds]`` with ``"label" = [low, high]``. Labels
    are parameter names or shares (``"crs.grade_probs[g3]"``); both bounds must lie in
    the parameter's support and low < high."""
    from sim.io.files import read_toml  # noqa: PLC0415 - the only file this module reads

    file = str(path)
    doc = read_toml(path)
    if set(doc) != {"bounds"} or not isinstance(doc["bounds"], dict):
        raise InputError(file, "", "expected one table [bounds] of \"parameter\" = [low, high]",
                         '[bounds] "remission.relapse.median_days" = [120.0, 360.0]')
    if not doc["bounds"]:
        raise InputError(file, "bounds", "the [bounds] table is empty",
                         '[bounds] "remission.relapse.median_days" = [120.0, 360.0]')
    out: dict[str, tuple[float, float]] = {}
    for label, pair in _flat_bounds(doc["bounds"]).items():
        f = resolve_factor(label, file, label)
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)):
            raise InputError(file, label, f"expected [low, high], got {pair!r}", "two numbers, low < high")
        lo, hi = float(pair[0]), float(pair[1])
        for v in (lo, hi):
            if f.element is not None:
                if not 0.0 <= v <= 1.0:
                    raise InputError(file, label, f"share {v!r} is out of range", "a probability in [0, 1]")
            else:
                check_value(SPEC_BY_NAME[f.name], v, file)
        if not lo < hi:
            raise InputError(file, label, f"low {lo!r} is not below high {hi!r}", "low < high")
        out[f.label] = (lo, hi)
    return out


def _flat_bounds(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Bounds written as nested tables (``[bounds.remission.relapse]``) or quoted keys."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(_flat_bounds(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def factor_range(params: ParameterSet, factor: Factor, bounds: dict[str, tuple[float, float]] | None,
                 source: str = CLI) -> tuple[float, float, str]:
    """(low, high, where from): user bounds, else the 2.5% and 97.5% quantiles."""
    if bounds and factor.label in bounds:
        lo, hi = bounds[factor.label]
        return lo, hi, "bounds"
    q = quantile(params, factor.name, np.array([Q_LOW, Q_HIGH]), source)
    if factor.element is not None:
        q = q[:, factor.element]
    return float(q[0]), float(q[1]), "quantiles"


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


# --------------------------------------------------------------------------------------
# analyses of the outcome table
# --------------------------------------------------------------------------------------
def _finite(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def tornado(design: Design, results: pd.DataFrame, outcome: str) -> dict[str, Any]:
    """Per factor: the outcome at low and high with MC SEs, and the swing (high - low),
    sorted by |swing|, largest first."""
    base = results.iloc[0]
    rows = []
    for f in design.factors:
        lo = results[(results["factor"] == f.label) & (results["level"] == "low")].iloc[0]
        hi = results[(results["factor"] == f.label) & (results["level"] == "high")].iloc[0]
        swing = float(hi[outcome] - lo[outcome])
        rows.append({"factor": f.label, "base_value": f.base_value(design.scenario.params),
                     "low": float(lo["value"]), "high": float(hi["value"]), "range": lo["range"],
                     "outcome_low": _finite(lo[outcome]), "outcome_low_se": _finite(lo[f"{outcome}_se"]),
                     "outcome_high": _finite(hi[outcome]), "outcome_high_se": _finite(hi[f"{outcome}_se"]),
                     "swing": _finite(swing)})
    rows.sort(key=lambda r: -abs(r["swing"]) if r["swing"] is not None else 0.0)
    return {"outcome": outcome, "base": _finite(base[outcome]), "base_se": _finite(base[f"{outcome}_se"]),
            "factors": rows}


def twoway_grid(design: Design, results: pd.DataFrame, outcome: str) -> dict[str, Any]:
    k = design.options["grid"]
    values = results.sort_values("set_id")[outcome].to_numpy().reshape(k, k)
    ses = results.sort_values("set_id")[f"{outcome}_se"].to_numpy().reshape(k, k)
    return {"outcome": outcome, "factors": design.options["factors"], "values": design.options["values"],
            "grid": [[_finite(x) for x in row] for row in values],
            "grid_se": [[_finite(x) for x in row] for row in ses]}


def psa_summary(results: pd.DataFrame) -> dict[str, Any]:
    """Per outcome: mean, SD, 2.5/50/97.5% over the parameter sets, the mean MC variance
    and the share of the across-set variance due to parameter uncertainty,
    1 - mean(SE^2) / Var(across sets), floored at 0. Under common random numbers the
    noise is partly shared by the sets and shifts them together, so this share is
    conservative (understates parameter uncertainty)."""
    out: dict[str, Any] = {}
    for name in OUTCOME_NAMES:
        y = results[name].to_numpy(float)
        se = results[f"{name}_se"].to_numpy(float)
        ok = np.isfinite(y)
        entry: dict[str, Any] = {"sets": int(ok.sum())}
        if ok.sum() < len(y):
            entry["note"] = _UNDEFINED
        if ok.sum() == 0:
            entry.update(dict.fromkeys(("mean", "sd", "q025", "q50", "q975", "mc_var", "total_var",
                                        "parameter_share")))
        else:
            y = y[ok]
            mc_var = float(np.nanmean(se[ok] ** 2)) if np.isfinite(se[ok]).any() else float("nan")
            var = float(np.var(y, ddof=1)) if len(y) > 1 else float("nan")
            share = max(0.0, 1.0 - mc_var / var) if var > 0 and np.isfinite(mc_var) else None
            entry.update({"mean": _finite(y.mean()), "sd": _finite(np.sqrt(var)) if np.isfinite(var) else None,
                          "q025": _finite(np.quantile(y, 0.025)), "q50": _finite(np.quantile(y, 0.5)),
                          "q975": _finite(np.quantile(y, 0.975)), "mc_var": _finite(mc_var),
                          "total_var": _finite(var), "parameter_share": share})
        out[name] = entry
    return out


_UNDEFINED = ("undefined (NaN) in some parameter sets: a median not reached, or a landmark or restricted mean "
              "beyond the maximum follow-up (a longer --horizon-days may help)")


def _salib_y(results: pd.DataFrame, outcome: str) -> np.ndarray | None:
    y = results.sort_values("set_id")[outcome].to_numpy(float)
    return y if np.all(np.isfinite(y)) else None


def sobol_indices(design: Design, results: pd.DataFrame, outcome: str, seed: int) -> dict[str, Any]:
    """First-order (S1) and total (ST) indices with bootstrap 95% CIs for one outcome;
    an outcome that is undefined in some set (e.g. a median not reached) or constant has
    no indices (``note`` says why)."""
    from SALib.analyze import sobol as sobol_analyze  # noqa: PLC0415

    assert design.problem is not None
    y = _salib_y(results, outcome)
    if y is None:
        return {"outcome": outcome, "indices": [], "note": _UNDEFINED}
    if np.var(y) == 0:
        return {"outcome": outcome, "indices": [], "note": "the same in every parameter set"}
    res = sobol_analyze.analyze(design.problem, y, calc_second_order=False, num_resamples=200, conf_level=0.95,
                                seed=seed % 2**32)
    groups = design.problem.get("groups")
    names = list(dict.fromkeys(groups)) if groups else list(design.problem["names"])
    rows = [{"parameter": n, "S1": _finite(res["S1"][k]), "S1_conf": _finite(res["S1_conf"][k]),
             "ST": _finite(res["ST"][k]), "ST_conf": _finite(res["ST_conf"][k])} for k, n in enumerate(names)]
    rows.sort(key=lambda r: -(r["ST"] or 0.0))
    return {"outcome": outcome, "indices": rows}


def morris_indices(design: Design, results: pd.DataFrame, outcome: str, seed: int) -> dict[str, Any]:
    """Morris mu* (mean absolute elementary effect, in the outcome's unit per unit of the
    hypercube) with its bootstrap 95% CI, mu and sigma, for one outcome."""
    from SALib.analyze import morris as morris_analyze  # noqa: PLC0415

    assert design.problem is not None
    assert design.unit is not None
    y = _salib_y(results, outcome)
    if y is None:
        return {"outcome": outcome, "indices": [], "note": _UNDEFINED}
    res = morris_analyze.analyze(design.problem, design.unit, y, num_resamples=200, conf_level=0.95,
                                 num_levels=design.options["levels"], seed=seed % 2**32)
    names = [str(n) for n in res["names"]]
    rows: list[dict[str, Any]] = [
        {"parameter": n, "mu_star": _finite(res["mu_star"][k]), "mu_star_conf": _finite(res["mu_star_conf"][k]),
         "mu": _finite(res["mu"][k]), "sigma": _finite(res["sigma"][k])} for k, n in enumerate(names)]
    rows.sort(key=lambda r: -(r["mu_star"] or 0.0))
    return {"outcome": outcome, "indices": rows}
