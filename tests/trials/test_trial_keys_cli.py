"""The trial-design keys added for weighted log-rank looks, the adaptive efficacy stop
and multi-arm allocation weights: bad values give one error line naming the file and
the key (exit 2, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_process import assert_one_error_line, cartsim_in_process

ROOT = Path(__file__).resolve().parents[2]
TRIALS = ROOT / "scenarios" / "trials"
FIXED_FOLLOW_UP = ('rule = "min_followup"        # data cut-off = last randomisation + min_followup_days\n'
                   "min_followup_days = 365.25")


def _write(tmp_path: Path, name: str, extra: str, replace: tuple[str, str] = ("", "")) -> Path:
    text = (TRIALS / f"{name}.toml").read_text().replace('scenario = "../baseline.toml"', 'scenario = "baseline"')
    if replace[0]:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n" + extra)
    return path


@pytest.mark.parametrize(("name", "extra", "replace", "fragments"), [
    ("two_arm_tandem_vs_cd19", '[adaptive]\nefficacy = "haybittle"\n',
     (FIXED_FOLLOW_UP, 'rule = "events"\nevents = 100\nmax_followup_days = 3000.0'),
     ("adaptive.efficacy", "haybittle")),
    ("event_driven_os_interims", "", ('test = "cox"', 'test = "maxcombo"'),
     ("interim.futility", "futility_z", "maxcombo")),
    ("event_driven_os_interims", "", ('test = "cox"', 'test = "fh"\nrho = 0.0\ngamma = 1.0'),
     ("interim.futility", "futility_z")),
    ("multi_arm_products_vs_cd19", "[allocation]\nweights = [2.0, 1.0]\n", ("", ""), ("allocation.weights", "4")),
    ("multi_arm_products_vs_cd19", "[allocation]\nratio = 2.0\n", ("", ""), ("allocation.ratio",)),
    ("two_arm_tandem_vs_cd19", "", ("ratio = 1.0   # experimental : control", "weights = [1.0, 1.0]"),
     ("allocation.weights", "allocation.ratio")),
])
def test_new_keys_one_error_line(tmp_path, capsys, monkeypatch, name, extra, replace, fragments):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, name, extra, replace)
    proc = cartsim_in_process(["power", path, "--trials", "5", "--out", "o"], capsys, monkeypatch)
    assert_one_error_line(proc, "bad.toml", *fragments)
    assert not (tmp_path / "o").exists()
