"""Calibration and validation against published studies: the targets (``targets``,
parsed from a dict), likelihoods, the study statistics computed on simulated patients
(``study_metrics``), the study block of a run (``study_run``), the IMIS sampler
(``imis``), posterior-predictive validation and identifiability.

Reads no files (``sim.api.calibration`` reads targets and writes the posterior through
``sim.io``). May import ``sim.outcomes``, ``sim.stats``, ``sim.engine`` and
``sim.model``.
"""
