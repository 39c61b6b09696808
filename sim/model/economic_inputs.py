"""Economic inputs: unit costs, utilities, discount rates, declared once.

An economic preset (``params/economics/*.toml``) gives, for one country and payer, every
value below with its uncertainty distribution and source (the layout of
``params/defaults.toml``), plus a ``[meta]`` table: currency, price year, perspective
and country. ``ECON_SPECS`` declares which values exist and what each admits;
``EP`` holds their offsets in the flat ``econ`` vector the walk reads
(``sim.engine.economy``), as ``P`` does for ``theta``.

Conventions: costs are in the preset's currency at its price year; a cost "per cycle"
or "per month" is spread evenly over that time while it runs; utilities are on the
EQ-5D scale (1 = full health, 0 = dead); a disutility is subtracted from the state's
utility while a toxicity episode lasts; discount rates are annual fractions (0.035 for
3.5%), applied in continuous time as exp(-ln(1 + r) * t_years).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.model.errors import InputError, unknown_key_error
from sim.model.limits import LIMITS, Limit, check_keys, check_number
from sim.model.parameter_set import check_entry_keys, check_uncertainty, flatten
from sim.model.parameters import ParamSpec, Support
from sim.model.states import CellSource, Consolidation, SalvageRegimen, labels

META_KEYS = ("currency", "price_year", "perspective", "country", "wtp_per_qaly", "description")
#: ISO 4217 codes the presets may use (a typo such as "GPB" is refused)
CURRENCIES = ("GBP", "USD", "EUR", "CNY", "CAD", "AUD", "CHF", "JPY", "SGD")


class Kind(IntEnum):
    """What an economic value is; each kind has its limit in ``sim.model.limits.LIMITS``."""

    COST = 0
    UTILITY = 1
    DISUTILITY = 2
    MULTIPLIER = 3
    DISCOUNT = 4
    DURATION = 5
    COEFFICIENT = 6
    SHARE = 7


_LIMIT_NAME = {Kind.COST: "cost", Kind.UTILITY: "utility", Kind.DISUTILITY: "disutility",
               Kind.MULTIPLIER: "utility_multiplier", Kind.DISCOUNT: "discount_rate",
               Kind.DURATION: "econ_duration", Kind.COEFFICIENT: "norm_coefficient", Kind.SHARE: "share"}
#: the support used to check an uncertainty distribution (beta for bounded values)
_SUPPORT = {Kind.COST: Support.NONNEGATIVE, Kind.UTILITY: Support.PROBABILITY, Kind.DISUTILITY: Support.PROBABILITY,
            Kind.MULTIPLIER: Support.PROBABILITY, Kind.DISCOUNT: Support.PROBABILITY,
            Kind.DURATION: Support.POSITIVE, Kind.COEFFICIENT: Support.NONNEGATIVE, Kind.SHARE: Support.PROBABILITY}


@dataclass(frozen=True)
class EconSpec:
    name: str
    kind: Kind
    unit: str

    @property
    def limit(self) -> Limit:
        return LIMITS[_LIMIT_NAME[self.kind]]


def _specs() -> tuple[EconSpec, ...]:
    c, u, d = Kind.COST, Kind.UTILITY, Kind.DISUTILITY
    out = [EconSpec("cost.apheresis", c, "currency per collection")]
    out += [EconSpec(f"cost.product.{s}", c, "currency per infused product") for s in labels(CellSource)]
    out += [
        EconSpec("cost.lymphodepletion", c, "currency per course"),
        EconSpec("cost.infusion_admission", c, "currency per infusion"),
        EconSpec("cost.icu_per_day", c, "currency per day"),
        EconSpec("cost.tocilizumab", c, "currency per course"),
        EconSpec("cost.corticosteroids", c, "currency per course"),
        EconSpec("cost.gvhd_severe", c, "currency per episode"),
        EconSpec("cost.hsct", c, "currency per transplant"),
    ]
    out += [EconSpec(f"cost.maintenance_per_cycle.{k}", c, "currency per cycle") for k in labels(Consolidation)]
    out += [
        EconSpec("maintenance.cycle_days", Kind.DURATION, "days"),
        EconSpec("maintenance.max_cycles", Kind.DURATION, "cycles"),
    ]
    out += [EconSpec(f"cost.salvage_course.{r}", c, "currency per course") for r in labels(SalvageRegimen)]
    out += [
        EconSpec("cost.ivig_per_month", c, "currency per month"),
        EconSpec("ivig.months", Kind.DURATION, "months"),
        EconSpec("cost.follow_up_per_month", c, "currency per month"),
        EconSpec("follow_up.months", Kind.DURATION, "months"),
        EconSpec("cost.end_of_life", c, "currency per death"),
        EconSpec("utility.disease", u, "utility"),
        EconSpec("utility.treatment", u, "utility"),
        EconSpec("utility.remission", u, "utility"),
        EconSpec("utility.after_hsct_multiplier", Kind.MULTIPLIER, "ratio"),
        EconSpec("utility.long_term_multiplier", Kind.MULTIPLIER, "ratio"),
        EconSpec("long_term.years", Kind.DURATION, "years"),
    ]
    out += [EconSpec(f"disutility.crs.g{g}", d, "utility") for g in range(1, 5)]
    out += [EconSpec(f"disutility.icans.g{g}", d, "utility") for g in range(1, 5)]
    out += [
        EconSpec("disutility.gvhd_severe", d, "utility"),
        EconSpec("gvhd.disutility_days", Kind.DURATION, "days"),
        EconSpec("norms.intercept", Kind.COEFFICIENT, "utility"),
        EconSpec("norms.male", Kind.COEFFICIENT, "utility"),
        EconSpec("norms.age_per_year", Kind.COEFFICIENT, "utility per year (subtracted)"),
        EconSpec("norms.age2_per_year2", Kind.COEFFICIENT, "utility per year squared (subtracted)"),
        EconSpec("norms.p_male", Kind.SHARE, "probability"),
        EconSpec("discount.costs_per_year", Kind.DISCOUNT, "fraction per year"),
        EconSpec("discount.outcomes_per_year", Kind.DISCOUNT, "fraction per year"),
    ]
    return tuple(out)


ECON_SPECS: tuple[EconSpec, ...] = _specs()
ECON_BY_NAME: dict[str, EconSpec] = {s.name: s for s in ECON_SPECS}
N_ECON = len(ECON_SPECS)


def _members() -> dict[str, int]:
    members = {s.name.replace(".", "_").upper(): i for i, s in enumerate(ECON_SPECS)}
    for i, s in enumerate(ECON_SPECS):  # group aliases: EP.COST_PRODUCT + cell source
        alias = s.name.rpartition(".")[0].replace(".", "_").upper()
        members.setdefault(alias, i)
    return members


#: offsets into the econ vector, usable as constants in compiled code
if TYPE_CHECKING:
    EP: Any
else:
    EP = IntEnum("EP", _members())


@dataclass(frozen=True)
class EconomicInputs:
    """A validated economic preset: metadata and every value of ``ECON_SPECS``."""

    currency: str
    price_year: int
    perspective: str
    country: str
    wtp_per_qaly: float  # default willingness to pay (currency per QALY)
    values: dict[str, float] = field(repr=False)
    uncertainty: dict[str, dict[str, Any]] = field(repr=False)
    sources: dict[str, str] = field(repr=False)
    file: str = ""

    @classmethod
    def from_document(cls, doc: dict[str, Any], file: str) -> EconomicInputs:
        """Parse a preset already read as a dict; every problem is one InputError."""
        if "meta" not in doc:
            raise InputError(file, "meta", "missing [meta] table", ", ".join(META_KEYS[:5]))
        meta = check_keys(doc["meta"], META_KEYS, file, "meta")
        for key in META_KEYS[:5]:
            if key not in meta:
                raise InputError(file, f"meta.{key}", "missing", ", ".join(META_KEYS[:5]))
        currency = meta["currency"]
        if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
            raise InputError(file, "meta.currency", f"unknown currency {currency!r}",
                             "an ISO 4217 code: " + ", ".join(CURRENCIES))
        check_number(meta["price_year"], LIMITS["price_year"], file, "meta.price_year")
        check_number(meta["wtp_per_qaly"], LIMITS["wtp"], file, "meta.wtp_per_qaly")
        for key in ("perspective", "country"):
            if not isinstance(meta[key], str) or not meta[key].strip():
                raise InputError(file, f"meta.{key}", f"expected a non-empty text, got {meta[key]!r}")
        body = {k: v for k, v in doc.items() if k != "meta"}
        flat = flatten(body, leaf_key="value")
        values: dict[str, float] = {}
        unc: dict[str, dict[str, Any]] = {}
        sources: dict[str, str] = {}
        for name, entry in flat.items():
            if name not in ECON_BY_NAME:
                raise unknown_key_error(file, name, ECON_BY_NAME, "economic input")
            spec = ECON_BY_NAME[name]
            check_entry_keys(entry, name, file)
            check_number(entry["value"], spec.limit, file, f"{name}.value")
            if entry["unit"] != spec.unit:
                raise InputError(file, f"{name}.unit", f"unit {entry['unit']!r} does not match", repr(spec.unit))
            check_uncertainty(ParamSpec(name, _SUPPORT[spec.kind], spec.unit), entry["uncertainty"], file)
            if not str(entry["source"]).strip():
                raise InputError(file, f"{name}.source", "empty source", "the publication, or 'assumption: ...'")
            values[name] = float(entry["value"])
            unc[name] = dict(entry["uncertainty"])
            sources[name] = str(entry["source"])
        missing = [s.name for s in ECON_SPECS if s.name not in values]
        if missing:
            raise InputError(file, missing[0], f"missing economic input ({len(missing)} missing in all)",
                             "every input of sim.model.economic_inputs.ECON_SPECS")
        return cls(currency.upper(), int(meta["price_year"]), meta["perspective"], meta["country"],
                   float(meta["wtp_per_qaly"]), values, unc, sources, file)

    def vector(self) -> np.ndarray:
        """The float64 ``econ`` vector the walk reads (offsets in ``EP``); discount rates
        become continuous rates per day, ln(1 + r) / 365.25."""
        return to_vectors(np.array([self.values[s.name] for s in ECON_SPECS], dtype=np.float64)[None, :])[0]

    def uncertain_names(self) -> list[str]:
        """Inputs whose uncertainty distribution is not 'fixed'."""
        return [s.name for s in ECON_SPECS if self.uncertainty[s.name].get("dist") != "fixed"]

    def sample(self, n_draws: int, seed: int) -> np.ndarray:
        """``n_draws`` rows of input values (columns in ``ECON_SPECS`` order, the units of
        the preset: annual discount rates), each uncertain input drawn from its own
        distribution on its own Philox stream keyed by (seed, "econ:" + name), as
        ``sim.model.uncertainty`` draws model parameters (so draw m of an input depends only
        on (seed, name, m)); fixed inputs keep their value. Draws outside an input's
        admissible range (``sim.model.limits``; possible in the tails of a normal) are clipped."""
        from sim.model.uncertainty import _draw, _stream  # noqa: PLC0415 - one sampler for every uncertain value

        out = np.tile(np.array([self.values[s.name] for s in ECON_SPECS], dtype=np.float64), (n_draws, 1))
        for j, spec in enumerate(ECON_SPECS):
            unc = self.uncertainty[spec.name]
            if unc.get("dist") == "fixed":
                continue
            x = _draw(spec.name, unc, self.values[spec.name], n_draws, _stream(seed, "econ:" + spec.name))[:, 0]
            out[:, j] = np.clip(x, spec.limit.low, spec.limit.high)
        return out


def to_vectors(values: np.ndarray) -> np.ndarray:
    """Rows of input values (``ECON_SPECS`` order, annual discount rates) as the walk's
    ``econ`` vectors: each discount rate r becomes the continuous rate ln(1 + r) / 365.25 per day."""
    out = np.array(values, dtype=np.float64, copy=True)
    for s in ("discount.costs_per_year", "discount.outcomes_per_year"):
        i = ECON_SPECS.index(ECON_BY_NAME[s])
        out[:, i] = [math.log1p(r) / DAYS_PER_YEAR for r in out[:, i]]
    return out


DAYS_PER_YEAR = 365.25
