"""The compiled weighted Kaplan-Meier / Aalen-Johansen (sim.stats.weighted) against the
readable reference (sim.stats.survival, sim.stats.incidence): unit weights give the
reference estimates, integer weights the estimates on the duplicated patients."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.stats.incidence import aalen_johansen
from sim.stats.survival import kaplan_meier, not_estimable_reason
from sim.stats.weighted import sorted_curve, statistics

LANDMARKS = np.array([50.0, 120.0, 400.0])
TAU = 300.0


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    time = np.round(rng.exponential(150.0, n), 0)  # rounding makes ties
    code = rng.choice(np.array([0, 1, 2], np.int8), n, p=[0.3, 0.5, 0.2])
    return time, code


def _reference(time: np.ndarray, code: np.ndarray) -> list[float]:
    km = kaplan_meier(time, code > 0)
    cif = [aalen_johansen(time, code, c) for c in (1, 2)]
    row = [math.nan if not_estimable_reason(km, t) else float(km.survival_at(t)) for t in LANDMARKS]
    row.append(km.median())
    rmst = km.restricted_mean(TAU)
    row.append(math.nan if rmst is None else rmst)
    for ci in cif:
        row += [math.nan if not_estimable_reason(ci, t) else float(ci.cif_at(t)) for t in LANDMARKS]
    return row


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unit_and_integer_weights_give_the_reference_estimates(seed: int) -> None:
    time, code = _data(seed, 300)
    counts = np.random.default_rng(seed + 10).integers(0, 3, (len(time), 4)).astype(np.uint8)
    counts[:, 0] = 1
    got = statistics(sorted_curve(np.arange(len(time)), time, code), counts, LANDMARKS, TAU)
    for r in range(counts.shape[1]):
        keep = np.repeat(np.arange(len(time)), counts[:, r])
        want = _reference(time[keep], code[keep])
        np.testing.assert_allclose(got[r], want, rtol=1e-12, atol=1e-12, equal_nan=True)
