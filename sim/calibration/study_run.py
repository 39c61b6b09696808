"""What ``cartsim run`` adds for a study-replication scenario (one with a ``[study]``
section): the abstract's targets, computed on the run's patients under the study's
administrative follow-up, beside the reported values.

The main summary of a run follows every patient to the horizon (the model's own
curves); this block censors like the published study did, so that "simulate study 004"
answers "what would that study have reported under these parameter values". With more
patients than the study had, the interval is the 2.5-97.5% spread of the statistic over
consecutive cohorts of the study's size: the sampling noise of a study that small at
these fixed parameter values (``cartsim validate`` adds the parameter uncertainty).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from sim.calibration.study_metrics import cohort_size, simulate_study, statistic
from sim.calibration.targets import CalibrationTarget, Study, TargetSet
from sim.model.scenario import Scenario

#: a cohort interval needs at least this many whole cohorts of the study's size
MIN_COHORTS = 40


def study_targets(scenario: Scenario, targets: TargetSet | None) -> tuple[Study, list[CalibrationTarget]] | None:
    """The study of the targets (``targets.toml``, parsed) with the scenario's seed file
    (its scenario replaced by ``scenario``, so a user's edits count) and its targets; None
    when the scenario has no ``[study]`` section, there are no targets, or they have no
    study with that seed file."""
    if scenario.study is None or targets is None:
        return None
    for sid, st in targets.studies.items():
        design = st.scenario.study
        if design is not None and design.seed_file == scenario.study.seed_file:
            return replace(st, scenario=scenario), [t for t in targets.targets if t.study_id == sid]
    return None


def _number(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None  # a median not reached: null


def study_report(scenario: Scenario, targets: TargetSet | None, threads: int | None = None) -> dict[str, Any] | None:
    """The ``study`` block of a run summary (see the module docstring), or None."""
    found = study_targets(scenario, targets)
    if found is None:
        return None
    study, chosen = found
    design = scenario.study
    assert design is not None
    patients = simulate_study(study, scenario.params.theta(), scenario.run.patients, scenario.run.seed,
                              threads=threads)
    rows = []
    for t in chosen:
        value = float(statistic(t, patients, None)[0]) if len(patients) else float("nan")
        size = cohort_size(t, study)
        row: dict[str, Any] = {"id": t.target_id, "metric": t.metric, "statistic": t.statistic, "reported": t.reported,
                               "simulated": _number(value), "low": None, "high": None}
        if len(patients) >= MIN_COHORTS * size:
            per_cohort = statistic(t, patients, size)
            per_cohort = per_cohort[~np.isnan(per_cohort)]
            if per_cohort.size >= MIN_COHORTS:
                # medians "not reached" (inf) rank above every finite value
                lo, hi = (float(np.quantile(per_cohort, q, method="inverted_cdf")) for q in (0.025, 0.975))
                row["low"], row["high"] = _number(lo), _number(hi)
        rows.append(row)
    return {"study_id": study.study_id, "seed_file": design.seed_file, "infused": len(patients),
            "cohort_patients": study.n_infused, "followup_days": [design.followup_min_days, design.followup_max_days],
            "followup_spread": design.followup_spread, "targets": rows}
