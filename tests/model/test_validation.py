"""Property tests of the one validation layer (``sim.model.limits``): every value inside
its limit is accepted, every finite value outside is refused naming the key and the
range, unknown keys name the nearest spelling, choices name what is allowed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.errors import InputError
from sim.model.limits import (
    LIMITS,
    check_choice,
    check_count_or_unlimited,
    check_keys,
    check_number,
    check_table,
)

NAMES = sorted(LIMITS)


@st.composite
def inside(draw):
    name = draw(st.sampled_from(NAMES))
    lim = LIMITS[name]
    if lim.integer:
        value = draw(st.integers(int(lim.low), int(lim.high)))
    else:
        value = draw(st.floats(lim.low, lim.high, exclude_min=lim.low_open, exclude_max=lim.high_open,
                               allow_nan=False, allow_infinity=False))
    return name, value


@st.composite
def outside(draw):
    name = draw(st.sampled_from([n for n in NAMES if LIMITS[n].low > -math.inf]))
    lim = LIMITS[name]
    if lim.integer:
        below = st.integers(max_value=int(lim.low) - 1)
        above = st.integers(min_value=int(lim.high) + 1)
    else:
        below = st.floats(max_value=lim.low, exclude_max=not lim.low_open, allow_nan=False, allow_infinity=False)
        above = (st.floats(min_value=lim.high, exclude_min=not lim.high_open, allow_nan=False, allow_infinity=False)
                 if math.isfinite(lim.high) else below)
    return name, draw(st.one_of(below, above))


@settings(max_examples=300)
@given(inside())
def test_inside_accepted(case):
    name, value = case
    check_number(value, name, "f.toml", f"run.{name}")


@settings(max_examples=300)
@given(outside())
def test_outside_refused_naming_key_value_and_range(case):
    name, value = case
    with pytest.raises(InputError) as info:
        check_number(value, name, "f.toml", f"run.{name}")
    message = str(info.value)
    assert message.startswith(f"f.toml: run.{name}: ")
    assert repr(value) in message
    assert "allowed: " + LIMITS[name].describe() in message
    assert "\n" not in message


@given(st.sampled_from([n for n in NAMES if LIMITS[n].integer]),
       st.one_of(st.floats(allow_nan=True), st.text(max_size=5), st.booleans(), st.none()))
def test_whole_number_limits_refuse_every_non_integer(name, value):
    # 3.0 is refused too: a whole number is written without a decimal point
    with pytest.raises(InputError, match="expected a whole number"):
        check_number(value, name, "f.toml", name)


@given(st.sampled_from([n for n in NAMES if not LIMITS[n].integer]),
       st.sampled_from([math.nan, math.inf, -math.inf, "1", True, None]))
def test_real_limits_refuse_non_finite_and_non_numbers(name, value):
    with pytest.raises(InputError, match="expected a finite number"):
        check_number(value, name, "f.toml", name)


@given(st.integers(-10**7, 2 * 10**6))
def test_count_or_unlimited(value):
    lim = LIMITS["capacity_slots"]
    assert check_count_or_unlimited("unlimited", lim, "f", "capacity.icu_beds") is None
    if lim.low <= value <= lim.high:
        assert check_count_or_unlimited(value, lim, "f", "capacity.icu_beds") == value
    else:
        with pytest.raises(InputError, match=r"capacity\.icu_beds.*from 1 to 1,000,000 slots, or \"unlimited\""):
            check_count_or_unlimited(value, lim, "f", "capacity.icu_beds")


ALLOWED = ("patients", "horizon_days", "seed")


@given(st.sampled_from(ALLOWED), st.integers(0, 2), st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
def test_unknown_key_names_nearest_spelling(key, where, letter):
    typo = key[:where] + letter + key[where + 1:]  # one letter replaced
    if typo in ALLOWED:
        assert check_keys({typo: 1}, ALLOWED, "f.toml", "run") == {typo: 1}
        return
    with pytest.raises(InputError) as info:
        check_keys({typo: 1}, ALLOWED, "f.toml", "run")
    assert str(info.value) == f"f.toml: run.{typo}: unknown key; allowed: did you mean 'run.{key}'?"


@given(st.text(alphabet="xyz0123456789", min_size=1, max_size=8))
def test_unknown_key_far_from_every_spelling(key):
    with pytest.raises(InputError, match=rf"f\.toml: run\.{key}: unknown key; allowed: see the list"):
        check_keys({key: 1}, ALLOWED, "f.toml", "run")


@given(st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)))
def test_a_section_must_be_a_table(value):
    with pytest.raises(InputError, match=r"f: run: expected a table"):
        check_table(value, "f", "run")
    with pytest.raises(InputError, match=r"f: run: expected a table"):
        check_keys(value, ALLOWED, "f", "run")


@given(st.sampled_from(("uniform", "loguniform")), st.booleans())
def test_choice_accepts_any_case(word, upper):
    assert check_choice(word.upper() if upper else word, ("uniform", "loguniform"), "f", "k") == word


@given(st.one_of(st.text(max_size=10), st.integers(), st.none()))
def test_choice_refuses_others_naming_all(value):
    if isinstance(value, str) and value.lower() in ("uniform", "loguniform"):
        return
    with pytest.raises(InputError) as info:
        check_choice(value, ("uniform", "loguniform"), "f", "study.followup_spread")
    message = str(info.value)
    assert message.startswith("f: study.followup_spread: unknown value ")
    assert message.endswith("allowed: uniform, loguniform")


def test_open_and_unbounded_limits_are_described():
    assert LIMITS["open_unit"].describe() == "a number > 0 and < 1"
    assert LIMITS["positive"].describe() == "a number > 0"
    assert LIMITS["non_negative"].describe() == "a number >= 0"
    for name, value in (("open_unit", 0.0), ("open_unit", 1.0), ("positive", 0)):
        with pytest.raises(InputError, match="out of range"):
            check_number(value, name, "f", "k")


@given(st.sampled_from(NAMES), st.one_of(st.none(), st.integers(-10, 10), st.floats(allow_nan=True)))
def test_option_unset_is_accepted_and_a_bad_value_names_the_option(name, value):
    from sim.model.limits import check_option

    option = "--" + name.replace("_", "-")
    lim = LIMITS[name]
    good = value is None or (
        math.isfinite(value) and (isinstance(value, int) or not lim.integer) and lim.contains(value))
    if good:
        check_option(option, value, name)
    else:
        with pytest.raises(InputError) as info:
            check_option(option, value, name)
        assert str(info.value).startswith(f"command line: {option}: ")
        assert str(info.value).endswith("allowed: " + lim.describe())
