"""The compiled analysis of simulated trials: the follow-up cut-offs, the tests of every
design at every look, and the batched log-rank (:func:`logrank_many`)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.stats import cox as coxmod
from sim.stats import maxcombo, weighted
from sim.stats import proportions as props
from sim.trials.spec import (
    T_CHISQ,
    T_COX,
    T_COX_SCORE,
    T_FH,
    T_FISHER,
    T_LOGRANK,
    T_LOGRANK1,
    T_MAXCOMBO,
    T_RMST,
    T_YATES,
)


@nb.njit(cache=True)
def _p_value(z: float, sides: int, direction: int) -> float:
    """Normal p-value: two-sided, or one-sided in the favourable direction."""
    if not math.isfinite(z):
        return 1.0
    if sides == 2:
        return math.erfc(abs(z) / math.sqrt(2.0))
    return 0.5 * math.erfc(direction * z / math.sqrt(2.0))


@nb.njit(parallel=True, cache=True)
def logrank_many(time: np.ndarray, event: np.ndarray, group: np.ndarray, sides: int) -> tuple[np.ndarray, ...]:
    """The two-group log-rank test on every row of (K, n) arrays at once.

    Returns (chi2, z, p, o_minus_e, variance, events), each of length K; ``group`` 1
    marks arm B (z > 0: more events than expected in B; one-sided p = Phi(z)). A row
    without events has z = chi2 = 0 and p = 1."""
    K, n = time.shape
    chi2 = np.zeros(K)
    zs = np.zeros(K)
    ps = np.ones(K)
    oe = np.zeros(K)
    vs = np.zeros(K)
    ev = np.zeros(K, np.int64)
    for k in nb.prange(K):
        r0 = np.empty(n, np.int64)
        r1 = np.empty(n, np.int64)
        d0 = np.empty(n, np.int64)
        d1 = np.empty(n, np.int64)
        m = coxmod.event_table(time[k], event[k], group[k], n, r0, r1, d0, d1)
        o, v, e = coxmod.logrank_from_table(r0, r1, d0, d1, m)
        oe[k] = o
        vs[k] = v
        ev[k] = e
        if v > 0.0:
            z = o / math.sqrt(v)
            zs[k] = z
            chi2[k] = z * z
            ps[k] = _p_value(z, sides, -1)
    return chi2, zs, ps, oe, vs, ev


@nb.njit(cache=True)
def _cutoffs(t1: np.ndarray, t2: np.ndarray, entry: np.ndarray, dropout: np.ndarray, n: int, rule: int,
             fu_days: float, look_events: np.ndarray, look_fractions: np.ndarray, cal: np.ndarray, cut: np.ndarray,
             done: np.ndarray) -> bool:
    """Cut-off day of each look of one trial of size n; returns whether D was reached.
    Rate endpoints with interims (rule min_followup, ``look_fractions`` of the n
    patients): interim k falls on the day the ``ceil(f_k n)``-th patient enters the
    denominator (``t2``), if that comes before the final cut-off."""
    L = look_events.size
    if rule == 0:
        last = entry[n - 1] + fu_days
        if L > 1:
            for j in range(n):
                cal[j] = entry[j] + t2[j] if t2[j] <= dropout[j] else math.inf
            s = np.sort(cal[:n])
            for look in range(L - 1):
                d = max(1, math.ceil(look_fractions[look] * n - 1e-9))
                done[look] = s[d - 1] < last
                cut[look] = s[d - 1] if done[look] else last
        cut[L - 1] = last
        done[L - 1] = True
        return True
    if rule == 1:
        cut[0] = fu_days
        done[0] = True
        return True
    last = entry[n - 1] + fu_days
    for j in range(n):
        cal[j] = entry[j] + t1[j] if t1[j] <= dropout[j] else math.inf
    s = np.sort(cal[:n])
    reached = False
    for look in range(L):
        d = look_events[look]
        hit = d <= n and s[d - 1] <= last
        if look < L - 1:
            done[look] = hit
            cut[look] = s[d - 1] if hit else last
        else:
            done[look] = True
            cut[look] = s[d - 1] if hit else last
            reached = hit
    return reached


_KM = weighted.Layout(1)  # one landmark: the milestone (column offsets as compile-time constants)
_S, _GREENWOOD, _RMST, _RMST_VAR, _WIDTH = _KM.survival.start, _KM.greenwood.start, _KM.rmst, _KM.rmst_var, _KM.width


@nb.njit(cache=True)
def _km_contrast(time: np.ndarray, event: np.ndarray, group: np.ndarray, order: np.ndarray, m: int, rmst: bool,
                 t_days: float, ts: np.ndarray, cs: np.ndarray, arms: np.ndarray, pid: np.ndarray, out: np.ndarray
                 ) -> tuple[float, float]:
    """(z, B - A) of the restricted mean survival to ``t_days`` (``rmst``) or of the
    Kaplan-Meier survival at ``t_days``: both arms' curves in one sorted pass of the one
    compiled Kaplan-Meier (:func:`sim.stats.weighted.weighted_curves`, each arm a
    replicate whose weights are its membership; Greenwood variances). z is on the
    log-rank's scale (negative: B better) and 0 where either arm's value is not
    estimable (NaN: beyond the arm's follow-up) or the variance is 0. ``order`` sorts
    ``time[:m]`` ascending; ``ts``, ``cs``,
    ``arms`` (n, 2), ``pid`` (0 .. n - 1) and ``out`` (2, width) are work arrays."""
    na = 0
    for i in range(m):
        j = order[i]
        ts[i] = time[j]
        cs[i] = 1 if event[j] else 0
        b = 1 if group[j] == 1 else 0
        arms[i, 0] = 1 - b
        arms[i, 1] = b
        na += 1 - b
    if na == 0 or na == m:
        return 0.0, 0.0
    weighted.weighted_curves(ts[:m], cs[:m], pid[:m], arms[:m], 0, 2, np.array([t_days]), t_days, True, out)
    if rmst:
        xa, xb, va, vb = out[0, _RMST], out[1, _RMST], out[0, _RMST_VAR], out[1, _RMST_VAR]
    else:  # Var S = S^2 x Greenwood sum (Var log S)
        xa, xb = out[0, _S], out[1, _S]
        va, vb = xa * xa * out[0, _GREENWOOD], xb * xb * out[1, _GREENWOOD]
    if not (math.isfinite(xa) and math.isfinite(xb) and math.isfinite(va + vb)) or va + vb <= 0.0:
        return 0.0, xb - xa
    return (xa - xb) / math.sqrt(va + vb), xb - xa


@nb.njit(parallel=True, cache=True)
def _analyse(t1: np.ndarray, t2: np.ndarray, arm: np.ndarray, entry: np.ndarray, dropout: np.ndarray,
             sizes: np.ndarray, rule: int, fu_days: float, look_events: np.ndarray, look_fractions: np.ndarray,
             test: int, sides: int,
             direction: int, hazard0: float, p0: float, z_out: np.ndarray, p_out: np.ndarray, est: np.ndarray,
             aux: np.ndarray, oe_out: np.ndarray, var_out: np.ndarray, counts: np.ndarray, dur: np.ndarray,
             done_out: np.ndarray, reached: np.ndarray, fh_rho: np.ndarray, fh_gamma: np.ndarray,
             km_days: float, p_levels: np.ndarray, combo_cov: np.ndarray) -> None:
    """Every trial (rows) at every size (axis 1) and look (axis 2): censoring at the
    look's cut-off and at dropout, then the test. Outputs per (k, g, look): z, p,
    est (log HR for Cox, log OR for Fisher, rate difference or rate, O/E for logrank1),
    aux (Cox SE or score z; fh: its variance), log-rank O - E and variance (two-arm survival; logrank1:
    O - E and E), counts (events or numerator, patients or denominator, per arm A, B),
    duration (days), whether the look happened; reached[k, g]: D events reached. The
    fh test uses ``(fh_rho[0], fh_gamma[0])``, MaxCombo every pair; rmst and milestone
    the time ``km_days``; ``p_levels`` are the levels MaxCombo's p-values decide at.
    ``combo_cov`` (K, G, L, c, c), when its first axis has K rows: MaxCombo's covariance
    of its statistics at every look (its group-sequential boundaries)."""
    K, n_max = t1.shape
    L = look_events.size
    for k in nb.prange(K):
        time = np.empty(n_max)
        event = np.zeros(n_max, np.bool_)
        group = np.empty(n_max, np.int8)
        cal = np.empty(n_max)
        cut = np.empty(L)
        done = np.zeros(L, np.bool_)
        r0 = np.empty(n_max, np.int64)
        r1 = np.empty(n_max, np.int64)
        d0 = np.empty(n_max, np.int64)
        d1 = np.empty(n_max, np.int64)
        ts = np.empty(n_max)
        cs = np.empty(n_max, np.int8)
        arms = np.empty((n_max, 2), np.uint8)
        pid = np.arange(n_max)
        km_out = np.empty((2, _WIDTH))
        c_u = np.empty(fh_rho.size)
        c_cov = np.empty((fh_rho.size, fh_rho.size))
        for g in range(sizes.size):
            n = sizes[g]
            reached[k, g] = _cutoffs(t1[k], t2[k] if t2.shape[0] == K else t1[k], entry[k], dropout[k], n, rule,
                                     fu_days, look_events, look_fractions, cal, cut, done)
            for look in range(L):
                done_out[k, g, look] = done[look]
                if not done[look]:
                    continue
                cutoff = cut[look]
                dur[k, g, look] = cutoff - entry[k, 0]
                m = 0
                xa = 0
                na = 0
                xb = 0
                nb_ = 0
                exposure = 0.0
                for j in range(n):
                    if entry[k, j] > cutoff:
                        continue
                    c = min(dropout[k, j], cutoff - entry[k, j])
                    b = arm[k, j] == 1
                    if test <= T_COX_SCORE or test == T_LOGRANK1 or test >= T_FH:
                        # compared on the calendar scale, as the event-driven cut-off is found
                        ev = t1[k, j] <= dropout[k, j] and entry[k, j] + t1[k, j] <= cutoff
                        time[m] = t1[k, j] if ev else c
                        event[m] = ev
                        group[m] = arm[k, j]
                        exposure += time[m]
                        m += 1
                        hit = 1 if ev else 0
                        counted = 1
                    else:
                        counted = 1 if t2[k, j] <= dropout[k, j] and entry[k, j] + t2[k, j] <= cutoff else 0
                        hit = 1 if counted == 1 and t1[k, j] <= dropout[k, j] and entry[k, j] + t1[k, j] <= cutoff \
                            else 0
                    if b:
                        xb += hit
                        nb_ += counted
                    else:
                        xa += hit
                        na += counted
                counts[k, g, look, 0] = xa
                counts[k, g, look, 1] = na
                counts[k, g, look, 2] = xb
                counts[k, g, look, 3] = nb_
                z = 0.0
                p = 1.0
                if test <= T_COX_SCORE or test >= T_FH:
                    order = np.argsort(time[:m], kind="mergesort")  # one sort: event table and Kaplan-Meier
                    mm = coxmod.event_table_ordered(time, event, group, order, m, r0, r1, d0, d1)
                    o, v, _ = coxmod.logrank_from_table(r0, r1, d0, d1, mm)
                    oe_out[k, g, look] = o
                    var_out[k, g, look] = v
                    pc = 1.0
                    if test == T_FH:
                        u, w, _ = coxmod.weighted_logrank_from_table(r0, r1, d0, d1, mm, fh_rho[0], fh_gamma[0])
                        z = u / math.sqrt(w) if w > 0.0 else 0.0
                        est[k, g, look] = o / v if v > 0.0 else 0.0
                        aux[k, g, look] = w  # the weighted statistic's information (group-sequential looks)
                    elif test >= T_RMST:
                        z, diff = _km_contrast(time, event, group, order, m, test == T_RMST, km_days, ts, cs, arms,
                                               pid, km_out)
                        est[k, g, look] = diff
                    elif test == T_MAXCOMBO:
                        coxmod.fh_combo_from_table(r0, r1, d0, d1, mm, fh_rho, fh_gamma, c_u, c_cov)
                        z, pc = maxcombo.maxcombo_from_cov(c_u, c_cov, sides, direction, p_levels)
                        if combo_cov.shape[0] == K:
                            combo_cov[k, g, look] = c_cov
                        est[k, g, look] = o / v if v > 0.0 else 0.0
                    elif test == T_LOGRANK:
                        z = o / math.sqrt(v) if v > 0.0 else 0.0
                        est[k, g, look] = o / v if v > 0.0 else 0.0  # Peto log HR
                    else:
                        beta, se, wald, score, _ = coxmod.cox_fit(r0, r1, d0, d1, mm, coxmod.EFRON)
                        est[k, g, look] = beta
                        aux[k, g, look] = se if test == T_COX else wald
                        z = wald if test == T_COX else score
                    if test == T_MAXCOMBO:
                        p = pc
                    else:
                        p = _p_value(z, sides, direction) if z != 0.0 else 1.0
                elif test == T_LOGRANK1:
                    e_null = hazard0 * exposure
                    o = xb + xa
                    oe_out[k, g, look] = o - e_null
                    var_out[k, g, look] = e_null
                    est[k, g, look] = o / e_null if e_null > 0.0 else 0.0
                    if e_null > 0.0:
                        z = (o - e_null) / math.sqrt(e_null)
                        p = _p_value(z, sides, direction)
                elif test in (T_CHISQ, T_YATES):
                    z, p = props.chisq_test(xa, na, xb, nb_, test == T_YATES, direction, sides)
                    if na > 0 and nb_ > 0:
                        est[k, g, look] = xb / nb_ - xa / na
                elif test == T_FISHER:
                    lor, p = props.fisher_test(xa, na, xb, nb_, direction, sides)
                    est[k, g, look] = lor
                    z, _ = props.chisq_test(xa, na, xb, nb_, False, direction, sides)
                else:  # binomial / simon: single-arm rate; exact one-sided p
                    if nb_ > 0:
                        est[k, g, look] = xb / nb_
                        z = (xb - nb_ * p0) / math.sqrt(nb_ * p0 * (1.0 - p0))
                    p = props.binomial_test(xb, nb_, p0)
                z_out[k, g, look] = z
                p_out[k, g, look] = p


# --------------------------------------------------------------------------- #
# simulation
