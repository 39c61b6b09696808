"""What-if comparisons with common random numbers: the outcome table and delta-method
estimators (``estimators``), the paired bootstrap (``bootstrap``), the result
(``result``) and the comparison itself (``compare``).

Reads no files (scenario names are loaded by ``sim.api.comparisons``). May import
``sim.outcomes``, ``sim.stats``, ``sim.engine`` and ``sim.model``.
"""
