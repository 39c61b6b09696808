"""Draws of parameter sets from the uncertainty distributions of a parameter set
(probabilistic sensitivity analysis, assurance).

Every parameter has its own random stream: numpy's Philox keyed by (seed, a hash of the
parameter's name), so draw m of a parameter depends only on (seed, name, m). Adding a
parameter, or sampling a subset, leaves every other parameter's draws unchanged (common
random numbers across sweeps). No global random state is used.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

from sim.model.errors import InputError, unknown_key_error
from sim.model.parameter_set import ParameterSet
from sim.model.parameters import OFFSETS, SPEC_BY_NAME, SPECS, Support


def uncertain_names(params: ParameterSet) -> list[str]:
    """Names of the parameters whose uncertainty distribution is not 'fixed'."""
    return [s.name for s in SPECS if params.entries[s.name].uncertainty.get("dist") != "fixed"]


def _stream(seed: int, name: str) -> np.random.Generator:
    return np.random.Generator(np.random.Philox(key=[seed, zlib.crc32(name.encode())]))


def _draw(name: str, unc: dict, value: object, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of one parameter, shape (n, length)."""
    dist = unc["dist"]
    if dist == "beta":
        x = rng.beta(unc["a"], unc["b"], n)
    elif dist == "gamma":
        x = rng.gamma(unc["shape"], unc["scale"], n)
    elif dist == "lognormal":
        x = unc["median"] * np.exp(unc["sdlog"] * rng.standard_normal(n))
    elif dist == "normal":
        x = unc["mean"] + unc["sd"] * rng.standard_normal(n)
    elif dist == "uniform":
        x = rng.uniform(unc["low"], unc["high"], n)
    elif dist == "dirichlet":
        alpha = unc["concentration"] * np.asarray(value, dtype=float)
        # zero shares stay zero (a Dirichlet needs positive concentrations)
        out = np.zeros((n, len(alpha)))
        pos = alpha > 0
        out[:, pos] = rng.dirichlet(alpha[pos], n)
        return out
    else:
        raise ValueError(f"{name}: no sampler for distribution {dist!r}")
    return x.reshape(n, 1)


def _clip_to_support(name: str, x: np.ndarray) -> np.ndarray:
    """Draws outside a parameter's support (possible for normal and uniform
    distributions written loosely) are clipped to it: a documented simplification."""
    spec = SPEC_BY_NAME[name]
    tiny = np.finfo(float).tiny
    if spec.support is Support.PROBABILITY:
        x = np.clip(x, 0.0, 1.0)
    elif spec.support in (Support.POSITIVE, Support.RATIO):
        x = np.maximum(x, tiny)
    elif spec.support is Support.NONNEGATIVE:
        x = np.maximum(x, 0.0)
    if spec.lower is not None:
        x = np.maximum(x, spec.lower)
    if spec.upper is not None:
        x = np.minimum(x, spec.upper)
    return x


def sample_thetas(params: ParameterSet, n_draws: int, seed: int, names: Iterable[str] | None = None,
                  source: str = "uncertainty sampling") -> np.ndarray:
    """``n_draws`` theta vectors (rows): the named parameters (default: every uncertain
    one) drawn from their distributions, all others at their values."""
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise InputError(source, "draws", f"expected a whole number >= 1, got {n_draws!r}")
    chosen = uncertain_names(params) if names is None else list(names)
    for name in chosen:
        if name not in SPEC_BY_NAME:
            raise unknown_key_error(source, name, SPEC_BY_NAME, "parameter")
    thetas = np.tile(params.theta(), (n_draws, 1))
    for name in chosen:
        entry = params.entries[name]
        if entry.uncertainty.get("dist") == "fixed":
            continue
        x = _clip_to_support(name, _draw(name, entry.uncertainty, entry.value, n_draws, _stream(seed, name)))
        off = OFFSETS[name]
        thetas[:, off:off + x.shape[1]] = x
    return thetas
