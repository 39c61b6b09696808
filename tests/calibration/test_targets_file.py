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
    ("count = 6\nn = 8", "cuont = 6\nn = 8", "target[s000_cr_rate].cuont",
     "did you mean 'target[s000_cr_rate].count'?"),
    ("count = 6\nn = 8", "count = 6\nn = 0", "target[s000_cr_rate].n", LIMITS["study_size"].describe()),
    ("count = 6\nn = 8", "count = 6\nn = 8.0", "target[s000_cr_rate].n", LIMITS["study_size"].describe()),
    ('population = "infused"', 'population = "infsued"', "target[s000_cr_rate].population", "infused"),
])
def test_bad_target_names_key_and_allowed(tmp_path: Path, old: str, new: str, key: str, allowed: str) -> None:
    bad, load = _load_with(tmp_path, old, new)
    with pytest.raises(InputError) as info:
        load()
    message = str(info.value)
    assert message.startswith(f"{bad}: {key}: ")
    assert "allowed: " in message and allowed in message.split("allowed: ", 1)[1]
    assert "\n" not in message


def test_every_usable_number_is_a_target_named_by_the_endpoint_table() -> None:
    from sim.calibration.targets import METRICS
    from sim.model.endpoints import DAYS_PER_MONTH, ENDPOINT_BY_NAME

    targets = load_targets().targets
    assert len(targets) >= 45
    assert sum(t.quantitative for t in targets) >= 45
    for t in targets:
        assert t.metric in METRICS
        assert t.definition and t.resolution
        for pointer in ("Evidence", "external_priors", "evidence notes"):
            assert pointer not in t.resolution, t.target_id
        e = ENDPOINT_BY_NAME.get(t.metric)
        if e is not None:  # one quantity, one name: the endpoint's population and landmark
            assert t.population == e.population, t.target_id
            if e.kind == "landmark":
                assert t.landmark_days == e.months * DAYS_PER_MONTH
    # the statistics the endpoint table lacks never reuse an endpoint's name
    endpoint_named = {m for m in METRICS if m in ENDPOINT_BY_NAME}
    assert {"cr_rate", "crs_grade3plus", "os_m12", "efs_median_days", "cir_m24"} <= endpoint_named
    assert not {"cr", "crs_g3plus", "os_at", "icans_g3plus"} & set(METRICS)


def test_a_metric_on_the_wrong_population_is_a_one_line_error(tmp_path: Path) -> None:
    old = 'population = "cr"\nmetric = "lfs_m24"'
    _bad, load = _load_with(tmp_path, old, old.replace('"cr"', '"infused"'))
    with pytest.raises(InputError) as info:
        load()
    assert "lfs_m24 is defined on 'cr' patients" in str(info.value)
    assert "\n" not in str(info.value)
