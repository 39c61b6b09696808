"""Tests for sim.stats.survival against lifelines, closed forms and hand values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test as ll_logrank_test
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times, restricted_mean_survival_time
from scipy import stats

from sim.stats import incidence as inc
from sim.stats import survival as sv

# Agreement with lifelines: both compute the same closed-form sums in float64,
# in a different order, so differences are rounding (~1e-15); 1e-10 leaves a
# wide margin while still catching any formula difference (those are >= 1e-4).
ATOL_LL = 1e-10


def _censored_sample(
    seed: int, n: int, censor_scale: float, decimals: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Exponential event times (scale 10 d) with exponential censoring; rounding makes ties."""
    rng = np.random.default_rng(seed)
    t_event = rng.exponential(10.0, n)
    t_cens = rng.exponential(censor_scale, n)
    t = np.minimum(t_event, t_cens)
    if decimals is not None:
        t = np.round(t, decimals)
    return t, t_event <= t_cens


def _ll_km(t: np.ndarray, e: np.ndarray, level: float = 0.95) -> KaplanMeierFitter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KaplanMeierFitter(alpha=1.0 - level).fit(t, e)


# (seed, n, censoring scale in days, rounding decimals): continuous, tied
# (rounded to whole days / 0.1 d), and heavy censoring (~85 % censored).
KM_CASES = [
    (1, 300, 30.0, None),
    (2, 400, 20.0, 0),
    (3, 250, 15.0, 1),
    (4, 500, 1.8, 0),
    (5, 60, 2.0, None),
]


# --------------------------------------------------------------------------- #
# Wilson
# --------------------------------------------------------------------------- #
def test_wilson_hand_value_6_of_8() -> None:
    low, high = sv.wilson_interval(6, 8)
    # Hand computation, second (quadratic-root) form of the Wilson interval:
    # (2 n p + z^2 -+ z sqrt(z^2 + 4 n p q)) / (2 (n + z^2)), z = 1.959964
    z = 1.959963984540054
    n, p = 8, 0.75
    root = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    exp_low = (2 * n * p + z * z - root) / (2 * (n + z * z))
    exp_high = (2 * n * p + z * z + root) / (2 * (n + z * z))
    # Two algebraically identical float expressions: rounding only.
    assert low == pytest.approx(exp_low, abs=1e-12)
    assert high == pytest.approx(exp_high, abs=1e-12)
    # Hand-computed reference to 4 decimals (6/8, 95 %): 0.4093 to 0.9285.
    assert (round(low, 4), round(high, 4)) == (0.4093, 0.9285)


@pytest.mark.parametrize(
    "x,n,level", [(0, 10, 0.95), (3, 17, 0.9), (17, 17, 0.99), (250, 1000, 0.95)]
)
def test_wilson_closed_form_and_edges(x: int, n: int, level: float) -> None:
    low, high = sv.wilson_interval(x, n, level)
    z = stats.norm.ppf(0.5 + level / 2)
    p = x / n
    root = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    # Same closed form, different algebra: rounding only.
    assert low == pytest.approx(
        max(0.0, (2 * n * p + z * z - root) / (2 * (n + z * z))), abs=1e-12
    )
    assert high == pytest.approx(
        min(1.0, (2 * n * p + z * z + root) / (2 * (n + z * z))), abs=1e-12
    )
    assert 0.0 <= low <= p <= high <= 1.0
    if x == 0:
        assert low == 0.0
    if x == n:
        assert high == 1.0


def test_wilson_empty_and_invalid() -> None:
    assert all(math.isnan(v) for v in sv.wilson_interval(0, 0))
    with pytest.raises(ValueError):
        sv.wilson_interval(5, 4)


# --------------------------------------------------------------------------- #
# Kaplan-Meier
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed,n,cscale,dec", KM_CASES)
@pytest.mark.parametrize("level", [0.95, 0.8])
def test_km_matches_lifelines(
    seed: int, n: int, cscale: float, dec: int | None, level: float
) -> None:
    t, e = _censored_sample(seed, n, cscale, dec)
    km = sv.kaplan_meier(t, e, level=level)
    ll = _ll_km(t, e, level)
    # lifelines prepends a time-0 row with S = 1; ours holds only observed times
    sf = ll.survival_function_.iloc[:, 0].reindex(km.time).to_numpy()
    ci = ll.confidence_interval_.reindex(km.time).to_numpy()
    np.testing.assert_allclose(km.survival, sf, rtol=0, atol=ATOL_LL)
    np.testing.assert_allclose(km.ci_low, ci[:, 0], rtol=0, atol=ATOL_LL)
    np.testing.assert_allclose(km.ci_high, ci[:, 1], rtol=0, atol=ATOL_LL)
    et = ll.event_table.reindex(km.time)
    np.testing.assert_array_equal(km.at_risk, et["at_risk"].to_numpy())
    np.testing.assert_array_equal(km.events, et["observed"].to_numpy())
    np.testing.assert_array_equal(km.censored, et["censored"].to_numpy())
    assert km.n == n
    # step evaluation at arbitrary times, including before/after the data: the same as
    # lifelines inside the data; past the maximum follow-up lifelines carries the last
    # value, we give no estimate (unless the curve reached 0)
    grid = np.concatenate(([0.0], np.linspace(0.0, t.max() * 1.5, 97), km.time[::7]))
    s = sv.survival_at(km, grid)
    ll_s = ll.survival_function_at_times(grid).to_numpy()
    inside = grid <= t.max()
    assert inside.sum() > 60 and (~inside).sum() > 20
    np.testing.assert_allclose(s[inside], ll_s[inside], rtol=0, atol=ATOL_LL)
    if km.reached_zero:
        np.testing.assert_array_equal(s[~inside], 0.0)
    else:
        assert np.isnan(s[~inside]).all()


@pytest.mark.parametrize("seed,n,cscale,dec", KM_CASES)
def test_median_and_median_ci_match_lifelines(
    seed: int, n: int, cscale: float, dec: int | None
) -> None:
    t, e = _censored_sample(seed, n, cscale, dec)
    km = sv.kaplan_meier(t, e)
    ll = _ll_km(t, e)
    # Medians are times picked from the data, so equality is exact (both use
    # "first time with S <= 0.5"). lifelines has no allowance for a curve that
    # is 0.5 up to rounding; no case here has such a value (checked below; the
    # exact-half case is tested separately).
    assert not np.any(np.abs(km.survival - 0.5) < 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert sv.median_survival(km) == ll.median_survival_time_
    ll_ci = median_survival_times(ll.confidence_interval_).to_numpy().ravel()
    assert sv.median_ci(km) == (ll_ci[0], ll_ci[1])
    assert km.median() == sv.median_survival(km)


@pytest.mark.parametrize("n", [6, 8, 10, 18])
def test_median_exact_half_and_never_reached(n: int) -> None:
    # n uncensored deaths at 1..n: S(n/2) = 0.5 exactly in real numbers, but
    # the float product is 0.5 + 1 or 2 ulps for n = 6, 8, 18 (lifelines then
    # reports n/2 + 1) and 0.5 - 1 ulp for n = 10; the median is n/2.
    km = sv.kaplan_meier(np.arange(1.0, n + 1.0), np.ones(n))
    assert sv.median_survival(km) == n / 2
    # The band is (1, 1) before the first death and reaches 0.5 later for the
    # upper limit than for the lower limit.
    lo, hi = sv.median_ci(km)
    assert lo <= n / 2 <= hi
    # heavy censoring: curve never reaches 0.5 -> inf
    km2 = sv.kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 0, 0])
    assert sv.median_survival(km2) == math.inf
    assert sv.median_ci(km2)[1] == math.inf


def test_km_no_censoring_equals_empirical_survival() -> None:
    rng = np.random.default_rng(11)
    t = np.round(rng.exponential(7.0, 500), 0)  # with ties
    km = sv.kaplan_meier(t, np.ones(t.size, dtype=bool))
    ecdf = np.searchsorted(np.sort(t), km.time, side="right") / t.size
    # Without censoring the KM product telescopes to 1 - ECDF; the float
    # product of ~30 factors differs from the ratio only by rounding.
    np.testing.assert_allclose(km.survival, 1.0 - ecdf, rtol=0, atol=1e-12)
    assert km.survival[-1] == 0.0  # everybody dead: exactly zero (log 0 = -inf)


def test_km_all_censored() -> None:
    t = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    km = sv.kaplan_meier(t, np.zeros(5, dtype=int))
    np.testing.assert_array_equal(km.time, [1.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(km.survival, 1.0)
    np.testing.assert_array_equal(km.ci_low, 1.0)
    np.testing.assert_array_equal(km.ci_high, 1.0)
    np.testing.assert_array_equal(km.at_risk, [5, 3, 2, 1])
    assert sv.median_survival(km) == math.inf
    assert sv.restricted_mean(km, 5.0) == 5.0
    assert sv.restricted_mean(km, 7.5) is None  # past the last time (5): unknown


def test_km_hand_example_and_step_function() -> None:
    # t = 1 (death), 2 (censored), 3 (death), 4 (death)
    km = sv.kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1])
    np.testing.assert_allclose(
        km.survival, [0.75, 0.75, 0.375, 0.0], rtol=0, atol=1e-15
    )
    # Greenwood sum: 1/(4*3), same, + 1/(2*1), and n == d at t = 4 contributes 0
    np.testing.assert_allclose(
        km.greenwood, [1 / 12, 1 / 12, 1 / 12 + 1 / 2, 1 / 12 + 1 / 2], rtol=1e-14
    )
    s = sv.survival_at(km, [0.0, 0.999, 1.0, 2.5, 3.0, 100.0, np.nan])
    # S is exp(sum of logs): exact values up to one ulp
    np.testing.assert_allclose(
        s[:-1], [1.0, 1.0, 0.75, 0.75, 0.375, 0.0], rtol=0, atol=1e-15
    )
    assert np.isnan(s[-1])
    lo, hi = sv.survival_ci_at(km, [0.5, 1.0])
    assert lo[0] == hi[0] == 1.0
    assert lo[1] == km.ci_low[0] and hi[1] == km.ci_high[0]
    assert lo[1] < 0.75 < hi[1]


def test_km_drops_nan_times_and_validates() -> None:
    t = np.array([2.0, np.nan, 5.0, 1.0, np.nan])
    e = np.array([1, 1, 0, 1, 0])
    km = sv.kaplan_meier(t, e)
    ref = sv.kaplan_meier(t[~np.isnan(t)], e[~np.isnan(t)])
    assert km.n == 3
    np.testing.assert_array_equal(km.survival, ref.survival)
    np.testing.assert_array_equal(km.time, ref.time)
    with pytest.raises(ValueError):
        sv.kaplan_meier([1.0, -2.0], [1, 1])
    with pytest.raises(ValueError):
        sv.kaplan_meier([1.0, 2.0], [1, 2])
    with pytest.raises(ValueError):
        sv.kaplan_meier([1.0, 2.0], [1])
    with pytest.raises(ValueError):
        km.survival[0] = 0.5  # arrays are read-only


# --------------------------------------------------------------------------- #
# restricted mean, landmarks
# --------------------------------------------------------------------------- #
def test_restricted_mean_hand_example() -> None:
    km = sv.kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1])
    # S = 1 on [0,1), 0.75 on [1,3), 0.375 on [3,4), 0 after 4
    assert sv.restricted_mean(km, 0.5) == pytest.approx(0.5, abs=1e-15)
    assert sv.restricted_mean(km, 1.0) == pytest.approx(1.0, abs=1e-15)
    assert sv.restricted_mean(km, 3.5) == pytest.approx(
        1 + 0.75 * 2 + 0.375 * 0.5, abs=1e-15
    )
    assert sv.restricted_mean(km, 10.0) == pytest.approx(
        1 + 0.75 * 2 + 0.375 * 1, abs=1e-15
    )
    assert sv.restricted_mean(km, 0.0) == 0.0


@pytest.mark.parametrize("seed,n,cscale,dec", KM_CASES[:3])
def test_restricted_mean_matches_lifelines(
    seed: int, n: int, cscale: float, dec: int | None
) -> None:
    t, e = _censored_sample(seed, n, cscale, dec)
    km = sv.kaplan_meier(t, e)
    ll = _ll_km(t, e)
    for tau in (0.3, 6.0, 12.0, float(np.median(t)), float(t.max())):
        # exact area of the same step function, summed in a different order
        assert sv.restricted_mean(km, tau) == pytest.approx(
            restricted_mean_survival_time(ll, t=tau), rel=1e-10
        )
    # past the data: lifelines extends the last value; we do only where S reached 0
    late = float(t.max()) + 5.0
    if km.reached_zero:
        assert sv.restricted_mean(km, late) == pytest.approx(
            restricted_mean_survival_time(ll, t=late), rel=1e-10
        )
    else:
        assert sv.restricted_mean(km, late) is None
        assert sv.not_estimable_reason(km, late) == (
            f"beyond the maximum follow-up of {t.max():.1f} d"
        )


def test_landmarks() -> None:
    t, e = _censored_sample(7, 300, 25.0, 0)
    t, e = np.append(t, t.max() + 1.0), np.append(e, False)  # the longest follow-up is censored
    km = sv.kaplan_meier(t, e)
    out = sv.landmarks(km, [6, 12, 24, 1e6])
    assert list(out) == [6.0, 12.0, 24.0, 1e6]
    for day, row in list(out.items())[:3]:
        assert row["survival"] == sv.survival_at(km, day)
        lo, hi = sv.survival_ci_at(km, day)
        assert (row["ci_low"], row["ci_high"]) == (lo, hi)
        assert row["at_risk"] == int(np.sum(t >= day))
        assert row["ci_low"] <= row["survival"] <= row["ci_high"]
        assert row["not_estimable"] is None
    assert not km.reached_zero
    assert out[1e6] == {"survival": None, "ci_low": None, "ci_high": None, "at_risk": 0,
                        "not_estimable": f"beyond the maximum follow-up of {t.max():.1f} d"}


# --------------------------------------------------------------------------- #
# no estimate beyond the data
# --------------------------------------------------------------------------- #
def test_no_estimate_beyond_the_maximum_follow_up() -> None:
    # deaths at 1 and 3, censored at 2 and 5: S = 0.75 on [1, 3), 0.375 on [3, 5]
    km = sv.kaplan_meier([1.0, 2.0, 3.0, 5.0], [1, 0, 1, 0])
    assert km.max_followup == 5.0 and not km.reached_zero
    s = sv.survival_at(km, [0.0, 4.9, 5.0, 5.0 + 1e-9, 100.0])
    np.testing.assert_allclose(s[:3], [1.0, 0.375, 0.375], rtol=0, atol=1e-15)
    assert np.isnan(s[3:]).all()  # the last time is still inside the data, just after it is not
    lo, hi = sv.survival_ci_at(km, [5.0, 6.0])
    assert np.isfinite([lo[0], hi[0]]).all() and np.isnan([lo[1], hi[1]]).all()
    assert sv.restricted_mean(km, 5.0) == pytest.approx(1 + 0.75 * 2 + 0.375 * 2, abs=1e-15)
    assert sv.restricted_mean(km, 5.5) is None
    assert sv.not_estimable_reason(km, 5.0) is None
    assert sv.not_estimable_reason(km, 5.5) == "beyond the maximum follow-up of 5.0 d"
    assert sv.median_survival(km) == 3.0  # reached: a time inside the data
    # the median "not reached" when the curve stays above 1/2 to the end of the data
    assert sv.median_survival(sv.kaplan_meier([1.0, 2.0, 3.0], [1, 0, 0])) == math.inf
    # empty: no observations
    empty = sv.kaplan_meier([np.nan], [1])
    assert sv.not_estimable_reason(empty, 1.0) == "no observations"
    assert sv.restricted_mean(empty, 1.0) is None


def test_a_curve_that_reached_zero_stays_estimable_at_zero() -> None:
    km = sv.kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1])
    assert km.reached_zero and km.max_followup == 4.0
    np.testing.assert_array_equal(sv.survival_at(km, [4.0, 10.0, 1e6]), 0.0)
    lo, hi = sv.survival_ci_at(km, [10.0])
    assert np.isfinite([lo[0], hi[0]]).all()
    assert sv.restricted_mean(km, 10.0) == pytest.approx(1 + 0.75 * 2 + 0.375, abs=1e-15)
    assert sv.landmarks(km, [10.0])[10.0]["survival"] == 0.0
    assert sv.not_estimable_reason(km, 1e6) is None


def test_cumulative_incidence_beyond_the_data() -> None:
    # relapse at 1, death in remission at 2, censored at 3, relapse at 4 (last: all-cause S = 0)
    ci = inc.aalen_johansen([1.0, 2.0, 3.0, 4.0], [1, 2, 0, 1], 1)
    assert ci.reached_zero and ci.max_followup == 4.0
    np.testing.assert_allclose(ci.cif_at([3.0, 4.0, 50.0]), [0.25, 0.75, 0.75], rtol=0, atol=1e-15)
    # the same data with the last patient censored: F is unknown after 4
    ci2 = inc.aalen_johansen([1.0, 2.0, 3.0, 4.0], [1, 2, 0, 0], 1)
    assert not ci2.reached_zero
    f = ci2.cif_at([4.0, 4.5])
    assert f[0] == pytest.approx(0.25, abs=1e-15) and np.isnan(f[1])
    assert sv.not_estimable_reason(ci2, 4.5) == "beyond the maximum follow-up of 4.0 d"
    # the competing cause of the same data follows the same rule
    assert np.isnan(inc.aalen_johansen([1.0, 2.0, 3.0, 4.0], [1, 2, 0, 0], 2).cif_at(5.0))


def test_beyond_data_is_one_compiled_rule_for_scalars_and_arrays() -> None:
    assert sv.beyond_data(5.1, 5.0, False) and not sv.beyond_data(5.0, 5.0, False)
    assert not sv.beyond_data(5.1, 5.0, True)
    np.testing.assert_array_equal(sv.beyond_data(np.array([4.0, 5.0, 6.0]), 5.0, False), [False, False, True])


# --------------------------------------------------------------------------- #
# log-rank
# --------------------------------------------------------------------------- #
def _groups_sample(
    seed: int, n: int, k: int, cscale: float, decimals: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, k, n)
    t_event = rng.exponential(10.0 * (1.0 + 0.25 * g), n)  # modest group effect
    t_cens = rng.exponential(cscale, n)
    t = np.minimum(t_event, t_cens)
    if decimals is not None:
        t = np.round(t, decimals)
    return t, t_event <= t_cens, g


# Statistic and p-value: same sums, different order and a pseudo-inverse;
# relative differences are ~1e-14, the required agreement is 1e-8.
RTOL_LR = 1e-8


@pytest.mark.parametrize(
    "seed,n,cscale,dec",
    [(21, 300, 30.0, None), (22, 400, 15.0, 0), (23, 500, 2.0, 0), (24, 40, 10.0, 1)],
)
def test_logrank_two_groups_matches_lifelines(
    seed: int, n: int, cscale: float, dec: int | None
) -> None:
    t, e, g = _groups_sample(seed, n, 2, cscale, dec)
    res = sv.logrank_test(t, e, g)
    a, b = g == 0, g == 1
    ll = ll_logrank_test(t[a], t[b], e[a], e[b])
    assert res.statistic == pytest.approx(ll.test_statistic, rel=RTOL_LR)
    assert res.p_value == pytest.approx(ll.p_value, rel=RTOL_LR)
    assert res.df == 1
    np.testing.assert_array_equal(res.observed, [e[a].sum(), e[b].sum()])
    # O - E sums to zero: exact identity up to rounding of ~n terms
    assert abs((res.observed - res.expected).sum()) < 1e-9
    # two-group statistic is (O1 - E1)^2 / V11 (rounding only)
    assert res.statistic == pytest.approx(
        (res.observed[0] - res.expected[0]) ** 2 / res.covariance[0, 0], rel=1e-12
    )


@pytest.mark.parametrize(
    "seed,n,cscale,dec,k",
    [
        (31, 300, 30.0, None, 3),
        (32, 450, 12.0, 0, 3),
        (33, 600, 2.5, 0, 3),
        (34, 400, 20.0, 1, 4),
    ],
)
def test_logrank_multi_group_matches_lifelines(
    seed: int, n: int, cscale: float, dec: int | None, k: int
) -> None:
    t, e, g = _groups_sample(seed, n, k, cscale, dec)
    labels = np.array(["arm-a", "arm-b", "arm-c", "arm-d"])[g]  # non-numeric labels
    res = sv.logrank_test(t, e, labels)
    ll = multivariate_logrank_test(t, labels, e)
    assert res.statistic == pytest.approx(ll.test_statistic, rel=RTOL_LR)
    assert res.p_value == pytest.approx(ll.p_value, rel=RTOL_LR)
    assert res.df == k - 1
    assert list(res.groups) == sorted(set(labels))


def test_logrank_identical_groups_and_errors() -> None:
    # Same data duplicated into two groups: O = E in every group, statistic 0.
    t, e = _censored_sample(41, 100, 20.0, 0)
    res = sv.logrank_test(np.tile(t, 2), np.tile(e, 2), np.repeat([0, 1], t.size))
    assert res.statistic == pytest.approx(0.0, abs=1e-20)
    assert res.p_value == pytest.approx(1.0)
    with pytest.raises(ValueError):
        sv.logrank_test(t, e, np.zeros(t.size))


# --------------------------------------------------------------------------- #
# Aalen-Johansen
# --------------------------------------------------------------------------- #
def _cr_sample(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Exponential competing risks (cause 1 rate 0.05/d, cause 2 0.03/d), censoring 0.02/d.

    Continuous times, so no ties (lifelines would jitter tied event times).
    """
    rng = np.random.default_rng(seed)
    t1 = rng.exponential(1 / 0.05, n)
    t2 = rng.exponential(1 / 0.03, n)
    tc = rng.exponential(1 / 0.02, n)
    t = np.minimum(np.minimum(t1, t2), tc)
    cause = np.where(t == tc, 0, np.where(t == t1, 1, 2))
    return t, cause


@pytest.mark.parametrize("seed,n,k", [(51, 300, 1), (52, 300, 2), (53, 80, 1)])
def test_aalen_johansen_matches_lifelines(seed: int, n: int, k: int) -> None:
    t, cause = _cr_sample(seed, n)
    assert np.unique(t).size == n  # no ties: lifelines does not jitter
    aj = inc.aalen_johansen(t, cause, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll = AalenJohansenFitter(calculate_variance=True).fit(
            t, cause, event_of_interest=k
        )
    idx = ll.cumulative_density_.index
    cif = ll.cumulative_density_.iloc[:, 0].reindex(aj.time).to_numpy()
    np.testing.assert_allclose(aj.cif, cif, rtol=0, atol=ATOL_LL)
    var = pd.Series(np.asarray(ll.variance_), index=idx).reindex(aj.time).to_numpy()
    ok = np.isfinite(var)  # lifelines gives NaN where n == d (we use 0 there)
    assert ok.sum() >= n - 1
    np.testing.assert_allclose(aj.variance[ok], var[ok], rtol=0, atol=ATOL_LL)
    # lifelines' two CI columns are labelled upper/lower the other way round;
    # compare min/max. Its band is NaN where F = 0 (ours is (0, 0)) and where
    # its variance is NaN (n == d, the last subject failing).
    band = ll.confidence_interval_.reindex(aj.time).to_numpy()
    ok = np.isfinite(band).all(axis=1)
    assert np.all(
        (aj.cif[~ok] == 0.0) | (aj.at_risk[~ok] == aj.events[~ok] + aj.competing[~ok])
    )
    np.testing.assert_allclose(
        aj.ci_low[ok], band[ok].min(axis=1), rtol=0, atol=ATOL_LL
    )
    np.testing.assert_allclose(
        aj.ci_high[ok], band[ok].max(axis=1), rtol=0, atol=ATOL_LL
    )
    assert np.all(aj.ci_low <= aj.cif) and np.all(aj.cif <= aj.ci_high)
    # step evaluation: lifelines' table read with "last time <= t" (pad)
    # (inside the data; past the maximum follow-up no estimate unless all-cause S is 0)
    grid = np.linspace(0.0, t.max() + 1.0, 50)
    ll_steps = ll.cumulative_density_.iloc[:, 0].reindex(grid, method="pad").to_numpy()
    inside = grid <= t.max()
    f = inc.cif_at(aj, grid)
    np.testing.assert_allclose(f[inside], ll_steps[inside], rtol=0, atol=ATOL_LL)
    if aj.reached_zero:
        np.testing.assert_allclose(f[~inside], ll_steps[~inside], rtol=0, atol=ATOL_LL)
    else:
        assert np.isnan(f[~inside]).all()


def test_aalen_johansen_identities_with_ties() -> None:
    # Tied times of different causes (rounded to whole days), handled exactly.
    t, cause = _cr_sample(61, 400)
    t = np.round(t, 0)
    km_all = sv.kaplan_meier(t, cause > 0)
    f1 = inc.aalen_johansen(t, cause, 1)
    f2 = inc.aalen_johansen(t, cause, 2)
    np.testing.assert_array_equal(f1.time, km_all.time)
    # sum of cause-specific CIFs = 1 - all-cause KM (telescoping sum; rounding only)
    np.testing.assert_allclose(
        f1.cif + f2.cif, 1.0 - km_all.survival, rtol=0, atol=1e-12
    )
    # a single cause (the other recoded as censored) gives 1 - KM of that cause
    single = np.where(cause == 2, 0, cause)
    np.testing.assert_allclose(
        inc.aalen_johansen(t, single, 1).cif,
        1.0 - sv.kaplan_meier(t, single == 1).survival,
        rtol=0,
        atol=1e-12,
    )
    # hand value at the first tied time: F1 = d1 / n
    first = f1.time[0]
    assert f1.cif[0] == pytest.approx(
        np.sum((t == first) & (cause == 1)) / t.size, abs=1e-15
    )
    assert inc.cif_at(f1, -1.0) == 0.0 and inc.cif_at(f1, t.max()) == f1.cif[-1]
    assert f1.reached_zero or np.isnan(inc.cif_at(f1, 1e9))


def test_aalen_johansen_large_sample_oracle() -> None:
    # Exponential competing risks: F1(t) = l1/(l1+l2) (1 - exp(-(l1+l2) t)).
    t, cause = _cr_sample(71, 20_000)
    aj = inc.aalen_johansen(t, cause, 1)
    for day in (10.0, 30.0):
        truth = 0.05 / 0.08 * (1 - math.exp(-0.08 * day))
        i = np.searchsorted(aj.time, day, side="right") - 1
        se = math.sqrt(aj.variance[i])
        # sampling error only: 4 standard errors (false-failure rate ~6e-5)
        assert abs(aj.cif[i] - truth) < 4 * se
        assert aj.ci_low[i] < aj.cif[i] < aj.ci_high[i]


# --------------------------------------------------------------------------- #
# scale
# --------------------------------------------------------------------------- #
def test_one_million_observations_vectorised() -> None:
    # Guards against accidental O(n^2) / Python loops: a million rows in well
    # under a second each; checks only structural identities.
    rng = np.random.default_rng(81)
    n = 1_000_000
    t_event = rng.exponential(10.0, n)
    t_cens = rng.exponential(20.0, n)
    t = np.minimum(t_event, t_cens)
    e = t_event <= t_cens
    g = rng.integers(0, 2, n)
    km = sv.kaplan_meier(t, e)
    assert km.at_risk[0] == n and km.events.sum() == e.sum()
    assert np.all(np.diff(km.survival) <= 0)
    res = sv.logrank_test(t, e, g)
    assert 0.0 <= res.p_value <= 1.0
    assert res.observed.sum() == e.sum()
