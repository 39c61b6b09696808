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
method, tolerance 1e-12) of the crossing-probability equation. No futility boundary:
the lower limit of integration is ``-inf`` (the grid reaches 3 + 4 log r standard
deviations below the mean, where the omitted mass is < 1e-15).

Two-sided tests use the same boundary on ``|Z|`` with ``alpha / 2`` spent per side
(the tiny probability of crossing the opposite boundary first is ignored; the usual
symmetric design).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def _grid(mean: float, upper: float, r: int = GRID_R) -> tuple[np.ndarray, np.ndarray]:
    """Jennison & Turnbull (2000, s. 19.2) grid points and Simpson weights for a standard
    normal statistic centred at ``mean``, truncated above at ``upper``."""
    i = np.arange(1, 6 * r)
    x = np.where(i < r, -3.0 - 4.0 * np.log(r / np.maximum(i, 1)),
                 np.where(i <= 5 * r, -3.0 + 3.0 * (i - r) / (2.0 * r),
                          3.0 + 4.0 * np.log(r / np.maximum(6 * r - i, 1)))) + mean
    x = x[x < upper]
    x = np.append(x, upper) if math.isfinite(upper) else x
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


def crossing_probabilities(t: np.ndarray, b: np.ndarray, drift: float = 0.0) -> np.ndarray:
    """P(first ``Z_k >= b_k`` at look k) for the canonical process with
    ``E[Z_k] = drift sqrt(t_k)`` (recursive integration)."""
    t = np.asarray(t, float)
    b = np.asarray(b, float)
    out = np.empty(t.size)
    z, w, h = None, None, None
    for k in range(t.size):
        out[k], z, w, h = _step(t, k, b[k], drift, z, w, h)
    return out


def _cross(t: np.ndarray, k: int, b: float, drift: float, z: np.ndarray | None, w: np.ndarray | None,
           h: np.ndarray | None) -> float:
    """Probability of first crossing ``b`` at look k given the previous look's
    continuation sub-density ``h`` on grid ``z`` with Simpson weights ``w``."""
    mean = drift * math.sqrt(t[k])
    if k == 0:
        return float(stats.norm.sf(b - mean))
    assert z is not None  # z, w and h are set by the previous look
    assert w is not None
    assert h is not None
    dt = t[k] - t[k - 1]
    # Z_k sqrt(t_k) = Z_{k-1} sqrt(t_{k-1}) + N(drift dt, dt)
    prev = z * math.sqrt(t[k - 1])
    return float(np.sum(w * h * stats.norm.sf((b * math.sqrt(t[k]) - prev - drift * dt) / math.sqrt(dt))))


def _step(t: np.ndarray, k: int, b: float, drift: float, z: np.ndarray | None, w: np.ndarray | None,
          h: np.ndarray | None) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Crossing probability at look k (:func:`_cross`), and the new grid, weights and
    continuation sub-density below ``b``."""
    mean = drift * math.sqrt(t[k])
    cross = _cross(t, k, b, drift, z, w, h)
    if k == 0:
        zn, wn = _grid(mean, b)
        return cross, zn, wn, stats.norm.pdf(zn - mean)
    assert z is not None  # z, w and h are set by the previous look
    assert w is not None
    assert h is not None
    dt = t[k] - t[k - 1]
    sd = math.sqrt(dt)
    shift = drift * dt
    prev = z * math.sqrt(t[k - 1])
    zn, wn = _grid(mean, b)
    dens = stats.norm.pdf((zn[:, None] * math.sqrt(t[k]) - prev[None, :] - shift) / sd)
    hn = (dens * (w * h)[None, :]).sum(axis=1) * math.sqrt(t[k]) / sd
    return cross, zn, wn, hn


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
    z = w = h = None
    for k in range(t.size):
        if target[k] <= 1e-300:  # nothing to spend (e.g. a very early OBF look)
            b[k] = math.inf
        else:
            prev = (z, w, h)
            b[k] = optimize.brentq(lambda x, k=k, prev=prev: _cross(t, k, x, 0.0, *prev) - target[k], -10.0, 40.0,
                                   xtol=1e-12, rtol=1e-14, maxiter=500)
        _, z, w, h = _step(t, k, min(b[k], 40.0), 0.0, z, w, h)
    return Boundaries(t, b, stats.norm.sf(b), cum, float(alpha), kind)
