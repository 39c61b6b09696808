"""Analytic trial designs: exact single-arm binomial designs and sample-size formulas.

Pure computation (numpy/scipy, no I/O). These are the "textbook answers" printed
beside the simulated power of DESIGN.md section 6 (trial planning).

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
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from scipy import integrate, stats

__all__ = [
    "ExactBinomialDesign",
    "OneSampleLogRankDesign",
    "SimonDesign",
    "SimonDesigns",
    "exact_binomial_design",
    "one_sample_logrank_n",
    "schoenfeld_events",
    "schoenfeld_n",
    "simon_characteristics",
    "simon_two_stage",
    "two_proportions_n",
]

FloatArray = NDArray[np.float64]

# Floating-point slack for "exact alpha <= nominal" and "exact power >= nominal".
_TOL = 1e-12
# Relative shrink before rounding a sample size up (see module docstring).
_CEIL_RTOL = 1e-12
# Largest n searched by the single-stage exact design before giving up.
_EXACT_N_LIMIT = 100_000
# Cells (n1 values x (n+1)^2) processed at once by the Simon enumeration.
_CHUNK_CELLS = 1_500_000


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
# Simon two-stage designs


@dataclass(frozen=True)
class SimonDesign:
    """A Simon two-stage design (Simon 1989, Control Clin Trials 10:1-10).

    Stage 1: treat ``n1``; stop (accept H0) if ``<= r1`` responses. Stage 2: treat
    ``n - n1`` more; reject H0 if ``> r`` responses among all ``n``. ``en0`` and
    ``pet0`` are the expected sample size and the probability of early termination
    under ``p0``; ``alpha`` and ``power`` are exact.
    """

    kind: str
    p0: float
    p1: float
    r1: int
    n1: int
    r: int
    n: int
    en0: float
    pet0: float
    alpha: float
    power: float
    nominal_alpha: float
    nominal_power: float

    @property
    def label(self) -> str:
        """``"r1/n1, r/n"``, the usual way of writing the design."""
        return f"{self.r1}/{self.n1}, {self.r}/{self.n}"


@dataclass(frozen=True)
class SimonDesigns:
    """Both Simon designs; ``nmax`` is the largest total size that was enumerated."""

    optimal: SimonDesign
    minimax: SimonDesign
    nmax: int


def simon_characteristics(r1: int, n1: int, r: int, n: int, p: float) -> tuple[float, float, float]:
    """(P(reject H0), P(early termination), expected sample size) of a Simon design at rate ``p``."""
    for name, v in (("r1", r1), ("n1", n1), ("r", r), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise ValueError(f"{name} must be an integer, got {v!r}")
    if not (1 <= n1 < n and 0 <= r1 <= n1 and r1 <= r <= n):
        raise ValueError(f"need 1 <= n1 < n, 0 <= r1 <= n1 and r1 <= r <= n; got r1={r1}, n1={n1}, r={r}, n={n}")
    p = _open_unit("p", p)
    x1 = np.arange(r1 + 1, n1 + 1)
    reject = float(np.sum(stats.binom.pmf(x1, n1, p) * stats.binom.sf(r - x1, n - n1, p)))
    pet = float(stats.binom.cdf(r1, n1, p))
    return reject, pet, n1 + (1.0 - pet) * (n - n1)


def _simon_candidates(p0: float, p1: float, alpha: float, power: float, nmax: int) -> FloatArray:
    """Every feasible (n, n1, r1, r, en0) with n <= nmax, r the smallest level-alpha value.

    For fixed (n, n1, r1) the expected size under p0 does not depend on r, and alpha
    and power both decrease in r, so the only r worth keeping is the smallest one
    with exact alpha <= nominal (it has the largest power). Two prunings that cannot
    lose a feasible design: the two-stage rejection region is contained in the
    single-stage one {X > r} and in {X1 > r1}, so power >= nominal needs
    ``P(X > r | n, p1) >= power`` and ``P(X1 > r1 | n1, p1) >= power``; r and r1 are
    only enumerated up to the largest values passing these bounds.
    """
    m = np.arange(nmax + 1)
    off = nmax + 1
    k = np.arange(-off, nmax + 1)  # sf table column j holds k = j - off
    pmf = {p: stats.binom.pmf(m[None, :], m[:, None], p) for p in (p0, p1)}
    sf = {}
    for p in (p0, p1):
        s = stats.binom.sf(k[None, :], m[:, None], p)
        s[:, k < 0] = 1.0
        sf[p] = np.nan_to_num(s, nan=0.0)
    cdf0 = stats.binom.cdf(m[None, :], m[:, None], p0)
    # largest r (resp. r1) with P(Bin(m, p1) > r) >= power, -1 if none
    ok1 = sf[p1][:, off:] >= power - _TOL
    rmax_tab = np.where(ok1.any(axis=1), ok1.shape[1] - 1 - ok1[:, ::-1].argmax(axis=1), -1)

    found: list[FloatArray] = []
    for n in range(2, nmax + 1):
        rp = int(rmax_tab[n])
        if rp < 0:
            continue
        chunk = max(1, _CHUNK_CELLS // ((min(n, rp + 2)) * (rp + 1)))
        for lo in range(1, n, chunk):
            n1 = np.arange(lo, min(n, lo + chunk))
            n2 = n - n1
            # stage-1 counts x1 = cap .. 1 (descending), row i giving r1 = x1 - 1; r1 never
            # needs to exceed min(n1 - 1, rp, rmax(n1)). Every x1 > cap exceeds every r <= rp,
            # so those rows add the constant P(X1 > cap) to each rejection probability.
            cap = int(min(n1[-1], rp + 1, rmax_tab[n1].max() + 1))
            if cap < 1:
                continue
            xs = np.arange(cap, 0, -1)
            rej = {}
            for p in (p0, p1):
                # stage-2 tail P(X2 > r - x1) for row i (x1 = cap - i): sf column off + r - cap + i
                win = sliding_window_view(sf[p][n2, off - cap: off + rp], rp + 1, axis=1)  # (n1, x1, r)
                acc = np.multiply(win.transpose(1, 0, 2), pmf[p][n1[None, :], xs[:, None]][:, :, None])
                acc[0] += sf[p][n1, off + cap][:, None]
                for row in range(1, cap):  # running sum over descending x1 (axis 0, contiguous rows)
                    acc[row] += acc[row - 1]
                rej[p] = acc.transpose(1, 0, 2)  # (n1, r1 row, r): P(reject) with r1 = xs[row] - 1
            r1 = xs - 1
            ok_alpha = rej[p0] <= alpha + _TOL
            has = ok_alpha.any(axis=2)
            first = ok_alpha.argmax(axis=2)  # smallest r with alpha <= nominal (r1 <= r below)
            pw = np.take_along_axis(rej[p1], first[:, :, None], axis=2)[:, :, 0]
            keep_r1 = (r1[None, :] < n1[:, None]) & (r1[None, :] <= rmax_tab[n1][:, None])
            feasible = has & keep_r1 & (pw >= power - _TOL)
            if not feasible.any():
                continue
            i, j = np.nonzero(feasible)
            n1_f = n1[i]
            r1_f = r1[j]
            r_f = np.maximum(first[i, j], r1_f)  # r < r1 gives the same rejection region as r = r1
            pet0 = cdf0[n1_f, r1_f]
            en0 = n1_f + (1.0 - pet0) * (n - n1_f)
            found.append(np.column_stack([np.full(i.size, n), n1_f, r1_f, r_f, en0]).astype(np.float64))
    if not found:
        return np.empty((0, 5))
    return np.concatenate(found)


def _pick(cands: FloatArray, primary: str) -> FloatArray:
    """Row of the optimal (min EN0) or minimax (min n, then EN0) design; remaining ties by n, n1, r1, r."""
    n, n1, r1, r, en0 = cands.T
    if primary == "minimax":
        keep = n == n.min()
        cands, n, n1, r1, r, en0 = cands[keep], n[keep], n1[keep], r1[keep], r[keep], en0[keep]
    best = en0.min()
    keep = en0 <= best * (1.0 + 1e-12)  # equal expected size up to rounding counts as a tie
    order = np.lexsort((r[keep], r1[keep], n1[keep], n[keep]))
    return cands[keep][order[0]]


def _simon_design(row: FloatArray, kind: str, p0: float, p1: float, alpha: float, power: float) -> SimonDesign:
    n, n1, r1, r = (int(v) for v in row[:4])
    a, pet0, en0 = simon_characteristics(r1, n1, r, n, p0)
    pw, _, _ = simon_characteristics(r1, n1, r, n, p1)
    return SimonDesign(kind=kind, p0=p0, p1=p1, r1=r1, n1=n1, r=r, n=n, en0=en0, pet0=pet0, alpha=a, power=pw,
                       nominal_alpha=alpha, nominal_power=power)


def simon_two_stage(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8,
                    nmax: int | None = None) -> SimonDesigns:
    """Simon's optimal and minimax two-stage designs by exhaustive enumeration.

    Enumerates every n in 2..nmax, n1 in 1..n-1, r1 in 0..n1-1 and r in r1..n (the
    binomial probabilities are vectorised over n1, r1 and r), keeping designs with
    exact alpha <= ``alpha`` and exact power >= ``power``.

    * optimal: minimum expected sample size under p0 (EN0);
    * minimax: minimum maximum size n, ties broken by EN0.

    Remaining ties are broken by smaller n, n1, r1, r, and for each (n, n1, r1) the
    smallest admissible r is used (see ``_simon_candidates`` for the bounds that prune
    r and r1 without losing a feasible design). ``nmax`` defaults to
    ``ceil(1.5 * n_exact) + 10`` where ``n_exact`` is the single-stage exact design's n.
    The work grows like ``nmax**4``: about 0.02 s for p0 = 0.1, p1 = 0.3 (nmax = 48),
    0.3 s for p0 = 0.5, p1 = 0.65 (nmax = 114), 3 s for p0 = 0.4, p1 = 0.5 (nmax = 247).
    """
    p0, p1 = _p0_p1(p0, p1)
    alpha, power = _alpha_power(alpha, power)
    if nmax is None:
        nmax = math.ceil(1.5 * exact_binomial_design(p0, p1, alpha, power).n) + 10
    elif isinstance(nmax, bool) or not isinstance(nmax, int | np.integer) or nmax < 2:
        raise ValueError(f"nmax must be an integer >= 2, got {nmax!r}")
    nmax = int(nmax)
    cands = _simon_candidates(p0, p1, alpha, power, nmax)
    if cands.shape[0] == 0:
        raise ValueError(f"no two-stage design with n <= nmax={nmax} reaches power {power:g}; increase nmax")
    return SimonDesigns(
        optimal=_simon_design(_pick(cands, "optimal"), "optimal", p0, p1, alpha, power),
        minimax=_simon_design(_pick(cands, "minimax"), "minimax", p0, p1, alpha, power),
        nmax=nmax,
    )


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
    hr = _hazard_ratio(hr)
    alpha, power = _alpha_power(alpha, power)
    k = _allocation(allocation)
    za, zb = _z(alpha, power, _sides(sides))
    return _ceil((za + zb) ** 2 / (k * (1.0 - k) * math.log(hr) ** 2))


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
