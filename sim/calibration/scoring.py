"""Scoring simulated studies against their targets: each target's log-likelihood
(:mod:`sim.calibration.likelihood`) from the statistics of the simulated study
(:mod:`sim.calibration.study_metrics`).

* Pooled statistics (all simulated patients of a study) are the model's values for
  binomial, effective-sample-size and median likelihoods.
* Per-cohort statistics (consecutive simulated cohorts of the study's size and
  follow-up) give the sampling spread for synthetic likelihoods, for the joint
  likelihood of one study's Kaplan-Meier statistics (``km_joint``) and the sampling SE
  of a contrast at the study's size for qualitative statements.
"""

from __future__ import annotations

import math

import numpy as np

from sim.calibration import likelihood as lik
from sim.calibration.study_metrics import StudyPatients, cohort_size, statistic
from sim.calibration.targets import MEDIANS, PROPORTIONS, CalibrationTarget, TargetSet, joint_groups

#: what a target the model cannot produce (e.g. an empty subgroup) scores
IMPOSSIBLE = -1e6


def model_value(t: CalibrationTarget, p: StudyPatients) -> tuple[float, int]:
    """The pooled model value of a target and the number of patients it rests on."""
    value = float(statistic(t, p, None)[0])
    eligible = int(p.cr.sum()) if t.population == "cr" else len(p)
    return value, eligible


def _followup_cap(t: CalibrationTarget, targets: TargetSet, value: float) -> float:
    design = targets.studies[t.study_id].scenario.study
    return min(value, design.followup_max_days) if design is not None else value


def cohort_statistics(t: CalibrationTarget, p: StudyPatients, targets: TargetSet) -> np.ndarray:
    """The target's statistic in each simulated cohort of the study's size; a median not
    reached is set to the study's longest follow-up (what such a study could report)."""
    values = statistic(t, p, cohort_size(t, targets.studies[t.study_id]))
    if t.statistic in MEDIANS:
        design = targets.studies[t.study_id].scenario.study
        if design is not None:
            values = np.where(np.isinf(values), design.followup_max_days, values)
    return values


def contrast_se(t: CalibrationTarget, p: StudyPatients, targets: TargetSet) -> float:
    """Sampling SE of a contrast in a study of the reported size: the SD of the contrast
    over simulated cohorts of that size (NaN when fewer than two cohorts have both groups)."""
    values = cohort_statistics(t, p, targets)
    values = values[np.isfinite(values)]
    return float(values.std(ddof=1)) if values.size >= 2 else math.nan


def target_loglik(t: CalibrationTarget, p: StudyPatients, targets: TargetSet) -> float:
    """The log-likelihood of one target given the simulated study ``p`` (a km_joint
    target is scored with its group by :func:`study_logliks`)."""
    if t.likelihood == "none":
        return 0.0
    if t.likelihood == "km_joint":
        raise ValueError(f"{t.target_id}: a km_joint target is scored with its group")
    if t.likelihood == "synthetic":
        return lik.synthetic(float(t.reported), cohort_statistics(t, p, targets))
    value, m = model_value(t, p)
    if not math.isfinite(value):
        return IMPOSSIBLE
    if t.likelihood in ("binomial", "binomial_at_most"):
        assert t.count is not None
        assert t.n is not None
        q = lik.smoothed_proportion(value, m) if t.statistic in PROPORTIONS else value
        fn = lik.binomial if t.likelihood == "binomial" else lik.binomial_at_most
        return fn(t.count, t.n, q)
    if t.likelihood == "km_landmark":
        s_obs = float(t.reported)
        if t.n_eff is not None:
            n_eff = t.n_eff
        else:
            assert t.ci is not None
            n_eff = lik.n_eff_from_ci(s_obs, t.ci[0], t.ci[1], t.n or targets.studies[t.study_id].n_infused)
        return lik.km_landmark(s_obs, n_eff, lik.smoothed_proportion(value, m))
    if t.likelihood == "median_ci":
        assert t.ci is not None
        return lik.median_ci(float(t.reported), t.ci[0], t.ci[1], _followup_cap(t, targets, value))
    if t.likelihood in ("soft_greater", "soft_equal"):
        se = contrast_se(t, p, targets)
        if not math.isfinite(se):
            return IMPOSSIBLE
        return lik.soft_greater(value, se) if t.likelihood == "soft_greater" else lik.soft_equal(value, se)
    raise ValueError(f"unknown likelihood {t.likelihood!r}")


def joint_loglik(members: list[CalibrationTarget], p: StudyPatients, targets: TargetSet) -> float:
    """Multivariate-normal synthetic likelihood of a km_joint group's reported values."""
    obs = np.array([float(t.reported) for t in members])
    sims = np.column_stack([cohort_statistics(t, p, targets) for t in members])
    return lik.mvn_synthetic(obs, sims)


def study_logliks(targets: TargetSet, sims: dict[str, StudyPatients]) -> np.ndarray:
    """Every target's log-likelihood, in file order; a km_joint group's joint value is
    put on its first target and 0 on the others (the sum is the log-likelihood)."""
    out = np.zeros(len(targets.targets))
    index = {t.target_id: i for i, t in enumerate(targets.targets)}
    for i, t in enumerate(targets.targets):
        if t.likelihood != "km_joint":
            out[i] = target_loglik(t, sims[t.study_id], targets)
    for members in joint_groups(targets.targets).values():
        out[index[members[0].target_id]] = joint_loglik(members, sims[members[0].study_id], targets)
    return out


#: simulated patients per usable one: some are never infused, and a cohort whose data end
#: before a landmark has no value there
COHORT_MARGIN = 1.25


def min_patients_per_study(targets: TargetSet) -> int:
    """Simulated patients per study below which a synthetic likelihood cannot have its
    cohorts (each of the study's size, ``MIN_SYNTHETIC_COHORTS`` per dimension, with
    ``COHORT_MARGIN``): every evaluation would be -inf."""
    need = [lik.MIN_SYNTHETIC_COHORTS * cohort_size(t, targets.studies[t.study_id])
            for t in targets.targets if t.likelihood == "synthetic"]
    need += [lik.MIN_SYNTHETIC_COHORTS * len(m) * cohort_size(m[0], targets.studies[m[0].study_id])
             for m in joint_groups(targets.targets).values()]
    return math.ceil(COHORT_MARGIN * max(need, default=0))
