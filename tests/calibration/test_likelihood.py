"""Likelihoods of reported summaries against hand-computed values and reference
densities: the scale of a reported interval read from the interval, effective sample
sizes capped at n, the joint (multivariate-normal synthetic) likelihood, and the
qualitative statements scaled by the sampling SE of the contrast."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.api.calibration import load_targets
from sim.calibration import likelihood as lik
from sim.calibration.scoring import min_patients_per_study, study_logliks
from sim.calibration.study_metrics import simulate_study
from sim.calibration.targets import TargetSet
from sim.io.files import PARAMS_DIR
from sim.model.errors import InputError

REPO = Path(__file__).resolve().parents[2]
Z = 1.959963984540054


def test_binomial_by_hand() -> None:
    assert lik.binomial(6, 8, 0.75) == pytest.approx(6 * math.log(0.75) + 2 * math.log(0.25), rel=1e-14)
    assert lik.binomial(0, 22, 0.07) == pytest.approx(22 * math.log(0.93), rel=1e-14)


def test_binomial_at_most_by_hand() -> None:
    p = 0.12
    by_hand = 0.88**8 + 8 * p * 0.88**7  # P(X = 0) + P(X = 1), n = 8
    assert lik.binomial_at_most(1, 8, p) == pytest.approx(math.log(by_hand), rel=1e-12)


@pytest.mark.parametrize(("scale", "g", "g_inv"), [
    ("linear", lambda x: x, lambda y: y),
    ("log", math.log, math.exp),
    ("loglog", lambda x: math.log(-math.log(x)), lambda y: math.exp(-math.exp(y))),
    ("logit", lambda x: math.log(x / (1 - x)), lambda y: 1 / (1 + math.exp(-y))),
    ("arcsine", lambda x: math.asin(math.sqrt(x)), lambda y: math.sin(y) ** 2),
])
def test_the_scale_of_an_interval_is_read_from_the_interval(scale, g, g_inv) -> None:
    s, se_g = 0.4, 0.15 if scale != "linear" else 0.08
    a, b = g_inv(g(s) - Z * se_g), g_inv(g(s) + Z * se_g)
    low, high = min(a, b), max(a, b)
    assert lik.interval_scale(s, round(low, 4), round(high, 4)) == scale  # rounding as in an abstract
    # the delta-method SE on the linear scale
    dg = lik.PROPORTION_SCALES[scale][1](s)
    assert lik.se_from_ci(s, low, high) == pytest.approx(se_g / abs(dg), rel=1e-9)


def test_seed_004_intervals_are_read_on_their_own_scales() -> None:
    # 41.10 +- 21.95, 58.70 +- 20.78 and 34.30 +- 20.38: symmetric on the linear scale (Wald)
    for s, low, high in ((0.411, 0.1915, 0.6305), (0.587, 0.3792, 0.7948), (0.343, 0.1392, 0.5468)):
        assert lik.interval_scale(s, low, high) == "linear"
        assert lik.n_eff_from_ci(s, low, high, 22) == pytest.approx(s * (1 - s) / ((high - low) / (2 * Z)) ** 2)
    # 67.9 (48.3-84.5) is symmetric on none of linear/log/log(-log)/logit, but on arcsine-root
    assert lik.interval_scale(0.679, 0.483, 0.845) == "arcsine"
    # read that way it implies 24.3 patients; a study of 22 cannot carry more than 22
    se_g = (math.asin(math.sqrt(0.845)) - math.asin(math.sqrt(0.483))) / (2 * Z)
    assert 1 / (4 * se_g**2) == pytest.approx(24.28, abs=0.01)
    assert lik.n_eff_from_ci(0.679, 0.483, 0.845, 22) == 22.0
    assert lik.interval_scale(287.0, 132.0, 441.0, lik.POSITIVE_SCALES) == "linear"
    assert lik.interval_scale(212.0, 120.0, 303.0, lik.POSITIVE_SCALES) == "linear"


def test_km_landmark_and_median_by_hand() -> None:
    assert lik.km_landmark(0.4, 20.0, 0.5) == pytest.approx(8 * math.log(0.5) + 12 * math.log(0.5), rel=1e-14)
    se = (441.0 - 132.0) / (2 * Z)  # the median's CI is linear-symmetric: a normal on days
    assert lik.median_ci(287.0, 132.0, 441.0, 287.0) == 0.0
    assert lik.median_ci(287.0, 132.0, 441.0, 400.0) == pytest.approx(-0.5 * ((400 - 287) / se) ** 2)
    se_log = (math.log(400) - math.log(100)) / (2 * Z)  # 200 (100-400) is log-symmetric
    assert lik.median_ci(200.0, 100.0, 400.0, 300.0) == pytest.approx(-0.5 * (math.log(1.5) / se_log) ** 2)


def test_qualitative_statements_are_scaled_by_the_sampling_se() -> None:
    # no true difference: a study shows "significantly greater" with probability 2.5%
    assert lik.soft_greater(0.0, 0.21) == pytest.approx(math.log(0.025), rel=1e-3)
    assert lik.soft_greater(0.21 * Z, 0.21) == pytest.approx(math.log(0.5))
    assert lik.soft_greater(-5.0, 0.01) < -1000  # far out, no overflow
    assert lik.soft_equal(0.0, 0.2) == pytest.approx(math.log(0.95), rel=1e-6)
    u = 0.3 / 0.2
    assert lik.soft_equal(0.3, 0.2) == pytest.approx(math.log(stats.norm.cdf(Z - u) - stats.norm.cdf(-Z - u)))


def test_synthetic_likelihood_matches_a_normal_density_on_the_log_scale() -> None:
    x = np.exp(np.random.default_rng(1).normal(5.0, 0.4, 400))
    mu, sd = np.log(x).mean(), np.log(x).std(ddof=1)
    assert lik.synthetic(150.0, x) == pytest.approx(-0.5 * ((math.log(150.0) - mu) / sd) ** 2 - math.log(sd))
    assert lik.synthetic(150.0, np.array([np.inf] * 20)) == -math.inf  # nothing usable simulated


def test_mvn_synthetic_matches_scipy_up_to_a_constant() -> None:
    rng = np.random.default_rng(2)
    cov = np.array([[0.01, 0.008, 5.0], [0.008, 0.012, 4.0], [5.0, 4.0, 6000.0]])
    x = rng.multivariate_normal([0.6, 0.4, 280.0], cov, 300)
    mu, s = x.mean(0), np.cov(x, rowvar=False) + 1e-8 * np.eye(3)
    for obs in (np.array([0.68, 0.41, 287.0]), np.array([0.3, 0.5, 100.0])):
        ref = stats.multivariate_normal(mu, s).logpdf(obs) + 1.5 * math.log(2 * math.pi)
        assert lik.mvn_synthetic(obs, x) == pytest.approx(ref, rel=1e-9)
    # a miss in a direction the correlation makes unlikely costs more than the same miss along it
    along = lik.mvn_synthetic(mu + np.array([0.15, 0.12, 0.0]), x)
    across = lik.mvn_synthetic(mu + np.array([0.15, -0.12, 0.0]), x)
    assert across < along - 5
    assert lik.mvn_synthetic(np.zeros(3), x[:20]) == -math.inf  # too few cohorts for 3 dimensions


def test_n_eff_above_n_is_a_one_line_error(tmp_path: Path) -> None:
    text = (PARAMS_DIR / "targets.toml").read_text()
    old = "n = 23\nn_eff = 20\nlikelihood = \"km_landmark\""
    assert old in text
    bad = tmp_path / "targets.toml"
    text = text.replace("../scenarios/", str(REPO / "scenarios") + "/")
    bad.write_text(text.replace(old, old.replace("= 20", "= 24")))
    with pytest.raises(InputError) as info:
        load_targets(bad)
    assert "cannot exceed the 23 patients" in str(info.value)
    assert "\n" not in str(info.value)


def test_joint_group_is_scored_once_and_needs_enough_cohorts() -> None:
    targets = load_targets()
    group = [t for t in targets.targets if t.joint == "s004_survival"]
    assert len(group) == 6
    study = targets.studies["004"]
    sub = TargetSet({"004": study}, group, "subset")
    assert min_patients_per_study(sub) == math.ceil(1.25 * 10 * 6 * 22)
    p = simulate_study(study, study.scenario.params.theta(), 2000, 3)
    ll = study_logliks(sub, {"004": p})
    assert np.isfinite(ll[0])
    assert np.all(ll[1:] == 0.0)  # the group's value sits on its first member
    # moving the reported 12-month OS far from the model lowers the joint likelihood
    moved = [replace(t, reported=0.95) if t.target_id == "s004_os_12m" else t for t in group]
    assert study_logliks(TargetSet({"004": study}, moved, "moved"), {"004": p})[0] < ll[0] - 5
