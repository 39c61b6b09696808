"""Input validation in one place: the plausible limits of every number a user gives, in
one table, and the checks every reader and command applies to tables, keys, choices
and numbers.

Parameter values (parameter files, scenarios, overrides, sweep bounds, posterior samples)
are checked against their support (``sim.model.parameters``) and against the plausible
range of their unit here (``UNIT_RANGES``); sizes and durations given on a command line
or in a ``[run]`` table against ``LIMITS``. A size that passes its limit can still be
refused by :func:`check_memory` when the arrays it needs do not fit in the memory
available now. Each check raises :class:`InputError` naming the allowed range.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sim.model.errors import InputError, nearest, unknown_key_error

DAYS_PER_YEAR = 365.25
#: the longest plausible duration: a century, in days
MAX_DAYS = 100 * DAYS_PER_YEAR

#: plausible range (inclusive) of a parameter value by its unit, on top of its support
#: (probabilities and shares are bounded by the support itself). A median or duration of
#: more than a century, an odds ratio beyond 1e6 or a log-scale SD above 5 (a factor of
#: 150 per SD) describes no patient; such values come from typing or corrupted files.
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "years": (0.0, 120.0),
    "log-years": (0.0, 5.0),
    "days": (0.0, MAX_DAYS),
    "log-days": (0.0, 5.0),
    "per day": (0.0, 10.0),
    "per year": (0.0, 10.0),
    "hazard ratio": (1e-6, 1e6),
    "odds ratio": (1e-6, 1e6),
    "ratio": (1e-6, 1e6),
    "family-specific shape (see Family)": (1e-6, 100.0),
    "Weibull shape": (1e-6, 100.0),
}


@dataclass(frozen=True)
class Limit:
    """A range of a number given by a user (``integer``: a whole number), inclusive
    unless ``low_open`` / ``high_open`` exclude an end; ``high`` may be infinite (any
    finite number above ``low``)."""

    low: float
    high: float
    integer: bool
    unit: str = ""
    low_open: bool = False
    high_open: bool = False

    def contains(self, x: float) -> bool:
        above = x > self.low if self.low_open else x >= self.low
        below = x < self.high if self.high_open else x <= self.high
        return bool(above and below)

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        unit = f" {self.unit}" if self.unit else ""
        if not (self.low_open or self.high_open or math.isinf(self.high)):
            return f"{kind} from {_fmt(self.low)} to {_fmt(self.high)}{unit}"
        text = f"{kind} {'>' if self.low_open else '>='} {_fmt(self.low)}"
        if not math.isinf(self.high):
            text += f" and {'<' if self.high_open else '<='} {_fmt(self.high)}"
        return text + unit


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


#: sizes and durations, by the name a command-line option or a file key uses. Upper
#: limits are far above any useful run; whether a size fits in memory is checked apart.
LIMITS: dict[str, Limit] = {
    "patients": Limit(1, 2**40, True, "patients"),
    "horizon_days": Limit(1e-3, MAX_DAYS, False, "days"),
    "seed": Limit(0, 2**63 - 1, True),
    "threads": Limit(1, 1024, True, "threads"),
    "workers": Limit(1, 4096, True, "workers"),
    "draws": Limit(1, 10**8, True, "draws"),
    "trials": Limit(1, 10**8, True, "trials"),
    "grid": Limit(2, 1000, True, "points per parameter"),
    # a percentile interval from fewer than 10 replicates has no tails to speak of
    "bootstrap": Limit(10, 10**6, True, "replicates"),
    "n": Limit(2, 2**24, True, "base samples"),
    "trajectories": Limit(2, 10**6, True, "trajectories"),
    "levels": Limit(2, 1000, True, "levels"),
    "chunk_sets": Limit(1, 10**6, True, "parameter sets"),
    "sets": Limit(1, 10**8, True, "parameter sets"),
    "samples": Limit(1, 10**7, True, "draws"),
    "initial": Limit(1, 10**7, True, "draws"),
    "iterations": Limit(0, 10**5, True, "components"),
    "batch": Limit(1, 10**7, True, "draws"),
    "trial_size": Limit(2, 10**7, True, "patients"),
    "study_size": Limit(1, 10**7, True, "patients"),
    "events": Limit(1, 10**7, True, "events"),
    # Simon's exhaustive two-stage search: work ~ n^4, about a minute at n = 400
    "simon_nmax": Limit(2, 400, True, "patients"),
    "capacity_slots": Limit(1, 10**6, True, "slots"),
    "accrual_per_month": Limit(1e-6, 10**6, False, "patients per month"),
    "day": Limit(0, MAX_DAYS, False, "days"),
    # generic kinds, for values whose meaning bounds them (rates, ratios, probabilities)
    "positive": Limit(0, math.inf, False, low_open=True),
    "non_negative": Limit(0, math.inf, False),
    "open_unit": Limit(0, 1, False, low_open=True, high_open=True),
    "share": Limit(0, 1, False, "(a share)"),
    # economic inputs (sim.model.economic_inputs): a rate of 35 meant as 35% is refused
    "cost": Limit(0, 1e9, False, "(currency units)"),
    "utility": Limit(-0.6, 1, False, "(1 = full health, 0 = dead)"),
    "disutility": Limit(0, 1, False, "(utility lost while it lasts)"),
    "utility_multiplier": Limit(0, 1, False, "(a ratio of utilities)"),
    "discount_rate": Limit(0, 0.15, False, "per year as a fraction (0.035 for 3.5%)"),
    "econ_duration": Limit(0, 1e5, False, low_open=True),
    "norm_coefficient": Limit(0, 2, False),
    "price_year": Limit(1990, 2100, True),
    "wtp": Limit(0, 1e9, False, "currency per QALY"),
}


def is_number(value: Any) -> bool:
    """A finite whole or real number, numpy's included (not a bool, which Python also
    counts as a number)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_number(value: Any, limit: Limit | str, file: str, key: str) -> None:
    """Raise InputError unless ``value`` is a finite number (whole when the limit says
    so) inside ``limit`` (a ``Limit`` or a key of ``LIMITS``)."""
    lim = LIMITS[limit] if isinstance(limit, str) else limit
    # 3.0 where a whole number is expected is refused too: whole numbers have no decimal point
    if not is_number(value) or (lim.integer and not isinstance(value, numbers.Integral)):
        kind = "a whole number" if lim.integer else "a finite number"
        raise InputError(file, key, f"expected {kind}, got {value!r}", lim.describe())
    if not lim.contains(value):
        raise InputError(file, key, f"got {value!r}, out of range", lim.describe())


def check_option(option: str, value: Any, limit: Limit | str, file: str = "command line") -> None:
    """A command-line option (named as typed, e.g. ``--patients``); None means unset."""
    if value is not None:
        check_number(value, limit, file, option)


def check_count_or_unlimited(value: Any, limit: Limit | str, file: str, key: str) -> int | None:
    """A whole number inside ``limit`` or the word "unlimited" (returned as None)."""
    if value == "unlimited":
        return None
    lim = LIMITS[limit] if isinstance(limit, str) else limit
    try:
        check_number(value, lim, file, key)
    except InputError as exc:
        raise InputError(file, key, exc.problem, f'{lim.describe()}, or "unlimited"') from None
    return int(value)


# --------------------------------------------------------------------------------------
# tables, keys and choices
# --------------------------------------------------------------------------------------
def check_table(value: Any, file: str, key: str) -> dict[str, Any]:
    """``value`` itself, if it is a table (a TOML table is a dict)."""
    if not isinstance(value, dict):
        raise InputError(file, key, f"expected a table, got {value!r}", f"[{key}]")
    return value


def check_keys(table: Any, allowed: Iterable[str], file: str, section: str = "", what: str = "key") -> dict[str, Any]:
    """``table`` (a table whose keys are all in ``allowed``); an unknown key is named
    with its section (``run.patiens``) and the nearest valid spelling."""
    allowed = tuple(allowed)
    if section:
        check_table(table, file, section)
    for key in table:
        if key not in allowed:
            raise unknown_key_error(file, key, allowed, what, section)
    return table


def check_choice(value: Any, allowed: Iterable[str], file: str, key: str, what: str = "value") -> str:
    """One of the words ``allowed`` (case-insensitive), returned in lower case; ``what``
    names the kind of word in the message ("unknown metric 'x'")."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value.lower() not in allowed:
        guess = nearest(value, allowed) if isinstance(value, str) else None
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise InputError(file, key, f"unknown {what} {value!r}{hint}", ", ".join(allowed))
    return value.lower()


# --------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------
#: peak memory per simulated patient held in memory (kernel blocks, their table, the
#: summary's work arrays and the Parquet writer): 395 bytes measured for `cartsim run`
#: between 0.2 and 2 million patients, rounded up
RUN_BYTES_PER_PATIENT = 400


def available_memory_bytes() -> int | None:
    """Memory available to a new allocation now (Linux MemAvailable; elsewhere free
    physical pages), or None when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _size(n_bytes: float) -> str:
    for unit, scale in (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{n_bytes / 2**10:,.1f} KiB"


def check_memory(n_bytes: float, file: str, key: str, what: str) -> None:
    """Refuse up front a run whose arrays (``n_bytes``, an estimate of what is held at
    once) exceed the memory available now, naming both sizes."""
    available = available_memory_bytes()
    if available is not None and n_bytes > available:
        raise InputError(file, key, f"{what} would need about {_size(n_bytes)} of memory, "
                         f"{_size(available)} is available", "a smaller size (or run it in parts)")


# --------------------------------------------------------------------------------------
# parameter values
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValueRange:
    """The admissible values of a numeric parameter: its support intersected with the
    plausible range of its unit and its own bounds (``low_open``: low itself excluded)."""

    low: float
    high: float
    low_open: bool

    def contains(self, x: Any) -> Any:
        """Elementwise test (numbers or numpy arrays; NaN is outside)."""
        return ((x > self.low) if self.low_open else (x >= self.low)) & (x <= self.high)

    def describe(self, support_text: str, unit: str = "") -> str:
        """``support_text`` with the plausible limits that narrow it."""
        if self.high == math.inf or (self.low, self.high) == (0.0, 1.0):
            return support_text
        lo = f"> {_fmt(self.low)}" if self.low_open else f">= {_fmt(self.low)}"
        return f"{support_text}: {lo} and <= {_fmt(self.high)}" + (f" {unit}" if unit else "")


def value_range(spec: Any) -> ValueRange:
    """The admissible range of one parameter (a ``sim.model.parameters.ParamSpec`` of a
    numeric support; share vectors: the range of each share)."""
    from sim.model.parameters import Support  # noqa: PLC0415 - the registry imports nothing from here

    s = spec.support
    if s in (Support.PROBABILITY, Support.SIMPLEX):
        low, high, low_open = 0.0, 1.0, False
    elif s in (Support.POSITIVE, Support.RATIO):
        low, high, low_open = 0.0, math.inf, True
    elif s is Support.COUNT:
        low, high, low_open = 1.0, math.inf, False
    else:
        low, high, low_open = 0.0, math.inf, False
    if spec.unit in UNIT_RANGES:
        ulo, uhi = UNIT_RANGES[spec.unit]
        if ulo > low:
            low, low_open = ulo, False
        high = min(high, uhi)
    if spec.lower is not None and spec.lower >= low:
        low, low_open = float(spec.lower), False
    if spec.upper is not None:
        high = min(high, float(spec.upper))
    return ValueRange(low, high, low_open)
