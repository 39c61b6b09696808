"""What a sweep moves: factors (a scalar parameter, one share of a share vector, or a
whole share vector), their labels, and their ranges (user bounds or prior quantiles).
The bounds file arrives parsed (``sim.io``); :func:`parse_bounds` checks it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.model.errors import InputError, nearest
from sim.model.limits import check_keys, check_number, is_number
from sim.model.parameter_set import ParameterSet, check_value
from sim.model.parameters import OFFSETS, SPEC_BY_NAME, Support
from sim.model.uncertainty import (
    dirichlet_with_element,
    quantile,
    uncertain_names,
    unit_dimensions,
)

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


def parse_bounds(doc: dict[str, Any], file: str) -> dict[str, tuple[float, float]]:
    """User bounds from a parsed TOML bounds file (``file`` names it in errors):
    ``[bounds]`` with ``"label" = [low, high]``. Labels are parameter names or shares
    (``"crs.grade_probs[g3]"``); both bounds must lie in the parameter's support and
    low < high."""
    check_keys(doc, ("bounds",), file, what="section")
    if not isinstance(doc.get("bounds"), dict):
        raise InputError(file, "", "expected one table [bounds] of \"parameter\" = [low, high]",
                         '[bounds] "remission.relapse.median_days" = [120.0, 360.0]')
    if not doc["bounds"]:
        raise InputError(file, "bounds", "the [bounds] table is empty",
                         '[bounds] "remission.relapse.median_days" = [120.0, 360.0]')
    out: dict[str, tuple[float, float]] = {}
    for label, pair in _flat_bounds(doc["bounds"]).items():
        f = resolve_factor(label, file, label)
        if not isinstance(pair, list) or len(pair) != 2 or not all(is_number(v) for v in pair):
            raise InputError(file, label, f"expected [low, high], got {pair!r}", "two finite numbers, low < high")
        lo, hi = float(pair[0]), float(pair[1])
        for v in (lo, hi):
            if f.element is not None:
                check_number(v, "share", file, label)
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
