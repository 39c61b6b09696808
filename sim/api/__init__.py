"""The public Python API, one module per workflow, mirroring ``sim.commands``: ``runs``
(run, simulate, write_outputs, scenarios), ``comparisons`` (paired what-if comparisons),
``sweeps`` (sensitivity sweeps), ``trials`` (power, Simon designs), ``calibration``
(calibrate, validate, posterior learning) and ``reports`` (the HTML report).

This is the layer that joins files to computation: it reads inputs through ``sim.io``,
hands parsed data to the feature packages (``whatif``, ``sweeps``, ``calibration``,
``trials``), and writes their results through ``sim.io`` and ``sim.report``. It may import
every package below it, never ``sim.commands`` or ``sim.cli``. Module names are nouns so
that none is shadowed by a function of the same name re-exported here.

>>> import sim
>>> result = sim.run("baseline", patients=10_000, seed=1)
>>> result.summary["cr_rate"]            # doctest: +SKIP
"""

from sim.api.calibration import calibrate, posterior_learning, validate
from sim.api.comparisons import CompareResult, compare
from sim.api.reports import write_report
from sim.api.runs import (
    ENGINES,
    RUN_FILES,
    STREAM_ABOVE_PATIENTS,
    RunResult,
    StreamedRun,
    __version__,
    as_scenario,
    check_engine,
    check_run_disk,
    check_run_memory,
    check_threads,
    patient_table,
    run,
    run_streamed,
    simulate,
    with_overrides,
    write_outputs,
)
from sim.api.sweeps import sweep
from sim.api.trials import power, power_spec, simon

__all__ = [
    "ENGINES",
    "RUN_FILES",
    "STREAM_ABOVE_PATIENTS",
    "CompareResult",
    "RunResult",
    "StreamedRun",
    "__version__",
    "as_scenario",
    "calibrate",
    "check_engine",
    "check_run_disk",
    "check_run_memory",
    "check_threads",
    "compare",
    "patient_table",
    "posterior_learning",
    "power",
    "power_spec",
    "run",
    "run_streamed",
    "simon",
    "simulate",
    "sweep",
    "validate",
    "with_overrides",
    "write_outputs",
    "write_report",
]
