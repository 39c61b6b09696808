"""Simon's two-stage designs for a single-arm binary endpoint: the optimal design
(smallest expected size under H0) and the minimax design (smallest maximum size),
found by exact enumeration, with their operating characteristics. Conventions as in
:mod:`sim.trials.designs` (reject H0 if more than ``r`` responses)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from sim.trials.designs import _TOL, FloatArray, _alpha_power, _open_unit, _p0_p1, exact_binomial_design

__all__ = ["SimonDesign", "SimonDesigns", "simon_characteristics", "simon_two_stage"]

# Cells (n1 values x (n+1)^2) processed at once by the enumeration.
_CHUNK_CELLS = 1_500_000

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
