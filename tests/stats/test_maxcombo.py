"""Fleming-Harrington weighted log-rank and MaxCombo (sim.stats.maxcombo, extending the
one compiled log-rank of sim.stats.cox): FH(rho, 0) against R's survdiff(rho = ), the
closed-form correlation against an independent computation, the multivariate normal
integral against scipy, type I error under identical groups, and the trial analysis'
RMST and milestone contrasts against R's survfit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.stats import cox
from sim.stats import maxcombo as mc
from sim.trials import analyse


def _shared_data():
    """120 patients, 1:1, exponential times (HR 0.6) rounded to whole days (ties) and
    uniform censoring; written to CSV and analysed in R for the pinned values below."""
    rng = np.random.default_rng(20261125)
    n = 120
    g = (np.arange(n) % 2).astype(np.int8)
    t = np.round(rng.exponential(10.0, n) / np.where(g == 1, 0.6, 1.0), 0) + 1
    c = np.round(rng.uniform(5, 40, n), 0)
    return np.minimum(t, c), t <= c, g


# R 4.2.2, survival 3.5-3: s <- survdiff(Surv(time, event) ~ group, rho = r);
# (s$obs[2] - s$exp[2]) / sqrt(s$var[2, 2]) and s$chisq (90 events at 22 distinct times)
SURVDIFF = {0.0: (-2.828081016638, 7.998042236670), 0.5: (-2.647200051900, 7.007668114781),
            1.0: (-2.419221303764, 5.852631716586), 2.0: (-1.989061701345, 3.956366451759)}
# the same data: FH(0,0), (0,1), (1,0), (1,1) weights from survfit's pooled Kaplan-Meier
# just before each event time and the hypergeometric variance, computed by hand in R
R_CORR = np.array([[1.0, 0.822616375070, 0.944561955649, 0.905376443640],
                   [0.822616375070, 1.0, 0.590322912534, 0.934848635311],
                   [0.944561955649, 0.590322912534, 1.0, 0.745428555814],
                   [0.905376443640, 0.934848635311, 0.745428555814, 1.0]])
R_U = np.array([-12.454709291475, -4.949578799993, -7.505130491483, -2.435674845917])


@pytest.mark.parametrize("rho", sorted(SURVDIFF))
def test_fh_rho_zero_gamma_matches_survdiff(rho):
    time, event, group = _shared_data()
    assert event.sum() == 90
    z, _, _ = mc.fh_test(time, event, group, rho, 0.0)
    assert z == pytest.approx(SURVDIFF[rho][0], abs=1e-9)
    assert z * z == pytest.approx(SURVDIFF[rho][1], abs=1e-9)


def test_unweighted_is_the_log_rank():
    time, event, group = _shared_data()
    n = len(time)
    r0, r1, d0, d1 = (np.empty(n, np.int64) for _ in range(4))
    m = cox.event_table(time, event, group, n, r0, r1, d0, d1)
    assert cox.logrank_from_table(r0, r1, d0, d1, m) == cox.weighted_logrank_from_table(r0, r1, d0, d1, m, 0.0, 0.0)


def _numpy_fh(time, event, group, combo):
    """Plain numpy: risk sets by comparison, pooled KM just before each event time."""
    times = np.unique(time[event])
    surv = 1.0
    u = np.zeros(len(combo))
    w_all, v_all = [], []
    for t in times:
        at = time >= t
        r, r1 = at.sum(), (at & (group == 1)).sum()
        dd = (event & (time == t)).sum()
        d1 = (event & (time == t) & (group == 1)).sum()
        w = np.array([surv**rho * (1 - surv) ** gam for rho, gam in combo])
        u += w * (d1 - dd * r1 / r)
        w_all.append(w)
        v_all.append(dd * (r - r1) * r1 / r**2 * (r - dd) / (r - 1) if r > 1 else 0.0)
        surv *= 1 - dd / r
    w_all, v_all = np.array(w_all), np.array(v_all)
    cov = (w_all * v_all[:, None]).T @ w_all
    sd = np.sqrt(np.diag(cov))
    return u / sd, cov / np.outer(sd, sd), u


def test_correlation_closed_form():
    time, event, group = _shared_data()
    z, corr = mc.fh_correlation(time, event, group)
    np.testing.assert_allclose(corr, R_CORR, atol=1e-11)
    z_np, corr_np, u_np = _numpy_fh(time, event, group, mc.DEFAULT_COMBO)
    np.testing.assert_allclose(corr, corr_np, atol=1e-12)
    np.testing.assert_allclose(z, z_np, atol=1e-12)
    np.testing.assert_allclose(u_np, R_U, atol=1e-9)


def test_mvn_rectangle_against_scipy():
    # exact in one dimension; in four, within the stated 5e-4 of scipy's Genz-Bretz
    # integration run to 1e-8
    assert mc.mvn_rectangle(np.array([-1.0]), np.array([2.0]), np.eye(1)) == pytest.approx(
        stats.norm.cdf(2.0) - stats.norm.cdf(-1.0), abs=1e-14)
    rng = np.random.default_rng(4)
    for _ in range(6):
        a = rng.normal(size=(4, 6))
        cov = a @ a.T
        sd = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sd, sd)
        t = rng.uniform(1.5, 3.0)
        for lower in (np.full(4, -t), np.full(4, -np.inf)):
            ref = stats.multivariate_normal.cdf(np.full(4, t), cov=corr, lower_limit=lower, maxpts=4_000_000,
                                                abseps=1e-8, releps=0)
            assert abs(mc.mvn_rectangle(lower, np.full(4, t), corr) - ref) < 5e-4


def test_mvn_rectangle_singular_maxcombo_correlation():
    # the default four statistics have rank 3 (weight 1 - S = 1 - S): the singular
    # factor integrates over two lattice dimensions; against scipy's Genz-Bretz with
    # allow_singular, within 5e-4 on the full lattice and 2e-3 on the coarse one (the
    # COARSE_BAND of 5e-3 that decides refinement is 2.5x that)
    rng = np.random.default_rng(11)
    for rep in range(4):
        n = 300
        g = (np.arange(n) % 2).astype(np.int8)
        t = rng.exponential(1.0, n) * np.where(g == 1, 1.0 + 0.2 * rep, 1.0)
        c = rng.uniform(0.5, 3.0, n)
        _, corr = mc.fh_correlation(np.minimum(t, c), t <= c, g)
        assert np.linalg.eigvalsh(corr)[0] < 1e-12  # singular
        for tt in (1.8, 2.2, 2.6):
            for lower in (np.full(4, -tt), np.full(4, -np.inf)):
                ref = stats.multivariate_normal.cdf(np.full(4, tt), cov=corr, lower_limit=lower, maxpts=4_000_000,
                                                    abseps=1e-8, releps=0, allow_singular=True)
                assert abs(mc.mvn_rectangle(lower, np.full(4, tt), corr) - ref) < 5e-4
                assert abs(mc.mvn_rectangle(lower, np.full(4, tt), corr, mc.COARSE_POINTS) - ref) < 2e-3


def test_decision_levels_refine_near_the_level():
    time, event, group = _shared_data()
    r0, r1, d0, d1, m = mc._table(time, event, group)
    rho, gamma = np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0, 1.0])
    _, p_full = mc.maxcombo_from_table(r0, r1, d0, d1, m, rho, gamma, 2, -1, np.empty(0))
    # a level next to the p-value: the full integral; a level far away: the coarse one
    _, p_near = mc.maxcombo_from_table(r0, r1, d0, d1, m, rho, gamma, 2, -1, np.array([p_full + 1e-3]))
    _, p_far = mc.maxcombo_from_table(r0, r1, d0, d1, m, rho, gamma, 2, -1, np.array([0.5]))
    assert p_near == pytest.approx(p_full, abs=1e-13)
    assert p_far != p_full and abs(p_far - p_full) < 2e-3


def test_maxcombo_of_one_statistic_is_its_normal_test():
    time, event, group = _shared_data()
    z, p = mc.maxcombo_test(time, event, group, ((1.0, 0.0), (1.0, 0.0)), sides=2)
    assert z == pytest.approx(SURVDIFF[1.0][0], abs=1e-9)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), abs=5e-4)


@pytest.mark.parametrize("sides", [1, 2])
def test_type_one_error_under_identical_groups(sides):
    # 4,000 data sets of 150 identical exponential patients with uniform censoring:
    # MaxCombo (the four default statistics) and FH(0, 1) reject at 0.05 within 4 SE
    # (4 * sqrt(0.05 * 0.95 / 4000) = 0.014)
    k, n = 4000, 150
    rng = np.random.default_rng(77 + sides)
    rejects = np.zeros(2)
    group = (np.arange(n) % 2).astype(np.int8)
    for _ in range(k):
        t = rng.exponential(1.0, n)
        c = rng.uniform(0.5, 3.0, n)
        time, event = np.minimum(t, c), t <= c
        _, p = mc.maxcombo_test(time, event, group, sides=sides)
        z, _, _ = mc.fh_test(time, event, group, 0.0, 1.0)
        p_fh = 2 * stats.norm.sf(abs(z)) if sides == 2 else stats.norm.cdf(z)
        rejects += [p < 0.05, p_fh < 0.05]
    size = rejects / k
    assert np.all(np.abs(size - 0.05) < 4 * math.sqrt(0.05 * 0.95 / k)), size


# R 4.2.2, survival 3.5-3, on the shared data per group (the RMST and milestone contrasts of
# the compiled trial analysis, from the one compiled Kaplan-Meier):
# summary(survfit(...), rmean = 20)$table[c("rmean", "se(rmean)")] and
# summary(survfit(...), times = 15)[c("surv", "std.err")]
R_KM = {0: (8.780446650124, 0.775003024878, 0.200470497245, 0.054831726928),
        1: (12.207673422894, 0.921475785978, 0.425557854730, 0.066508198485)}


def test_rmst_and_milestone_contrasts_match_r():
    time, event, group = _shared_data()
    n = len(time)
    buf = (np.empty(n), np.empty(n, np.int8), np.empty((n, 2), np.uint8), np.arange(n),
           np.empty((2, analyse._WIDTH)))
    z, diff = analyse._km_contrast(time, event, group, np.argsort(time, kind="mergesort"), n, True, 20.0, *buf)
    (ra, sa, ma, qa), (rb, sb, mb, qb) = R_KM[0], R_KM[1]
    assert diff == pytest.approx(rb - ra, abs=1e-10)
    assert z == pytest.approx((ra - rb) / math.hypot(sa, sb), abs=1e-9)
    z, diff = analyse._km_contrast(time, event, group, np.argsort(time, kind="mergesort"), n, False, 15.0, *buf)
    assert diff == pytest.approx(mb - ma, abs=1e-10)
    assert z == pytest.approx((ma - mb) / math.hypot(qa, qb), abs=1e-9)
