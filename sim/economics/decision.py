"""Cost-effectiveness decisions: frontier, ICERs, net benefit, paired increments,
acceptability curves.

Conventions: ``costs`` and ``effects`` (QALYs) are per-patient means, one per strategy;
``wtp`` (willingness to pay, lambda) is in currency per QALY. Net monetary benefit is
lambda * QALYs - costs; net health benefit is QALYs - costs / lambda.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRONTIER, DOMINATED, EXTENDED = "frontier", "dominated", "extendedly dominated"
Z95 = 1.959963984540054


@dataclass(frozen=True)
class FrontierRow:
    """One strategy on (or off) the efficient frontier. ``icer`` (currency per QALY) is
    against the previous frontier strategy (NaN for the cheapest and for strategies off
    the frontier); ``reference`` is that strategy's index."""

    index: int
    cost: float
    effect: float
    status: str
    icer: float
    reference: int


def frontier(costs: np.ndarray, effects: np.ndarray) -> list[FrontierRow]:
    """The efficient frontier of strategies (rows in the input order).

    A strategy is dominated when another costs no more and gives at least as much effect
    (and is better in one); it is extendedly dominated when a mix of two others would
    give more effect per cost, i.e. its ICER exceeds that of the next strategy on the
    frontier. Identical strategies: the first listed stays on the frontier.
    """
    c = np.asarray(costs, dtype=float)
    e = np.asarray(effects, dtype=float)
    n = len(c)
    status = [FRONTIER] * n
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            better_or_equal = c[j] <= c[i] and e[j] >= e[i]
            strictly = c[j] < c[i] or e[j] > e[i] or j < i
            if better_or_equal and strictly:
                status[i] = DOMINATED
                break
    order = sorted((i for i in range(n) if status[i] == FRONTIER), key=lambda i: (c[i], -e[i]))
    changed = True
    while changed:  # remove extended dominance until ICERs increase along the frontier
        changed = False
        for k in range(1, len(order) - 1):
            a, b, d = order[k - 1], order[k], order[k + 1]
            if (c[b] - c[a]) / (e[b] - e[a]) > (c[d] - c[b]) / (e[d] - e[b]):
                status[b] = EXTENDED
                order.pop(k)
                changed = True
                break
    icer = np.full(n, np.nan)
    ref = [-1] * n
    for k in range(1, len(order)):
        a, b = order[k - 1], order[k]
        icer[b] = (c[b] - c[a]) / (e[b] - e[a])
        ref[b] = a
    return [FrontierRow(i, float(c[i]), float(e[i]), status[i], float(icer[i]), ref[i]) for i in range(n)]


def net_monetary_benefit(costs: np.ndarray, effects: np.ndarray, wtp: float) -> np.ndarray:
    return wtp * np.asarray(effects, dtype=float) - np.asarray(costs, dtype=float)


def net_health_benefit(costs: np.ndarray, effects: np.ndarray, wtp: float) -> np.ndarray:
    return np.asarray(effects, dtype=float) - np.asarray(costs, dtype=float) / wtp


@dataclass(frozen=True)
class Increment:
    """Mean of B - A over paired patients with its 95% interval (normal approximation)."""

    mean: float
    low: float
    high: float
    se: float


def paired_increment(a: np.ndarray, b: np.ndarray) -> Increment:
    """B - A, patient by patient: the strategies were simulated with common random
    numbers, so the pairs share every draw but those the strategies change."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    m = float(d.mean())
    return Increment(m, m - Z95 * se, m + Z95 * se, se)


def ratio_interval(d_cost: np.ndarray, d_effect: np.ndarray, n_boot: int = 1000,
                   seed: int = 0) -> tuple[float, float]:
    """Percentile 95% bootstrap interval of mean(d_cost) / mean(d_effect) over paired
    patients (NaN, NaN when the effect difference changes sign in the resamples, where
    the ratio has no interval). The resampling stream is fixed by ``seed``."""
    dc = np.asarray(d_cost, dtype=float)
    de = np.asarray(d_effect, dtype=float)
    if dc.shape != de.shape:
        raise ValueError(f"paired differences of unequal length: {dc.shape} and {de.shape}")
    rng = np.random.Generator(np.random.Philox(seed))
    n = len(dc)
    ratios = np.empty(n_boot)
    signs = np.empty(n_boot)
    for k in range(n_boot):
        idx = rng.integers(0, n, n)
        me = de[idx].mean()
        ratios[k] = dc[idx].mean() / me if me != 0 else np.nan
        signs[k] = np.sign(me)
    if not (np.all(signs > 0) or np.all(signs < 0)):
        return float("nan"), float("nan")
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(lo), float(hi)


def ceac(costs: np.ndarray, effects: np.ndarray, wtps: np.ndarray) -> np.ndarray:
    """Probability that each strategy has the highest net monetary benefit, per
    willingness to pay: ``costs`` and ``effects`` shaped (draws, strategies); returns
    (len(wtps), strategies), each row summing to 1 (ties go to the first strategy)."""
    c = np.asarray(costs, dtype=float)
    e = np.asarray(effects, dtype=float)
    out = np.zeros((len(wtps), c.shape[1]))
    for k, lam in enumerate(np.asarray(wtps, dtype=float)):
        best = np.argmax(lam * e - c, axis=1)
        out[k] = np.bincount(best, minlength=c.shape[1]) / c.shape[0]
    return out


def ceaf(costs: np.ndarray, effects: np.ndarray, wtps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Acceptability frontier: per willingness to pay, the strategy with the highest
    expected net monetary benefit and its probability of being the best."""
    prob = ceac(costs, effects, wtps)
    c = np.asarray(costs, dtype=float).mean(axis=0)
    e = np.asarray(effects, dtype=float).mean(axis=0)
    chosen = np.array([int(np.argmax(lam * e - c)) for lam in np.asarray(wtps, dtype=float)])
    return chosen, prob[np.arange(len(chosen)), chosen]
