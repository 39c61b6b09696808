"""The calibration targets file through the one validation layer: a misspelt key names
the nearest spelling with its target, sizes are whole numbers in their stated range."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.api.calibration import load_targets
from sim.io.files import PARAMS_DIR
from sim.model.errors import InputError
from sim.model.limits import LIMITS

REPO = Path(__file__).resolve().parents[2]


def _load_with(tmp_path: Path, old: str, new: str):
    text = (PARAMS_DIR / "targets.toml").read_text()
    assert old in text
    bad = tmp_path / "targets.toml"
    bad.write_text(text.replace("../scenarios/", str(REPO / "scenarios") + "/").replace(old, new, 1))
    return bad, lambda: load_targets(bad)


@pytest.mark.parametrize(("old", "new", "key", "allowed"), [
    ("count = 6\nn = 8", "cuont = 6\nn = 8", "target[s000_mrd_neg_cr].cuont",
     "did you mean 'target[s000_mrd_neg_cr].count'?"),
    ("count = 6\nn = 8", "count = 6\nn = 0", "target[s000_mrd_neg_cr].n", LIMITS["study_size"].describe()),
    ("count = 6\nn = 8", "count = 6\nn = 8.0", "target[s000_mrd_neg_cr].n", LIMITS["study_size"].describe()),
    ('population = "infused"', 'population = "infsued"', "target[s000_mrd_neg_cr].population", "infused"),
])
def test_bad_target_names_key_and_allowed(tmp_path: Path, old: str, new: str, key: str, allowed: str) -> None:
    bad, load = _load_with(tmp_path, old, new)
    with pytest.raises(InputError) as info:
        load()
    message = str(info.value)
    assert message.startswith(f"{bad}: {key}: ")
    assert "allowed: " in message and allowed in message.split("allowed: ", 1)[1]
    assert "\n" not in message
