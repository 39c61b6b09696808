"""The posterior sample interface (``sim.model.posterior``) and study scenarios'
``[study]`` section: reading, laying draws over scenarios, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.io.calibration_files import write_posterior
from sim.io.files import load_scenario
from sim.model.errors import InputError
from sim.model.parameters import OFFSETS
from sim.model.posterior import load_posterior
from sim.model.scenario import build_scenario

LABELS = ["response.p_cr.first.cd19", "remission.relapse.median_days", "crs.grade_probs[g0]"]


def _write(tmp_path: Path, values: np.ndarray, labels: list[str] | None = None) -> Path:
    return write_posterior(tmp_path / "posterior.parquet", labels or LABELS, values, {"method": "test"})


def test_round_trip_and_laying_over_a_scenario(tmp_path: Path) -> None:
    values = np.array([[0.7, 150.0, 0.2], [0.8, 250.0, 0.1]])
    post = load_posterior(_write(tmp_path, values))
    assert post is not None
    assert post.labels == LABELS
    assert post.meta == {"method": "test"}
    sc = load_scenario("baseline")
    thetas = post.thetas(sc.params, n_draws=3)
    assert thetas[:, OFFSETS["response.p_cr.first.cd19"]].tolist() == [0.7, 0.8, 0.7]  # cycles
    assert thetas[:, OFFSETS["remission.relapse.median_days"]].tolist() == [150.0, 250.0, 150.0]
    untouched = np.delete(np.arange(thetas.shape[1]), [OFFSETS[LABELS[0]], OFFSETS[LABELS[1]],
                                                      OFFSETS["crs.grade_probs"]])
    assert np.array_equal(thetas[:, untouched], np.tile(sc.params.theta()[untouched], (3, 1)))


def test_a_scenario_override_is_not_undone_by_the_posterior(tmp_path: Path) -> None:
    post = load_posterior(_write(tmp_path, np.array([[0.7, 150.0, 0.2]])))
    assert post is not None
    sc = load_scenario("baseline")
    params = sc.params.with_values({"response.p_cr.first.cd19": 0.95}, str(tmp_path / "whatif.toml"))
    thetas = post.thetas(params, n_draws=2)
    assert np.all(thetas[:, OFFSETS["response.p_cr.first.cd19"]] == 0.95)
    assert np.all(thetas[:, OFFSETS["remission.relapse.median_days"]] == 150.0)


def test_thetas_with_prior_draws_the_uncalibrated_parameters(tmp_path: Path) -> None:
    post = load_posterior(_write(tmp_path, np.array([[0.7, 150.0, 0.2]])))
    assert post is not None
    sc = load_scenario("baseline")
    thetas = post.thetas_with_prior(sc.params, n_draws=50, seed=4)
    assert np.all(thetas[:, OFFSETS["response.p_cr.first.cd19"]] == 0.7)
    nrm = thetas[:, OFFSETS["nrm.p_year1"]]
    assert np.unique(nrm).size == 50  # drawn from its Beta prior
    assert np.all(thetas[:, OFFSETS["cohort.p_high_risk"]] == sc.params.value("cohort.p_high_risk"))


def test_bad_posterior_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_posterior(tmp_path / "missing.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="Parquet"):
        load_posterior(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="not a parameter slot"):
        load_posterior(_write(tmp_path, np.array([[0.7]]), ["response.p_cr.first.cd91"]))
    with pytest.raises(InputError, match="non-finite"):
        load_posterior(_write(tmp_path, np.array([[np.nan, 1.0, 0.2]])))


@pytest.mark.parametrize(("study", "message"), [
    ({"seed_file": "x.txt", "followup_min_days": 10.0}, "missing"),
    ({"seed_file": "x.txt", "followup_min_days": 100.0, "followup_max_days": 10.0}, "exceeds"),
    ({"seed_file": "x.txt", "followup_min_days": -1.0, "followup_max_days": 10.0}, "> 0"),
    ({"seed_file": "x.txt", "followup_min_days": 1.0, "followup_max_days": 10.0, "followup_spred": "uniform"},
     "did you mean 'study.followup_spread'"),
    ({"seed_file": "x.txt", "followup_min_days": 1.0, "followup_max_days": 10.0, "followup_spread": "normal"},
     "unknown spread"),
])
def test_bad_study_sections(study: dict, message: str) -> None:
    base = load_scenario("baseline").params
    with pytest.raises(InputError, match=message):
        build_scenario({"scenario": {"name": "x"}, "study": study}, "x.toml", base)


def test_every_study_scenario_loads_with_its_design() -> None:
    root = Path(__file__).resolve().parents[1] / "scenarios" / "studies"
    files = sorted(root.glob("*.toml"))
    assert len(files) == 5
    for f in files:
        sc = load_scenario(f)
        assert sc.study is not None
        assert sc.study.seed_file.endswith(".txt")
        assert sc.study.seed_file[:3] == f.name[1:4]  # s004_... replicates seed 004_...
