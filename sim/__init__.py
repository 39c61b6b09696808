"""cartsim: a discrete-event simulator of CAR-T therapy for B-ALL relapsed after allo-HSCT.

The public API lives in :mod:`sim.api` and is re-exported here.
"""

from sim.api import (
    CompareResult,
    RunResult,
    __version__,
    as_scenario,
    calibrate,
    compare,
    patient_table,
    posterior_learning,
    power,
    run,
    simon,
    simulate,
    sweep,
    validate,
    with_overrides,
    write_outputs,
    write_report,
)
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
