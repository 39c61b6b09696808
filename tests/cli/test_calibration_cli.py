"""``cartsim validate`` and ``cartsim calibrate`` as real processes: the JSON shape the
issue names, the figure, and one-line errors with exit status 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from cli_process import assert_one_error_line, cartsim, describe

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_validate_json_has_the_issue_keys_and_writes_the_figure(tmp_path: Path) -> None:
    proc = cartsim("validate", "--draws", "10", "--patients", "300", "--json", "--out", tmp_path / "v", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    out = json.loads(proc.stdout)
    assert set(out) >= {"targets", "inside_fraction"}
    assert 0.0 <= out["inside_fraction"] <= 1.0
    for row in out["targets"]:
        assert set(row) >= {"id", "study", "metric", "reported", "predicted_median", "predicted_low",
                            "predicted_high", "inside"}
    assert (tmp_path / "v" / "validation.png").read_bytes()[:8] == PNG_MAGIC
    assert json.loads((tmp_path / "v" / "validation.json").read_text()) == out
    # what the abstracts taught: one row per calibrated slot of the committed posterior
    learned = out["learning"]
    assert len(learned["parameters"]) == 28  # 26 slots + the salvage median split in three (2026-11-25)
    assert {"parameter", "prior_median", "posterior_median", "interval_ratio", "shift", "prior_dominated"} <= set(
        learned["parameters"][0])
    assert (tmp_path / "v" / "posterior.png").read_bytes()[:8] == PNG_MAGIC


def test_validate_table_prints_vector_slots_with_their_element(tmp_path: Path) -> None:
    # rich would swallow "[g0]" as markup if the labels were not escaped
    proc = cartsim("validate", "--draws", "5", "--patients", "200", "--out", tmp_path / "v", cwd=tmp_path, columns=200)
    assert proc.returncode == 0, describe(proc)
    for g in range(5):
        assert f"crs.grade_probs[g{g}]" in proc.stdout
    assert "prior-dominated" in proc.stdout


def test_validate_bad_input_is_one_line(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    bad_targets = tmp_path / "targets.toml"
    bad_targets.write_text((REPO / "params" / "targets.toml").read_text().replace(
        "../scenarios/", str(REPO / "scenarios") + "/").replace('metric = "crs_grade3plus"',
                                                               'metric = "crs_grade3plsu"', 1))
    cases = {
        "draws": (["validate", "--draws", "0"], ["--draws"]),
        "missing": (["validate", "--posterior", tmp_path / "nope.parquet"], ["nope.parquet", "not found"]),
        "corrupt": (["validate", "--posterior", corrupt], ["corrupt.parquet", "Parquet"]),
        "targets": (["validate", "--targets", bad_targets], ["targets.toml", "crs_grade3plsu"]),
        "samples": (["calibrate", "--samples", "0", "--posterior", tmp_path / "p.parquet"], ["--samples"]),
    }
    for args, fragments in cases.values():
        assert_one_error_line(cartsim(*args, cwd=tmp_path), *fragments)
    assert not (tmp_path / "p.parquet").exists()
