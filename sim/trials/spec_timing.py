"""The timing sections of a trial spec: ``[accrual]`` (a rate, or piecewise rates) and
``[follow_up]`` (minimum follow-up, calendar cut-off, or event-driven with the events
given or solved), each key checked with the usual one-line errors."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

from sim.model.errors import InputError
from sim.model.limits import check_choice, check_number, is_number

FOLLOWUP_RULES = ("min_followup", "calendar", "events")
RULE_KEYS = {"min_followup": ("min_followup_days",), "calendar": ("cutoff_days",),
             "events": ("events", "max_followup_days")}


def positive(value: Any, key: str, file: str, zero_ok: bool = False) -> float:
    """``value`` as a float, checked > 0 (>= 0 with ``zero_ok``)."""
    check_number(value, "non_negative" if zero_ok else "positive", file, key)
    return float(value)


def parse_accrual(table: dict[str, Any], file: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if "per_month" not in table:
        raise InputError(file, "accrual.per_month", "missing accrual rate", "patients per month > 0, or a list")
    raw = table["per_month"]
    if not isinstance(raw, list):
        return (positive(raw, "accrual.per_month", file),), ()
    if not raw:
        raise InputError(file, "accrual.per_month", "empty list of accrual rates", "one rate per period")
    rates = tuple(positive(r, "accrual.per_month", file, zero_ok=True) for r in raw)
    if rates[-1] <= 0.0:
        raise InputError(file, "accrual.per_month", "the last rate (which continues) must be > 0", "a rate > 0")
    ends = table.get("period_months", [])
    if not isinstance(ends, list) or len(ends) != len(rates) - 1:
        raise InputError(file, "accrual.period_months", f"expected {len(rates) - 1} period ends (months) for "
                         f"{len(rates)} rates, got {ends!r}", "one end per rate except the last")
    ends_t = tuple(positive(e, "accrual.period_months", file) for e in ends)
    if any(b <= a for a, b in pairwise(ends_t)):
        raise InputError(file, "accrual.period_months", f"period ends must increase strictly, got {ends!r}",
                         "strictly increasing months")
    return rates, ends_t


def parse_followup(fu: dict[str, Any], file: str, survival: bool) -> dict[str, Any]:
    rule = check_choice(fu.get("rule", "min_followup"), FOLLOWUP_RULES, file, "follow_up.rule")
    solve = rule == "events" and fu.get("events") == "solve"
    if "design_hr" in fu and not solve:
        raise InputError(file, "follow_up.design_hr", "used only when the events are solved", 'events = "solve"')
    for key in fu:
        if key not in ("rule", "design_hr") and key not in RULE_KEYS[rule]:
            raise InputError(file, f"follow_up.{key}", f"not used by rule {rule!r}", ", ".join(RULE_KEYS[rule]))
    for key in RULE_KEYS[rule]:
        if key not in fu:
            raise InputError(file, f"follow_up.{key}", f"missing (needed by rule {rule!r})", key)
    out: dict[str, Any] = {"followup_rule": rule}
    if rule == "min_followup":
        out["min_followup_days"] = positive(fu["min_followup_days"], "follow_up.min_followup_days", file, True)
    elif rule == "calendar":
        out["cutoff_days"] = positive(fu["cutoff_days"], "follow_up.cutoff_days", file)
    else:
        if not survival:
            raise InputError(file, "follow_up.rule", "the event-driven rule needs a survival endpoint",
                             "min_followup or calendar for rates")
        if solve:
            raw = fu.get("design_hr")
            hr = float(raw) if raw is not None and is_number(raw) else math.nan
            if not 0.0 < hr < 1.0:
                raise InputError(file, "follow_up.design_hr", f"solving the events needs the design hazard ratio "
                                 f"strictly between 0 and 1, got {raw!r}", "0 < design_hr < 1")
            out["design_hr"] = hr
            out["events"] = 0
        else:
            if isinstance(fu["events"], str):
                raise InputError(file, "follow_up.events", f"expected a number of events or \"solve\", got "
                                 f"{fu['events']!r}", 'an integer >= 1, or "solve" with design_hr')
            check_number(fu["events"], "events", file, "follow_up.events")
            out["events"] = int(fu["events"])
        out["max_followup_days"] = positive(fu["max_followup_days"], "follow_up.max_followup_days", file)
    return out
