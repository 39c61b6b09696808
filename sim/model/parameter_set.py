"""A validated set of parameter values (with their provenance) and its theta vector.

Parsing works on already-read TOML documents (plain dicts); reading files is the job
of ``sim.io``. Every check raises :class:`InputError` naming the file and the key.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sim.model.errors import InputError, nearest, unknown_key_error
from sim.model.limits import value_range
from sim.model.parameters import (
    LIFE_TABLE_AGES,
    N_THETA,
    OFFSETS,
    SPEC_BY_NAME,
    SPECS,
    Family,
    ParamSpec,
    Support,
)

ENTRY_KEYS = ("value", "unit", "uncertainty", "source", "derivation")


def check_entry_keys(entry: Any, name: str, file: str) -> None:
    """One entry of a parameter or economic-inputs file is a table with the entry keys
    only, and value, unit, uncertainty and source present (one error line otherwise)."""
    if not isinstance(entry, dict):
        raise InputError(file, name, "expected a table with value, unit, uncertainty, source, derivation")
    extra = set(entry) - set(ENTRY_KEYS)
    if extra:
        raise unknown_key_error(file, sorted(extra)[0], ENTRY_KEYS, "entry key", name)
    for required in ("value", "unit", "uncertainty", "source"):
        if required not in entry:
            raise InputError(file, name, f"missing '{required}'", ", ".join(ENTRY_KEYS))
#: uncertainty distributions and their required arguments
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "fixed": (),
    "beta": ("a", "b"),
    "gamma": ("shape", "scale"),
    "lognormal": ("median", "sdlog"),
    "normal": ("mean", "sd"),
    "uniform": ("low", "high"),
    "dirichlet": ("concentration",),
}
SIMPLEX_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ParamEntry:
    """One parameter's value and documentation, as read from a parameter file."""

    value: Any  # float, list of floats, family name, bool or int, as written
    unit: str
    uncertainty: dict[str, Any]
    source: str = ""
    derivation: str = ""
    origin: str = ""  # file that last set the value


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_value(spec: ParamSpec, value: Any, file: str) -> None:
    """Raise InputError unless ``value`` is admissible for ``spec``."""
    key, s = spec.name, spec.support
    if s is Support.SIMPLEX:
        if not isinstance(value, list) or len(value) != spec.length or not all(_is_number(v) for v in value):
            raise InputError(file, key, f"expected a list of {spec.length} numbers, got {value!r}",
                             f"{s.value} for ({', '.join(spec.element_labels)})")
        if any(v < 0 or v > 1 for v in value):
            raise InputError(file, key, f"entries must lie in [0, 1], got {value!r}", s.value)
        total = sum(value)
        if abs(total - 1.0) > SIMPLEX_TOLERANCE:
            raise InputError(file, key, f"entries sum to {total:.6g}, not 1", s.value)
        return
    if s is Support.FAMILY:
        names = [f.name.lower() for f in Family]
        if not isinstance(value, str) or value.lower() not in names:
            raise InputError(file, key, f"unknown distribution family {value!r}", ", ".join(names))
        return
    if s is Support.LIFE_TABLE:
        if not isinstance(value, str) or not value:
            raise InputError(file, key, f"expected a life table name, got {value!r}", s.value)
        return
    if s is Support.SWITCH:
        if not isinstance(value, bool):
            raise InputError(file, key, f"expected true or false, got {value!r}", s.value)
        return
    if s is Support.COUNT:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(file, key, f"expected a whole number >= 1, got {value!r}", s.value)
    elif not _is_number(value):
        raise InputError(file, key, f"expected a number, got {value!r}", s.value)
    allowed = value_range(spec)
    if not allowed.contains(value):
        what = "probability" if s is Support.PROBABILITY else "value"
        raise InputError(file, key, f"{what} {value!r} is out of range", allowed.describe(s.value, spec.unit))


def check_uncertainty(spec: ParamSpec, unc: Any, file: str) -> None:
    """Raise InputError unless ``unc`` is a well-formed uncertainty distribution."""
    key = f"{spec.name}.uncertainty"
    if not isinstance(unc, dict) or "dist" not in unc:
        raise InputError(file, key, "expected an inline table with a 'dist' key",
                         "dist = " + " | ".join(DISTRIBUTIONS))
    dist = unc["dist"]
    if dist not in DISTRIBUTIONS:
        guess = nearest(str(dist), DISTRIBUTIONS)
        hint = f"did you mean '{guess}'? " if guess else ""
        raise InputError(file, f"{key}.dist", f"unknown distribution {dist!r}", hint + ", ".join(DISTRIBUTIONS))
    need = set(DISTRIBUTIONS[dist])
    have = set(unc) - {"dist"}
    if have != need:
        raise InputError(file, key, f"'{dist}' takes arguments {sorted(need)}, got {sorted(have)}")
    for arg in need:
        if not _is_number(unc[arg]):
            raise InputError(file, f"{key}.{arg}", f"expected a number, got {unc[arg]!r}")
        if arg not in ("mean", "low", "high") and unc[arg] <= 0 and not (arg == "sdlog" and unc[arg] == 0):
            raise InputError(file, f"{key}.{arg}", f"must be > 0, got {unc[arg]!r}")
    if dist == "uniform" and not unc["low"] < unc["high"]:
        raise InputError(file, key, "uniform needs low < high")
    simplex = spec.support is Support.SIMPLEX
    if simplex and dist not in ("fixed", "dirichlet"):
        raise InputError(file, key, f"'{dist}' cannot describe a vector of shares", "fixed, dirichlet")
    if not simplex and dist == "dirichlet":
        raise InputError(file, key, "'dirichlet' is only for share vectors",
                         "fixed, beta, gamma, lognormal, normal, uniform")
    if spec.support is Support.PROBABILITY and dist in ("gamma", "lognormal", "normal"):
        raise InputError(file, key, f"'{dist}' can leave [0, 1] for a probability", "fixed, beta, uniform")
    if spec.support in (Support.FAMILY, Support.SWITCH, Support.COUNT, Support.LIFE_TABLE) and dist != "fixed":
        raise InputError(file, key, f"a {spec.support.name.lower()} parameter cannot be uncertain", "fixed")


def numeric(spec: ParamSpec, value: Any) -> list[float]:
    """The theta slots of an admissible value."""
    if spec.support is Support.SIMPLEX:
        return [float(v) for v in value]
    if spec.support is Support.FAMILY:
        return [float(Family[value.upper()])]
    if spec.support is Support.SWITCH:
        return [1.0 if value else 0.0]
    return [float(value)]


#: the fewest ages a life table must give (0 to this age, single years)
LIFE_TABLE_MIN_LAST_AGE = 100


def life_table_slots(doc: dict[str, Any], file: str) -> np.ndarray:
    """The theta slots of a life table document (params/life_tables/*.toml): the
    cumulative hazard at exact ages 0..LIFE_TABLE_MAX_AGE, male then female, with the
    hazard constant within each year of age (-log(1 - q(x)) per year). The last age's
    q(x) applies to every later year."""
    table = doc.get("life_table")
    if not isinstance(table, dict):
        raise InputError(file, "life_table", "missing table", "[life_table] with source, first_age and qx")
    if not isinstance(table.get("source"), str) or not table["source"].strip():
        raise InputError(file, "life_table.source", "missing source", "the publication the q(x) values come from")
    if table.get("first_age") != 0 or isinstance(table.get("first_age"), bool):
        raise InputError(file, "life_table.first_age", f"expected 0, got {table.get('first_age')!r}", "0")
    qx = table.get("qx")
    if not isinstance(qx, dict) or set(qx) != {"male", "female"}:
        raise InputError(file, "life_table.qx", "expected the lists male and female", "qx.male, qx.female")
    out = []
    for sex in ("male", "female"):
        key = f"life_table.qx.{sex}"
        q = qx[sex]
        if not isinstance(q, list) or not all(_is_number(v) for v in q):
            raise InputError(file, key, "expected a list of numbers", "probabilities of death q(x) in [0, 1)")
        if not LIFE_TABLE_MIN_LAST_AGE + 1 <= len(q) <= LIFE_TABLE_AGES:
            raise InputError(file, key, f"{len(q)} ages given",
                             f"ages 0 to at least {LIFE_TABLE_MIN_LAST_AGE} (at most {LIFE_TABLE_AGES} values)")
        bad = [i for i, v in enumerate(q) if not 0.0 <= v < 1.0]
        if bad:
            raise InputError(file, key, f"q({bad[0]}) = {q[bad[0]]!r} is out of range", "a probability in [0, 1)")
        hazard = -np.log1p(-np.asarray(q, dtype=float))
        years = LIFE_TABLE_AGES - 1  # yearly hazards of ages 0..119 give H at exact ages 0..120
        hazard = np.concatenate([hazard, np.full(max(years - len(q), 0), hazard[-1])])[:years]
        out.append(np.concatenate([[0.0], np.cumsum(hazard)]))
    if len(qx["male"]) != len(qx["female"]):
        raise InputError(file, "life_table.qx", "male and female lists differ in length", "the same ages for both")
    return np.concatenate(out)


def flatten(table: dict[str, Any], prefix: str = "", leaf_key: str | None = None) -> dict[str, Any]:
    """Dotted keys of nested tables. With ``leaf_key``, a table holding that key is a
    leaf (parameter entries hold 'value'); otherwise every non-table is a leaf."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and not (leaf_key is not None and leaf_key in v):
            out.update(flatten(v, name + ".", leaf_key))
        else:
            out[name] = v
    return out


def _check_cross(values: dict[str, Any], file: str) -> None:
    pairs = [("cohort.age_min_years", "cohort.age_max_years"), ("gvhd.onset_min_days", "gvhd.onset_max_days")]
    for lo, hi in pairs:
        if values[lo] > values[hi]:
            raise InputError(file, lo, f"{values[lo]} exceeds {hi} = {values[hi]}", f"{lo} <= {hi}")


def _check_tables(entries: dict[str, ParamEntry], tables: dict[str, np.ndarray], file: str) -> None:
    for spec in SPECS:
        if spec.support is Support.LIFE_TABLE and entries[spec.name].value not in tables:
            raise InputError(file, spec.name, f"unknown life table {entries[spec.name].value!r}",
                             ", ".join(sorted(tables)) or "a file in params/life_tables")


@dataclass(frozen=True)
class ParameterSet:
    """Every parameter of the pathway with a validated value."""

    entries: dict[str, ParamEntry] = field(repr=False)
    file: str = ""
    #: theta slots of every life table a ``background.life_table`` value may name
    life_tables: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, doc: dict[str, Any], file: str,
                      life_tables: dict[str, np.ndarray] | None = None) -> ParameterSet:
        """Parse a parameter file (params/defaults.toml format) already read as a dict,
        with the life tables (``life_table_slots``) its ``background.life_table`` may name."""
        tables = dict(life_tables or {})
        flat = flatten(doc, leaf_key="value")
        entries: dict[str, ParamEntry] = {}
        for name, entry in flat.items():
            if name not in SPEC_BY_NAME:
                raise unknown_key_error(file, name, SPEC_BY_NAME, "parameter")
            spec = SPEC_BY_NAME[name]
            check_entry_keys(entry, name, file)
            check_value(spec, entry["value"], file)
            if entry["unit"] != spec.unit:
                raise InputError(file, f"{name}.unit", f"unit {entry['unit']!r} does not match the model's unit",
                                 repr(spec.unit))
            check_uncertainty(spec, entry["uncertainty"], file)
            entries[name] = ParamEntry(entry["value"], entry["unit"], entry["uncertainty"],
                                       str(entry.get("source", "")), str(entry.get("derivation", "")), file)
        missing = [s.name for s in SPECS if s.name not in entries]
        if missing:
            raise InputError(file, missing[0], f"missing parameter ({len(missing)} missing in all)",
                             "every parameter of sim.model.parameters.SPECS")
        _check_cross({k: e.value for k, e in entries.items()}, file)
        _check_tables(entries, tables, file)
        return cls(entries, file, tables)

    def with_values(self, updates: dict[str, Any], file: str) -> ParameterSet:
        """A copy with some values replaced (scenario cohort, policy or overrides)."""
        entries = dict(self.entries)
        for name, value in updates.items():
            if name not in SPEC_BY_NAME:
                raise unknown_key_error(file, name, SPEC_BY_NAME, "parameter")
            check_value(SPEC_BY_NAME[name], value, file)
            entries[name] = replace(entries[name], value=value, origin=file)
        _check_cross({k: e.value for k, e in entries.items()}, file)
        _check_tables(entries, self.life_tables, file)
        return ParameterSet(entries, file, self.life_tables)

    def value(self, name: str) -> Any:
        return self.entries[name].value

    def theta(self) -> np.ndarray:
        """The flat float64 vector the engine reads (offsets in ``P``)."""
        theta = np.empty(N_THETA)
        for spec in SPECS:
            off = OFFSETS[spec.name]
            value = self.entries[spec.name].value
            theta[off:off + spec.length] = (self.life_tables[value] if spec.support is Support.LIFE_TABLE
                                            else numeric(spec, value))
        return theta

    def digest(self) -> str:
        """SHA-256 (hex, 16 chars) of theta: equal digests mean equal simulations."""
        return hashlib.sha256(self.theta().tobytes()).hexdigest()[:16]
