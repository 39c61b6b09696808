"""Files in and out: TOML inputs (scenarios, parameter sets, targets, trial specs,
bounds), Parquet and JSON outputs written atomically as all-or-none output sets, sweep
chunks and the calibration files.

It imports ``sim.model`` (it parses into model objects) and nothing above it: the
feature packages receive what it reads through ``sim.api``.
"""
