"""Group-sequential efficacy boundaries from Lan-DeMets alpha-spending functions.

Canonical joint distribution (Jennison & Turnbull 2000, *Group Sequential Methods*,
ch. 3): at information fractions ``0 < t_1 < ... < t_K = 1`` the standardised
statistics ``Z_k`` are jointly normal with ``Cov(Z_j, Z_k) = sqrt(t_j / t_k)`` for
``j <= k`` (under H0 mean 0). One-sided efficacy boundaries ``b_k`` (reject at the first
``k`` with ``Z_k >= b_k``) are chosen so that the probability of first crossing at look
``k`` under H0 equals ``alpha(t_k) - alpha(t_{k-1})`` for the spending function:

* ``obf`` — O'Brien-Fleming type (Lan & DeMets 1983, Biometrika 70:659-663):
  ``alpha(t) = 2 - 2 Phi(Phi^-1(1 - alpha / 2) / sqrt(t))``;
* ``pocock`` — Pocock type: ``alpha(t) = alpha log(1 + (e - 1) t)``.

The crossing probabilities are computed by the recursive numerical integration of
Armitage, McPherson & Rowe (1969) in the form of Jennison & Turnbull ch. 19: the
sub-density of ``Z_k`` on the continuation region is carried from look to look on
their grid (``6r - 1`` points per look, refined near the boundary, Simpson's rule;
``r = 32`` here, gsDesign's default is 18), and each ``b_k`` is the root (Brent's
method, tolerance 1e-12) of the crossing-probability equation. Without a futility
boundary the lower limit of integration is ``-inf`` (the grid reaches 3 + 4 log r
standard deviations below the mean, where the omitted mass is < 1e-15).

:class:`SequentialPlan` recomputes the boundaries at the information a trial actually
observed (the final look spends the alpha left) and adds non-binding futility
boundaries from beta spending under a stated alternative (the same recursion with a
lower limit ``a_k`` and drift), or fixed futility thresholds.

Two-sided tests use the same boundary on ``|Z|`` with ``alpha / 2`` spent per side
(the tiny probability of crossing the opposite boundary first is ignored; the usual
symmetric design).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

SPENDING = ("obf", "pocock")
GRID_R = 32


def spent(t: np.ndarray | float, alpha: float, kind: str) -> np.ndarray:
    """Cumulative one-sided alpha spent by information fraction ``t``."""
    t = np.asarray(t, dtype=np.float64)
    if kind == "obf":
        with np.errstate(divide="ignore"):
            return 2.0 * stats.norm.sf(stats.norm.isf(alpha / 2.0) / np.sqrt(t))
    if kind == "pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    raise ValueError(f"unknown spending function {kind!r}; expected one of {SPENDING}")


def _grid(mean: float, upper: float, r: int = GRID_R, lower: float = -math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Jennison & Turnbull (2000, s. 19.2) grid points and Simpson weights for a standard
    normal statistic centred at ``mean``, truncated to ``(lower, upper)``."""
    i = np.arange(1, 6 * r)
    x = np.where(i < r, -3.0 - 4.0 * np.log(r / np.maximum(i, 1)),
                 np.where(i <= 5 * r, -3.0 + 3.0 * (i - r) / (2.0 * r),
                          3.0 + 4.0 * np.log(r / np.maximum(6 * r - i, 1)))) + mean
    x = x[(x < upper) & (x > lower)]
    x = np.append(x, upper) if math.isfinite(upper) else x
    x = np.insert(x, 0, lower) if math.isfinite(lower) else x
    if x.size < 2:  # empty continuation region: nothing carries on
        return np.zeros(0), np.zeros(0)
    # odd-numbered points are the x's, even-numbered ones their midpoints
    z = np.empty(2 * x.size - 1)
    z[0::2] = x
    z[1::2] = 0.5 * (x[:-1] + x[1:])
    d = np.diff(x)
    w = np.zeros(z.size)
    w[0:-1:2] += d / 6.0
    w[2::2] += d / 6.0
    w[1::2] = 4.0 * d / 6.0
    return z, w


# Continuation sub-density after a look: (information, grid, Simpson weights, density)
State = tuple[float, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Boundaries:
    """One-sided efficacy boundaries on the z scale at information fractions ``t``."""

    t: np.ndarray
    z: np.ndarray  # b_k
    nominal_p: np.ndarray  # 1 - Phi(b_k): the one-sided p-value threshold at look k
    alpha_spent: np.ndarray  # cumulative alpha(t_k)
    alpha: float
    kind: str

    def crossing(self, drift: float = 0.0) -> np.ndarray:
        """Probabilities of first crossing at each look when ``E[Z_k] = drift sqrt(t_k)``."""
        return crossing_probabilities(self.t, self.z, drift)


def crossing_probabilities(t: np.ndarray, b: np.ndarray, drift: float = 0.0,
                           a: np.ndarray | None = None) -> np.ndarray:
    """P(first ``Z_k >= b_k`` at look k) for the canonical process with
    ``E[Z_k] = drift sqrt(t_k)`` (recursive integration); with lower boundaries ``a``
    the process also stops at the first ``Z_k <= a_k`` (see :func:`exit_probabilities`)."""
    return exit_probabilities(t, b, a, drift)[0]


Levels = np.ndarray | list[float]


def exit_probabilities(t: Levels, b: Levels, a: Levels | None = None,
                       drift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(P(first exit above ``b_k`` at look k), P(first exit below ``a_k`` at look k)) for the
    canonical process with ``E[Z_k] = drift sqrt(t_k)``; ``t`` is the information at each
    look on any scale (only ratios and ``drift sqrt(t)`` enter), ``a = None`` means no
    lower boundary."""
    t = np.asarray(t, float)
    b = np.asarray(b, float)
    lo = np.full(t.size, -math.inf) if a is None else np.asarray(a, float)
    up = np.empty(t.size)
    down = np.empty(t.size)
    state: State | None = None
    for k in range(t.size):
        up[k], down[k] = _exits(t[k], b[k], lo[k], drift, state)
        state = _carry(t[k], b[k], lo[k], drift, state)
    return up, down


def _exits(t: float, b: float, a: float, drift: float, state: State | None) -> tuple[float, float]:
    """(P(Z >= b), P(Z <= a)) at a look with information ``t``, for paths still going
    after the look whose continuation sub-density is ``state`` (None: the first look)."""
    mean = drift * math.sqrt(t)
    if state is None:
        return float(stats.norm.sf(b - mean)), float(stats.norm.cdf(a - mean)) if a > -math.inf else 0.0
    t0, z, w, h = state
    if z.size == 0:
        return 0.0, 0.0
    # Z sqrt(t) = Z_prev sqrt(t0) + N(drift dt, dt)
    dt = t - t0
    sd = math.sqrt(dt)
    centre = z * math.sqrt(t0) + drift * dt
    wh = w * h
    up = float(np.sum(wh * stats.norm.sf((b * math.sqrt(t) - centre) / sd)))
    down = float(np.sum(wh * stats.norm.cdf((a * math.sqrt(t) - centre) / sd))) if a > -math.inf else 0.0
    return up, down


def _carry(t: float, b: float, a: float, drift: float, state: State | None) -> State:
    """The continuation sub-density on ``(a, b)`` after a look with information ``t``."""
    mean = drift * math.sqrt(t)
    zn, wn = _grid(mean, min(b, 40.0), lower=max(a, -40.0) if a > -math.inf else -math.inf)
    if state is None:
        return t, zn, wn, stats.norm.pdf(zn - mean)
    t0, z, w, h = state
    dt = t - t0
    sd = math.sqrt(dt)
    if z.size == 0 or zn.size == 0:
        return t, zn, wn, np.zeros(zn.size)
    dens = stats.norm.pdf((zn[:, None] * math.sqrt(t) - z[None, :] * math.sqrt(t0) - drift * dt) / sd)
    return t, zn, wn, (dens * (w * h)[None, :]).sum(axis=1) * math.sqrt(t) / sd


def _solve_upper(t: float, target: float, state: State | None) -> float:
    """Efficacy boundary spending ``target`` under H0 at a look with information ``t``."""
    if target <= 1e-300:  # nothing to spend (e.g. a very early OBF look)
        return math.inf
    return float(optimize.brentq(lambda x: _exits(t, x, -math.inf, 0.0, state)[0] - target, -10.0, 40.0,
                                 xtol=1e-12, rtol=1e-14, maxiter=500))


def boundaries(t: list[float] | np.ndarray, alpha: float, kind: str = "obf") -> Boundaries:
    """Lan-DeMets efficacy boundaries for one-sided level ``alpha`` at fractions ``t``
    (strictly increasing, last = 1)."""
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1 or t.size < 1 or not np.all(np.diff(t) > 0) or t[0] <= 0 or abs(t[-1] - 1.0) > 1e-12:
        raise ValueError("information fractions must increase strictly and end at 1")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must lie in (0, 1)")
    cum = spent(t, alpha, kind)
    target = np.diff(np.concatenate([[0.0], cum]))
    b = np.empty(t.size)
    state: State | None = None
    for k in range(t.size):
        b[k] = _solve_upper(t[k], target[k], state)
        state = _carry(t[k], b[k], -math.inf, 0.0, state)
    return Boundaries(t, b, stats.norm.sf(b), cum, float(alpha), kind)


def _solve_lower(t: float, b: float, target: float, drift: float, state: State | None) -> float:
    """Futility boundary spending ``target`` of beta under the alternative ``drift`` at a
    look with information ``t`` and efficacy boundary ``b``; ``b`` itself when even the
    whole continuation region holds less than ``target`` (every path stops here)."""
    if target <= 1e-300:
        return -math.inf
    if _exits(t, b, b, drift, state)[1] <= target:
        return b
    return float(optimize.brentq(lambda x: _exits(t, b, x, drift, state)[1] - target, -40.0, b,
                                 xtol=1e-12, rtol=1e-14, maxiter=500))


@dataclass
class SequentialPlan:
    """Efficacy (and optional non-binding futility) boundaries recomputed at the
    information each trial actually observed, with the spending functions evaluated at
    the observed fractions of the planned maximum (Lan & DeMets 1983; Jennison &
    Turnbull 2000, s. 7.2).

    ``bounds(info)`` takes the information (events) at the looks a trial performed, the
    last one its final analysis, and returns ``(b, a)`` on the favourable z scale:

    * interim look k spends ``alpha(min(info_k / planned, 1))`` cumulatively; the final
      look spends whatever alpha is left, so a trial that ends short of the planned
      information (or beyond it) still has overall level ``alpha``;
    * the correlation of the looks is ``sqrt(info_j / info_k)`` from the observed
      information;
    * futility (interim looks only; ``a = -inf`` elsewhere) is either a fixed z
      threshold per interim (``futility_z``) or beta spending (``futility`` = "obf" or
      "pocock", ``beta`` = 1 - target power) under the alternative with
      ``E[Z_k] = drift_per_sqrt_info * sqrt(info_k)``. Futility is non-binding: the
      efficacy boundaries ignore it, so stopping for futility can only lower the type I
      error (gsDesign's ``test.type = 4``).

    Information that does not grow between two looks (an analysis at the cut-off that
    found no new event) is advanced by ``MIN_INFO_STEP`` so the recursion stays defined.
    Prefix results are cached, so trials sharing their interim event counts share the
    work and only their final look is solved anew."""

    planned: float
    alpha: float
    kind: str
    futility: str | None = None
    beta: float = 0.2
    drift_per_sqrt_info: float = 0.0
    futility_z: tuple[float, ...] = ()
    _cache: dict[tuple[float, ...], tuple[list[float], list[float], State, State | None]] = field(
        default_factory=dict, repr=False)

    MIN_INFO_STEP = 1e-3

    def information(self, info: tuple[float, ...] | list[float] | np.ndarray) -> list[float]:
        """The information levels the recursion uses: ``info``, strictly increasing by at
        least ``MIN_INFO_STEP``."""
        steps = [max(float(info[0]), self.MIN_INFO_STEP)]
        for x in info[1:]:
            steps.append(max(float(x), steps[-1] + self.MIN_INFO_STEP))
        return steps

    def bounds(self, info: tuple[float, ...] | list[float] | np.ndarray,
               spend_at: tuple[float, ...] | list[float] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(efficacy, futility) boundaries at looks with observed information ``info``,
        the last look being the final analysis. ``spend_at`` (one per look): the
        spending functions' argument on the ``planned`` scale when it is not the
        information itself (a weighted log-rank spends at its event fraction while its
        looks correlate as its variances, ``sqrt(V_j / V_k)``); each look's boundary still
        uses only what is known at that look."""
        steps = self.information(info)
        when = tuple(float(x) for x in (steps if spend_at is None else spend_at))
        b, a, state0, _ = self._prefix(tuple(steps[:-1]), when[:-1])
        if len(steps) == 1:
            return np.array([_solve_upper(steps[0], self.alpha, None)]), np.array([-math.inf])
        spent_before = float(spent(min(when[-2] / self.planned, 1.0), self.alpha, self.kind))
        b_final = _solve_upper(steps[-1], max(self.alpha - spent_before, 0.0), state0)
        return np.array([*b, b_final]), np.array([*a, -math.inf])

    def _prefix(self, info: tuple[float, ...], when: tuple[float, ...]
                ) -> tuple[list[float], list[float], State, State | None]:
        """Boundaries of the interim looks at ``info`` (spending at ``when``) and the H0 /
        H1 continuation states."""
        if not info:
            return [], [], (0.0, np.zeros(0), np.zeros(0), np.zeros(0)), None
        key = info + when
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        b, a, s0, s1 = self._prefix(info[:-1], when[:-1])
        first = len(info) == 1
        k = len(info) - 1
        t = info[-1]
        frac, frac0 = min(when[-1] / self.planned, 1.0), (min(when[-2] / self.planned, 1.0) if not first else 0.0)
        target = float(spent(frac, self.alpha, self.kind) - (spent(frac0, self.alpha, self.kind) if not first else 0.0))
        bk = _solve_upper(t, target, None if first else s0)
        ak = -math.inf
        if self.futility_z:
            ak = min(self.futility_z[k], bk) if k < len(self.futility_z) else -math.inf
        elif self.futility is not None:
            beta_target = float(spent(frac, self.beta, self.futility)
                                - (spent(frac0, self.beta, self.futility) if not first else 0.0))
            ak = _solve_lower(t, bk, beta_target, self.drift_per_sqrt_info, None if first else s1)
        s0n = _carry(t, bk, -math.inf, 0.0, None if first else s0)
        s1n = (_carry(t, bk, ak, self.drift_per_sqrt_info, None if first else s1)
               if self.futility is not None and not self.futility_z else None)
        out = ([*b, bk], [*a, ak], s0n, s1n)
        self._cache[key] = out
        return out
