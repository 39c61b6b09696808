"""What-if comparisons of scenarios with common random numbers and paired intervals.

:func:`compare` simulates two or more scenarios with the **same** seed, patient ids
and horizon. Every random number has an address (seed, patient id, decision, cycle,
...; ``sim.engine.rng``), so patient *i* meets the same random
numbers in every scenario and a difference between scenarios is estimated from
paired patient records: the noise that both scenarios share cancels.

For every outcome of ``cartsim run`` it reports each scenario's value and the
difference ``scenario - first scenario`` with a 95% interval, and the variance
reduction the pairing gave: ``var(independent difference) / var(paired difference)``,
where the independent variance is the sum of the two scenarios' own variances (what
two runs with unrelated random numbers would have had for the same patient count).

How the paired intervals are computed (the ``method`` of each row):

* ``delta`` — rates, shares and means per patient or per infused patient. Each is a
  ratio estimator ``r = sum(y_i) / sum(x_i)`` over the patients (``x_i`` = 1 for
  per-patient means, ``x_i`` = infused for rates among infused patients, so the
  denominators may differ between scenarios). Its influence function is
  ``IF_i = (y_i - r x_i) / mean(x)``, and the paired difference has the variance
  ``sum_i (IF_B,i - IF_A,i)^2 / n^2`` (delta method; the per-patient pairing enters
  through the difference of the two influence values of the same patient).
* ``bootstrap`` — Kaplan-Meier landmarks, medians and 24-month restricted means,
  Aalen-Johansen incidences (CIR, NRM) and intention-to-treat landmarks: a paired
  bootstrap over patient ids. Replicate *b* resamples the n patient ids with
  replacement (multinomial counts from a Philox stream addressed by (seed, b)) and
  applies the **same** resample to every scenario; the estimators are recomputed as
  weighted curves by a compiled pass over the presorted times, all replicates of a
  batch at once (200 replicates x 100,000 patients x 2 scenarios: about 2 s on 2
  busy cores). The standard error is the standard deviation of the replicate
  differences.

Intervals are ``diff +- z * SE`` (z = 1.96 for 95%). They measure Monte Carlo error
only: the scenarios run at their point parameter values, so the interval says how
precisely the simulation pins down the difference the model implies, not how
uncertain that difference is given the evidence (parameter uncertainty is what the
probabilistic sweeps are for). A scenario compared with itself
has identical records, so every difference and its standard error are exactly 0. A
median that is not reached (in the estimate or in a replicate) has no interval.

No number past the data (the rule of :mod:`sim.stats.survival`): a landmark,
incidence or restricted mean beyond a scenario's maximum follow-up is None in that
scenario, its difference row has no difference and no interval, and the row's
``not_estimable`` says which scenario and why; the bootstrap applies the same rule to
every replicate (a replicate past its own data gives no number, so no interval).

Known limit of the pairing: a categorical policy choice (cell source, target,
consolidation) is drawn by inverse CDF over its categories in code order, so moving
share from one category to a non-adjacent one re-assigns *which* patients get each
option; an outcome driven by that choice then pairs poorly (a variance reduction
near or below 1, e.g. ``hsct_per_patient`` when the "none" share moves to
decitabine). The interval stays valid; it is just no narrower than unpaired.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba as nb
import numpy as np
from scipy import stats

from sim.engine.kernel import run_kernel
from sim.model.endpoints import summary_reason, summary_value
from sim.model.errors import InputError
from sim.model.limits import RUN_BYTES_PER_PATIENT, check_memory, check_option
from sim.model.outputs import F, I
from sim.model.scenario import Scenario
from sim.outcomes.summary import summarise
from sim.whatif.bootstrap import (
    _CURVE_NAMES,
    _curves,
    _outcomes_from_statistics,
    _replicate_batch,
    bootstrap_counts,
    curve_statistics,
)
from sim.whatif.estimators import (
    CHUNK_PATIENTS,
    DEFAULT_BOOTSTRAP,
    LEVEL,
    OUTCOMES,
    ProgressCallback,
    _delta_se,
    _finite,
    _ratio_data,
    _ratio_value,
    patient_frame,
)
from sim.whatif.result import CompareResult


def _load(scenario: str | Path | Scenario, load: Callable[[str | Path], Scenario] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if load is None:
        raise TypeError(f"scenario {scenario!r} is a name: pass Scenario objects or a loader (sim.api.compare does)")
    return load(scenario)


def _settings(scenarios: list[Scenario], patients: int | None, seed: int | None) -> tuple[list[Scenario], list[str]]:
    """Every scenario with the shared run settings (the first scenario's unless given)."""
    first = scenarios[0].run
    notes = []
    for sc in scenarios[1:]:
        if sc.run.horizon_days != first.horizon_days:
            notes.append(f"{sc.name} sets horizon_days = {sc.run.horizon_days:g}; every scenario uses the first "
                         f"scenario's horizon, {first.horizon_days:g} days")
        if seed is None and sc.run.seed != first.seed:
            notes.append(f"{sc.name} sets seed = {sc.run.seed}; every scenario uses the first scenario's seed, "
                         f"{first.seed} (common random numbers)")
        if patients is None and sc.run.patients != first.patients:
            notes.append(f"{sc.name} sets patients = {sc.run.patients:,}; every scenario simulates the first "
                         f"scenario's {first.patients:,}")
    n = first.patients if patients is None else patients
    s = first.seed if seed is None else seed
    return [sc.with_run(patients=n, seed=s, horizon_days=first.horizon_days) for sc in scenarios], notes


def _simulate(sc: Scenario, threads: int | None, done: int, total: int,
              progress: ProgressCallback | None) -> tuple[np.ndarray, np.ndarray]:
    n = sc.run.patients
    theta = sc.params.theta()
    fout = np.empty((n, len(F)), np.float32)
    iout = np.empty((n, len(I)), np.int8)
    for start in range(0, n, CHUNK_PATIENTS):
        stop = min(n, start + CHUNK_PATIENTS)
        fout[start:stop], iout[start:stop] = run_kernel(theta, sc.run.seed, stop - start, sc.run.horizon_days,
                                                        first_patient_id=start, threads=threads)
        if progress is not None:
            progress(done + stop, total)
    return fout, iout




def compare(scenarios: Sequence[str | Path | Scenario], patients: int | None = None, seed: int | None = None,
            threads: int | None = None, bootstrap: int = DEFAULT_BOOTSTRAP, level: float = LEVEL,
            progress: ProgressCallback | None = None,
            load: Callable[[str | Path], Scenario] | None = None) -> CompareResult:
    """Simulate the scenarios with common random numbers and compare each with the first.

    ``scenarios``: two or more ``Scenario`` objects, or names that ``load`` turns into
    scenarios (this package reads no files; :func:`sim.api.compare` passes the loader).
    Run settings: the first scenario's patients and seed unless given, and
    always its horizon (differences are reported in ``notes``). ``bootstrap``:
    paired bootstrap replicates for the survival outcomes. Methods: module docstring.
    Bad input raises :class:`~sim.model.errors.InputError`.
    """
    t0 = time.perf_counter()
    if isinstance(scenarios, (str, Path, Scenario)) or len(scenarios) < 2:
        got = 1 if isinstance(scenarios, (str, Path, Scenario)) else len(scenarios)
        raise InputError("command line", "SCENARIOS", f"need at least 2 scenarios to compare, got {got}",
                         "two or more scenario files or names")
    for key, value, limit in (("--patients", patients, "patients"), ("--seed", seed, "seed"),
                              ("--threads", threads, "threads"), ("--bootstrap", bootstrap, "bootstrap")):
        check_option(key, value, limit)
    if not 0.0 < level < 1.0:
        raise InputError("command line", "level", f"expected a confidence level in (0, 1), got {level!r}")
    loaded, notes = _settings([_load(s, load) for s in scenarios], patients, seed)
    run = loaded[0].run
    n = run.patients
    # every scenario's patient table and every bootstrap replicate's outcomes are held at once
    key, file = ("--patients", "command line") if patients is not None else ("run.patients", loaded[0].file)
    check_memory(len(loaded) * n * RUN_BYTES_PER_PATIENT, file, key, f"{len(loaded)} x {n:,} patients")
    check_memory(len(loaded) * bootstrap * len(OUTCOMES) * 8.0, "command line", "--bootstrap",
                 f"{bootstrap:,} bootstrap replicates")

    tables = []
    for k, sc in enumerate(loaded):
        fout, iout = _simulate(sc, threads, k * n, len(loaded) * n, progress)
        tables.append(patient_frame(fout, iout))
    simulate_s = time.perf_counter() - t0
    summaries = [summarise(df) for df in tables]
    ratio = [_ratio_data(df) for df in tables]
    values = {o.name: [_finite(summary_value(s, o.name)) for s in summaries] for o in OUTCOMES}
    reasons = {o.name: [summary_reason(s, o.name) if v is None else None for s, v in zip(summaries, values[o.name],
                                                                                          strict=True)]
               for o in OUTCOMES}
    for name in ratio[0]:  # outcomes that summarise() does not report (access to infusion)
        if all(v is None for v in values[name]):
            values[name] = [_ratio_value(*r[name]) for r in ratio]

    # delta-method outcomes
    se: dict[tuple[str, int], tuple[float, float]] = {}
    for name in ratio[0]:
        ya, xa = ratio[0][name]
        for k in range(1, len(loaded)):
            se[name, k] = _delta_se(ya, xa, *ratio[k][name])

    # bootstrap outcomes: the same resample of patient ids for every scenario
    curves = [_curves(df) for df in tables]
    boot_names = [o.name for o in OUTCOMES if o.method == "bootstrap"]
    reps = np.empty((len(loaded), bootstrap, len(boot_names)))
    # numba.config defines NUMBA_NUM_THREADS dynamically (from the environment)
    workers = threads if threads is not None else nb.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    step = _replicate_batch(n, bootstrap)
    # the compiled pass releases the GIL: threads run different (scenario, curve) passes
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for first in range(0, bootstrap, step):
            batch = range(first, min(bootstrap, first + step))
            counts = bootstrap_counts(run.seed, batch, n)
            jobs = {(k, c): pool.submit(curve_statistics, cur[c], counts)
                    for k, cur in enumerate(curves) for c in _CURVE_NAMES}
            for k in range(len(loaded)):
                st = _outcomes_from_statistics({c: jobs[k, c].result() for c in _CURVE_NAMES})
                for j, name in enumerate(boot_names):
                    reps[k, batch.start:batch.stop, j] = st[name]
    with np.errstate(invalid="ignore"):
        for j, name in enumerate(boot_names):
            for k in range(1, len(loaded)):
                a, bk = reps[0, :, j], reps[k, :, j]
                if not (np.isfinite(a).all() and np.isfinite(bk).all()):
                    se[name, k] = (math.nan, math.nan)
                    continue
                se[name, k] = (float(np.std(bk - a, ddof=1)), float(np.sqrt(np.var(a, ddof=1) + np.var(bk, ddof=1))))

    z = float(stats.norm.ppf(0.5 + level / 2.0))
    differences = []
    for k in range(1, len(loaded)):
        for o in OUTCOMES:
            ref, val = values[o.name][0], values[o.name][k]
            se_p, se_i = se[o.name, k]
            diff = None if ref is None or val is None else val - ref
            why = "; ".join(f"{loaded[j].name}: {reasons[o.name][j]}" for j in (0, k)
                            if reasons[o.name][j] is not None) if diff is None else ""
            ok = diff is not None and math.isfinite(se_p)
            differences.append({
                "outcome": o.name, "label": o.label, "unit": o.unit, "scenario": loaded[k].name,
                "scenario_index": k, "reference": loaded[0].name, "reference_value": ref, "value": val,
                "diff": diff,
                "diff_low": diff - z * se_p if ok and diff is not None else None,
                "diff_high": diff + z * se_p if ok and diff is not None else None,
                "se_paired": se_p if ok else None,
                "se_independent": se_i if ok else None,
                "variance_reduction": (se_i / se_p) ** 2 if ok and se_p > 0 else None,
                "method": o.method,
                "not_estimable": why or None,
            })
    return CompareResult(loaded, summaries, values, reasons, differences, n, run.seed, run.horizon_days, bootstrap,
                         level, notes, time.perf_counter() - t0, simulate_s, tables)
