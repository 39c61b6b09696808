"""Leave-one-study-out: the held-out log predictive scores on a conjugate normal model
with a known answer, the summary's counts, and a small real run that resumes from its
fold files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.api import calibration as api
from sim.calibration import loso
from sim.model.errors import InputError

# five "studies", each one measurement y_j ~ N(theta, sd_j^2) of theta ~ N(0, 1) (the prior space of IMIS);
# the last is an outlier, so that leaving it out makes its prediction worse than the prior's
Y = np.array([0.3, 0.5, 0.1, 0.4, 2.5])
SD = np.array([0.5, 0.4, 0.6, 0.5, 0.5])


def _per_study(row: np.ndarray) -> np.ndarray:
    return stats.norm.logpdf(Y, row[0], SD)


@pytest.mark.parametrize("held", range(5))
def test_held_out_scores_match_the_conjugate_answer(held: int) -> None:
    rest = np.arange(5) != held
    precision = 1.0 + np.sum(1.0 / SD[rest] ** 2)
    mean = np.sum(Y[rest] / SD[rest] ** 2) / precision
    exact = stats.norm.logpdf(Y[held], mean, np.sqrt(1.0 / precision + SD[held] ** 2))
    exact_prior = stats.norm.logpdf(Y[held], 0.0, np.sqrt(1.0 + SD[held] ** 2))
    fit = loso.fit_fold(_per_study, 1, 5, held, seed=3, n_initial=1000, iterations=10, batch=200, samples=500,
                        min_ess=250.0)
    # over 8 seeds the fold's score has SD <= 0.036 (the outlier fold) and the prior's (1,000 prior draws) SD
    # <= 0.12: tolerances of about four SDs
    assert fit.log_score == pytest.approx(exact, abs=0.15)
    assert fit.prior_log_score == pytest.approx(exact_prior, abs=0.5)
    assert fit.convergence.converged
    assert 1.0 <= fit.score_ess <= fit.z.shape[0] and 1.0 <= fit.prior_score_ess <= 1000
    # the sign of the gain is the known one: the outlier is predicted worse after learning from the others
    assert (fit.log_score > fit.prior_log_score) == (exact > exact_prior)


def test_summary_counts_and_nominal_range() -> None:
    def fold(sid: str, q: int, inside: int, gain: float) -> dict:
        return {"study": sid, "quantitative_targets": q, "inside": inside, "qualitative_targets": 1,
                "qualitative_inside": 1, "better_than_prior": gain > 0, "fit": {"new_evaluations": 10},
                "seconds": 1.0}

    s = loso.summarise([fold("a", 10, 10, 1.0), fold("b", 10, 8, -0.5)])
    assert (s["quantitative_targets"], s["inside"], s["better_than_prior"]) == (20, 18, 1)
    assert s["inside_fraction"] == 0.9
    lo, hi = s["nominal_count_range"]
    assert lo == stats.binom.ppf(0.025, 20, 0.95) and hi == 20


def test_small_leave_one_out_writes_its_table_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = {"samples": 40, "seed": 11, "n_initial": 40, "iterations": 1, "batch": 20, "min_ess": 40,
              "holdout_draws": 4, "holdout_patients": 300, "out": tmp_path, "studies": ["000"]}
    result = api.leave_one_out(**kwargs)
    (fold,) = result["folds"]
    assert fold["study"] == "000"
    assert fold["fit"]["evaluations"] == 60  # 40 initial + 1 component of 20: the budget is the flags'
    assert fold["quantitative_targets"] == len(fold["targets"]) == 9
    assert all(r["id"].startswith("s000_") for r in fold["targets"])
    assert result["summary"]["inside"] == sum(r["inside"] for r in fold["targets"] if r["quantitative"])
    saved = json.loads((tmp_path / "loso.json").read_text())
    assert saved == result
    assert "study 000 held out:" in (tmp_path / "loso.txt").read_text()

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a finished fold with the same settings is reused, not re-run")

    monkeypatch.setattr(loso, "run_fold", refuse)
    assert api.leave_one_out(**kwargs) == result
    with pytest.raises(AssertionError, match="reused"):  # other settings: the fold is run again
        api.leave_one_out(**{**kwargs, "seed": 12})


def test_leave_one_out_bad_study_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--studies.*'009'"):
        api.leave_one_out(out=tmp_path, studies=["009"])


def test_loso_options_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from cli_process import assert_one_error_line, cartsim_in_process

    cases = {
        "studies-alone": (["--studies", "001"], ["--studies", "--loso"]),
        "posterior": (["--loso", "--posterior", str(tmp_path / "p.parquet")], ["--posterior", "--loso"]),
        "unknown-study": (["--loso", "--studies", "001,009"], ["--studies", "'009'", "000"]),
        "holdout": (["--loso", "--holdout-draws", "0"], ["--holdout-draws"]),
    }
    for name, (args, fragments) in cases.items():
        out = tmp_path / name
        proc = cartsim_in_process(["calibrate", "--out", out, *args], capsys, monkeypatch)
        assert_one_error_line(proc, *fragments)
        assert not (out / "loso.json").exists(), name
