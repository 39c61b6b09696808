"""The posterior sample interface (``sim.model.posterior``) and study scenarios'
``[study]`` section: reading, laying draws over scenarios, and bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
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


# ---------------------------------------------------------------------------------
# every value of a posterior file is checked (issue 12): the committed posterior with
# one corruption each must be refused naming the file, the column, the draw and the
# allowed values
# ---------------------------------------------------------------------------------
COMMITTED = Path(__file__).resolve().parents[2] / "params" / "posterior.parquet"


def _committed_table() -> pa.Table:
    return pq.read_table(COMMITTED)


def _with_value(table: pa.Table, column: str, row: int, value: float) -> pa.Table:
    x = table.column(column).to_numpy().copy()
    x[row] = value
    return table.set_column(table.column_names.index(column), column, pa.array(x))


def _flip_to(path: Path, table: pa.Table, column: str, row: int, value: float) -> None:
    """Write ``table`` uncompressed and overwrite, in the file's bytes, the 8 bytes of
    one float64 with those of ``value`` (a bit flip that Parquet cannot see)."""
    pq.write_table(table, path, compression="none", use_dictionary=False, write_statistics=False)
    raw = bytearray(path.read_bytes())
    old = struct.pack("<d", table.column(column).to_numpy()[row])
    assert raw.count(old) == 1, "the value to flip must be unique in the file"
    at = raw.index(old)
    raw[at:at + 8] = struct.pack("<d", value)
    path.write_bytes(bytes(raw))


def _corrupt(kind: str, path: Path) -> None:
    table = _committed_table()
    if kind == "p-1.4":
        pq.write_table(_with_value(table, "response.p_cr.first.cd19", 3, 1.4), path)
    elif kind == "negative-days":
        pq.write_table(_with_value(table, "remission.relapse.median_days", 3, -20.0), path)
    elif kind == "median-1e308":
        pq.write_table(_with_value(table, "remission.relapse.median_days", 3, 1e308), path)
    elif kind == "zero-odds-ratio":
        pq.write_table(_with_value(table, "response.or_extramedullary", 3, 0.0), path)
    elif kind == "shares-above-1":
        g0 = table.column("crs.grade_probs[g0]").to_numpy()[3]
        pq.write_table(_with_value(table, "crs.grade_probs[g0]", 3, min(1.0, g0 + 0.2)), path)
    elif kind in ("flip-plus-3e307", "flip-minus-3e307"):
        _flip_to(path, table, "salvage.early_relapse.median_days", 3, 3e307 if kind == "flip-plus-3e307" else -3e307)
    elif kind == "text-column":
        col = "nrm.p_year1"
        text = pa.array([f"{v:.4f}" for v in table.column(col).to_numpy()])
        pq.write_table(table.set_column(table.column_names.index(col), col, text), path)
    elif kind == "duplicate-draw-id":
        ids = table.column("draw_id").to_numpy().copy()
        ids[4] = ids[3]
        pq.write_table(table.set_column(table.column_names.index("draw_id"), "draw_id", pa.array(ids)), path)
    elif kind == "truncated":
        raw = COMMITTED.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    else:
        raise AssertionError(kind)


CORRUPTIONS = [
    ("p-1.4", ["response.p_cr.first.cd19 (draw_id 3)", "1.4", "out of range", "a probability in [0, 1]"]),
    ("negative-days", ["remission.relapse.median_days (draw_id 3)", "-20.0", "> 0 and <= 36,525 days"]),
    ("median-1e308", ["remission.relapse.median_days (draw_id 3)", "1e+308", "<= 36,525 days"]),
    ("zero-odds-ratio", ["response.or_extramedullary (draw_id 3)", "0.0", ">= 1e-06 and <= 1,000,000"]),
    ("shares-above-1", ["crs.grade_probs (draw_id 3)", "shares sum to 1.2", "summing to 1 (within 1e-06)"]),
    ("flip-plus-3e307", ["salvage.early_relapse.median_days (draw_id 3)", "3e+307", "<= 36,525 days"]),
    ("flip-minus-3e307", ["salvage.early_relapse.median_days (draw_id 3)", "-3e+307", "> 0"]),
    ("text-column", ["nrm.p_year1", "string", "not numbers", "float64"]),
    ("duplicate-draw-id", ["draw_id", "more than once", "distinct"]),
    ("truncated", ["not a readable Parquet file", "written by `cartsim calibrate`"]),
]


@pytest.mark.parametrize(("kind", "words"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_a_corrupted_posterior_is_refused_naming_file_column_draw_and_range(tmp_path: Path, kind: str,
                                                                             words: list[str]) -> None:
    path = tmp_path / f"{kind}.parquet"
    _corrupt(kind, path)
    with pytest.raises(InputError) as info:
        load_posterior(path)
    message = str(info.value)
    assert "\n" not in message
    for word in [f"{kind}.parquet", *words]:
        assert word in message, f"{word!r} missing from {message!r}"


def test_the_committed_posterior_passes_the_value_checks() -> None:
    post = load_posterior(COMMITTED)
    assert post is not None and post.draws == _committed_table().num_rows


@pytest.mark.parametrize(("study", "message"), [
    ({"seed_file": "x.txt", "followup_min_days": 10.0}, "missing"),
    ({"seed_file": "x.txt", "followup_min_days": 100.0, "followup_max_days": 10.0}, "exceeds"),
    ({"seed_file": "x.txt", "followup_min_days": -1.0, "followup_max_days": 10.0}, "from 0.001 to 36,525 days"),
    ({"seed_file": "x.txt", "followup_min_days": 1.0, "followup_max_days": 10.0, "followup_spred": "uniform"},
     "did you mean 'study.followup_spread'"),
    ({"seed_file": "x.txt", "followup_min_days": 1.0, "followup_max_days": 10.0, "followup_spread": "normal"},
     "study.followup_spread: unknown value 'normal'.*; allowed: uniform, loguniform"),
])
def test_bad_study_sections(study: dict, message: str) -> None:
    base = load_scenario("baseline").params
    with pytest.raises(InputError, match=message):
        build_scenario({"scenario": {"name": "x"}, "study": study}, "x.toml", base)


def test_every_study_scenario_loads_with_its_design() -> None:
    root = Path(__file__).resolve().parents[2] / "scenarios" / "studies"
    files = sorted(root.glob("*.toml"))
    assert len(files) == 5
    for f in files:
        sc = load_scenario(f)
        assert sc.study is not None
        assert sc.study.seed_file.endswith(".txt")
        assert sc.study.seed_file[:3] == f.name[1:4]  # s004_... replicates seed 004_...
