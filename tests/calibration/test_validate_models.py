"""``cartsim validate`` on any model: a parameter file (--params) at its point values or
with its priors (--prior), overrides (--set) and a posterior sample (--posterior)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_process import assert_one_error_line, cartsim_in_process
from scipy import stats

from sim.api import calibration as api
from sim.calibration.imis import CALIBRATED
from sim.io.files import PARAMS_DIR
from sim.model.errors import InputError

DEFAULTS = PARAMS_DIR / "defaults.toml"


def _edited_defaults(tmp_path: Path, section: str, value: str) -> Path:
    """A copy of params/defaults.toml with one parameter's value line replaced."""
    text = DEFAULTS.read_text()
    head = f"[{section}]\nvalue = "
    start = text.index(head) + len(head)
    end = text.index("\n", start)
    out = tmp_path / "alternative.toml"
    out.write_text(text[:start] + value + text[end:])
    return out


def test_params_alone_checks_the_files_point_values_in_every_study(tmp_path: Path) -> None:
    alt = _edited_defaults(tmp_path, "nrm.p_year1", "0.3")
    inputs = api.validation_inputs(draws=4, params=alt)
    assert inputs.draws_from == "point"
    col = inputs.transform.labels.index("nrm.p_year1")
    assert np.all(inputs.values[:, col] == 0.3)
    assert np.all(inputs.values == inputs.values[0])  # the same values in every draw
    for st in inputs.targets.studies.values():  # every study is built on the file, its own settings kept
        assert st.scenario.params.value("nrm.p_year1") == 0.3
    s004 = inputs.targets.studies["004"].scenario.params
    assert s004.value("cohort.p_prior_cart") == 0.0


def test_prior_draws_follow_the_parameter_files_priors() -> None:
    inputs = api.validation_inputs(draws=4000, prior=True)
    assert inputs.draws_from == "prior"
    col = inputs.transform.labels.index("nrm.p_year1")
    # nrm.p_year1 ~ Beta(7, 93): the median of 4,000 draws has SE ~ 0.026 * 1.25 / sqrt(4000) = 0.0005;
    # 0.002 is four of them
    assert np.median(inputs.values[:, col]) == pytest.approx(stats.beta.median(7, 93), abs=0.002)
    assert np.unique(inputs.values[:, col]).size == 4000


def test_set_fixes_a_calibrated_parameter_and_frees_the_rest() -> None:
    inputs = api.validation_inputs(draws=3, overrides={"nrm.p_year1": 0.25})
    assert inputs.draws_from == "posterior"
    assert "nrm.p_year1" not in inputs.transform.labels
    assert {b.name for b in inputs.transform.blocks} == set(CALIBRATED) - {"nrm.p_year1"}
    for st in inputs.targets.studies.values():
        assert st.scenario.params.value("nrm.p_year1") == 0.25
    assert inputs.describe()["overrides"] == {"nrm.p_year1": 0.25}


def test_set_changes_the_prediction() -> None:
    """Non-relapse mortality of 2% vs 60% in year 1 moves the donor-derived study's
    12-month OS by far more than the Monte Carlo noise of three draws x 200 patients."""
    low, _ = api.validate(draws=3, patients_per_draw=200, params=DEFAULTS, overrides={"nrm.p_year1": 0.02})
    high, _ = api.validate(draws=3, patients_per_draw=200, params=DEFAULTS, overrides={"nrm.p_year1": 0.6})

    def os12(v: api.ValidationResult) -> float:
        return next(r["predicted_median"] for r in v.rows if r["id"] == "s004_os_12m")

    # the year-1 death share rises by 0.58 among survivors of the other causes (~60% of patients): ~0.3 lower
    # OS; the median over ~27 cohorts of 22 patients has SE ~0.03, so a 0.15 gap cannot be noise
    assert os12(low) - os12(high) > 0.15


def test_bad_model_options_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cases = {
        "unknown": (["--set", "nrm.p_yaer1=0.3"], ["--set", "nrm.p_yaer1", "did you mean 'nrm.p_year1'"]),
        "range": (["--set", "nrm.p_year1=3"], ["--set", "nrm.p_year1", "[0, 1]"]),
        "shape": (["--set", "nrm"], ["--set", "NAME=VALUE"]),
        "both": (["--prior", "--posterior", str(PARAMS_DIR / "posterior.parquet")], ["--prior", "--posterior"]),
        "missing": (["--params", str(tmp_path / "nope.toml")], ["nope.toml", "not found"]),
    }
    for name, (args, fragments) in cases.items():
        out = tmp_path / name
        proc = cartsim_in_process(["validate", "--draws", "2", "--patients", "100", "--out", out, *args],
                                  capsys, monkeypatch)
        assert_one_error_line(proc, *fragments)
        assert not out.exists(), name  # refused before the folder is taken


def test_parse_overrides_reads_toml_values() -> None:
    got = api.parse_overrides(["nrm.p_year1=0.3", "policy.target_shares = [0.7, 0, 0.3, 0]"])
    assert got == {"nrm.p_year1": 0.3, "policy.target_shares": [0.7, 0, 0.3, 0]}
    with pytest.raises(InputError, match="--set"):
        api.parse_overrides(["=0.3"])


def test_the_posteriors_sampler_record_is_reported() -> None:
    sampler = api.validation_inputs(draws=2).describe()["sampler"]
    assert sampler["method"].startswith("IMIS")
    assert sampler["evaluations"] > 0 and sampler["ess"] > 0
    assert sampler["converged"] in (True, False, None)  # None: a file made before the stopping rule
    assert api.validation_inputs(draws=2, prior=True).describe()["sampler"] is None


def test_a_posterior_made_under_other_priors_is_flagged(tmp_path: Path) -> None:
    from sim.api.calibration import _priors_match
    from sim.calibration.imis import PriorTransform
    from sim.io.files import load_parameter_set

    defaults = load_parameter_set(DEFAULTS)
    meta = {"prior_digest": PriorTransform(defaults).digest(), "calibrated": list(CALIBRATED)}
    assert _priors_match(defaults, meta) is True
    text = DEFAULTS.read_text()
    old = "uncertainty = { dist = \"beta\", a = 7.0, b = 93.0 }"
    assert old in text  # nrm.p_year1's prior
    other = tmp_path / "other_priors.toml"
    other.write_text(text.replace(old, old.replace("a = 7.0", "a = 8.0")))
    assert _priors_match(load_parameter_set(other), meta) is False
    assert _priors_match(defaults, {}) is None  # a posterior that does not record its priors
