"""Bayesian predictive-probability monitoring of a single-arm trial with a binary
endpoint (Lee & Liu 2008, "A predictive probability design for phase II cancer
clinical trials", Clinical Trials 5:93-106).

Response rate ``p`` with a Beta(a, b) prior. At the end (``n_max`` patients, ``x``
responses) the treatment is declared efficacious when the posterior
``Pr(p > p0 | x) > theta_t``; this holds exactly for ``x >= s`` (the posterior
probability rises with ``x``). At an interim look with ``x`` responses among ``n`` the
predictive probability of that success is

    PP(x, n) = sum_y Pr(Y = y | x, n) 1[x + y >= s],  Y ~ BetaBinomial(n_max - n, a + x, b + n - x),

and the trial stops for futility when ``PP < theta_l`` (and, if asked, for efficacy when
``PP > theta_u``). Looks: every ``cohort`` patients from ``min_n`` on (``cohort = 1``:
continuous monitoring, as Lee & Liu's example design after the first 10 patients).

Operating characteristics are exact: the distribution of the responses is carried from
look to look (binomial increments; the mass of stopped trials removed). The design
search (Lee & Liu's minimax criterion) finds the smallest ``n_max`` for which some
``(theta_l, theta_t)`` on the grid gives type I error (at p0) <= alpha and power (at
p1) >= the target; among those it takes the smallest expected size under p0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

THETA_T_GRID = tuple(round(0.80 + 0.01 * i, 2) for i in range(20))  # 0.80 ... 0.99
THETA_L_GRID = (0.001, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2)
NMAX_LIMIT = 300


def success_threshold(n_max: int, a: float, b: float, p0: float, theta_t: float) -> int:
    """Smallest final response count ``s`` with ``Pr(p > p0 | s of n_max) > theta_t``
    (``n_max + 1``: no count is enough)."""
    x = np.arange(n_max + 1)
    ok = np.flatnonzero(stats.beta.sf(p0, a + x, b + n_max - x) > theta_t)
    return int(ok[0]) if ok.size else n_max + 1


def predictive_probability(x: Any, n: int, n_max: int, a: float, b: float, p0: float, theta_t: float,
                           s: int | None = None) -> np.ndarray:
    """``PP(x, n)`` for response counts ``x`` among ``n`` patients (see the module
    docstring); ``s``: the final threshold if already known."""
    x = np.asarray(x)
    s = success_threshold(n_max, a, b, p0, theta_t) if s is None else s
    m = n_max - n
    return np.asarray(stats.betabinom.sf(s - x - 1, m, a + x, b + n - x), float)


@dataclass(frozen=True)
class Rules:
    """Stopping rules by response count: at look ``n = looks[i]`` stop for futility if
    ``x <= futility[i]`` (-1: never) and for efficacy if ``x >= efficacy[i]`` (n + 1:
    never); at ``n_max`` declare efficacy if ``x >= s``."""

    n_max: int
    looks: tuple[int, ...]
    futility: tuple[int, ...]
    efficacy: tuple[int, ...]
    s: int


def rules(n_max: int, a: float, b: float, p0: float, theta_t: float, theta_l: float, theta_u: float = 1.0,
          min_n: int = 10, cohort: int = 1) -> Rules:
    """The count boundaries of a design (PP rises with x, so each rule is a threshold)."""
    s = success_threshold(n_max, a, b, p0, theta_t)
    looks = tuple(range(min_n, n_max, cohort))
    fut, eff = [], []
    for n in looks:
        x = np.arange(n + 1)
        pp = predictive_probability(x, n, n_max, a, b, p0, theta_t, s)
        low = np.flatnonzero(pp < theta_l)
        high = np.flatnonzero(pp > theta_u) if theta_u < 1.0 else np.zeros(0, int)  # 1: no efficacy stop
        fut.append(int(low[-1]) if low.size else -1)
        eff.append(int(high[0]) if high.size else n + 1)
    return Rules(n_max, looks, tuple(fut), tuple(eff), s)


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Exact probabilities at a true rate ``p``: declare efficacy (``reject``, early or
    at the end), stop early for futility (``pet``) or efficacy, expected patients."""

    p: float
    reject: float
    pet: float
    early_efficacy: float
    expected_n: float

    def to_dict(self) -> dict[str, float]:
        return {"p": self.p, "reject": self.reject, "pet": self.pet, "early_efficacy": self.early_efficacy,
                "expected_n": self.expected_n}


def operating_characteristics(r: Rules, p: float) -> OperatingCharacteristics:
    """Exact operating characteristics of ``r`` at response rate ``p`` by carrying the
    distribution of the response count over the looks."""
    dist = np.zeros(r.n_max + 1)
    dist[0] = 1.0
    n_prev = 0
    pet = eff = en = 0.0
    for n, f, e in zip((*r.looks, r.n_max), (*r.futility, -1), (*r.efficacy, r.n_max + 1), strict=True):
        step = stats.binom.pmf(np.arange(n - n_prev + 1), n - n_prev, p)
        dist = np.convolve(dist, step)[: r.n_max + 1]
        n_prev = n
        if n == r.n_max:
            break
        stop_f = float(dist[: f + 1].sum()) if f >= 0 else 0.0
        stop_e = float(dist[e:].sum()) if e <= n else 0.0
        pet += stop_f
        eff += stop_e
        en += n * (stop_f + stop_e)
        if f >= 0:
            dist[: f + 1] = 0.0
        if e <= n:
            dist[e:] = 0.0
    rest = float(dist.sum())
    reject = eff + float(dist[r.s:].sum())
    return OperatingCharacteristics(p, reject, pet, eff, en + r.n_max * rest)


@dataclass(frozen=True)
class PredictiveDesign:
    """A searched predictive-probability design with its exact operating characteristics."""

    p0: float
    p1: float
    a: float
    b: float
    theta_t: float
    theta_l: float
    theta_u: float
    min_n: int
    cohort: int
    rules: Rules
    h0: OperatingCharacteristics
    h1: OperatingCharacteristics

    def to_dict(self) -> dict[str, Any]:
        r = self.rules
        return {"p0": self.p0, "p1": self.p1, "prior": [self.a, self.b], "theta_t": self.theta_t,
                "theta_l": self.theta_l, "theta_u": self.theta_u, "min_n": self.min_n, "cohort": self.cohort,
                "n_max": r.n_max, "success_threshold": r.s, "looks": list(r.looks),
                "futility_stop_if_at_most": list(r.futility), "efficacy_stop_if_at_least": list(r.efficacy),
                "exact_alpha": self.h0.reject, "exact_power": self.h1.reject, "h0": self.h0.to_dict(),
                "h1": self.h1.to_dict()}


def search(p0: float, p1: float, alpha: float = 0.1, power: float = 0.9, a: float | None = None,
           b: float | None = None, min_n: int = 10, cohort: int = 1, theta_u: float = 1.0,
           theta_t: tuple[float, ...] = THETA_T_GRID, theta_l: tuple[float, ...] = THETA_L_GRID,
           n_max_limit: int = NMAX_LIMIT) -> PredictiveDesign:
    """Lee & Liu's minimax search: the smallest ``n_max`` (> ``min_n``) with a design on
    the ``(theta_l, theta_t)`` grid meeting type I error ``alpha`` at ``p0`` and
    ``power`` at ``p1``; among those, the smallest expected size under p0 (then the
    larger power). The prior defaults to Beta(p0, 1 - p0) (mean p0, one patient's
    weight). Raises ValueError when no ``n_max <= n_max_limit`` works."""
    if not 0.0 < p0 < p1 < 1.0:
        raise ValueError(f"need 0 < p0 < p1 < 1, got p0={p0}, p1={p1}")
    a = p0 if a is None else a
    b = 1.0 - p0 if b is None else b
    for n_max in range(min_n + 1, n_max_limit + 1):
        best: tuple[float, float, Rules, OperatingCharacteristics, OperatingCharacteristics, float, float] | None
        best = None
        seen: dict[int, float] = {}
        for tt in theta_t:
            s = success_threshold(n_max, a, b, p0, tt)
            if s in seen:  # same final rule as a smaller theta_t: same design family
                continue
            seen[s] = tt
            if theta_u >= 1.0 and float(stats.binom.sf(s - 1, n_max, p1)) < power - 1e-12:
                continue  # without efficacy stops, futility stops can only lower the final rule's power
            for tl in theta_l:
                r = rules(n_max, a, b, p0, tt, tl, theta_u, min_n, cohort)
                h0 = operating_characteristics(r, p0)
                if h0.reject > alpha + 1e-12:
                    continue
                h1 = operating_characteristics(r, p1)
                if h1.reject < power - 1e-12:
                    continue
                key = (h0.expected_n, -h1.reject)
                if best is None or key < (best[0], best[1]):
                    best = (h0.expected_n, -h1.reject, r, h0, h1, tt, tl)
        if best is not None:
            _, _, r, h0, h1, tt, tl = best
            return PredictiveDesign(p0, p1, a, b, tt, tl, theta_u, min_n, cohort, r, h0, h1)
    raise ValueError(f"no predictive-probability design with n_max <= {n_max_limit} meets alpha {alpha} and "
                     f"power {power} for p0={p0}, p1={p1}")


def monitor(responses: np.ndarray, r: Rules) -> dict[str, np.ndarray]:
    """Apply the rules to simulated trials: ``responses`` (K, >= n_max) booleans, patient
    order = order of enrolment. Per trial: declared efficacious, stopped for futility
    early, patients used."""
    k = responses.shape[0]
    cum = np.cumsum(responses[:, : r.n_max], axis=1)
    going = np.ones(k, bool)
    reject = np.zeros(k, bool)
    futile = np.zeros(k, bool)
    used = np.full(k, r.n_max)
    for n, f, e in zip(r.looks, r.futility, r.efficacy, strict=True):
        x = cum[:, n - 1]
        stop_f = going & (x <= f)
        stop_e = going & (x >= e)
        futile |= stop_f
        reject |= stop_e
        used[stop_f | stop_e] = n
        going &= ~(stop_f | stop_e)
    reject |= going & (cum[:, -1] >= r.s)
    return {"reject": reject, "futility": futile, "n": used}


def summarise(out: dict[str, np.ndarray]) -> dict[str, float]:
    """Simulated operating characteristics with Monte Carlo SEs."""
    k = out["reject"].size
    p = float(out["reject"].mean())
    pet = float(out["futility"].mean())
    return {"reject": p, "reject_se": math.sqrt(p * (1.0 - p) / k), "pet": pet,
            "pet_se": math.sqrt(pet * (1.0 - pet) / k), "expected_n": float(out["n"].mean()),
            "expected_n_se": float(out["n"].std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan}


@dataclass(frozen=True)
class PredictiveOptions:
    """The ``[analysis]`` keys of the predictive test: prior (None: Beta(p0, 1 - p0)),
    the grids searched for theta_t and theta_l (one value: fixed), theta_u (1: no
    efficacy stop), the first look and the patients between looks."""

    prior: tuple[float, float] | None = None
    theta_t: tuple[float, ...] = THETA_T_GRID
    theta_l: tuple[float, ...] = THETA_L_GRID
    theta_u: float = 1.0
    min_n: int = 10
    cohort: int = 1

    def design(self, p0: float, p1: float, alpha: float, power: float) -> PredictiveDesign:
        a, b = self.prior if self.prior is not None else (None, None)
        return search(p0, p1, alpha, power, a, b, self.min_n, self.cohort, self.theta_u, self.theta_t,
                      self.theta_l)


OPTION_KEYS = ("prior", "theta_t", "theta_l", "theta_u", "min_n", "cohort")


def parse_options(an: dict[str, Any], file: str) -> PredictiveOptions:
    """The predictive test's options from the ``[analysis]`` table, each checked (one
    InputError naming the key)."""
    from sim.model.errors import InputError  # noqa: PLC0415 - parsing only
    from sim.model.limits import Limit, check_number  # noqa: PLC0415

    unit = Limit(0.0, 1.0, False, low_open=True, high_open=True)
    out: dict[str, Any] = {}
    if "prior" in an:
        prior = an["prior"]
        if not isinstance(prior, list) or len(prior) != 2:
            raise InputError(file, "analysis.prior", f"expected [a, b] of a Beta prior, got {prior!r}",
                             "two numbers > 0, e.g. [0.2, 0.8]")
        for v in prior:
            check_number(v, Limit(0.0, 1e6, False, low_open=True), file, "analysis.prior")
        out["prior"] = (float(prior[0]), float(prior[1]))
    for key in ("theta_t", "theta_l"):
        if key in an:
            raw = an[key] if isinstance(an[key], list) else [an[key]]
            if not raw:
                raise InputError(file, f"analysis.{key}", "empty list", "a probability in (0, 1) or a list of them")
            for v in raw:
                check_number(v, unit, file, f"analysis.{key}")
            out[key] = tuple(sorted(float(v) for v in raw))
    if "theta_u" in an:
        check_number(an["theta_u"], Limit(0.0, 1.0, False, low_open=True), file, "analysis.theta_u")
        out["theta_u"] = float(an["theta_u"])
    if "min_n" in an:
        check_number(an["min_n"], Limit(1, 10_000, True, "patients"), file, "analysis.min_n")
        out["min_n"] = int(an["min_n"])
    if "cohort" in an:
        check_number(an["cohort"], Limit(1, 10_000, True, "patients"), file, "analysis.cohort")
        out["cohort"] = int(an["cohort"])
    return PredictiveOptions(**out)
