"""Analytic trial designs: exact single-arm binomial designs and sample-size formulas.

Pure computation (numpy/scipy, no I/O). These are the "textbook answers" printed
beside the simulated power of a trial (``sim.trials.search``); Simon's two-stage
designs are in :mod:`sim.trials.simon`.

Conventions
-----------
* Single-arm binary endpoint (e.g. CR rate), hypotheses ``H0: p <= p0`` against
  ``H1: p >= p1`` with ``p1 > p0``; tests are one-sided (upper tail).
* **Simon's convention** throughout: ``r`` is the largest number of responses that
  does *not* reject H0, i.e. *reject H0 if more than r responses* (``X > r``,
  equivalently ``X >= r + 1``). Two-stage: stop for futility after stage 1 if
  ``X1 <= r1`` responses among ``n1``; otherwise treat ``n - n1`` more and reject H0
  if ``X1 + X2 > r`` among all ``n``.
* "Exact" alpha and power are binomial probabilities of the rejection region under
  ``p0`` and ``p1``. A design is feasible when ``alpha_exact <= alpha`` and
  ``power_exact >= power``; both comparisons allow ``_TOL = 1e-12`` of floating-point
  slack so that an operating characteristic that equals the nominal value in exact
  arithmetic is not lost to rounding (no binomial probability of a real design lies
  within 1e-12 of 0.05 or 0.8 without being equal to it in practice).
* Normal quantiles: ``z_a = Phi^-1(1 - alpha / sides)``, ``z_b = Phi^-1(power)``.
* Sample sizes and event counts are rounded up; before rounding, the value is
  shrunk by a relative 1e-12 so that an integer result of the formula that carries a
  few ulps of rounding error is not bumped to the next integer.

Validation raises ``ValueError`` with a one-line message that names the offending
argument (the CLI prints it and exits 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import integrate, stats

__all__ = [
    "ExactBinomialDesign",
    "OneSampleLogRankDesign",
    "exact_binomial_design",
    "one_sample_logrank_n",
    "schoenfeld_events",
    "schoenfeld_events_exact",
    "schoenfeld_n",
    "two_proportions_n",
]

FloatArray = NDArray[np.float64]

# Floating-point slack for "exact alpha <= nominal" and "exact power >= nominal".
_TOL = 1e-12
# Relative shrink before rounding a sample size up (see module docstring).
_CEIL_RTOL = 1e-12
# Largest n searched by the single-stage exact design before giving up.
_EXACT_N_LIMIT = 100_000


# --------------------------------------------------------------------------- #
# validation


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _open_unit(name: str, value: Any) -> float:
    x = _number(name, value)
    if not 0.0 < x < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return x


def _positive(name: str, value: Any) -> float:
    x = _number(name, value)
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def _non_negative(name: str, value: Any) -> float:
    x = _number(name, value)
    if not (math.isfinite(x) and x >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def _alpha_power(alpha: Any, power: Any) -> tuple[float, float]:
    a = _open_unit("alpha", alpha)
    b = _open_unit("power", power)
    if b <= a:
        raise ValueError(f"power must exceed alpha, got alpha={alpha!r}, power={power!r}")
    return a, b


def _p0_p1(p0: Any, p1: Any) -> tuple[float, float]:
    a = _open_unit("p0", p0)
    b = _open_unit("p1", p1)
    if b <= a:
        raise ValueError(f"p1 must be greater than p0, got p0={p0!r}, p1={p1!r}")
    return a, b


def _hazard_ratio(hr: Any) -> float:
    x = _positive("hr", hr)
    if x == 1.0:
        raise ValueError("hr must differ from 1 (no effect to detect), got 1")
    return x


def _sides(sides: Any) -> int:
    if isinstance(sides, bool) or sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, got {sides!r}")
    return int(sides)


def _z(alpha: float, power: float, sides: int) -> tuple[float, float]:
    return float(stats.norm.ppf(1.0 - alpha / sides)), float(stats.norm.ppf(power))


def _ceil(x: float) -> int:
    return math.ceil(x * (1.0 - _CEIL_RTOL))


# --------------------------------------------------------------------------- #
# single-stage exact binomial design


@dataclass(frozen=True)
class ExactBinomialDesign:
    """Single-stage exact design: reject H0 (p <= p0) if more than ``r`` responses among ``n``.

    ``alpha`` and ``power`` are the exact binomial probabilities
    ``P(X > r | n, p0)`` and ``P(X > r | n, p1)``.
    """

    p0: float
    p1: float
    n: int
    r: int
    alpha: float
    power: float
    nominal_alpha: float
    nominal_power: float


def _exact_single_stage_block(ns: NDArray[np.int64], p0: float, p1: float,
                              alpha: float) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Smallest r with P(X > r | p0) <= alpha for each n in ``ns``; its exact alpha and power."""
    guess = np.nan_to_num(np.asarray(stats.binom.isf(alpha, ns, p0), dtype=np.float64), nan=0.0)
    r: NDArray[np.int64] = np.clip(guess.astype(np.int64), 0, ns)
    # isf works in floating point: nudge r to the exact smallest value with sf <= alpha.
    for _ in range(3):
        too_small = stats.binom.sf(r, ns, p0) > alpha + _TOL
        r = np.where(too_small, r + 1, r)
        can_lower = (r > 0) & (stats.binom.sf(r - 1, ns, p0) <= alpha + _TOL)
        r = np.where(can_lower, r - 1, r)
    a: FloatArray = np.asarray(stats.binom.sf(r, ns, p0), dtype=np.float64)
    if np.any(a > alpha + _TOL) or np.any((r > 0) & (stats.binom.sf(r - 1, ns, p0) <= alpha + _TOL)):
        raise RuntimeError("could not determine the exact critical value")  # pragma: no cover
    return r, a, np.asarray(stats.binom.sf(r, ns, p1), dtype=np.float64)


def exact_binomial_design(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8) -> ExactBinomialDesign:
    """Smallest single-stage exact binomial design for ``H0: p <= p0`` vs ``H1: p = p1``.

    For each n the critical value ``r`` is the smallest integer with
    ``P(X > r | n, p0) <= alpha`` (the most powerful non-randomised level-alpha test);
    the returned design has the smallest ``n`` whose power ``P(X > r | n, p1)`` reaches
    ``power``. Because of discreteness power is not monotone in n, so a slightly
    larger n may fail again (the "smallest n" convention of A'Hern 2001, Stat Med
    20:859-866, whose table gives n = 25, reject if >= 6 responses, for p0 = 0.1,
    p1 = 0.3, alpha = 0.05, power = 0.8; here r = 5).
    """
    p0, p1 = _p0_p1(p0, p1)
    alpha, power = _alpha_power(alpha, power)
    block = 256
    start = 1
    while start <= _EXACT_N_LIMIT:
        ns = np.arange(start, start + block, dtype=np.int64)
        r, a, pw = _exact_single_stage_block(ns, p0, p1, alpha)
        ok = np.flatnonzero(pw >= power - _TOL)
        if ok.size:
            i = int(ok[0])
            return ExactBinomialDesign(p0=p0, p1=p1, n=int(ns[i]), r=int(r[i]), alpha=float(a[i]),
                                       power=float(pw[i]), nominal_alpha=alpha, nominal_power=power)
        start += block
        block = min(2 * block, 8192)
    raise ValueError(f"no exact design with n <= {_EXACT_N_LIMIT}; p1 - p0 = {p1 - p0:g} is too small")


# --------------------------------------------------------------------------- #
# two-arm normal-approximation sample sizes


def _allocation(allocation: Any) -> float:
    return _open_unit("allocation", allocation)


def schoenfeld_events(hr: float, alpha: float = 0.05, power: float = 0.8, allocation: float = 0.5,
                      sides: int = 2) -> int:
    """Events needed by the two-arm log-rank test (Schoenfeld 1981, Biometrika 68:316-319; 1983, Biometrics).

    ``D = (z_a + z_b)^2 / (k (1 - k) log(hr)^2)`` rounded up, with ``k`` the fraction
    of patients allocated to one arm (``allocation``; 0.5 for 1:1, where this is
    ``4 (z_a + z_b)^2 / log(hr)^2``) and ``z_a = Phi^-1(1 - alpha / sides)``.
    """
    return _ceil(schoenfeld_events_exact(hr, alpha, power, allocation, sides))


def schoenfeld_events_exact(hr: float, alpha: float = 0.05, power: float = 0.8, allocation: float = 0.5,
                            sides: int = 2) -> float:
    """Schoenfeld's events before rounding (:func:`schoenfeld_events`); a group-sequential
    design multiplies this by its inflation factor and rounds once."""
    hr = _hazard_ratio(hr)
    alpha, power = _alpha_power(alpha, power)
    k = _allocation(allocation)
    za, zb = _z(alpha, power, _sides(sides))
    return (za + zb) ** 2 / (k * (1.0 - k) * math.log(hr) ** 2)


def schoenfeld_n(hr: float, p_event: float, alpha: float = 0.05, power: float = 0.8, allocation: float = 0.5,
                 sides: int = 2) -> int:
    """Total patients for the log-rank test: ``ceil(D / p_event)``.

    ``D`` is :func:`schoenfeld_events` (already an integer) and ``p_event`` the
    probability that a patient (averaged over both arms) has an event by the analysis,
    so the expected number of events ``n * p_event`` is at least ``D``.
    """
    p = _open_unit("p_event", p_event)
    return _ceil(schoenfeld_events(hr, alpha, power, allocation, sides) / p)


def two_proportions_n(p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8, allocation: float = 0.5,
                      sides: int = 2, pooled: bool = True) -> int:
    """Total patients to compare two proportions (normal approximation, no continuity correction).

    With ``k`` the fraction allocated to arm a and ``pbar = k p_a + (1 - k) p_b``:

    * ``pooled=True`` (default; the chi-square / pooled z-test, Fleiss 1981 without
      continuity correction)::

          N = [z_a sqrt(pbar (1 - pbar) (1/k + 1/(1-k))) + z_b sqrt(p_a q_a / k + p_b q_b / (1-k))]^2 / (p_a - p_b)^2

    * ``pooled=False`` (unpooled variance under both hypotheses)::

          N = (z_a + z_b)^2 (p_a q_a / k + p_b q_b / (1-k)) / (p_a - p_b)^2

    Each arm's share (``k N`` and ``(1 - k) N``) is rounded up separately and the
    returned total is their sum (so 1:1 gives an even total).
    """
    pa = _open_unit("p_a", p_a)
    pb = _open_unit("p_b", p_b)
    if pa == pb:
        raise ValueError(f"p_a and p_b must differ, got p_a=p_b={p_a!r}")
    alpha, power = _alpha_power(alpha, power)
    k = _allocation(allocation)
    za, zb = _z(alpha, power, _sides(sides))
    var1 = pa * (1.0 - pa) / k + pb * (1.0 - pb) / (1.0 - k)
    if pooled:
        pbar = k * pa + (1.0 - k) * pb
        var0 = pbar * (1.0 - pbar) * (1.0 / k + 1.0 / (1.0 - k))
        total = (za * math.sqrt(var0) + zb * math.sqrt(var1)) ** 2 / (pa - pb) ** 2
    else:
        total = (za + zb) ** 2 * var1 / (pa - pb) ** 2
    return _ceil(k * total) + _ceil((1.0 - k) * total)


# --------------------------------------------------------------------------- #
# one-sample log-rank test


@dataclass(frozen=True)
class OneSampleLogRankDesign:
    """Sample size of a single-arm survival trial analysed by the one-sample log-rank test.

    ``events`` is the expected number of events under H1 (``n * p_event``);
    ``p_event = E_H1[Delta]`` is the probability that a patient's event is observed
    by the analysis; ``p_null = E_H1[Lambda0(X)]`` the expected historical cumulative
    hazard per patient (so ``n * p_null`` is the expected "expected" count E of the
    test); ``sigma`` the standard deviation of ``Delta - Lambda0(X)`` under H1.
    """

    n: int
    events: float
    p_event: float
    p_null: float
    sigma: float
    hr: float
    alpha: float
    power: float
    sides: int


def _censor_survival(accrual: float, followup: float) -> Callable[[float], float]:
    """P(C > t) for administrative censoring: uniform entry over ``accrual``, then ``followup``."""
    tau = accrual + followup

    def g(t: float) -> float:
        if t <= followup:
            return 1.0
        if t >= tau or accrual == 0.0:
            return 0.0
        return (tau - t) / accrual

    return g


def _wu_moments_quad(hr: float, median0: float, shape: float, accrual: float,
                     followup: float) -> tuple[float, float, float]:
    """(p0, p1, p00) of Wu (2015) by quadrature, for a Weibull historical curve.

    ``S0(t) = exp(-log 2 (t / median0)^shape)``, ``S1 = S0^hr``;
    ``p0 = E_H1[Lambda0(X)] = int lambda0 S1 G``, ``p1 = hr p0 = E_H1[Delta]``,
    ``p00 = E_H1[Lambda0(X)^2] / 2 = int Lambda0 lambda0 S1 G`` (G = P(C > t)).
    """
    ln2 = math.log(2.0)
    g = _censor_survival(accrual, followup)
    tau = accrual + followup

    def cumhaz0(t: float) -> float:
        return ln2 * (t / median0) ** shape

    def haz0(t: float) -> float:  # t = 0 has measure zero (and an infinite hazard when shape < 1)
        return shape * ln2 * t ** (shape - 1.0) / median0**shape if t > 0.0 else 0.0

    def f0(t: float) -> float:
        return haz0(t) * math.exp(-hr * cumhaz0(t)) * g(t)

    def f00(t: float) -> float:
        return cumhaz0(t) * haz0(t) * math.exp(-hr * cumhaz0(t)) * g(t)

    pts = [followup] if 0.0 < followup < tau else None
    p0 = integrate.quad(f0, 0.0, tau, points=pts, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    p00 = integrate.quad(f00, 0.0, tau, points=pts, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    return p0, hr * p0, p00


def _wu_moments_exponential(hr: float, median0: float, accrual: float, followup: float) -> tuple[float, float, float]:
    """Closed-form (p0, p1, p00) for exponential survival, C ~ Uniform(followup, accrual + followup)."""
    lam1 = hr * math.log(2.0) / median0
    tau = accrual + followup
    if accrual == 0.0:
        e_surv = math.exp(-lam1 * followup)  # E[exp(-lam1 C)]
        e_surv2 = math.exp(-lam1 * followup) * (1.0 + lam1 * followup)  # E[exp(-lam1 C)(1 + lam1 C)]
    else:
        e_surv = (math.exp(-lam1 * followup) - math.exp(-lam1 * tau)) / (lam1 * accrual)
        e_surv2 = (math.exp(-lam1 * followup) * (2.0 + lam1 * followup)
                   - math.exp(-lam1 * tau) * (2.0 + lam1 * tau)) / (lam1 * accrual)
    p1 = 1.0 - e_surv  # P(event observed) = E[1 - exp(-lam1 C)]
    # E[min(T, c)^2] = 2 (1 - exp(-lam1 c)(1 + lam1 c)) / lam1^2 and Lambda0 = lam1 t / hr
    p00 = (1.0 - e_surv2) / hr**2
    return p1 / hr, p1, p00


def one_sample_logrank_n(hr: float, median0: float, accrual: float, followup: float, alpha: float = 0.05,
                         power: float = 0.8, shape: float = 1.0, sides: int = 1) -> OneSampleLogRankDesign:
    """Sample size of the one-sample log-rank test against a historical survival curve.

    Formula of Wu (2015), "Sample size calculation for the one-sample log-rank test",
    Pharm Stat 14:26-33, based on the exact variance of the test statistic under the
    alternative (the test itself: Breslow 1975; Finkelstein, Muzikansky & Schoenfeld
    2003, J Natl Cancer Inst 95:1434-1439). The statistic is ``(O - E) / sqrt(E)``
    with O the observed events and E the sum of the historical cumulative hazard
    ``Lambda0`` over each patient's follow-up. Under H1 the hazard is ``hr`` times the
    historical one (proportional hazards)::

        n = (sqrt(p0) z_a + sigma z_b)^2 / (p1 - p0)^2,
        sigma^2 = p1 - p1^2 + 2 p00 - p0^2 - 2 p01 + 2 p0 p1,

    with ``p1 = E_H1[Delta]``, ``p0 = E_H1[Lambda0(X)] = p1 / hr``,
    ``p00 = E_H1[Lambda0(X)^2] / 2`` and ``p01 = E_H1[Delta Lambda0(X)] = hr p00``.

    Historical curve: Weibull with median ``median0`` and ``shape``
    (``S0(t) = exp(-log 2 (t / median0)^shape)``); ``shape = 1`` is exponential survival,
    handled in closed form. Patients enter uniformly over ``accrual`` and are followed
    ``followup`` more after the last entry (administrative censoring only), times in
    any consistent unit. ``sides = 1`` (default, the usual single-arm test of
    improvement) uses ``z_a = Phi^-1(1 - alpha)``. Wu's worked example (PBC data,
    ``median0 = 9``, ``shape = 1.22``, ``hr = 1/1.75``, accrual 5, follow-up 3, one-sided
    alpha 0.05, power 0.8) gives n = 88.
    """
    hr = _hazard_ratio(hr)
    median0 = _positive("median0", median0)
    accrual = _non_negative("accrual", accrual)
    followup = _non_negative("followup", followup)
    if accrual + followup <= 0.0:
        raise ValueError("accrual + followup must be > 0 (no follow-up time at all)")
    shape = _positive("shape", shape)
    alpha, power = _alpha_power(alpha, power)
    s = _sides(sides)
    za, zb = _z(alpha, power, s)
    if shape == 1.0:
        p0, p1, p00 = _wu_moments_exponential(hr, median0, accrual, followup)
    else:
        p0, p1, p00 = _wu_moments_quad(hr, median0, shape, accrual, followup)
    p01 = hr * p00
    var = p1 - p1**2 + 2.0 * p00 - p0**2 - 2.0 * p01 + 2.0 * p0 * p1
    sigma = math.sqrt(max(var, 0.0))
    n = _ceil((math.sqrt(p0) * za + sigma * zb) ** 2 / (p1 - p0) ** 2)
    return OneSampleLogRankDesign(n=n, events=n * p1, p_event=p1, p_null=p0, sigma=sigma, hr=hr, alpha=alpha,
                                  power=power, sides=s)
