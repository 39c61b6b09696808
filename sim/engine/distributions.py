"""Inverse-CDF samplers shared by both engines: each maps one uniform to one value.

Time-to-event families are parametrised by (median_days, shape) so that the median
keeps its meaning when the family changes (see ``sim.model.parameters.Family``).
Covariate effects are passed as hazard ratios ``hr``: for proportional-hazards
families (exponential, Weibull, Gompertz) they multiply the hazard; for the
accelerated-failure-time families (log-normal, log-logistic) a ratio ``hr`` divides
the time (an acceleration factor of 1/hr), so hr < 1 means later events in every
family. An effect may switch on at ``switch_days`` (e.g. at a transplant), which is
sampled exactly through the cumulative-hazard (PH) or the time (AFT) clock.
"""

from __future__ import annotations

import math

import numba as nb

from sim.model.parameters import LIFE_TABLE_MAX_AGE, Family

LN2 = math.log(2.0)
_INF = math.inf


@nb.njit(cache=True)
def ndtri(p: float) -> float:
    """Standard normal quantile, Wichura's AS 241 (PPND16), relative error ~1e-16."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                    + 67265.770927008700853) * r + 45921.953931549871457) * r
                  + 13731.693765509461125) * r + 1971.5909503065514427) * r
                + 133.14166789178437745) * r + 3.387132872796366608)
        den = (((((((5226.495278852545925 * r + 28729.085735721942674) * r
                    + 39307.89580009271061) * r + 21213.794301586595867) * r
                  + 5394.1960214247511077) * r + 687.1870074920579083) * r
                + 42.313330701600911252) * r + 1.0)
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    if r <= 0.0:
        return -_INF if q < 0.0 else _INF
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
                    + 0.24178072517745061177) * r + 1.27045825245236838258) * r
                  + 3.64784832476320460504) * r + 5.7694972214606914055) * r
                + 4.6303378461565452959) * r + 1.42343711074968357734)
        den = (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                    + 0.0151986665636164571966) * r + 0.14810397642748007459) * r
                  + 0.68976733498510000455) * r + 1.6763848301838038494) * r
                + 2.05319162663775882187) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 0.0012426609473880784386) * r + 0.026532189526576123093) * r
                  + 0.29656057182850489123) * r + 1.7848265399172913358) * r
                + 5.4637849111641143699) * r + 6.6579046435011037772)
        den = (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                    + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r
                  + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
                + 0.59983220655588793769) * r + 1.0)
    x = num / den
    return -x if q < 0.0 else x


@nb.njit(inline="always", cache=True)
def lognormal(median: float, sdlog: float, u: float) -> float:
    """Log-normal quantile at u; sdlog = 0 gives the median exactly."""
    if sdlog == 0.0:
        return median
    return median * math.exp(sdlog * ndtri(u))


@nb.njit(inline="always", cache=True)
def exponential_rate(rate: float, u: float) -> float:
    """Exponential quantile (survival form: S(t) = u) for a rate; rate 0 gives inf."""
    if rate <= 0.0:
        return _INF
    return -math.log(u) / rate


@nb.njit(inline="always", cache=True)
def categorical(probs_start: int, n: int, theta, u: float) -> int:
    """Index k of the first cumulative probability of theta[start:start+n] above u.
    If rounding leaves the total just below u, the last category with positive
    probability is chosen (never a category of probability 0)."""
    acc = 0.0
    for k in range(n):
        acc += theta[probs_start + k]
        if u < acc:
            return k
    for k in range(n - 1, -1, -1):
        if theta[probs_start + k] > 0.0:
            return k
    return n - 1


@nb.njit(inline="always", cache=True)
def logit_shift(p: float, odds_ratio: float) -> float:
    """Probability p with its odds multiplied by odds_ratio (exact at p = 0 or 1)."""
    if p <= 0.0 or p >= 1.0 or odds_ratio == 1.0:
        return p  # exact: a reference category must not move draws by rounding
    o = p / (1.0 - p) * odds_ratio
    return o / (1.0 + o)


@nb.njit(cache=True)
def cumulative_hazard(family: int, median: float, shape: float, t: float) -> float:
    """H(t) of a family given its median and shape (t and median in days)."""
    if t <= 0.0:
        return 0.0
    if t == _INF:
        return _INF
    if family == Family.EXPONENTIAL:
        return LN2 * t / median
    if family == Family.WEIBULL:
        return LN2 * (t / median) ** shape
    if family == Family.GOMPERTZ:
        # b chosen so that H(median) = ln 2
        return LN2 * math.expm1(shape * t) / math.expm1(shape * median)
    if family == Family.LOGNORMAL:
        z = (math.log(t) - math.log(median)) / shape
        s = 0.5 * math.erfc(z / math.sqrt(2.0))
        return -math.log(s) if s > 0.0 else _INF
    # log-logistic
    return math.log1p((t / median) ** shape)


@nb.njit(cache=True)
def inverse_cumulative_hazard(family: int, median: float, shape: float, h: float) -> float:
    """The time t with H(t) = h (inverse of cumulative_hazard)."""
    if h <= 0.0:
        return 0.0
    if h == _INF:
        return _INF
    if family == Family.EXPONENTIAL:
        return median * (h / LN2)  # exact median at h = ln 2
    if family == Family.WEIBULL:
        return median * (h / LN2) ** (1.0 / shape)
    if family == Family.GOMPERTZ:
        return math.log1p(h / LN2 * math.expm1(shape * median)) / shape
    if family == Family.LOGNORMAL:
        # S = exp(-h): t = median * exp(shape * ndtri(1 - S)) = median * exp(-shape * ndtri(S))
        return median * math.exp(-shape * ndtri(math.exp(-h)))
    return median * math.expm1(h) ** (1.0 / shape)


@nb.njit(cache=True)
def time_to_event(
    family: int,
    median: float,
    shape: float,
    hr_before: float,
    hr_after: float,
    switch_days: float,
    u: float,
) -> float:
    """Event time (days) from one uniform, with the effect hr_before until switch_days
    and hr_after from then on (switch_days = inf: hr_before throughout; 0: hr_after).
    """
    if family == Family.LOGNORMAL or family == Family.LOGLOGISTIC:
        t0 = inverse_cumulative_hazard(family, median, shape, -math.log(u))
        # AFT: the baseline clock runs at rate hr; find when it has run t0 days
        before = hr_before * switch_days if switch_days < _INF else _INF
        if t0 < before:
            return t0 / hr_before
        return switch_days + (t0 - before) / hr_after
    e = -math.log(u)
    h_switch = cumulative_hazard(family, median, shape, switch_days)
    before = hr_before * h_switch if h_switch < _INF else _INF
    if e < before:
        return inverse_cumulative_hazard(family, median, shape, e / hr_before)
    return inverse_cumulative_hazard(family, median, shape, h_switch + (e - before) / hr_after)


@nb.njit(cache=True)
def life_table_days(cumhaz, start: int, age_years: float, multiplier: float, u: float) -> float:
    """Days to death from age ``age_years`` under a life table's hazard times
    ``multiplier``. ``cumhaz[start + x]`` is the table's cumulative hazard at exact age x
    (x = 0..``LIFE_TABLE_MAX_AGE``), the hazard constant within each year of age and,
    after the last age, that of the last year."""
    n = LIFE_TABLE_MAX_AGE
    a = min(max(age_years, 0.0), float(n))
    k = min(int(a), n - 1)
    h0 = cumhaz[start + k] + (a - k) * (cumhaz[start + k + 1] - cumhaz[start + k])
    target = h0 - math.log(u) / multiplier
    if cumhaz[start + n] < target:  # beyond the table: the last year's hazard goes on
        last = cumhaz[start + n] - cumhaz[start + n - 1]
        return max(n + (target - cumhaz[start + n]) / last - a, 0.0) * 365.25
    # bisection for the year of death: cumhaz[lo] < target <= cumhaz[hi] (or lo = k)
    lo, hi = k, n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cumhaz[start + mid] < target:
            lo = mid
        else:
            hi = mid
    death_age = lo + (target - cumhaz[start + lo]) / (cumhaz[start + hi] - cumhaz[start + lo])
    return max(death_age - a, 0.0) * 365.25


@nb.njit(cache=True)
def defective_gompertz_by_landmark(p_by_landmark: float, landmark_days: float, halflife_days: float,
                                   hr: float, u: float) -> float:
    """Time (days) under the decaying hazard hr * a * exp(-c t), c = ln 2 / halflife_days,
    with P(T <= landmark_days) = p_by_landmark at hr = 1; inf for the share that never has
    the event (the cumulative hazard plateaus at hr * a / c)."""
    if p_by_landmark <= 0.0:
        return _INF
    if p_by_landmark >= 1.0:
        return 0.0
    c = LN2 / halflife_days
    # H(t) = (a / c)(1 - exp(-c t)); a / c from H(landmark) = -log(1 - p)
    plateau = -math.log1p(-p_by_landmark) / -math.expm1(-c * landmark_days)
    x = -math.log(u) / (hr * plateau)
    if x >= 1.0:
        return _INF
    return -math.log1p(-x) / c
