"""Interim conditional power and sample-size (event) re-estimation with a weighted
inverse-normal combination test, for event-driven two-arm log-rank trials.

The design plans ``D`` events with one interim at ``d1 = ceil(fraction D)`` events. At
the interim the stage-1 log-rank statistic ``z1`` (favourable sign) and its
information ``V1`` give the conditional power of the planned remainder under the
current trend ``theta = z1 / sqrt(V1)``:

    CP(D2) = 1 - Phi((z_alpha - w1 z1) / w2 - theta sqrt(V1 (D2 - d1) / d1)),

with the **pre-specified** weights ``w1 = sqrt(d1 / D)``, ``w2 = sqrt(1 - d1 / D)``. A
rule then sets the final event count ``D2 = d1 + m (D - d1)`` with the multiplier ``m``
on a grid from 1 to ``max_factor``:

* ``none``: m = 1 (the group-sequential design without an efficacy look);
* ``promising_zone`` (Mehta & Pocock 2011, Stat Med 30:3267-3284): if
  ``cp_min <= CP(D) < cp_target`` the smallest m with ``CP >= cp_target`` (else the
  largest m); otherwise m = 1;
* ``cp_target``: the smallest m with ``CP >= cp_target`` whatever the interim (the
  largest m if none reaches it).

The final test rejects when ``w1 z1 + w2 z2 >= z_alpha``, ``z2`` the standardised
log-rank increment ``-(U(D2) - U(d1)) / sqrt(V(D2) - V(d1))`` of the stage-2 events.
Because the weights are fixed in advance and the increments are asymptotically
independent of stage 1 under H0, the type I error holds whatever the rule (Lehmacher &
Wassmer 1999, Biometrics 55:1286-1290; Cui, Hung & Wang 1999, Biometrics 55:853-857).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from sim.trials.spending import SPENDING, boundaries

if TYPE_CHECKING:
    from sim.trials.results import SimulatedTrials

RULES = ("none", "promising_zone", "cp_target")
KEYS = ("fraction", "rule", "cp_target", "cp_min", "max_factor", "step", "efficacy")


@dataclass(frozen=True)
class AdaptiveOptions:
    """The ``[adaptive]`` section: interim fraction of the planned events, the rule,
    its conditional-power targets and the grid of stage-2 event multipliers."""

    fraction: float = 0.5
    rule: str = "promising_zone"
    cp_target: float = 0.8
    cp_min: float = 0.36
    max_factor: float = 2.0
    step: float = 0.25
    efficacy: str | None = None  # alpha-spending function of an efficacy stop at the interim (None: no stop)

    def multipliers(self) -> np.ndarray:
        return np.arange(1.0, self.max_factor + 1e-9, self.step)


def parse_options(table: dict[str, Any], file: str) -> AdaptiveOptions:
    """Checked options (one InputError naming the key)."""
    from sim.model.errors import InputError  # noqa: PLC0415 - parsing only
    from sim.model.limits import Limit, check_choice, check_number  # noqa: PLC0415

    unit = Limit(0.0, 1.0, False, low_open=True, high_open=True)
    out: dict[str, Any] = {}
    for key in ("fraction", "cp_target", "cp_min"):
        if key in table:
            check_number(table[key], unit, file, f"adaptive.{key}")
            out[key] = float(table[key])
    if "rule" in table:
        out["rule"] = check_choice(table["rule"], RULES, file, "adaptive.rule")
    if "max_factor" in table:
        check_number(table["max_factor"], Limit(1.0, 10.0, False), file, "adaptive.max_factor")
        out["max_factor"] = float(table["max_factor"])
    if "step" in table:
        check_number(table["step"], Limit(0.0, 10.0, False, low_open=True), file, "adaptive.step")
        out["step"] = float(table["step"])
    if "efficacy" in table:
        out["efficacy"] = check_choice(table["efficacy"], SPENDING, file, "adaptive.efficacy")
    opts = AdaptiveOptions(**out)
    if opts.cp_min >= opts.cp_target:
        raise InputError(file, "adaptive.cp_min", f"cp_min {opts.cp_min} is not below cp_target {opts.cp_target}",
                         "0 < cp_min < cp_target < 1")
    return opts


def conditional_power(z1: np.ndarray, v1: np.ndarray, d1: int, d_planned: int, d2: np.ndarray | float,
                      alpha: float, z_final: float | None = None) -> np.ndarray:
    """CP of the weighted inverse-normal test (see the module docstring) when stage 2
    ends at ``d2`` events, under the interim trend; ``z_final`` the final critical value
    (default ``z_alpha``; lower than that never, higher after an efficacy look)."""
    w1 = math.sqrt(d1 / d_planned)
    w2 = math.sqrt(1.0 - d1 / d_planned)
    theta = np.where(v1 > 0, z1 / np.sqrt(np.maximum(v1, 1e-300)), 0.0)
    info2 = v1 * (np.asarray(d2, float) - d1) / d1
    c = float(stats.norm.isf(alpha)) if z_final is None else z_final
    return np.asarray(stats.norm.sf((c - w1 * z1) / w2 - theta * np.sqrt(info2)), float)


def critical_values(opts: AdaptiveOptions, d1: int, d_planned: int, alpha: float) -> tuple[float, float]:
    """(interim efficacy boundary on z1, final boundary on ``w1 z1 + w2 z2``): without an
    efficacy look (inf, z_alpha); with one, the two-look Lan-DeMets boundaries at
    information fraction ``w1^2 = d1 / D`` -- the combination statistic and z1 have
    exactly the canonical correlation ``w1`` under H0 whatever stage 2's size, so the
    level holds for every re-estimation rule."""
    if opts.efficacy is None:
        return math.inf, float(stats.norm.isf(alpha))
    b = boundaries([d1 / d_planned, 1.0], alpha, opts.efficacy).z
    return float(b[0]), float(b[1])


def choose(opts: AdaptiveOptions, cp: np.ndarray) -> np.ndarray:
    """Index of the chosen multiplier per trial; ``cp`` (trials, multipliers)."""
    reach = cp >= opts.cp_target
    first = np.where(reach.any(axis=1), reach.argmax(axis=1), cp.shape[1] - 1)
    if opts.rule == "none":
        return np.zeros(cp.shape[0], np.int64)
    if opts.rule == "cp_target":
        return first
    promising = (cp[:, 0] >= opts.cp_min) & (cp[:, 0] < opts.cp_target)
    return np.where(promising, first, 0)


def simulate_adaptive(sim: SimulatedTrials, opts: AdaptiveOptions, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Operating characteristics of the rule on the simulated trials at each size: power
    (with its Monte Carlo SE), the power of the same trials without re-estimation, the
    share of trials whose events were increased, and the mean final events."""
    spec = sim.spec
    d_plan = spec.events
    d1 = math.ceil(opts.fraction * d_plan - 1e-9)
    alpha = spec.alpha / spec.sides
    mult = opts.multipliers()
    finals = [d1 + math.ceil(m * (d_plan - d1) - 1e-9) for m in mult]
    w1, w2 = math.sqrt(d1 / d_plan), math.sqrt(1.0 - d1 / d_plan)
    u, v, ev = [], [], []
    counts1: np.ndarray | None = None
    for d2 in finals:
        variant = dataclasses.replace(spec, test="logrank", events=d2, interim_fractions=(d1 / d2,), futility=None,
                                      futility_hr=None, futility_z=())
        res = dataclasses.replace(sim, spec=variant).analyse(sizes)
        u.append(res.o_minus_e_looks)
        v.append(res.variance_looks)
        c = res.counts_looks
        ev.append(c[..., 1, 0] + c[..., 1, 2])
        if counts1 is None:
            counts1 = c[..., 0, 0] + c[..., 0, 2]  # events at the interim
    k = sim.trials
    rows = []
    b1, z_crit = critical_values(opts, d1, d_plan, alpha)
    for g, n in enumerate(sizes):
        u1, v1 = u[0][:, g, 0], v[0][:, g, 0]
        z1 = np.where(v1 > 0, -u1 / np.sqrt(np.maximum(v1, 1e-300)), 0.0)  # favourable: fewer events in B
        early = z1 >= b1
        cp = np.column_stack([conditional_power(z1, v1, d1, d_plan, d2, alpha, z_crit) for d2 in finals])
        pick = np.where(early, 0, choose(opts, cp))
        z2_all = np.column_stack([
            np.where(v[j][:, g, 1] - v1 > 0,
                     -(u[j][:, g, 1] - u1) / np.sqrt(np.maximum(v[j][:, g, 1] - v1, 1e-300)), 0.0)
            for j in range(len(finals))])
        combined = w1 * z1[:, None] + w2 * z2_all
        reject = early | (combined[np.arange(k), pick] >= z_crit)
        fixed = early | (combined[:, 0] >= z_crit)
        assert counts1 is not None
        c1 = counts1[:, g]
        events = np.where(early, c1, np.column_stack([e[:, g] for e in ev])[np.arange(k), pick])
        p, p0 = float(reject.mean()), float(fixed.mean())
        rows.append({"n": int(n), "power": p, "se": math.sqrt(p * (1 - p) / k), "power_without_reestimation": p0,
                     "efficacy_at_interim": float(early.mean()),
                     "increased": float(np.mean(pick > 0)), "events_mean": float(events.mean()),
                     "conditional_power_at_interim_mean": float(cp[:, 0].mean())})
    return rows


def adaptive_block(sim: SimulatedTrials, opts: AdaptiveOptions, sizes: tuple[int, ...]) -> dict[str, Any]:
    """The JSON block of the power output."""
    d_plan = sim.spec.events
    d1 = math.ceil(opts.fraction * d_plan - 1e-9)
    return {**dataclasses.asdict(opts), "interim_events": d1, "planned_events": d_plan,
            "final_event_options": [d1 + math.ceil(m * (d_plan - d1) - 1e-9) for m in opts.multipliers()],
            "weights": [math.sqrt(d1 / d_plan), math.sqrt(1.0 - d1 / d_plan)],
            "grid": simulate_adaptive(sim, opts, sizes),
            "critical_values": {k: (v if math.isfinite(v) else None) for k, v in zip(
                ("interim_efficacy_z", "final_combination_z"),
                critical_values(opts, d1, d_plan, sim.spec.alpha / sim.spec.sides), strict=True)},
            "note": "weighted inverse-normal combination of the stage-1 and stage-2 log-rank statistics with "
                    "weights fixed at the planned events; " + (
                        f"efficacy stop at the interim ({opts.efficacy} alpha spending at d1 / D)" if opts.efficacy
                        else "no early stop at the interim")}
