"""Group-sequential designs solved for power with their non-binding futility boundary.

A design at information fractions ``0 < t_1 < ... < t_K = 1`` has Lan-DeMets efficacy
boundaries ``b_k`` from alpha spending under H0, computed as if futility never stopped a
trial (non-binding: stopping for futility can only lower the type I error). Its
futility boundaries ``a_k`` (interim looks) come either from beta spending under the
alternative or are fixed z thresholds. The maximum information is solved, as rpact's
``getDesignGroupSequential(bindingFutility = FALSE, typeBetaSpending = ...)`` and
gsDesign's ``test.type = 4`` do, so that the design **with its futility boundary
obeyed** has the target power: the drift ``theta`` (``E[Z_k] = theta sqrt(t_k)``) is the
root of

    P_theta(Z crosses b_k before falling to a_k(theta)) = 1 - beta,

where beta-spending bounds ``a_k(theta)`` spend ``beta(t_k) - beta(t_{k-1})`` under
``theta`` (at the final look ``a_K = b_K``, so the beta left is spent there). The
inflation factor is ``(theta / (z_alpha + z_beta))^2``: maximum information relative to
the fixed design of the same power. Event counts of a log-rank design are the fixed
design's unrounded Schoenfeld events times the inflation factor, rounded up once.

Crossing probabilities come from the recursive integration of
:mod:`sim.trials.spending`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from sim.trials.designs import schoenfeld_events_exact
from sim.trials.spending import State, _carry, _solve_lower, boundaries, exit_probabilities, spent


def futility_bounds(t: np.ndarray, b: np.ndarray, beta: float, kind: str, drift: float) -> np.ndarray:
    """Beta-spending futility bounds at the interim looks (``-inf`` at the final look)
    for the process with drift ``drift`` per unit sqrt(information fraction)."""
    a = np.full(t.size, -math.inf)
    state: State | None = None
    prev = 0.0
    for k in range(t.size - 1):
        cum = float(spent(t[k], beta, kind))
        a[k] = _solve_lower(float(t[k]), float(b[k]), cum - prev, drift, state)
        prev = cum
        state = _carry(float(t[k]), float(b[k]), float(a[k]), drift, state)
    return a


@dataclass(frozen=True)
class GroupSequentialDesign:
    """A solved design on the information-fraction scale (one-sided, favourable z).

    ``drift``: ``E[Z_K]`` at the maximum information under the alternative;
    ``inflation``: maximum information over the fixed design's; the probabilities are
    per look (efficacy, futility) under H0 and under the alternative, with futility
    obeyed; ``expected_fraction_*``: expected information at the end of the trial as a
    fraction of the maximum."""

    t: np.ndarray
    b: np.ndarray
    a: np.ndarray
    alpha: float
    beta: float
    spending: str
    futility: str | None
    drift: float
    inflation: float
    efficacy_h0: np.ndarray
    futility_h0: np.ndarray
    efficacy_h1: np.ndarray
    futility_h1: np.ndarray

    def _expected(self, up: np.ndarray, down: np.ndarray) -> float:
        stop = up + down
        stop[-1] = 0.0
        return float(np.sum(self.t * stop) + self.t[-1] * (1.0 - stop.sum()))

    @property
    def expected_fraction_h0(self) -> float:
        return self._expected(self.efficacy_h0.copy(), self.futility_h0.copy())

    @property
    def expected_fraction_h1(self) -> float:
        return self._expected(self.efficacy_h1.copy(), self.futility_h1.copy())

    @property
    def power(self) -> float:
        """Probability of rejecting under the alternative with futility obeyed."""
        return float(self.efficacy_h1.sum())

    def to_dict(self) -> dict[str, Any]:
        def finite(x: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in x]

        return {"fractions": [float(x) for x in self.t], "boundaries_z": finite(self.b),
                "futility_z": finite(self.a), "spending": self.spending, "futility": self.futility,
                "drift": self.drift, "inflation_factor": self.inflation, "power_futility_obeyed": self.power,
                "h0": {"efficacy": [float(x) for x in self.efficacy_h0],
                       "futility": [float(x) for x in self.futility_h0],
                       "expected_information_fraction": self.expected_fraction_h0},
                "design_alternative": {"efficacy": [float(x) for x in self.efficacy_h1],
                                       "futility": [float(x) for x in self.futility_h1],
                                       "expected_information_fraction": self.expected_fraction_h1}}


def solve_design(t: np.ndarray | list[float] | tuple[float, ...], alpha: float, power: float, spending: str = "obf",
                 futility: str | None = None, futility_z: tuple[float, ...] = ()) -> GroupSequentialDesign:
    """The group-sequential design whose power with its futility boundary obeyed is
    ``power`` at one-sided level ``alpha``: efficacy spending ``spending``; futility by
    beta spending ``futility`` ("obf" or "pocock"), or fixed thresholds ``futility_z``
    (one per interim), or none. ``t``: information fractions (increasing, last 1)."""
    t = np.asarray(t, float)
    b = boundaries(t, alpha, spending).z
    beta = 1.0 - power
    if futility is not None and futility_z:
        raise ValueError("give either a beta-spending function or fixed futility thresholds, not both")
    if futility_z and len(futility_z) != t.size - 1:
        raise ValueError(f"expected {t.size - 1} fixed futility thresholds, got {len(futility_z)}")

    def lower(drift: float) -> np.ndarray:
        if futility is not None:
            return futility_bounds(t, b, beta, futility, drift)
        if futility_z:
            return np.minimum(np.array([*futility_z, -math.inf]), b)
        return np.full(t.size, -math.inf)

    def gap(drift: float) -> float:
        return float(exit_probabilities(t, b, lower(drift), drift)[0].sum()) - power

    fixed = float(stats.norm.isf(alpha) + stats.norm.ppf(power))
    hi = 2.0 * fixed
    while gap(hi) < 0.0:  # power rises with the drift: bracket the root
        hi *= 1.5
    drift = float(optimize.brentq(gap, 0.5 * fixed, hi, xtol=1e-12, rtol=1e-14, maxiter=500))
    a = lower(drift)
    up0, down0 = exit_probabilities(t, b, a, 0.0)
    up1, down1 = exit_probabilities(t, b, a, drift)
    return GroupSequentialDesign(t, b, a, float(alpha), beta, spending, futility, drift, (drift / fixed) ** 2,
                                 up0, down0, up1, down1)


def max_events(fixed_events: float, design: GroupSequentialDesign) -> int:
    """Maximum events of the group-sequential design: the fixed design's unrounded
    events times the inflation factor, rounded up once."""
    return math.ceil(fixed_events * design.inflation * (1.0 - 1e-12))


def solved_events(hr: float, alpha_one_sided: float, power: float, design: str, ratio: float,
                  interim: dict[str, Any]) -> int:
    """Maximum events D powering the design at hazard ratio ``hr``: Schoenfeld's
    unrounded events (one-sample log-rank: ``(z_a + z_b)^2 / log(hr)^2``) times the
    inflation factor of the group-sequential design with its futility boundary obeyed
    (:func:`sim.trials.gsdesign.solve_design`), rounded up once."""
    share = 0.5 if design == "single_arm" else ratio / (1.0 + ratio)
    fixed = schoenfeld_events_exact(hr, alpha_one_sided, power, share, 1)
    if design == "single_arm":
        fixed *= share * (1.0 - share)  # no second arm: the drift per sqrt(event) is -log(hr)
    fr = interim.get("interim_fractions", ())
    gs = solve_design([*fr, 1.0], alpha_one_sided, power, interim.get("spending", "obf"), interim.get("futility"),
                      interim.get("futility_z", ()))
    return max_events(fixed, gs)
