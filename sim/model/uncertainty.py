"""Draws of parameter sets from the uncertainty distributions of a parameter set
(probabilistic sensitivity analysis, assurance), and their quantile functions
(one-way and two-way ranges, the unit hypercube of Sobol and Morris designs).

Every parameter has its own random stream: numpy's Philox keyed by (seed, a hash of the
parameter's name), so draw m of a parameter depends only on (seed, name, m). Adding a
parameter, or sampling a subset, leaves every other parameter's draws unchanged (common
random numbers across sweeps). No global random state is used.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np
from scipy import special

from sim.model.errors import InputError, unknown_key_error
from sim.model.limits import check_number, value_range
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
    """Draws outside a parameter's admissible range (its support and the plausible
    range of its unit, ``sim.model.limits``; possible for normal and uniform
    distributions written loosely, or far tails) are clipped to it: a documented
    simplification."""
    allowed = value_range(SPEC_BY_NAME[name])
    low = allowed.low
    if allowed.low_open:  # the smallest normal float above an open bound of 0
        low = np.finfo(float).tiny if low == 0.0 else np.nextafter(low, np.inf)
    return np.clip(x, low, allowed.high)


def sample_thetas(params: ParameterSet, n_draws: int, seed: int, names: Iterable[str] | None = None,
                  source: str = "uncertainty sampling") -> np.ndarray:
    """``n_draws`` theta vectors (rows): the named parameters (default: every uncertain
    one) drawn from their distributions, all others at their values."""
    check_number(n_draws, "draws", source, "draws")
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


# --------------------------------------------------------------------------------------
# quantile functions
# --------------------------------------------------------------------------------------
def _marginal_ppf(unc: dict, value: object, q: np.ndarray) -> np.ndarray:
    """Quantiles of a scalar distribution at probabilities ``q`` (any shape)."""
    dist = unc["dist"]
    if dist == "fixed":
        return np.full(q.shape, float(value))  # type: ignore[arg-type]
    if dist == "beta":
        return special.betaincinv(unc["a"], unc["b"], q)
    if dist == "gamma":
        return unc["scale"] * special.gammaincinv(unc["shape"], q)
    if dist == "lognormal":
        return unc["median"] * np.exp(unc["sdlog"] * special.ndtri(q))
    if dist == "normal":
        return unc["mean"] + unc["sd"] * special.ndtri(q)
    if dist == "uniform":
        return unc["low"] + q * (unc["high"] - unc["low"])
    raise ValueError(f"no quantile function for distribution {dist!r}")


def _check_probabilities(q: np.ndarray, source: str) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if not np.all((q > 0.0) & (q < 1.0)):
        raise InputError(source, "quantile", "probabilities must lie strictly inside (0, 1)", "0 < q < 1")
    return q


def _dirichlet_alpha(params: ParameterSet, name: str) -> np.ndarray:
    entry = params.entries[name]
    return entry.uncertainty["concentration"] * np.asarray(entry.value, dtype=float)


def quantile(params: ParameterSet, name: str, q: object, source: str = "quantile") -> np.ndarray:
    """Quantiles of one parameter's uncertainty distribution at probabilities ``q``.

    Scalars: shape ``q.shape``. Share vectors (Dirichlet): shape ``q.shape + (length,)``,
    element i at the quantile of its marginal Beta(alpha_i, alpha_0 - alpha_i) (the
    elements of one row do not sum to 1: see :func:`dirichlet_with_element`). Fixed
    parameters return their value whatever ``q``. Quantiles are clipped to the support
    as draws are (:func:`sample_thetas`).
    """
    if name not in SPEC_BY_NAME:
        raise unknown_key_error(source, name, SPEC_BY_NAME, "parameter")
    qa = _check_probabilities(np.asarray(q, dtype=float), source)
    entry = params.entries[name]
    unc = entry.uncertainty
    if SPEC_BY_NAME[name].support is Support.SIMPLEX:
        value = np.asarray(entry.value, dtype=float)
        if unc["dist"] == "fixed":
            return np.broadcast_to(value, (*qa.shape, len(value))).copy()
        alpha = _dirichlet_alpha(params, name)
        a0 = alpha.sum()
        out = np.zeros((*qa.shape, len(alpha)))
        for i, a in enumerate(alpha):
            if a > 0:  # zero shares stay zero
                out[..., i] = special.betaincinv(a, a0 - a, qa) if a < a0 else 1.0
        return out
    return _clip_to_support(name, _marginal_ppf(unc, entry.value, qa))


def dirichlet_with_element(params: ParameterSet, name: str, element: int, x: object) -> np.ndarray:
    """Share vectors with element ``element`` set to ``x`` (any shape, values in [0, 1])
    and the other elements at their conditional means given it: under a Dirichlet,
    E[x_j | x_i] = (1 - x_i) * value_j / (1 - value_i). Shape ``x.shape + (length,)``.
    This is how one-way and two-way sweeps move one share of a vector."""
    value = np.asarray(params.entries[name].value, dtype=float)
    xa = np.asarray(x, dtype=float)
    rest = value.copy()
    rest[element] = 0.0
    total = rest.sum()
    scale = (1.0 - xa) / total if total > 0 else np.zeros_like(xa)
    out = scale[..., None] * rest
    out[..., element] = xa
    return out


def unit_dimensions(params: ParameterSet, name: str) -> int:
    """How many unit-hypercube coordinates :func:`from_unit` needs for a parameter:
    1 for a scalar, (positive shares - 1) for a Dirichlet vector, 0 when fixed."""
    entry = params.entries[name]
    if entry.uncertainty.get("dist") == "fixed":
        return 0
    if SPEC_BY_NAME[name].support is Support.SIMPLEX:
        return max(int(np.sum(np.asarray(entry.value, dtype=float) > 0)) - 1, 0)
    return 1


def from_unit(params: ParameterSet, name: str, u: np.ndarray) -> np.ndarray:
    """Map unit-hypercube points to parameter values through the quantile functions.

    ``u`` has shape (n, unit_dimensions); returns (n, length). Scalars use their
    quantile function, so independent uniform columns give independent draws from the
    uncertainty distributions. A Dirichlet vector is built by stick breaking from its
    marginal and conditional betas, x_1 = B^-1(u_1; a_1, a_0 - a_1), then each next
    share takes a Beta(a_k, rest of the concentration) fraction of what is left, the
    last share the remainder: independent uniforms give an exact Dirichlet draw.
    """
    u = np.asarray(u, dtype=float)
    dims = unit_dimensions(params, name)
    if u.ndim != 2 or u.shape[1] != dims:
        raise ValueError(f"{name}: expected unit points of shape (n, {dims}), got {u.shape}")
    entry = params.entries[name]
    if SPEC_BY_NAME[name].support is not Support.SIMPLEX:
        if dims == 0:
            return np.full((len(u), 1), float(entry.value))
        return quantile(params, name, u[:, 0]).reshape(-1, 1)
    value = np.asarray(entry.value, dtype=float)
    out = np.zeros((len(u), len(value)))
    if dims == 0:
        out[:] = value
        return out
    alpha = _dirichlet_alpha(params, name)
    positive = np.flatnonzero(alpha > 0)
    remaining = np.ones(len(u))
    a_left = alpha[positive].sum()
    for k, i in enumerate(positive[:-1]):
        a_left -= alpha[i]
        frac = special.betaincinv(alpha[i], a_left, _check_probabilities(u[:, k], "unit hypercube"))
        out[:, i] = remaining * frac
        remaining = remaining - out[:, i]
    out[:, positive[-1]] = remaining
    return out
