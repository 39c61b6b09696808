"""Tests for sim.engine.rng: the counter-based generator and its address contract.

Known answers pin Philox4x64-10 to ``numpy.random.Philox`` and SplitMix64 to its
published outputs; the address contract (a value depends on its address alone) is
checked directly; statistical checks use stated tolerances of about 4 standard errors
on fixed inputs, so they are deterministic.
"""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numba as nb
import numpy as np
import pytest
from scipy import stats

from sim.engine import rng
from sim.model.states import Decision

ROOT = Path(__file__).resolve().parents[2]
MASK64 = (1 << 64) - 1
WORD_EDGES = (0, 1, 2, 2**32 - 1, 2**32, 2**63 - 1, 2**63, MASK64 - 1, MASK64)


# --------------------------------------------------------------------------- helpers


@nb.njit
def _philox_jit(c0, c1, c2, c3, k0, k1):
    """The compiled path of philox4x64 (the numba overload)."""
    return rng.philox4x64(c0, c1, c2, c3, k0, k1)


@nb.njit
def _splitmix_jit(state):
    return rng.splitmix64(state)


@nb.njit
def _uniform_jit(pkey, decision, cycle, block, lane):
    return rng.uniform(pkey, decision, cycle, block, lane)


@nb.njit
def _uniforms4_jit(pkey, decision, cycle, block):
    return rng.uniforms4(pkey, decision, cycle, block)


@nb.njit
def _uniforms_at(pkey, addresses):
    """uniform at each row (decision, cycle, block, lane) of addresses, in row order."""
    out = np.empty(addresses.shape[0])
    for i in range(addresses.shape[0]):
        out[i] = rng.uniform(pkey, addresses[i, 0], addresses[i, 1], addresses[i, 2], addresses[i, 3])
    return out


@nb.njit
def _patient_uniforms(k0, k1, first_id, n, decision, cycle, block):
    """Lanes 0-3 at one (decision, cycle, block) for patients first_id .. first_id+n-1."""
    out = np.empty((n, 4))
    for i in range(n):
        pkey = rng.patient_key(k0, k1, first_id + i)
        u0, u1, u2, u3 = rng.uniforms4(pkey, decision, cycle, block)
        out[i, 0] = u0
        out[i, 1] = u1
        out[i, 2] = u2
        out[i, 3] = u3
    return out


@nb.njit
def _patient_keys(k0, k1, first_id, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = rng.patient_key(k0, k1, first_id + i)
    return out


@nb.njit
def _all_addresses(pkeys):
    """Every in-layout address of each key, in draw_index order: shape (len(pkeys) * 2**16,)."""
    per_key = rng.MAX_DECISIONS * rng.MAX_CYCLES * rng.MAX_BLOCKS * 4
    out = np.empty(pkeys.size * per_key)
    i = 0
    for pkey in pkeys:
        for decision in range(rng.MAX_DECISIONS):
            for cycle in range(rng.MAX_CYCLES):
                for block in range(rng.MAX_BLOCKS):
                    for lane in range(4):
                        out[i] = rng.uniform(pkey, decision, cycle, block, lane)
                        i += 1
    return out


def _numpy_philox(counter: tuple[int, ...], key: tuple[int, int]) -> list[int]:
    """numpy's Philox block at `counter`: numpy adds 1 to its 256-bit counter (with carry
    across the four words) before its first block, so start it at counter - 1 mod 2**256."""
    c = sum(int(w) << (64 * i) for i, w in enumerate(counter))
    c = (c - 1) % (1 << 256)
    start = np.array([(c >> (64 * i)) & MASK64 for i in range(4)], dtype=np.uint64)
    gen = np.random.Philox(key=np.array(key, dtype=np.uint64), counter=start)
    return [int(x) for x in gen.random_raw(4)]


def _splitmix_reference(state: int) -> int:
    """SplitMix64's output function (Mix13) in exact Python integers, from the paper."""
    z = state & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _unit_reference(bits: int) -> float:
    """The documented 64-bit -> (0, 1) map: top 53 bits, mid-point, as float64 arithmetic."""
    return (float(bits >> 12) + 0.5) * 2.0**-52


def _philox_cases() -> list[tuple[tuple[int, ...], tuple[int, int]]]:
    """Counters and keys: edge words (0, 2**64-1, carries) and random ones (fixed seed)."""
    cases: list[tuple[tuple[int, ...], tuple[int, int]]] = [
        ((0, 0, 0, 0), (0, 0)),  # numpy starts at all-ones and wraps the full counter
        ((MASK64,) * 4, (MASK64, MASK64)),
        ((0, 1, 0, 0), (1, 2)),  # c0 - 1 borrows from c1
        ((0, 0, 0, 1), (MASK64, 0)),  # borrow ripples through three words
        ((1, 0, 0, 0), (0, MASK64)),
        ((2**63, MASK64, 0, 2**63), (2**63, 1)),
    ]
    gen = np.random.default_rng(20240601)
    for _ in range(150):
        words = gen.choice(np.array(WORD_EDGES, dtype=np.uint64), size=6)
        cases.append((tuple(int(w) for w in words[:4]), (int(words[4]), int(words[5]))))
    for _ in range(150):
        words = gen.integers(0, 2**64, size=6, dtype=np.uint64, endpoint=False)
        cases.append((tuple(int(w) for w in words[:4]), (int(words[4]), int(words[5]))))
    return cases


PHILOX_CASES = _philox_cases()


# --------------------------------------------------------------------------- Philox


def test_philox_compiled_matches_numpy_known_answers() -> None:
    bad = []
    for counter, key in PHILOX_CASES:
        args = [np.uint64(w) for w in (*counter, *key)]
        got = [int(x) for x in _philox_jit(*args)]
        if got != _numpy_philox(counter, key):
            bad.append((counter, key))
    assert not bad, f"compiled Philox4x64-10 differs from numpy for {len(bad)} cases, e.g. {bad[:3]}"


def test_philox_pure_python_matches_numpy_known_answers() -> None:
    bad = []
    for counter, key in PHILOX_CASES:
        got = rng.philox4x64(*counter, *key)  # called from Python: the plain-Python body
        assert all(isinstance(x, np.uint64) for x in got)
        if [int(x) for x in got] != _numpy_philox(counter, key):
            bad.append((counter, key))
    assert not bad, f"pure-Python Philox4x64-10 differs from numpy for {len(bad)} cases, e.g. {bad[:3]}"


def test_philox_numpy_helper_handles_counter_carry() -> None:
    """The reference itself: numpy's block at counter (0,0,0,0) is the block after
    (2**64-1, 2**64-1, 2**64-1, 2**64-1), i.e. numpy carries across all four words."""
    gen = np.random.Philox(key=np.array([3, 4], dtype=np.uint64), counter=np.full(4, MASK64, dtype=np.uint64))
    first = [int(x) for x in gen.random_raw(4)]
    assert first == [int(x) for x in rng.philox4x64(0, 0, 0, 0, 3, 4)]
    assert first != [int(x) for x in rng.philox4x64(0, MASK64, MASK64, MASK64, 3, 4)]


def test_patient_key_is_first_philox_word_of_numpy() -> None:
    for seed, rep, pid in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (12345, 7, 999_999), (MASK64, MASK64, 2**40)]:
        k0, k1 = rng.make_key(seed, rep)
        expected = _numpy_philox((pid, 0, 0, 0), (seed, rep))[0]
        assert int(rng.patient_key(k0, k1, pid)) == expected
        assert int(rng.patient_key.py_func(k0, k1, pid)) == expected


# --------------------------------------------------------------------------- SplitMix64

SPLITMIX_SEED0 = (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F)


@pytest.mark.parametrize(("i", "expected"), list(enumerate(SPLITMIX_SEED0, start=1)))
def test_splitmix64_published_outputs_for_seed_0(i: int, expected: int) -> None:
    state = (i * int(rng.GAMMA)) & MASK64
    assert int(_splitmix_jit(np.uint64(state))) == expected
    with np.errstate(over="ignore"):
        assert int(rng.splitmix64.py_func(np.uint64(state))) == expected
    assert _splitmix_reference(state) == expected


def test_splitmix64_compiled_and_python_agree_on_random_states() -> None:
    states = np.random.default_rng(7).integers(0, 2**64, size=2000, dtype=np.uint64)
    states = np.concatenate([states, np.array([0, 1, 2**63, MASK64], dtype=np.uint64)])
    with np.errstate(over="ignore"):
        for s in states:
            expected = _splitmix_reference(int(s))
            assert int(_splitmix_jit(s)) == expected
            assert int(rng.splitmix64.py_func(s)) == expected


# --------------------------------------------------------------------------- uniforms


def _some_keys() -> list[np.uint64]:
    k0, k1 = rng.make_key(2024, 3)
    # compiled functions return uint64 to Python as a plain int: wrap it back (see
    # test_uniform_from_python_with_python_int_key for what happens otherwise)
    keys = [np.uint64(rng.patient_key(k0, k1, pid)) for pid in (0, 1, 17, 123_456)]
    return [*keys, np.uint64(0), np.uint64(MASK64)]


ADDRESSES = [(0, 0, 0, 0), (0, 0, 0, 3), (1, 0, 0, 0), (15, 15, 15, 3), (3, 7, 2, 1), (9, 0, 15, 2)]


def test_uniform_compiled_matches_documented_formula_and_pure_python() -> None:
    """Compiled uniform (inside njit and called from Python with a uint64 key) equals the
    documented formula in exact integers, and the composition of the .py_func bodies."""
    with np.errstate(over="ignore"):
        for pkey in _some_keys():
            for address in ADDRESSES:
                index = rng.draw_index(*address)
                state = (int(pkey) + (index + 1) * int(rng.GAMMA)) & MASK64
                expected = _unit_reference(_splitmix_reference(state))
                assert _uniform_jit(pkey, *address) == expected
                assert rng.uniform(pkey, *address) == expected
                pure = rng.to_unit.py_func(rng.splitmix64.py_func(pkey + np.uint64(index + 1) * rng.GAMMA))
                assert pure == expected


def test_uniforms4_equals_four_uniforms() -> None:
    for pkey in _some_keys():
        for decision, cycle, block, _ in ADDRESSES:
            lanes = tuple(rng.uniform(pkey, decision, cycle, block, lane) for lane in range(4))
            assert _uniforms4_jit(pkey, decision, cycle, block) == lanes
            assert rng.uniforms4(pkey, decision, cycle, block) == lanes
            assert len(set(lanes)) == 4  # not four copies of one value


_PY_INT_KEY_BUG = (
    "BUG sim/engine/rng.py: compiled functions return uint64 to Python as a plain int, and "
    "splitmix64/to_unit/uniform accept any integer type; a plain int is typed int64 (where >> "
    "is an arithmetic, sign-extending shift) or, once an int64 specialisation exists, an int "
    ">= 2**63 raises OverflowError at dispatch"
)


def test_uniform_py_func_agrees_with_compiled() -> None:
    with np.errstate(over="ignore"):
        for pkey in _some_keys():
            for address in ADDRESSES:
                assert rng.uniform.py_func(pkey, *address) == _uniform_jit(pkey, *address)
                assert rng.uniforms4.py_func(pkey, *address[:3]) == _uniforms4_jit(pkey, *address[:3])


def test_uniform_from_python_with_the_python_key_helper() -> None:
    """Python callers (the SimPy engine's arrival gaps, tests) draw through the
    compiled ``uniform`` and must get the compiled code's value for the same address. Python callers
    take keys from ``patient_key_u64`` (a numpy uint64): a plain int from the compiled
    ``patient_key`` would be dispatched as int64 or uint64 depending on its size."""
    k0, k1 = rng.make_key(1, 0)
    for pid in range(8):
        pkey = rng.patient_key_u64(1, 0, pid)
        assert isinstance(pkey, np.uint64)
        assert int(pkey) == int(rng.patient_key(k0, k1, pid))
        for address in ADDRESSES:
            assert rng.uniform(pkey, *address) == _uniform_jit(pkey, *address)
            assert rng.uniforms4(pkey, *address[:3]) == _uniforms4_jit(pkey, *address[:3])


_NO_JIT_SCRIPT = """
import numpy as np
from sim.engine import rng
from sim.model.states import Decision
k0, k1 = rng.make_key(2024, 3)
out = []
for pid in (0, 1, 17, 123456):
    pkey = rng.patient_key(k0, k1, pid)
    out.append(int(pkey))
    for address in {addresses!r}:
        out.append(rng.uniform(pkey, *address).hex())
        out.append([x.hex() for x in rng.uniforms4(pkey, *address[:3])])
print(repr(out))
"""


def test_engine_without_numba_gives_identical_values() -> None:
    """The plain-Python path (NUMBA_DISABLE_JIT=1, documented in philox4x64) gives the
    same keys and uniforms as compiled code, bit for bit."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    script = _NO_JIT_SCRIPT.format(addresses=ADDRESSES)
    res = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    got = ast.literal_eval(res.stdout.strip())
    k0, k1 = rng.make_key(2024, 3)
    expected: list[object] = []
    for pid in (0, 1, 17, 123456):
        pkey = np.uint64(rng.patient_key(k0, k1, pid))
        expected.append(int(pkey))
        for address in ADDRESSES:
            expected.append(_uniform_jit(pkey, *address).hex())
            expected.append([x.hex() for x in _uniforms4_jit(pkey, *address[:3])])
    assert got == expected


def test_uniform_depends_only_on_address_not_call_order() -> None:
    pkey = _some_keys()[1]
    grid = np.array(list(itertools.product(range(16), range(16), range(16), range(4))), dtype=np.int64)
    in_order = _uniforms_at(pkey, grid)
    perm = np.random.default_rng(11).permutation(grid.shape[0])
    shuffled = _uniforms_at(pkey, grid[perm])
    np.testing.assert_array_equal(shuffled, in_order[perm])
    # interleaving with draws of another patient changes nothing either
    other = _some_keys()[2]
    for i in (0, 5, 16383):
        rng.uniform(other, *grid[i])
        assert rng.uniform(pkey, *grid[i]) == in_order[i]


def test_distinct_addresses_and_keys_give_distinct_values() -> None:
    """All 2**16 in-layout addresses of 4 patient keys: 262144 values. A 52-bit collision
    among them has probability ~ n**2 / 2**53 = 7.6e-6, so any repeat is a defect."""
    k0, k1 = rng.make_key(99, 0)
    pkeys = _patient_keys(k0, k1, 0, 4)
    values = _all_addresses(pkeys)
    assert values.size == 4 * 64 * 16 * 16 * 4
    assert np.unique(values).size == values.size


def test_each_address_component_changes_the_value() -> None:
    pkey = _some_keys()[0]
    base = rng.uniform(pkey, 2, 3, 4, 1)
    for changed in [(3, 3, 4, 1), (2, 4, 4, 1), (2, 3, 5, 1), (2, 3, 4, 2)]:
        assert rng.uniform(pkey, *changed) != base
    assert rng.uniform(pkey + np.uint64(1), 2, 3, 4, 1) != base


def test_patient_key_differs_across_seeds_replicates_and_ids() -> None:
    keys = []
    for seed, rep in itertools.product([0, 1, 2, 3, 2**32, MASK64], [0, 1, 2, 5, 2**63]):
        k0, k1 = rng.make_key(seed, rep)
        keys.append(_patient_keys(k0, k1, 0, 200))
    allk = np.concatenate(keys)
    assert np.unique(allk).size == allk.size  # 6000 keys, 64-bit: collision prob ~ 1e-12
    # (seed, replicate) is not symmetric
    assert rng.patient_key(*rng.make_key(1, 2), 0) != rng.patient_key(*rng.make_key(2, 1), 0)


def test_make_key_accepts_full_range() -> None:
    assert rng.make_key(0) == (np.uint64(0), np.uint64(0))
    k0, k1 = rng.make_key(MASK64, MASK64)
    assert (int(k0), int(k1)) == (MASK64, MASK64)
    assert isinstance(k0, np.uint64)
    assert isinstance(k1, np.uint64)


@pytest.mark.parametrize(("seed", "replicate"), [(-1, 0), (2**64, 0), (0, -1), (0, 2**64), (-(2**70), 0)])
def test_make_key_rejects_out_of_range(seed: int, replicate: int) -> None:
    with pytest.raises(ValueError, match="2\\*\\*64"):
        rng.make_key(seed, replicate)


@pytest.mark.parametrize("bad", [1.5, 0.5])
def test_make_key_rejects_non_integers(bad: float) -> None:
    with pytest.raises((TypeError, ValueError)):
        rng.make_key(bad)


def test_uniform_open_interval_at_extreme_bits_that_work() -> None:
    assert rng.to_unit(np.uint64(0)) == 2.0**-53
    assert rng.to_unit(np.uint64(0)) > 0.0
    # the largest 53-bit value below the top one, and the whole lower half, stay < 1
    assert rng.to_unit(np.uint64(MASK64 - 2**11)) < 1.0
    assert rng.to_unit(np.uint64(2**63 - 1)) < 0.5


def test_to_unit_of_all_ones_is_below_one() -> None:
    assert rng.to_unit(np.uint64(MASK64)) < 1.0
    assert rng.to_unit.py_func(np.uint64(MASK64)) < 1.0


def _splitmix_inverse(z: int) -> int:
    """The state whose SplitMix64 output is z (each step of Mix13 is a bijection)."""

    def unxorshift(y: int, s: int) -> int:
        x = y
        for _ in range(64 // s + 1):
            x = y ^ (x >> s)
        return x

    z = unxorshift(z, 31)
    z = (z * pow(0x94D049BB133111EB, -1, 1 << 64)) & MASK64
    z = unxorshift(z, 27)
    z = (z * pow(0xBF58476D1CE4E5B9, -1, 1 << 64)) & MASK64
    return unxorshift(z, 30)


def test_splitmix_inverse_helper() -> None:
    for s in (0, 1, 12345, MASK64, 0xCF9A04AFFA6BADC0):
        assert _splitmix_inverse(_splitmix_reference(s)) == s


def test_uniform_never_returns_one() -> None:
    state = _splitmix_inverse(MASK64)  # SplitMix64(state) = 2**64 - 1
    pkey = np.uint64((state - int(rng.GAMMA)) & MASK64)  # address (0,0,0,0) has index + 1 = 1
    assert 0.0 < _uniform_jit(pkey, 0, 0, 0, 0) < 1.0


# --------------------------------------------------------------------------- statistics

N_STAT = 1_000_000


def _uniformity_failures(u: np.ndarray) -> list[str]:
    """Checks with stated tolerances; returns the failed ones (empty list: all pass).

    mean within 4 standard errors (SE = sqrt(1/12/n)); chi-square on 100 equal bins with
    p > 1e-4; lag-1 Pearson correlation within 4/sqrt(n) (its SE under independence)."""
    n = u.size
    out = []
    if not (np.all(u > 0.0) and np.all(u < 1.0)):
        out.append("outside (0, 1)")
    se = np.sqrt(1.0 / 12.0 / n)
    if abs(u.mean() - 0.5) > 4.0 * se:
        out.append(f"mean {u.mean()} off by > 4 SE")
    counts = np.bincount(np.minimum((u * 100).astype(np.int64), 99), minlength=100)
    p_chi2 = stats.chisquare(counts).pvalue
    if p_chi2 <= 1e-4:
        out.append(f"chi-square p = {p_chi2}")
    r1 = np.corrcoef(u[:-1], u[1:])[0, 1]
    if abs(r1) > 4.0 / np.sqrt(n):
        out.append(f"lag-1 correlation {r1}")
    return out


def test_uniformity_checks_have_power() -> None:
    """The checks above must be able to fail: feed them flawed sequences."""
    u = np.random.default_rng(5).random(N_STAT) * (1 - 2e-16) + 1e-16
    assert _uniformity_failures(u) == []
    assert any("mean" in f for f in _uniformity_failures(u**1.01))
    assert any("chi-square" in f for f in _uniformity_failures((np.floor(u * 50) + 0.5) / 50 * 0.999 + 1e-4))
    lagged = (u + 0.02 * np.roll(u, 1)) / 1.02  # lag-1 correlation ~ 0.02
    assert any("lag-1" in f for f in _uniformity_failures(lagged))
    assert "outside (0, 1)" in _uniformity_failures(np.append(u, 1.0))


def test_uniforms_over_consecutive_patient_keys() -> None:
    k0, k1 = rng.make_key(12345, 0)
    u = _patient_uniforms(k0, k1, 0, N_STAT, 0, 0, 0)
    assert _uniformity_failures(u[:, 0]) == []
    assert _uniformity_failures(u[:, 3]) == []


def test_uniforms_over_consecutive_addresses_of_a_key() -> None:
    """All 2**16 in-layout addresses (in draw_index order) of one key, then of 15 keys
    (983,040 values), each key's block in address order."""
    k0, k1 = rng.make_key(777, 1)
    one = _all_addresses(_patient_keys(k0, k1, 0, 1))
    assert _uniformity_failures(one) == []
    many = _all_addresses(_patient_keys(k0, k1, 1, 15))
    assert _uniformity_failures(many) == []


def test_lanes_and_blocks_of_a_patient_are_uncorrelated() -> None:
    """Across 10**6 patients, the Pearson correlation of each pair of lanes of one block,
    and of lane 0 of adjacent blocks, is within 4/sqrt(n)."""
    k0, k1 = rng.make_key(31337, 2)
    a = _patient_uniforms(k0, k1, 0, N_STAT, 4, 1, 0)
    b = _patient_uniforms(k0, k1, 0, N_STAT, 4, 1, 1)
    tol = 4.0 / np.sqrt(N_STAT)
    for i, j in itertools.combinations(range(4), 2):
        assert abs(np.corrcoef(a[:, i], a[:, j])[0, 1]) < tol, (i, j)
    assert abs(np.corrcoef(a[:, 0], b[:, 0])[0, 1]) < tol
    assert abs(np.corrcoef(a[:, 3], b[:, 0])[0, 1]) < tol  # consecutive draw indices
    # and the pair (lane 0, lane 1) fills the unit square evenly: 10 x 10 cells, p > 1e-4
    cells = np.minimum((a[:, 0] * 10).astype(np.int64), 9) * 10 + np.minimum((a[:, 1] * 10).astype(np.int64), 9)
    assert stats.chisquare(np.bincount(cells, minlength=100)).pvalue > 1e-4


# --------------------------------------------------------------------------- address layout


def test_draw_index_is_injective_and_dense_over_the_layout() -> None:
    seen = {}
    for address in itertools.product(range(rng.MAX_DECISIONS), range(rng.MAX_CYCLES), range(rng.MAX_BLOCKS), range(4)):
        index = rng.draw_index(*address)
        assert rng.draw_index.py_func(*address) == index
        assert index not in seen, f"{address} and {seen[index]} share index {index}"
        seen[index] = address
    n = rng.MAX_DECISIONS * rng.MAX_CYCLES * rng.MAX_BLOCKS * 4
    assert sorted(seen) == list(range(n))
    # documented order: lane fastest, then block, cycle, decision
    assert rng.draw_index(0, 0, 0, 1) == 1
    assert rng.draw_index(0, 0, 1, 0) == 4
    assert rng.draw_index(0, 1, 0, 0) == 4 * rng.MAX_BLOCKS
    assert rng.draw_index(1, 0, 0, 0) == 4 * rng.MAX_BLOCKS * rng.MAX_CYCLES


# --------------------------------------------------------------------------- decisions


def test_every_decision_has_its_own_code_inside_the_layout() -> None:
    codes = [int(d) for d in Decision]
    assert len(set(codes)) == len(codes)
    assert all(0 < c < rng.MAX_DECISIONS for c in codes)


def _decision_argument_sources() -> list[tuple[str, int, str]]:
    """(file, line, source of the decision) of every addressed draw in ``sim/``: the
    second argument of ``uniform(key, decision, cycle, block, lane)`` and
    ``uniforms4(key, decision, cycle, block)``, a module constant replaced by its value."""
    out = []
    for path in sorted((ROOT / "sim").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                     for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or len(node.args) < 4:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in ("uniform", "uniforms4") or path.name == "rng.py":
                continue
            arg = node.args[1]
            if isinstance(arg, ast.Name) and arg.id in constants:
                arg = constants[arg.id]
            out.append((path.name, node.lineno, ast.unparse(arg)))
    return out


def test_every_draw_names_its_decision_from_the_one_enum() -> None:
    """No hand-numbered decision anywhere: each address's decision comes from Decision."""
    found = _decision_argument_sources()
    assert {f for f, _, _ in found} >= {"stages.py", "des.py", "simulate.py"}
    bad = [x for x in found if "Decision." not in x[2]]
    assert bad == []


def test_room_for_64_decisions_moves_no_address() -> None:
    """The decision is the most significant part of the index: a layout with room for 64
    decisions gives the addresses of codes 0-15 the indices of the old 16-decision layout,
    so widening it changed no draw."""
    assert rng.MAX_DECISIONS >= 64
    old = {(d, c, b, lane): ((d * 16 + c) * 16 + b) * 4 + lane
           for d, c, b, lane in itertools.product(range(16), range(16), range(16), range(4))}
    assert all(rng.draw_index(*address) == index for address, index in old.items())
