"""How the pathway is simulated: random addresses (``rng``), per-stage samplers
(``stages``), the one walk through the stages (``pathway``), and its two drivers: the
numba kernel (``kernel``, unlimited resources) and the SimPy engine (``des``, finite
resources, replaying the walk as waits are granted).

Compiled code is cached on disk (numba ``cache=True``). numba invalidates a cached
function only when *its own* file changes, not when an inlined helper in another file
does, which would silently keep stale code. So, unless the user chose a cache folder
(``NUMBA_CACHE_DIR``), the cache lives in a folder named after a hash of every source
file the compiled code depends on: any edit to them starts a fresh cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

#: every package of sim holding compiled code (or code inlined into it)
COMPILED_PACKAGES = ("engine", "model", "stats", "outcomes", "whatif", "trials", "calibration")


def _source_hash() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for folder in COMPILED_PACKAGES:
        for path in sorted((root / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update(numba.__version__.encode())
    return digest.hexdigest()[:16]


if not os.environ.get("NUMBA_CACHE_DIR"):
    _base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cartsim" / "numba"
    numba.config.CACHE_DIR = str(_base / _source_hash())  # type: ignore[attr-defined]  # set dynamically by numba
