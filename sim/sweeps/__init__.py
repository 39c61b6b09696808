"""Sensitivity sweeps: factors and their ranges (``factors``), the one-way, two-way,
PSA, Sobol and Morris designs (``designs``), their analyses (``analysis``) and the
chunked, resumable, local or Dask runner (``runner``).

Reads no input files (the bounds file arrives parsed); the runner writes its chunks
through ``sim.io.chunks`` so that a sweep can resume. May import ``sim.outcomes``,
``sim.stats``, ``sim.engine`` and ``sim.model``.
"""
