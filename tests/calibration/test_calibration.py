"""Calibration: the compiled study statistics
against the reference estimators, the prior transform, target-file validation,
recovery of known parameters from model-generated targets, reproducibility, and the
committed posterior's validation table."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.api import calibration as api
from sim.api.calibration import load_targets
from sim.calibration.imis import CALIBRATED, PriorTransform, calibrate
from sim.calibration.scoring import model_value
from sim.calibration.study_metrics import _cif_rows, _km_rows, censoring_days, simulate_study, statistic
from sim.calibration.targets import TargetSet
from sim.io.files import PARAMS_DIR, load_parameter_set
from sim.model.errors import InputError
from sim.model.posterior import load_posterior
from sim.stats.incidence import aalen_johansen, cif_at
from sim.stats.survival import kaplan_meier

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def targets() -> TargetSet:
    return load_targets()


@pytest.fixture(scope="module")
def defaults():
    return load_parameter_set(PARAMS_DIR / "defaults.toml")


# ------------------------------------------------------------------ compiled statistics vs reference estimators
def test_km_rows_agree_with_kaplan_meier_including_ties() -> None:
    rng = np.random.default_rng(7)
    t = np.round(rng.exponential(300.0, (6, 40)), -1)  # rounding to 10 d makes many ties
    e = (rng.random((6, 40)) < 0.7).astype(np.int64)
    mask = rng.random((6, 40)) < 0.8
    s_at, med = _km_rows(t, e, mask, 200.0)
    for r in range(6):
        km = kaplan_meier(t[r, mask[r]], e[r, mask[r]])
        assert s_at[r] == pytest.approx(float(km.survival_at(200.0)), abs=1e-12)
        ref = km.median()
        assert (med[r] == ref) or (np.isinf(med[r]) and not np.isfinite(ref))


def test_cif_rows_agree_with_aalen_johansen() -> None:
    rng = np.random.default_rng(8)
    t = np.round(rng.exponential(300.0, (5, 50)), -1)
    cause = rng.integers(0, 3, (5, 50))
    mask = np.ones((5, 50), bool)
    got = _cif_rows(t, cause, mask, 365.0)
    for r in range(5):
        ref = aalen_johansen(t[r], cause[r], 1)
        assert got[r] == pytest.approx(float(cif_at(ref, 365.0)), abs=1e-12)


def test_compiled_rows_give_no_number_past_each_rows_data() -> None:
    """The rule of sim.stats.survival row by row: a landmark after a row's last time
    is NaN, unless that row's curve reached 0; at the last time it is still a number."""
    t = np.array([[50.0, 100.0, 150.0, 300.0],   # last time 300, censored: 365 is past the data
                  [50.0, 100.0, 150.0, 365.0],   # last time exactly at the landmark: inside
                  [50.0, 100.0, 150.0, 200.0],   # everybody has the event: S = 0 and F final
                  [50.0, 100.0, 150.0, 400.0]])  # data beyond the landmark
    e = np.array([[1, 0, 1, 0], [1, 0, 1, 0], [1, 1, 1, 1], [1, 0, 1, 0]], np.int64)
    cause = np.where(e == 1, np.array([1, 2, 1, 1]), 0).astype(np.int64)
    mask = np.ones(t.shape, bool)
    s_at, _ = _km_rows(t, e, mask, 365.0)
    f_at = _cif_rows(t, cause, mask, 365.0)
    for r in range(4):
        km = kaplan_meier(t[r], e[r])
        ref_s = float(km.survival_at(365.0))
        ref_f = float(cif_at(aalen_johansen(t[r], cause[r], 1), 365.0))
        assert (np.isnan(s_at[r]) and np.isnan(ref_s)) or s_at[r] == pytest.approx(ref_s, abs=1e-12), r
        assert (np.isnan(f_at[r]) and np.isnan(ref_f)) or f_at[r] == pytest.approx(ref_f, abs=1e-12), r
    assert np.isnan(s_at[0]) and np.isnan(f_at[0])
    assert s_at[1] == pytest.approx(0.75 * 0.5) and s_at[2] == 0.0 and f_at[2] == pytest.approx(0.75)
    assert np.isfinite(s_at[3]) and np.isfinite(f_at[3])


def test_censoring_follows_the_study_design(targets: TargetSet) -> None:
    c = censoring_days(targets.studies["003"], 1, 20000)
    design = targets.studies["003"].scenario.study
    assert c.min() >= design.followup_min_days
    assert c.max() <= design.followup_max_days
    # log-uniform over 130-1320 d: median sqrt(130 * 1320) = 414 d (the reported median follow-up 415 d);
    # tolerance 3% ~ 4 SE of a sample median at n = 20,000
    assert np.median(c) == pytest.approx(math.sqrt(130 * 1320), rel=0.03)
    assert np.array_equal(censoring_days(targets.studies["003"], 1, 100), c[:100])  # prefix-stable


def test_degenerate_parameters_give_exact_statistics(targets: TargetSet) -> None:
    study = targets.studies["004"]
    params = study.scenario.params.with_values(
        {"response.p_cr.first.cd19": 1.0, "response.p_cr.first.tandem": 1.0, "cohort.p_prior_cart": 0.0,
         "response.p_mrd_neg_given_cr": 1.0, "crs.grade_probs": [0.0, 0.0, 0.0, 1.0, 0.0],
         "gvhd.p_any.donor": 0.0}, "test")
    p = simulate_study(study, params.theta(), 3000, 5)
    by_id = {t.target_id: t for t in targets.targets}
    # every CR is MRD-negative; the few infused patients who die before the day-28
    # assessment are neither (they stay in the denominator, as in the abstracts)
    assert model_value(by_id["s004_mrd_neg_share_of_cr"], p)[0] == 1.0
    assert model_value(by_id["s004_cr_rate"], p)[0] > 0.9
    # every CRS is grade 3; a patient dying (of other causes) before CRS onset has none
    crs_any = replace(by_id["s004_crs_g3plus"], metric="crs_any", statistic="crs_any")
    assert model_value(by_id["s004_crs_g3plus"], p)[0] == model_value(crs_any, p)[0] > 0.99
    assert model_value(by_id["s004_agvhd_any"], p)[0] == 0.0


def test_pooled_landmark_equals_kaplan_meier_of_the_same_patients(targets: TargetSet) -> None:
    study = targets.studies["004"]
    p = simulate_study(study, study.scenario.params.theta(), 4000, 9)
    t = next(x for x in targets.targets if x.target_id == "s004_os_12m")
    km = kaplan_meier(*p.os)
    assert statistic(t, p, None)[0] == pytest.approx(float(km.survival_at(365.25)), abs=1e-12)


# ------------------------------------------------------------------ prior transform
def test_prior_transform_maps_zero_to_prior_medians(defaults) -> None:
    tr = PriorTransform(defaults)
    v = dict(zip(tr.labels, tr.values(np.zeros((1, tr.dims)))[0], strict=True))
    assert v["remission.relapse.median_days"] == pytest.approx(180.0)  # log-normal median
    assert v["response.p_cr.first.cd19"] == pytest.approx(stats.beta.median(30.0, 5.0))


def test_stick_breaking_reproduces_the_dirichlet(defaults) -> None:
    tr = PriorTransform(defaults, ["crs.grade_probs"])
    z = np.random.default_rng(3).standard_normal((40000, tr.dims))
    x = tr.values(z)
    assert np.allclose(x.sum(1), 1.0)
    alpha = 25.0 * np.array(defaults.value("crs.grade_probs"))
    # each margin is Beta(alpha_k, sum - alpha_k); KS p-value > 1e-3 (a false alarm 1 time in 1000)
    for k in range(5):
        assert stats.kstest(x[:, k], stats.beta(alpha[k], alpha.sum() - alpha[k]).cdf).pvalue > 1e-3


# ------------------------------------------------------------------ targets file
def test_committed_targets_cover_every_study(targets: TargetSet) -> None:
    assert set(targets.studies) == {"000", "001", "002", "003", "004"}
    assert len(targets.targets) >= 35
    assert all(t.resolution for t in targets.targets)
    for name in CALIBRATED:
        assert name in {b.name for b in PriorTransform(load_parameter_set(PARAMS_DIR / "defaults.toml")).blocks}


@pytest.mark.parametrize(("old", "new", "message"), [
    ('metric = "crs_grade3plus"', 'metric = "crs_grade3pluss"', "unknown metric"),
    ('metric = "lfs_m24"', 'metric = "lfs_m36"', "unknown metric"),
    ("count = 6\nn = 8", "count = 9\nn = 8", "expected a whole number in [0, n = 8]"),
    ('likelihood = "binomial"', 'likelihood = "binomal"', "unknown likelihood"),
    ("reported = 0.75\n", "reported = 1.4\n", "a proportion must be in [0, 1]"),
    ('ci = [0.483, 0.845]', 'ci = [0.845, 0.483]', "low < high"),
])
def test_bad_targets_are_one_line_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = (PARAMS_DIR / "targets.toml").read_text()
    assert old in text
    bad = tmp_path / "targets.toml"
    bad.write_text(text.replace("../scenarios/", str(REPO / "scenarios") + "/").replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_targets(bad)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert str(bad) in str(info.value)


# ------------------------------------------------------------------ recovery and reproducibility
def _synthetic_targets(targets: TargetSet, truth: dict[str, float], scale: int) -> TargetSet:
    """Study 004's CR and OS/EFS targets replaced by what the model reports at ``truth``
    for ``scale`` times the study's size (so the likelihood is sharp)."""
    study = targets.studies["004"]
    params = study.scenario.params.with_values(truth, "truth")
    p = simulate_study(study, params.theta(), 40000, 99)  # another seed than the calibration's
    chosen = []
    for t in targets.targets:
        if t.target_id == "s004_cr_rate":
            value = model_value(t, p)[0]
            n = t.n * scale
            chosen.append(replace(t, reported=value, count=round(value * n), n=n))
        elif t.target_id in ("s004_os_12m", "s004_efs_12m", "s004_os_6m"):
            chosen.append(replace(t, reported=model_value(t, p)[0], ci=None, n_eff=22.0 * scale, n=22 * scale,
                                  likelihood="km_landmark", joint=None))
    return TargetSet({"004": study}, chosen, "synthetic")


def test_calibration_recovers_known_parameters(targets: TargetSet, defaults) -> None:
    truth = {"response.p_cr.first.cd19": 0.70, "remission.p_cure.mrd_neg": 0.45}
    synthetic = _synthetic_targets(targets, truth, scale=200)
    result = calibrate(synthetic, defaults, samples=500, seed=11, patients_per_study=4000, n_initial=400,
                       iterations=4, batch=100, names=list(truth))
    post = dict(zip(result.labels, result.posterior.T, strict=True))
    # 200 x the study's size: the CR rate (n = 4,400; SE 0.007) pins p_cr.cd19,
    # which moves it with slope ~0.5, to SD ~0.015; the survival landmarks (n_eff 4,400) pin
    # the cure fraction similarly. 0.04 is ~2.5 posterior SDs plus the prior's residual pull,
    # and far below the prior-to-truth gaps (0.16 and 0.17).
    assert np.median(post["response.p_cr.first.cd19"]) == pytest.approx(0.70, abs=0.04)
    assert np.median(post["remission.p_cure.mrd_neg"]) == pytest.approx(0.45, abs=0.04)
    assert result.ess > 20


def test_calibration_is_reproducible(targets: TargetSet, defaults) -> None:
    small = TargetSet({"004": targets.studies["004"]},
                      [t for t in targets.targets if t.study_id == "004"], "subset")
    kwargs = {"samples": 50, "seed": 5, "patients_per_study": 1700, "n_initial": 40, "iterations": 2, "batch": 10,
              "names": ["response.p_cr.first.cd19", "remission.p_cure.mrd_neg"]}
    a = calibrate(small, defaults, **kwargs)
    b = calibrate(small, defaults, **kwargs)
    assert np.array_equal(a.posterior, b.posterior)
    assert np.array_equal(a.loglik, b.loglik)


def test_calibration_rejects_bad_settings(targets: TargetSet, defaults) -> None:
    with pytest.raises(InputError, match="--samples"):
        calibrate(targets, defaults, samples=0)
    with pytest.raises(InputError, match="--iterations"):
        calibrate(targets, defaults, iterations=-1)


# ------------------------------------------------------------------ the committed posterior
def test_committed_posterior_is_a_valid_sample() -> None:
    post = load_posterior()
    assert post is not None, "params/posterior.parquet is committed"
    assert post.draws >= 1000
    assert set(post.parameter_names) == set(CALIBRATED)
    meta = post.meta
    assert meta["ess"] > 0
    assert set(meta["calibrated"]) == set(CALIBRATED)


def test_validate_reproduces_the_committed_table() -> None:
    committed = json.loads(api.VALIDATION_PATH.read_text())
    result, _ = api.validate(draws=committed["draws"], seed=committed["seed"])
    fresh = result.to_json()
    assert [r["id"] for r in fresh["targets"]] == [r["id"] for r in committed["targets"]]
    for got, want in zip(fresh["targets"], committed["targets"], strict=True):
        for key in ("predicted_median", "predicted_low", "predicted_high"):
            if want[key] is None:
                assert got[key] is None
            else:  # rounded to 6 digits in the table; libm may differ in the last bits across machines
                assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), (want["id"], key)
        assert got["inside"] == want["inside"], want["id"]
    assert fresh["inside_fraction"] == pytest.approx(committed["inside_fraction"])


@pytest.mark.slow
def test_small_calibration_end_to_end(tmp_path: Path) -> None:
    run = api.calibrate(samples=200, seed=3, patients_per_study=1700, n_initial=300, iterations=3, batch=100,
                        posterior_path=tmp_path / "posterior.parquet", calibrated_path=tmp_path / "calibrated.toml")
    post = load_posterior(tmp_path / "posterior.parquet")
    assert post is not None
    assert post.draws == 200
    cal = load_parameter_set(tmp_path / "calibrated.toml")
    point = run.summary()["parameters"]
    med = {p["parameter"]: p["median"] for p in point}
    assert cal.value("remission.p_cure.mrd_neg") == pytest.approx(med["remission.p_cure.mrd_neg"], rel=1e-5)
    v, _ = api.validate(draws=20, posterior=tmp_path / "posterior.parquet")
    assert 0.0 <= v.inside_fraction <= 1.0
