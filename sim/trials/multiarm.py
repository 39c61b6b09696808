"""Multi-arm trials: several experimental arms against one shared control, equal
allocation or allocation weights per arm (``[allocation] weights``), with a
multiplicity adjustment.

Each patient is randomised to one of the ``J + 1`` arms (control = 0) from the same
uniform draw at the patient's own address; every patient keeps the random-number
stream of its address whatever its arm (common random numbers: the control patients
are the same in every comparison). Comparison ``e`` analyses the control and arm ``e``
patients with the spec's test; the other arms' patients are left out (never an event,
censored at day 0, so they are in no risk set at any event time and in no rate's
denominator).

Multiplicity (one-sided or two-sided as the spec's test, family-wise level alpha):

* ``dunnett`` — single-step: the adjusted p-value of comparison e is
  ``P(max_f Z_f >= z_e)`` (two-sided: ``max |Z_f| >= |z_e|``) for ``Z ~ N(0, R)`` with
  the shared-control correlation ``R_ef = sqrt(p_e p_f / ((p_e + p_0)(p_f + p_0)))``
  (Dunnett 1955, J Am Stat Assoc 50:1096-1121; 1/2 for equal allocation), from
  :func:`sim.stats.maxcombo.mvn_rectangle`;
* ``holm`` — Holm's (1979) step-down on the comparisons' p-values;
* ``bonferroni`` — each comparison at alpha / J.

Power per comparison (after adjustment), disjunctive (any arm shown better) and
conjunctive (every arm) power are reported with their Monte Carlo SEs.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from sim.stats.maxcombo import mvn_rectangle
from sim.trials.results import SimulatedTrials
from sim.trials.simulate import _simulate_arms
from sim.trials.spec import TrialSpec

METHODS = ("dunnett", "holm", "bonferroni")


def simulate_comparisons(spec: TrialSpec, trials: int, seed: int, threads: int | None = None
                         ) -> tuple[np.ndarray, list[SimulatedTrials]]:
    """(arm index 0..J of every patient, one masked two-arm SimulatedTrials per
    experimental arm)."""
    n_max = max(spec.grid)
    arm, entry, dropout, t1s, t2s = _simulate_arms(spec, trials, seed, n_max, threads)
    out = []
    for e in range(1, len(spec.arms)):
        keep = (arm == 0) | (arm == e)
        w = spec.arm_weights or (1.0,) * len(spec.arms)
        pair = dataclasses.replace(spec, design="two_arm", arms=(spec.arms[0], spec.arms[e]),
                                   allocation_ratio=w[e] / w[0], arm_weights=())
        t2 = None if t2s is None else np.where(keep, t2s[e - 1], np.inf)
        out.append(SimulatedTrials(pair, seed, np.where(keep, t1s[e - 1], np.inf), (arm == e).astype(np.int8),
                                   entry, np.where(keep, dropout, 0.0), t2))
    return arm, out


def dunnett_correlation(j: int, weights: tuple[float, ...] = ()) -> np.ndarray:
    """Correlation of J comparisons with a shared control: ``sqrt(w_e w_f / ((w_e + w_0)
    (w_f + w_0)))`` for allocation weights ``w`` (control first; 1/2 when equal)."""
    w = np.asarray(weights if weights else (1.0,) * (j + 1), float)
    share = w[1:] / (w[1:] + w[0])
    r = np.sqrt(np.outer(share, share))
    np.fill_diagonal(r, 1.0)
    return r


def adjust(z_fav: np.ndarray, p: np.ndarray, method: str, alpha: float, sides: int,
           weights: tuple[float, ...] = ()) -> np.ndarray:
    """Rejections (trials, J) after the multiplicity adjustment; ``z_fav`` the favourable
    statistics, ``p`` the unadjusted p-values of the spec's test."""
    k, j = p.shape
    if method == "bonferroni":
        return p < alpha / j
    if method == "holm":
        order = np.argsort(p, axis=1)
        ps = np.take_along_axis(p, order, axis=1)
        ok = ps < alpha / (j - np.arange(j))[None, :]
        step = np.cumprod(ok, axis=1).astype(bool)  # stop at the first non-rejection
        out = np.zeros_like(step)
        np.put_along_axis(out, order, step, axis=1)
        return out
    corr = dunnett_correlation(j, weights)
    adj = np.ones((k, j))
    for i in range(k):
        for e in range(j):
            t = abs(z_fav[i, e]) if sides == 2 else z_fav[i, e]
            if sides == 2 or t > 0:
                lower = np.full(j, -t if sides == 2 else -math.inf)
                adj[i, e] = 1.0 - mvn_rectangle(lower, np.full(j, t), corr)
    return adj < alpha


def power_multi(spec: TrialSpec, method: str, trials: int | None = None, seed: int | None = None,
                threads: int | None = None) -> dict[str, Any]:
    """Per grid size: power of each comparison (unadjusted and adjusted), disjunctive and
    conjunctive power, with Monte Carlo SEs."""
    trials = spec.trials if trials is None else int(trials)
    seed = spec.seed if seed is None else int(seed)
    _, comps = simulate_comparisons(spec, trials, seed, threads)
    results = [c.analyse(spec.grid) for c in comps]
    rows = []
    for g, n in enumerate(spec.grid):
        p = np.column_stack([r.p[:, g] for r in results])
        z = np.column_stack([spec.direction * r.z[:, g] for r in results])
        rej = adjust(z, p, method, spec.alpha, spec.sides, spec.arm_weights)

        def share(x: Any) -> dict[str, float]:
            v = float(np.mean(x))
            return {"power": v, "se": math.sqrt(v * (1 - v) / trials)}

        rows.append({"n": int(n), "arms": [{"arm": spec.arms[e + 1].name, "label": spec.arms[e + 1].label,
                                            "adjusted": share(rej[:, e]), "unadjusted": share(p[:, e] < spec.alpha)}
                                           for e in range(len(comps))],
                     "disjunctive": share(rej.any(axis=1)), "conjunctive": share(rej.all(axis=1))})
    return {"method": method, "trials": trials, "seed": seed, "control": spec.arms[0].label, "grid": rows}
