"""The public API of what-if comparisons: two or more scenarios simulated with common
random numbers (``sim.whatif``), scenario names read through ``sim.io``.

>>> import sim
>>> c = sim.compare(["baseline", "whatif_outpatient"], patients=20_000)   # doctest: +SKIP
>>> c.to_json()["differences"][0]["diff"]                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sim.io.files import load_scenario
from sim.model.scenario import Scenario
from sim.whatif.compare import compare as _compare
from sim.whatif.estimators import DEFAULT_BOOTSTRAP, LEVEL, ProgressCallback
from sim.whatif.result import CompareResult

__all__ = ["CompareResult", "compare"]


def compare(scenarios: Sequence[str | Path | Scenario], patients: int | None = None, seed: int | None = None,
            threads: int | None = None, bootstrap: int = DEFAULT_BOOTSTRAP, level: float = LEVEL,
            progress: ProgressCallback | None = None) -> CompareResult:
    """Simulate the scenarios with common random numbers and compare each with the first
    (:func:`sim.whatif.compare.compare`; scenario files and names in ``scenarios/`` are
    loaded here). Bad input raises :class:`~sim.model.errors.InputError`."""
    return _compare(scenarios, patients, seed, threads, bootstrap, level, progress, load=load_scenario)
