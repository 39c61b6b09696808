"""The result of a comparison: per-scenario values and the paired differences with
their intervals, as a table and as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.io.files import json_safe
from sim.model.scenario import Scenario
from sim.whatif.estimators import OUTCOMES


@dataclass
class CompareResult:
    """Scenarios simulated with common random numbers and their paired differences.

    ``values[outcome][k]`` is scenario k's value; ``differences`` one row per outcome
    and scenario k >= 1 against scenario 0 (keys ``outcome``, ``label``, ``unit``,
    ``scenario``, ``scenario_index``, ``reference``, ``reference_value``, ``value``,
    ``diff``, ``diff_low``, ``diff_high``, ``se_paired``, ``se_independent``,
    ``variance_reduction``, ``method``, ``not_estimable``). No number past the data: where
    either scenario has no value (a landmark or restricted mean beyond its maximum
    follow-up, a median not reached), the difference and its interval are None and
    ``not_estimable`` names the scenario(s) and the reason (else None); no bootstrap
    replicate is used there. ``reasons[outcome][k]`` is scenario k's reason or None."""

    scenarios: list[Scenario]
    summaries: list[dict[str, Any]]
    values: dict[str, list[float | None]]
    reasons: dict[str, list[str | None]]
    differences: list[dict[str, Any]]
    patients: int
    seed: int
    horizon_days: float
    bootstrap: int
    level: float
    notes: list[str]
    elapsed_s: float
    simulate_s: float
    tables: list[pd.DataFrame] = field(repr=False, default_factory=list)

    def row(self, outcome: str, scenario_index: int = 1) -> dict[str, Any]:
        """The difference row of an outcome for one scenario (index >= 1)."""
        for r in self.differences:
            if r["outcome"] == outcome and r["scenario_index"] == scenario_index:
                return r
        raise KeyError(f"no difference row for {outcome!r} and scenario {scenario_index}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"scenarios": [...], "differences": [...], ...}`` (NaN -> None)."""
        scenarios = []
        for k, (sc, summary) in enumerate(zip(self.scenarios, self.summaries, strict=True)):
            scenarios.append({
                "index": k, "name": sc.name, "file": sc.file, "description": sc.description,
                "parameter_hash": sc.params.digest(), "patients": summary["patients"], "infused": summary["infused"],
                "values": {o.name: self.values[o.name][k] for o in OUTCOMES},
                "not_estimable": {o.name: self.reasons[o.name][k] for o in OUTCOMES
                                  if self.reasons[o.name][k] is not None},
            })
        return json_safe({
            "scenarios": scenarios,
            "differences": self.differences,
            "seed": self.seed,
            "patients": self.patients,
            "horizon_days": self.horizon_days,
            "level": self.level,
            "bootstrap_replicates": self.bootstrap,
            "methods": {
                "delta": "rates, shares and means: ratio estimators sum(y)/sum(x) over patients; paired variance "
                         "from per-patient differences of delta-method influence values",
                "bootstrap": f"Kaplan-Meier, Aalen-Johansen and ITT estimates: paired bootstrap over patient ids "
                             f"({self.bootstrap} replicates, the same resample applied to every scenario)",
                "interval": "diff +- z * paired SE (normal approximation); Monte Carlo error only, at the "
                            "scenarios' point parameter values (no parameter uncertainty)",
                "variance_reduction": "(var of scenario + var of reference) / var of the paired difference",
                "not_estimable": "a landmark, incidence or restricted mean past a scenario's maximum follow-up, or a "
                                 "median not reached, is null; the row's not_estimable gives the scenario and reason",
            },
            "notes": self.notes,
            "elapsed_s": self.elapsed_s,
            "simulate_s": self.simulate_s,
        })
