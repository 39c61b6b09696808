"""Economic presets: both shipped presets load with every input sourced, and bad
economic input is one InputError naming the file, the key and what is allowed."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from sim.io.files import ECONOMICS_DIR, load_economics
from sim.model.economic_inputs import ECON_SPECS, EP, EconomicInputs
from sim.model.errors import InputError

PRESETS = {"uk_nhs": ("GBP", 0.035), "us_payer": ("USD", 0.03)}


def _doc(name: str = "uk_nhs") -> dict:
    with (ECONOMICS_DIR / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_load_with_currency_rates_and_sources(name):
    econ = load_economics(name)
    currency, rate = PRESETS[name]
    assert econ.currency == currency
    assert econ.values["discount.costs_per_year"] == rate == econ.values["discount.outcomes_per_year"]
    assert set(econ.values) == {s.name for s in ECON_SPECS}
    assert all(econ.sources[s.name].strip() for s in ECON_SPECS)
    vec = econ.vector()
    # continuous rate per day: exp(-rho * 365.25) is the annual factor 1 / (1 + r)
    assert math.exp(-vec[EP.DISCOUNT_COSTS_PER_YEAR] * 365.25) == pytest.approx(1 / (1 + rate), rel=1e-12)
    assert vec[EP.COST_PRODUCT_RECIPIENT] == econ.values["cost.product.recipient"]


def test_a_preset_can_be_given_by_path(tmp_path: Path):
    copy = tmp_path / "mine.toml"
    copy.write_text((ECONOMICS_DIR / "uk_nhs.toml").read_text())
    assert load_economics(copy).currency == "GBP"


def _set(doc: dict, dotted: str, value: object) -> dict:
    *path, last = dotted.split(".")
    table = doc
    for key in path:
        table = table[key]
    table[last] = value
    return doc


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("cost.icu_per_day.value", -5.0, "cost.icu_per_day.value"),
    ("utility.remission.value", 1.2, "utility.remission.value"),
    ("discount.costs_per_year.value", 35, "0.035 for 3.5%"),
    ("discount.outcomes_per_year.value", 3.5, "discount.outcomes_per_year.value"),
    ("meta.currency", "GPB", "unknown currency"),
])
def test_bad_values_are_one_line_errors(key, value, fragment):
    doc = _set(_doc(), key, value)
    with pytest.raises(InputError) as err:
        EconomicInputs.from_document(doc, "my.toml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("my.toml: ")
    assert fragment in message


def test_missing_currency_and_missing_input_are_named():
    doc = _doc()
    del doc["meta"]["currency"]
    with pytest.raises(InputError, match=r"my.toml: meta.currency: missing"):
        EconomicInputs.from_document(doc, "my.toml")
    doc = _doc()
    del doc["cost"]["hsct"]
    with pytest.raises(InputError, match=r"my.toml: cost.hsct: missing economic input"):
        EconomicInputs.from_document(doc, "my.toml")


def test_unknown_input_and_gamma_utility_are_refused():
    doc = _doc()
    doc["cost"]["hsc"] = doc["cost"]["hsct"]
    with pytest.raises(InputError, match=r"did you mean 'cost\.hsct'"):
        EconomicInputs.from_document(doc, "my.toml")
    doc = _set(_doc(), "utility.remission.uncertainty", {"dist": "gamma", "shape": 2.0, "scale": 0.4})
    with pytest.raises(InputError, match="can leave"):
        EconomicInputs.from_document(doc, "my.toml")
