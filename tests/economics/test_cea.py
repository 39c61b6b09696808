"""``cartsim cea`` and ``sim.api.economics.cea``: paired increments, frontier, JSON, and
the one-line error contract for bad economic input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_process import assert_one_error_line, cartsim, cartsim_in_process

from sim.api.economics import cea
from sim.io.files import ECONOMICS_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_api_increments_are_paired_and_consistent():
    r = cea(["recipient_collected_cells", "donor_derived_cells", "recipient_collected_cells"], patients=3000,
            seed=4, horizon_days=3652.5, bootstrap=200)
    a, b, same = r.strategies
    inc_b, inc_same = r.increments
    assert inc_b["d_cost"] == pytest.approx(b.cost - a.cost, rel=1e-9)
    assert inc_b["d_qalys"] == pytest.approx(b.qalys - a.qalys, rel=1e-9, abs=1e-12)
    assert inc_b["d_cost_low"] < inc_b["d_cost"] < inc_b["d_cost_high"]
    # the same strategy twice: common random numbers make every pair identical
    assert inc_same["d_cost"] == 0.0 and inc_same["d_cost_se"] == 0.0
    assert same.cost == a.cost and same.qalys == a.qalys
    statuses = [row["status"] for row in r.frontier]
    assert statuses[2] == "dominated"  # identical to the first: the first listed stays
    assert math.isclose(sum(b.costs_by_category.values()), b.cost, rel_tol=1e-9)
    assert r.wtp == 30000.0 and r.economics.currency == "GBP"
    assert all(0.0 <= s.alive_at_horizon <= 1.0 for s in r.strategies)
    assert np.isfinite(r.samples[0]).all()


def test_cli_json_and_files(tmp_path: Path):
    proc = cartsim("cea", "recipient_collected_cells", "donor_derived_cells", "--patients", 2000, "--economics",
                   "us_payer", "--bootstrap", 100, "--out", tmp_path / "out", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["economics"]["currency"] == "USD" and doc["wtp_per_qaly"] == 150000.0
    assert doc["horizon_days"] == pytest.approx(36525.0)
    assert [s["name"] for s in doc["strategies"]] == ["recipient_collected_cells", "donor_derived_cells"]
    assert {"d_cost", "d_qalys", "icer", "d_nmb_low"} <= set(doc["increments"][0])
    assert (tmp_path / "out" / "cea.json").is_file() and (tmp_path / "out" / "cea_plane.png").is_file()


def _preset(tmp_path: Path, old: str, new: str) -> Path:
    text = (ECONOMICS_DIR / "uk_nhs.toml").read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "fragments"), [
    ('[cost.icu_per_day]\nvalue = 1168.0', '[cost.icu_per_day]\nvalue = -1168.0', ("cost.icu_per_day.value",)),
    ('[utility.remission]\nvalue = 0.86', '[utility.remission]\nvalue = 1.2', ("utility.remission.value",)),
    ('[discount.costs_per_year]\nvalue = 0.035', '[discount.costs_per_year]\nvalue = 35',
     ("discount.costs_per_year.value", "0.035 for 3.5%")),
    ('currency = "GBP"\n', '', ("meta.currency", "missing")),
])
def test_bad_economic_input_is_one_error_line(tmp_path, capsys, monkeypatch, old, new, fragments):
    bad = _preset(tmp_path, old, new)
    proc = cartsim_in_process(["cea", "baseline", "donor_derived_cells", "--economics", bad, "--out",
                               tmp_path / "out"], capsys, monkeypatch)
    assert_one_error_line(proc, "bad.toml", *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "fragments"), [
    (["baseline"], ("need at least 2 strategies",)),
    (["baseline", "donor_derived_cells", "--economics", "nowhere"], ("nowhere.toml", "file not found")),
    (["baseline", "donor_derived_cells", "--wtp", "-5"], ("--wtp",)),
])
def test_bad_options_are_one_error_line(tmp_path, capsys, monkeypatch, args, fragments):
    proc = cartsim_in_process(["cea", *args, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert_one_error_line(proc, *fragments)
