"""Counter-based random numbers: every uniform has an address and depends on it alone.

Address: (seed, replicate, patient_id, decision, cycle, block, lane). Two levels:

1. **Patient key** — Philox4x64-10 (Salmon et al., SC'11, "Parallel random numbers:
   as easy as 1, 2, 3"; passes TestU01 BigCrush) of the counter (patient_id, 0, 0, 0)
   under the key (seed, replicate): one call per patient, pinned to numpy's
   ``Philox`` bit generator by known-answer tests.
2. **Draw** — the SplitMix64 output function (Steele, Lea & Flood, OOPSLA 2014,
   "Fast splittable pseudorandom number generators"; passes BigCrush) at state
   ``patient_key + (index + 1) * GAMMA``, where ``index`` numbers the (decision,
   cycle, block, lane) of the draw. A patient's draws are thus elements of the
   SplitMix64 sequence started at its Philox-derived key; pinned to the published
   SplitMix64 outputs for seed 0 by known-answer tests.

Why two levels: one Philox4x64-10 block costs ~30 ns of throughput but ~70 ns of
latency inside the patient loop (measured here), and a patient needs ~15 blocks; a
SplitMix64 draw costs ~2 ns. Known limit: a patient's draws lie in a window of the
2^64 SplitMix64 cycle, 2^10 states per decision code up to the highest code in use
(W = 2^14 states for codes up to 15); two patients' windows overlap with probability
about n^2 * W * 2^-64 (0.1 for 10^7 patients and W = 2^14); an overlap makes a few
draws of two patients equal at *different* addresses, which is statistically
immaterial, and is stated here for completeness.
There is no generator state anywhere: the same address always yields the same
number, whatever the thread, chunk, engine or worker.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

_M0 = np.uint64(0xD2E7470EE14C6C93)
_M1 = np.uint64(0xCA5A826395121157)
_W0 = np.uint64(0x9E3779B97F4A7C15)
_W1 = np.uint64(0xBB67AE8584CAA73B)
_S12 = np.uint64(12)
_TWO_M52 = 2.0**-52


@intrinsic
def _mulhi64(typingctx, a, b):  # noqa: ARG001
    """High 64 bits of the 128-bit product a*b, as one LLVM i128 multiply (numba has
    no uint128; four 32-bit partial products were 3.5x slower)."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):  # noqa: ARG001
        i128 = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return builder.trunc(builder.lshr(product, ir.Constant(i128, 64)), ir.IntType(64))

    return sig, codegen


_MASK64 = (1 << 64) - 1


_U64 = int | np.uint64  # plain Python ints (tests) or numpy uint64 (the engine)


def philox4x64(c0: _U64, c1: _U64, c2: _U64, c3: _U64, k0: _U64, k1: _U64
               ) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    """Philox4x64 with 10 rounds of the counter (c0..c3) under the key (k0, k1).

    This body is the plain-Python reference (exact integer arithmetic), used when the
    engine runs without numba (``NUMBA_DISABLE_JIT=1``, ``.py_func``); compiled code
    uses :func:`_philox4x64_compiled` (one i128 multiply per product) through the overload below. Both are pinned to
    numpy's ``Philox`` by known-answer tests.
    """
    c0, c1, c2, c3, k0, k1 = (int(x) for x in (c0, c1, c2, c3, k0, k1))
    m0, m1, w0, w1 = int(_M0), int(_M1), int(_W0), int(_W1)
    for _ in range(10):
        p0 = m0 * c0
        p1 = m1 * c2
        c0, c1, c2, c3 = (p1 >> 64) ^ c1 ^ k0, p1 & _MASK64, (p0 >> 64) ^ c3 ^ k1, p0 & _MASK64
        k0 = (k0 + w0) & _MASK64
        k1 = (k1 + w1) & _MASK64
    return np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3)


def _philox4x64_compiled(c0, c1, c2, c3, k0, k1):
    for _ in range(10):
        hi0, lo0 = _mulhi64(_M0, c0), _M0 * c0
        hi1, lo1 = _mulhi64(_M1, c2), _M1 * c2
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = k0 + _W0
        k1 = k1 + _W1
    return c0, c1, c2, c3


@overload(philox4x64, jit_options={"cache": True})  # type: ignore[typeddict-unknown-key]  # stubs omit "cache"
def _philox4x64_overload(c0, c1, c2, c3, k0, k1):  # noqa: ARG001
    return _philox4x64_compiled


GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64 increment (odd; golden ratio)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
#: address layout: index = ((decision * MAX_CYCLES + cycle) * MAX_BLOCKS + block) * 4 + lane.
#: The decision is the most significant part, so room for more decisions moves no
#: existing address: a draw's value does not depend on MAX_DECISIONS.
MAX_CYCLES = 16  # infusion cycles per patient (policy.max_infusions is capped at this)
MAX_BLOCKS = 16  # blocks per decision and cycle (manufacturing attempts are capped at this)
MAX_DECISIONS = 64  # codes 0-63 (sim.model.states.Decision)


@nb.njit(inline="always", cache=True)
def to_unit(x: np.uint64) -> float:
    """Map 64 random bits to a double in the open interval (0, 1): the midpoint of one
    of 2^52 equal cells, exact in binary64 (53 bits would round the top cell to 1.0)."""
    return (float(np.uint64(x) >> _S12) + 0.5) * _TWO_M52


@nb.njit(inline="always", cache=True)
def splitmix64(state: np.uint64) -> np.uint64:
    """The SplitMix64 output function (Stafford's Mix13 finaliser) of a state."""
    z = (state ^ (state >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@nb.njit(cache=True)
def patient_key(k0: np.uint64, k1: np.uint64, patient_id: int) -> np.uint64:
    """The patient's 64-bit stream key: first word of Philox4x64-10((id, 0, 0, 0), key).
    From Python, prefer :func:`patient_key_u64`, which returns a numpy uint64."""
    r0, _, _, _ = philox4x64(np.uint64(patient_id), np.uint64(0), np.uint64(0), np.uint64(0), k0, k1)
    return r0


@nb.njit(cache=True)
def patient_keys(k0: np.uint64, k1: np.uint64, first_patient_id: int, n: int) -> np.ndarray:
    """Stream keys of patients first_patient_id .. first_patient_id + n - 1 (uint64 array)."""
    out = np.empty(n, np.uint64)
    for i in range(n):
        out[i] = patient_key(k0, k1, first_patient_id + i)
    return out


def patient_key_u64(seed: int, replicate: int, patient_id: int) -> np.uint64:
    """The patient's stream key for Python callers (e.g. the SimPy engine), as np.uint64."""
    k0, k1 = make_key(seed, replicate)
    return np.uint64(patient_key(k0, k1, patient_id))


@nb.njit(inline="always", cache=True)
def draw_index(decision: int, cycle: int, block: int, lane: int) -> int:
    return ((decision * MAX_CYCLES + cycle) * MAX_BLOCKS + block) * 4 + lane


@nb.njit(inline="always", cache=True)
def uniform(pkey: np.uint64, decision: int, cycle: int, block: int, lane: int) -> float:
    """The uniform at (patient key, decision, cycle, block, lane), in (0, 1). The key
    is reinterpreted as uint64, so a Python int from a compiled ``patient_key`` (which
    numba may type as int64) gives the same draw as inside the kernel."""
    index = np.uint64(draw_index(decision, cycle, block, lane) + 1)
    return to_unit(np.uint64(splitmix64(np.uint64(pkey) + index * GAMMA)))


@nb.njit(inline="always", cache=True)
def uniforms4(pkey: np.uint64, decision: int, cycle: int, block: int) -> tuple[float, float, float, float]:
    """Lanes 0-3 at (patient key, decision, cycle, block); unused lanes cost nothing
    once inlined (the compiler drops them)."""
    return (uniform(pkey, decision, cycle, block, 0), uniform(pkey, decision, cycle, block, 1),
            uniform(pkey, decision, cycle, block, 2), uniform(pkey, decision, cycle, block, 3))


def make_key(seed: int, replicate: int = 0) -> tuple[np.uint64, np.uint64]:
    """The Philox key of a (seed, replicate) pair; both must fit in 64 unsigned bits."""
    for value in (seed, replicate):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < 2**64:
            raise ValueError(f"seed and replicate must be integers in [0, 2**64), got {value!r}")
    return np.uint64(seed), np.uint64(replicate)
