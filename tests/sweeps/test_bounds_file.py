"""Property tests of the sweep bounds file: bounds inside a parameter's admissible
range (``sim.model.limits.value_range``) with low < high are accepted; a bound outside
it, a non-number or an unknown section is refused naming the file and the key."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.model.errors import InputError
from sim.model.limits import value_range
from sim.model.parameters import SPEC_BY_NAME
from sim.sweeps.factors import parse_bounds

NAME = "remission.relapse.median_days"
RANGE = value_range(SPEC_BY_NAME[NAME])
finite = {"allow_nan": False, "allow_infinity": False}


@given(st.floats(RANGE.low, RANGE.high, exclude_min=RANGE.low_open, **finite),
       st.floats(RANGE.low, RANGE.high, exclude_min=RANGE.low_open, **finite))
def test_bounds_inside_the_range_are_accepted(a, b):
    lo, hi = sorted((a, b))
    if lo == hi:
        with pytest.raises(InputError, match=rf"b\.toml: {NAME}: low .* is not below high"):
            parse_bounds({"bounds": {NAME: [lo, hi]}}, "b.toml")
    else:
        assert parse_bounds({"bounds": {NAME: [lo, hi]}}, "b.toml") == {NAME: (lo, hi)}


@given(st.one_of(st.floats(max_value=RANGE.low, exclude_max=not RANGE.low_open, **finite),
                 st.floats(min_value=RANGE.high, exclude_min=True, **finite)))
def test_a_bound_outside_the_range_is_refused(v):
    inner = (RANGE.low + RANGE.high) / 2
    pair = sorted((v, inner))
    with pytest.raises(InputError) as info:
        parse_bounds({"bounds": {NAME: pair}}, "b.toml")
    assert str(info.value).startswith(f"b.toml: {NAME}: ")
    assert "allowed: " in str(info.value)


@given(st.sampled_from([math.nan, math.inf, "120", True, None]))
def test_a_non_number_is_refused(v):
    with pytest.raises(InputError, match=rf"b\.toml: {NAME}: expected \[low, high\].*two finite numbers"):
        parse_bounds({"bounds": {NAME: [v, 360.0]}}, "b.toml")


def test_a_misspelt_section_names_the_nearest():
    with pytest.raises(InputError, match=r"b\.toml: bound: unknown section; allowed: did you mean 'bounds'\?"):
        parse_bounds({"bound": {NAME: [1.0, 2.0]}}, "b.toml")
