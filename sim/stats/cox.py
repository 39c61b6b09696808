"""Two-group survival statistics from an event table, compiled for many trials at once.

One sorted pass over a trial's (time, event, group) gives its *event table*: for each
distinct event time, the numbers at risk and the deaths in group A (0) and B (1).
The log-rank test and the Cox proportional-hazards model with one binary covariate
(B vs A) are both functions of that table alone, so one pass serves both.

Cox model, covariate x = 1 for group B, coefficient beta = log hazard ratio B/A
-------------------------------------------------------------------------------
At an event time with ``r0, r1`` at risk, ``d0, d1`` deaths, ``d = d0 + d1`` and
``e = exp(beta)``: ``S0 = r0 + r1 e``, ``S1 = r1 e`` and the tied deaths' own risk
``D0 = d0 + d1 e``, ``D1 = d1 e``. With ``f_l = l / d`` (Efron) or ``f_l = 0`` (Breslow)
for ``l = 0 .. d-1``, ``a0 = S0 - f_l D0`` and ``a1 = S1 - f_l D1``:

    log L  += d1 beta - sum_l log a0
    score  += d1 - sum_l a1 / a0
    info   += sum_l (a1 / a0) (1 - a1 / a0)        (x^2 = x for a binary covariate)

The MLE is found by Newton-Raphson from beta = 0 with step halving when the partial
log-likelihood falls; it stops when the step is below 1e-12 (Newton's quadratic
convergence then leaves beta exact to rounding). The Wald statistic is
``z = beta / SE`` with ``SE = 1 / sqrt(info(beta_hat))`` (observed information, as
lifelines and R's ``coxph`` report it); the 95% CI is ``exp(beta +- 1.96 SE)``. The
score test is ``U(0) / sqrt(I(0))`` (with Breslow ties it is the log-rank test without
the hypergeometric tie factor; without ties it equals the log-rank test exactly).

When every event falls in one group (or there is no event) the likelihood is
monotone and the MLE is infinite: ``converged`` is false, beta and SE are +-inf/inf and
the Wald z is set to 0 (such a trial never rejects by the Wald test; the score test is
still defined when there are events).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

EFRON = 1
BRESLOW = 0
MAX_ITER = 60
STEP_TOL = 1e-12
BETA_LIMIT = 30.0  # |log HR| beyond this is treated as a diverging (monotone) likelihood


@nb.njit(cache=True)
def event_table(time: np.ndarray, event: np.ndarray, group: np.ndarray, n: int, r0: np.ndarray, r1: np.ndarray,
                d0: np.ndarray, d1: np.ndarray) -> int:
    """Fill the event table of the first ``n`` entries (group 1 = B) into the output
    arrays (each of length >= number of distinct event times); returns its length."""
    return event_table_ordered(time, event, group, np.argsort(time[:n], kind="mergesort"), n, r0, r1, d0, d1)


@nb.njit(cache=True)
def event_table_ordered(time: np.ndarray, event: np.ndarray, group: np.ndarray, order: np.ndarray, n: int,
                        r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray) -> int:
    """:func:`event_table` with the entries' time order given (``order`` sorts
    ``time[:n]`` ascending), for callers that need the order as well."""
    at_a = 0
    at_b = 0
    for j in range(n):
        if group[j] == 1:
            at_b += 1
        else:
            at_a += 1
    m = 0
    i = 0
    while i < n:
        t = time[order[i]]
        da = 0
        db = 0
        ra = 0
        rb = 0
        while i < n and time[order[i]] == t:
            p = order[i]
            if group[p] == 1:
                rb += 1
                if event[p]:
                    db += 1
            else:
                ra += 1
                if event[p]:
                    da += 1
            i += 1
        if da + db > 0:
            r0[m] = at_a
            r1[m] = at_b
            d0[m] = da
            d1[m] = db
            m += 1
        at_a -= ra
        at_b -= rb
    return m


@nb.njit(cache=True)
def logrank_from_table(r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray,
                       m: int) -> tuple[float, float, int]:
    """(O_B - E_B, Mantel-Haenszel variance with the (r - d)/(r - 1) tie factor, events):
    the unweighted case of :func:`weighted_logrank_from_table`."""
    return weighted_logrank_from_table(r0, r1, d0, d1, m, 0.0, 0.0)


@nb.njit(cache=True)
def _power(x: float, a: float) -> float:
    """x ** a, with the usual integer exponents of Fleming-Harrington weights (0, 1, 2)
    done without ``pow`` (several times its cost over thousands of event times)."""
    if a == 0.0:
        return 1.0
    if a == 1.0:
        return x
    if a == 2.0:
        return x * x
    return x**a


@nb.njit(cache=True)
def weighted_logrank_from_table(r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray, m: int,
                                rho: float, gamma: float) -> tuple[float, float, int]:
    """Fleming-Harrington G(rho, gamma) weighted log-rank: (sum w (O_B - E_B), sum w^2 V,
    events) with ``w = S(t-)^rho (1 - S(t-))^gamma``, ``S(t-)`` the pooled Kaplan-Meier
    just before the event time (Harrington & Fleming 1982, Biometrika 69:553-566; R's
    ``survdiff(rho = )`` is G(rho, 0)); rho = gamma = 0 is the log-rank test."""
    o_minus_e = 0.0
    var = 0.0
    events = 0
    surv = 1.0  # pooled S(t-) at the current event time
    for j in range(m):
        d = d0[j] + d1[j]
        at = r0[j] + r1[j]
        w = _power(surv, rho) * _power(1.0 - surv, gamma)
        o_minus_e += w * (d1[j] - d * r1[j] / at)
        if at > 1:
            var += w * w * d * (r0[j] * r1[j] / (at * at)) * (at - d) / (at - 1.0)
        events += d
        surv *= 1.0 - d / at
    return o_minus_e, var, events


@nb.njit(cache=True)
def fh_combo_from_table(r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray, m: int, rho: np.ndarray,
                        gamma: np.ndarray, u: np.ndarray, cov: np.ndarray) -> None:
    """Several G(rho_k, gamma_k) statistics in one pass: ``u[k]`` their weighted O - E,
    ``cov[k, l]`` their null covariance ``sum w_k w_l V`` (the closed form of the
    correlation used by MaxCombo: ``cov[k, l] / sqrt(cov[k, k] cov[l, l])``)."""
    c = rho.size
    w = np.empty(c)
    u[:] = 0.0
    cov[:, :] = 0.0
    surv = 1.0
    for j in range(m):
        d = d0[j] + d1[j]
        at = r0[j] + r1[j]
        for k in range(c):
            w[k] = _power(surv, rho[k]) * _power(1.0 - surv, gamma[k])
            u[k] += w[k] * (d1[j] - d * r1[j] / at)
        if at > 1:
            v = d * (r0[j] * r1[j] / (at * at)) * (at - d) / (at - 1.0)
            for k in range(c):
                for q in range(c):
                    cov[k, q] += w[k] * w[q] * v
        surv *= 1.0 - d / at


@nb.njit(cache=True)
def cox_loglik(beta: float, r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray, m: int,
               ties: int) -> tuple[float, float, float]:
    """(partial log-likelihood, score, observed information) at ``beta``."""
    e = math.exp(beta)
    ll = 0.0
    score = 0.0
    info = 0.0
    for j in range(m):
        d = d0[j] + d1[j]
        s0 = r0[j] + r1[j] * e
        s1 = r1[j] * e
        tie0 = d0[j] + d1[j] * e
        tie1 = d1[j] * e
        ll += d1[j] * beta
        score += d1[j]
        for k in range(d):
            f = k / d if ties == EFRON else 0.0
            a0 = s0 - f * tie0
            a1 = s1 - f * tie1
            q = a1 / a0
            ll -= math.log(a0)
            score -= q
            info += q * (1.0 - q)
    return ll, score, info


@nb.njit(cache=True)
def cox_fit(r0: np.ndarray, r1: np.ndarray, d0: np.ndarray, d1: np.ndarray, m: int,
            ties: int) -> tuple[float, float, float, float, bool]:
    """(beta, SE, Wald z, score-test z, converged) of the two-group Cox model."""
    events_a = 0
    events_b = 0
    for j in range(m):
        events_a += d0[j]
        events_b += d1[j]
    _, u0, i0 = cox_loglik(0.0, r0, r1, d0, d1, m, ties)
    z_score = u0 / math.sqrt(i0) if i0 > 0.0 else 0.0
    if events_a == 0 or events_b == 0:  # monotone likelihood: the MLE is infinite
        if events_a + events_b == 0:
            return 0.0, math.inf, 0.0, 0.0, False
        return (math.inf if events_a == 0 else -math.inf), math.inf, 0.0, z_score, False
    beta = 0.0
    ll, u, info = cox_loglik(beta, r0, r1, d0, d1, m, ties)
    converged = False
    for _ in range(MAX_ITER):
        if not info > 0.0 or abs(beta) > BETA_LIMIT:  # flat or diverging: no finite MLE found
            break
        step = u / info
        new = beta + step
        ll_new, u_new, info_new = cox_loglik(new, r0, r1, d0, d1, m, ties)
        halvings = 0
        while ll_new < ll - 1e-12 * abs(ll) and halvings < 30:  # the log-likelihood is concave: halve
            step *= 0.5
            new = beta + step
            ll_new, u_new, info_new = cox_loglik(new, r0, r1, d0, d1, m, ties)
            halvings += 1
        beta, ll, u, info = new, ll_new, u_new, info_new
        if abs(step) < STEP_TOL * max(1.0, abs(beta)):
            converged = True
            break
    if not converged:
        return beta, math.inf, 0.0, z_score, False
    se = 1.0 / math.sqrt(info)
    return beta, se, beta / se, z_score, True


@nb.njit(parallel=True, cache=True)
def cox_many(time: np.ndarray, event: np.ndarray, group: np.ndarray, ties: int) -> tuple[np.ndarray, ...]:
    """The two-group Cox model on every row of (K, n) arrays at once.

    Returns (beta, se, wald_z, score_z, converged), each of length K (group 1 = B;
    beta = log hazard ratio of B against A)."""
    K, n = time.shape
    beta = np.zeros(K)
    se = np.zeros(K)
    wald = np.zeros(K)
    score = np.zeros(K)
    conv = np.zeros(K, np.bool_)
    for k in nb.prange(K):
        r0 = np.empty(n, np.int64)
        r1 = np.empty(n, np.int64)
        d0 = np.empty(n, np.int64)
        d1 = np.empty(n, np.int64)
        m = event_table(time[k], event[k], group[k], n, r0, r1, d0, d1)
        b, s, z, zs, c = cox_fit(r0, r1, d0, d1, m, ties)
        beta[k] = b
        se[k] = s
        wald[k] = z
        score[k] = zs
        conv[k] = c
    return beta, se, wald, score, conv
