"""cartsim: a discrete-event simulator of CAR-T therapy for B-ALL relapsed after allo-HSCT.

The public API lives in :mod:`sim.api` and is re-exported here.
"""

from sim.analysis.compare import CompareResult, compare
from sim.api import (
    RunResult,
    __version__,
    as_scenario,
    patient_table,
    power,
    run,
    simon,
    simulate,
    with_overrides,
    write_outputs,
    write_report,
)
from sim.api_calibration import calibrate, posterior_learning, validate
from sim.api_sweep import sweep
from sim.io.files import load_scenario
from sim.model.errors import InputError

__all__ = [
    "CompareResult",
    "InputError",
    "RunResult",
    "__version__",
    "as_scenario",
    "calibrate",
    "compare",
    "load_scenario",
    "patient_table",
    "posterior_learning",
    "power",
    "run",
    "simon",
    "simulate",
    "sweep",
    "validate",
    "with_overrides",
    "write_outputs",
    "write_report",
]
