"""The one compiled weighted Kaplan-Meier / Aalen-Johansen (sim.stats.weighted) against the
readable reference (sim.stats.survival, sim.stats.incidence): unit weights give the
reference estimates, integer weights the estimates on the duplicated patients, and the
plain, per-row and bootstrap entry points are the same estimator. Tolerance 1e-12: the
compiled product-limit step and the reference's sum of logs differ only by rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.stats.incidence import aalen_johansen
from sim.stats.survival import kaplan_meier, not_estimable_reason
from sim.stats.weighted import Layout, estimate, estimate_rows, order_by_time, sorted_curve, statistics

LANDMARKS = np.array([50.0, 120.0, 400.0])
TAU = 300.0
LAYOUT = Layout(len(LANDMARKS))


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    time = np.round(rng.exponential(150.0, n), 0)  # rounding makes ties
    code = rng.choice(np.array([0, 1, 2], np.int8), n, p=[0.3, 0.5, 0.2])
    return time, code


def _rmst_variance(km: object, tau: float) -> float:
    """sum over event times t_i < tau of A_i^2 d_i / (n_i (n_i - d_i)), A_i the area under
    the curve from t_i to tau: the textbook form, accumulated backwards."""
    t, s, d, n = km.time, km.survival, km.events, km.at_risk  # type: ignore[attr-defined]
    keep = (d > 0) & (t < tau)
    t, s, d, n = t[keep], s[keep], d[keep].astype(float), n[keep].astype(float)
    nxt = np.append(t[1:], tau)
    areas = np.cumsum((s * (nxt - t))[::-1])[::-1]
    g = np.where(d < n, d / (n * (n - d)), 0.0)
    return float(np.sum(areas**2 * g))


def _reference(time: np.ndarray, code: np.ndarray) -> list[float]:
    km = kaplan_meier(time, code > 0)
    cif = [aalen_johansen(time, code, c) for c in (1, 2)]
    beyond = [not_estimable_reason(km, t) is not None for t in LANDMARKS]
    row = [math.nan if b else float(km.survival_at(t)) for b, t in zip(beyond, LANDMARKS, strict=True)]
    idx = np.searchsorted(km.time, LANDMARKS, side="right") - 1
    row += [math.nan if b else (float(km.greenwood[i]) if i >= 0 else 0.0) for b, i in zip(beyond, idx, strict=True)]
    for ci in cif:
        row += [math.nan if not_estimable_reason(ci, t) else float(ci.cif_at(t)) for t in LANDMARKS]
    row.append(km.median())
    row += list(km.median_ci())
    rmst = km.restricted_mean(TAU)
    row += [math.nan, math.nan] if rmst is None else [rmst, _rmst_variance(km, TAU)]
    row += [km.max_followup, float(len(time)), float(np.sum(code > 0))]
    return row


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unit_and_integer_weights_give_the_reference_estimates(seed: int) -> None:
    time, code = _data(seed, 300)
    counts = np.random.default_rng(seed + 10).integers(0, 3, (len(time), 4)).astype(np.uint8)
    counts[:, 0] = 1
    got = statistics(sorted_curve(np.arange(len(time)), time, code), counts, LANDMARKS, TAU, variance=True)
    for r in range(counts.shape[1]):
        keep = np.repeat(np.arange(len(time)), counts[:, r])
        want = _reference(time[keep], code[keep])
        np.testing.assert_allclose(got[r], want, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_without_variance_the_variance_columns_are_nan_and_the_rest_unchanged() -> None:
    time, code = _data(4, 200)
    curve = sorted_curve(np.arange(len(time)), time, code)
    counts = np.ones((len(time), 1), np.uint8)
    full = statistics(curve, counts, LANDMARKS, TAU, variance=True)[0]
    quick = statistics(curve, counts, LANDMARKS, TAU)[0]
    var_cols = [*range(LAYOUT.greenwood.start, LAYOUT.greenwood.stop), LAYOUT.median_low, LAYOUT.median_high,
                LAYOUT.rmst_var]
    assert np.isnan(quick[var_cols]).all()
    rest = np.setdiff1d(np.arange(LAYOUT.width), var_cols)
    np.testing.assert_array_equal(quick[rest], full[rest])


@pytest.mark.parametrize("seed", [5, 6])
def test_plain_and_per_row_entry_points_are_the_unit_weight_estimates(seed: int) -> None:
    time, code = _data(seed, 240)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(time))  # the plain entry point sorts for itself
    plain = estimate(time[shuffled], code[shuffled], LANDMARKS, TAU)
    np.testing.assert_allclose(plain, _reference(time, code), rtol=1e-12, atol=1e-12, equal_nan=True)
    mask = rng.random((3, len(time))) < 0.5
    rows = estimate_rows(np.tile(time, (3, 1)), np.tile(code, (3, 1)), mask, LANDMARKS, TAU, True)
    for r in range(3):
        want = _reference(time[mask[r]], code[mask[r]])
        np.testing.assert_allclose(rows[r], want, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_an_empty_curve_has_no_estimate() -> None:
    out = estimate(np.empty(0), np.empty(0, np.int8), LANDMARKS, TAU)
    assert out[LAYOUT.n] == 0 and out[LAYOUT.events] == 0
    assert np.isnan(out[: LAYOUT.max_followup + 1]).all()


def test_a_curve_that_reaches_zero_keeps_its_values_past_the_data() -> None:
    time = np.array([10.0, 20.0, 30.0])
    out = estimate(time, np.ones(3, np.int8), LANDMARKS, TAU)
    assert out[LAYOUT.survival][-1] == 0.0  # 400 d is past the data, but the curve is final
    assert out[LAYOUT.median] == 20.0
    assert out[LAYOUT.rmst] == pytest.approx(10.0 + 2 / 3 * 10.0 + 1 / 3 * 10.0)


@pytest.mark.parametrize("n", [0, 1, 7, 49, 50, 1000, 20_000])
def test_bucket_order_sorts(n: int) -> None:
    rng = np.random.default_rng(n)
    time = np.round(rng.exponential(100.0, n), 1)
    if n > 3:
        time[:3] = [np.inf, 0.0, np.inf]
    order = order_by_time(time, n)
    assert sorted(order.tolist()) == list(range(n))
    np.testing.assert_array_equal(time[order], np.sort(time))


@pytest.mark.parametrize("exact_float32", [True, False])
def test_large_curves_sorted_bypacked_keys_give_the_same_estimates_bit_for_bit(exact_float32: bool) -> None:
    """Above PACKED_SORT_MIN, ``estimate`` sorts packed (time, code) keys; times from
    float32 records take that path, other doubles fall back to the bucket sort: either
    way the row equals the bucket-sort path exactly (ties included)."""
    from sim.stats.weighted import PACKED_SORT_MIN, estimate_into, pack

    rng = np.random.default_rng(11)
    n = PACKED_SORT_MIN + 1_234
    t32 = np.round(rng.exponential(150.0, n), 1).astype(np.float32)  # many ties
    origin = rng.uniform(20.0, 60.0, n).astype(np.float32)
    time = np.float64(t32) + np.float64(origin) - np.float64(origin)  # a record difference, as curves compute
    if not exact_float32:
        time = time + rng.uniform(0.0, 1e-6, n)  # full 52-bit mantissas: the fallback
    code = rng.choice(np.array([0, 1, 2], np.int8), n, p=[0.3, 0.5, 0.2])
    assert pack(time, code, np.empty(n, np.int64)) is exact_float32
    fast = estimate(time, code, LANDMARKS, TAU)
    slow = np.empty_like(fast)
    estimate_into(time, code, n, LANDMARKS, TAU, True, slow)
    assert np.array_equal(fast, slow, equal_nan=True)
