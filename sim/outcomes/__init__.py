"""Endpoints computed from patient records: the run summary (``summary``: rates,
Kaplan-Meier landmarks and medians, cumulative incidences) and the compiled
per-parameter-set reduction used by sweeps (``sets``).

May import ``sim.stats``, ``sim.engine`` and ``sim.model``.
"""
