"""The endpoint table (sim.model.endpoints) and the values derived from it.

The run summary and the comparison are pinned (``pinned_endpoint_values.json``): the
values computed before the features were derived from the table, by the code of that
time, with exactly the calls below (the ``file`` paths and the timings left out). The
derivation must change no number, no key and no label of either. Since every curve is
estimated by the one compiled estimator (:mod:`sim.stats.weighted`: a product-limit step
where the numpy reference sums logs), numbers may differ from the pinned ones by rounding:
:func:`assert_same` allows 1e-10 relative. Estimates move by ~1e-15; a ratio of variances of
paired differences (compare's variance reduction) amplifies that to ~2e-12; a modelling
change moves them by far more than 1e-10.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim import api
from sim.io.files import json_safe
from sim.model.endpoints import CURVES, ENDPOINT_BY_NAME, ENDPOINTS, POPULATIONS, SUMMARY_RATES, summary_value
from sim.outcomes.sets import OUTCOME_NAMES, simulate_sets
from sim.outcomes.sets import OUTCOMES as SWEEP_OUTCOMES
from sim.whatif.estimators import OUTCOMES as COMPARED

ROUNDING = 1e-10  # the compiled and the reference estimators differ only by rounding (docstring)


def assert_same(now: object, pinned: object, where: str = "") -> None:
    """Equal keys, labels and counts; floats equal to :data:`ROUNDING` relative."""
    if isinstance(pinned, dict):
        assert isinstance(now, dict) and now.keys() == pinned.keys(), where
        for k in pinned:
            assert_same(now[k], pinned[k], f"{where}.{k}")
    elif isinstance(pinned, list):
        assert isinstance(now, list) and len(now) == len(pinned), where
        for j, (a, b) in enumerate(zip(now, pinned, strict=True)):
            assert_same(a, b, f"{where}[{j}]")
    elif isinstance(pinned, float) and isinstance(now, float):
        assert abs(now - pinned) <= ROUNDING * max(1.0, abs(pinned)), (where, now, pinned)
    else:
        assert now == pinned and type(now) is type(pinned), (where, now, pinned)


PINNED = json.loads((Path(__file__).with_name("pinned_endpoint_values.json")).read_text())


def test_one_name_one_label_per_quantity() -> None:
    assert len(ENDPOINT_BY_NAME) == len(ENDPOINTS)
    assert len({e.label for e in ENDPOINTS}) == len(ENDPOINTS)
    for e in ENDPOINTS:
        assert e.population in POPULATIONS, e.name
        if e.kind in ("rate", "mean"):
            assert e.value is not None and not e.curve, e.name
            assert e.method in ("delta", ""), e.name
        else:
            assert e.value is None and e.curve in CURVES and e.method in ("bootstrap", ""), e.name
            assert CURVES[e.curve].population == e.population, e.name
            assert (e.months > 0) == (e.kind in ("landmark", "rmst", "incidence")), e.name
    # the features report endpoints of the table, by the table's objects
    assert all(o is ENDPOINT_BY_NAME[o.name] for o in (*COMPARED, *SWEEP_OUTCOMES))
    assert {e.name for e in SUMMARY_RATES} == set(PINNED["run"]["rates"])


def test_every_summary_key_points_at_a_number_of_the_run_summary() -> None:
    s = PINNED["run"]
    for e in ENDPOINTS:
        if e.summary_key:
            assert isinstance(summary_value(s, e.name), float), e.name


def test_ratio_definitions_reproduce_the_summary_counts() -> None:
    run = api.run("baseline", patients=3000, seed=4)
    for e in SUMMARY_RATES:
        y, x = e.ratio_data(run.patients)
        r = run.summary["rates"][e.name]
        assert (int(y.sum()), int(x.sum())) == (r["k"], r["n"]), e.name
    y, x = ENDPOINT_BY_NAME["infused_share"].ratio_data(run.patients)
    assert y.sum() / x.sum() == run.summary["infused"] / run.summary["patients"]
    np.testing.assert_array_equal(POPULATIONS["cr"].members(run.patients),
                                  (run.patients["response"].to_numpy() >= 2) & run.patients["t_inf_days"].notna())


def test_run_summary_values_are_unchanged() -> None:
    s = api.run("baseline", patients=6000, seed=11).summary
    now = json.loads(json.dumps(json_safe({k: s[k] for k in PINNED["run"]}), allow_nan=False))
    assert_same(now, PINNED["run"])


def test_comparison_is_unchanged() -> None:
    res = api.compare(["baseline", "tandem_for_all"], patients=4000, seed=5, bootstrap=20)
    now = json.loads(json.dumps(json_safe(res.to_dict()), allow_nan=False))
    for sc in now["scenarios"]:
        sc.pop("file", None)
    now.pop("elapsed_s"), now.pop("simulate_s")
    assert_same(now, PINNED["compare"])


def test_sweep_reduction_is_unchanged() -> None:
    """Two sets of the baseline on independent streams (``pinned_sweep_rows.json``, pinned
    when the sweep outcome list was derived from the endpoint table): the compiled
    reduction's rows and Monte Carlo SEs, to rounding (module docstring)."""
    pinned = json.loads((Path(__file__).with_name("pinned_sweep_rows.json")).read_text())
    assert list(OUTCOME_NAMES) == pinned["outcomes"]
    theta = api.as_scenario(None).params.theta()
    out, se = simulate_sets(np.stack([theta, theta]), np.arange(2), 17, 3000, 1826.25, crn=False, threads=1)
    for got, want in ((out, pinned["out"]), (se, pinned["se"])):
        np.testing.assert_allclose(got, np.array(want, dtype=float), rtol=ROUNDING, atol=ROUNDING)
