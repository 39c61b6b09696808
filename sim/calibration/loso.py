"""Leave-one-study-out validation: calibrate on every study but one, predict the one left
out, for each study in turn.

A fold holds study *s* out. IMIS (:func:`sim.calibration.imis.imis`, the calibration's
own sampler and stopping rule) runs on the log-likelihood of the other studies' targets
only. Two things are then asked of the held-out study:

* **Its targets against their predictive intervals.** Equally weighted draws of the
  fold's posterior are simulated as study *s* (fresh seeds, cohorts of its size and
  follow-up: :func:`sim.calibration.validation.validate` on that study alone); each
  quantitative target is inside or outside its 95% predictive interval. Over all folds
  a well-calibrated model has about 95% inside.
* **Its log predictive score against the prior's.** With L_s the held-out study's
  likelihood (the same scoring as the calibration, :mod:`sim.calibration.scoring`),
  the fold's score is ``log p(y_s | y_-s) = log sum_i w_i L_s(theta_i)`` over the fold's
  IMIS points and normalised importance weights, and the prior's is ``log p(y_s) = log
  mean L_s(theta_i)`` over the initial draws from the prior. Their difference is the
  log Bayes factor of "the other studies' information" for study s: positive when
  learning from the other four studies predicts the fifth better than the external
  priors alone. The additive constants the likelihood drops are the same in both, so
  the difference is exact up to Monte Carlo error; ``score_ess`` (the effective number
  of points behind the fold's score, (sum w L)^2 / sum (w L)^2) says how far to trust it,
  and ``prior_score_ess`` the same for the prior's (a study the prior rarely reproduces
  rests on a few of the initial draws).

Every study's log-likelihood is computed at every point (the held-out one is needed for
the score anyway), and points are cached by value: the folds share the IMIS initial
draws (same seed), so those are simulated once, not once per fold. A run costs about
``n_initial + folds x iterations x batch`` likelihood evaluations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from sim.calibration.imis import Convergence, PriorTransform, TargetModel, imis, systematic_resample
from sim.calibration.targets import TargetSet
from sim.calibration.validation import validate

#: the nominal coverage of the predictive intervals checked
NOMINAL = 0.95


@dataclass
class FoldFit:
    """IMIS on all studies but one, and the held-out study's predictive scores."""

    z: np.ndarray  # every evaluated point (rows), prior N(0, I)
    log_weights: np.ndarray  # normalised, over ``z``
    convergence: Convergence
    log_score: float  # log p(y_held | y_rest)
    prior_log_score: float  # log p(y_held)
    score_ess: float
    ess: float
    prior_score_ess: float = 0.0


def fit_fold(per_study: Callable[[np.ndarray], np.ndarray], dims: int, n_studies: int, held: int, seed: int,
             n_initial: int, iterations: int, batch: int, samples: int, min_ess: float,
             progress: Callable[[int, int], None] | None = None) -> FoldFit:
    """One fold on any model: ``per_study(z_row)`` gives the log-likelihood of each of
    ``n_studies`` studies at a point of the prior's N(0, I) space; study ``held`` is left
    out of the fit and scored."""
    train = np.arange(n_studies) != held
    z, _ll, lw, conv = imis(lambda row: float(per_study(row)[train].sum()), dims, seed, n_initial, iterations,
                            batch, progress, samples=samples, min_ess=min_ess)
    held_ll = np.array([per_study(row)[held] for row in z])
    terms = lw + held_ll
    log_score = float(special.logsumexp(terms))
    score_ess = _points_behind(terms)
    prior_log_score = float(special.logsumexp(held_ll[:n_initial]) - math.log(n_initial))
    w = np.exp(lw)
    return FoldFit(z, lw, conv, log_score, prior_log_score, score_ess, float(1.0 / np.sum(w**2)),
                   _points_behind(held_ll[:n_initial]))


def _points_behind(terms: np.ndarray) -> float:
    """The effective number of points behind log sum exp(terms): (sum e^t)^2 / sum e^2t."""
    total = special.logsumexp(terms)
    return float(np.exp(2 * total - special.logsumexp(2 * terms))) if np.isfinite(total) else 0.0


class StudyLikelihoods:
    """Every study's log-likelihood at a point of the prior space, cached by the point's
    value (the folds share the IMIS initial draws)."""

    def __init__(self, targets: TargetSet, model: TargetModel) -> None:
        self.model = model
        self.studies = list(targets.studies)
        self._study_of = np.array([self.studies.index(t.study_id) for t in targets.targets])
        self._cache: dict[bytes, np.ndarray] = {}
        self.evaluations = 0

    def __call__(self, row: np.ndarray) -> np.ndarray:
        key = np.ascontiguousarray(row, dtype=float).tobytes()
        hit = self._cache.get(key)
        if hit is None:
            ll = self.model.target_logliks(self.model.transform.values(row)[0])
            hit = np.array([ll[self._study_of == j].sum() for j in range(len(self.studies))])
            self._cache[key] = hit
            self.evaluations += 1
        return hit


def study_subset(targets: TargetSet, study_id: str) -> TargetSet:
    """The targets of one study, with that study only."""
    return TargetSet({study_id: targets.studies[study_id]},
                     [t for t in targets.targets if t.study_id == study_id], targets.file)


def _finite(x: float, digits: int = 4) -> float | None:
    return round(x, digits) if math.isfinite(x) else None


def run_fold(targets: TargetSet, transform: PriorTransform, likelihoods: StudyLikelihoods, study_id: str, *,
             seed: int, n_initial: int, iterations: int, batch: int, samples: int, min_ess: float,
             holdout_draws: int, holdout_patients: int, threads: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Fit without ``study_id``, then check its targets and score it (a JSON-ready dict)."""
    t0 = time.perf_counter()
    before = likelihoods.evaluations
    held = likelihoods.studies.index(study_id)
    fit = fit_fold(likelihoods, transform.dims, len(likelihoods.studies), held, seed, n_initial, iterations, batch,
                   samples, min_ess, progress)
    fit_seconds = time.perf_counter() - t0
    posterior = transform.values(fit.z[systematic_resample(fit.log_weights, samples, seed)])
    sub = study_subset(targets, study_id)
    model = TargetModel(sub, transform, holdout_patients, seed, threads)
    check = validate(sub, model, posterior, holdout_draws, holdout_patients, seed).to_json()
    rows = [{k: r[k] for k in ("id", "metric", "reported", "predicted_low", "predicted_median", "predicted_high",
                                "inside", "quantitative")} for r in check["targets"]]
    diff = fit.log_score - fit.prior_log_score
    return {"study": study_id, "quantitative_targets": check["quantitative_targets"], "inside": check["inside"],
            "qualitative_targets": check["qualitative_targets"], "qualitative_inside": check["qualitative_inside"],
            "log_score": _finite(fit.log_score), "prior_log_score": _finite(fit.prior_log_score),
            "log_score_gain": _finite(diff), "better_than_prior": bool(math.isfinite(diff) and diff > 0),
            "score_ess": round(fit.score_ess, 1), "prior_score_ess": round(fit.prior_score_ess, 1),
            "joint_p_value": check["joint"]["studies"].get(study_id, {}).get("p_value"),
            "fit": {"evaluations": int(fit.z.shape[0]), "new_evaluations": likelihoods.evaluations - before,
                    "ess": round(fit.ess, 1), "convergence": fit.convergence.to_json(),
                    "seconds": round(fit_seconds, 1)},
            "seconds": round(time.perf_counter() - t0, 1), "targets": rows}


def summarise(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage over every held-out quantitative target against the nominal 95% (with the
    2.5-97.5% range of the count if each target were inside independently with
    probability 0.95), and the folds whose held-out score beats the prior's."""
    n = sum(f["quantitative_targets"] for f in folds)
    inside = sum(f["inside"] for f in folds)
    lo, hi = (int(x) for x in stats.binom.ppf([0.025, 0.975], n, NOMINAL)) if n else (0, 0)
    return {"folds": len(folds), "quantitative_targets": n, "inside": inside,
            "inside_fraction": round(inside / n, 4) if n else None, "nominal": NOMINAL,
            "nominal_count_range": [lo, hi],
            "qualitative_targets": sum(f["qualitative_targets"] for f in folds),
            "qualitative_inside": sum(f["qualitative_inside"] for f in folds),
            "better_than_prior": sum(f["better_than_prior"] for f in folds),
            "evaluations": sum(f["fit"]["new_evaluations"] for f in folds),
            "seconds": round(sum(f["seconds"] for f in folds), 1)}


def _num(x: Any, metric: str) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.0f} d" if metric.endswith("_days") else f"{x:.3f}"


def text_report(result: dict[str, Any]) -> str:
    """The LOSO table as plain text (what ``cartsim calibrate --loso`` prints and writes)."""
    s = result["summary"]
    lines = ["Leave-one-study-out: calibrate on the other studies, predict the held-out one", "",
             f"{'held out':<9}{'inside 95%':>12}{'qualitative':>13}{'log score':>11}{'prior':>9}{'gain':>8}"
             f"{'score ESS':>11}{'prior ESS':>11}{'joint p':>9}{'evals':>8}{'conv.':>7}{'seconds':>9}"]
    for f in result["folds"]:
        gain = "-" if f["log_score_gain"] is None else f"{f['log_score_gain']:+.2f}"
        score = "-" if f["log_score"] is None else f"{f['log_score']:.2f}"
        prior = "-" if f["prior_log_score"] is None else f"{f['prior_log_score']:.2f}"
        jp = "-" if f["joint_p_value"] is None else f"{f['joint_p_value']:.3f}"
        prior_ess = "-" if f.get("prior_score_ess") is None else f"{f['prior_score_ess']:.1f}"  # older fold files
        lines.append(f"{f['study']:<9}{f['inside']:>5}/{f['quantitative_targets']:<6}"
                     f"{f['qualitative_inside']:>7}/{f['qualitative_targets']:<5}{score:>11}{prior:>9}{gain:>8}"
                     f"{f['score_ess']:>11.1f}{prior_ess:>11}{jp:>9}"
                     f"{f['fit']['evaluations']:>8}"
                     f"{'yes' if f['fit']['convergence']['converged'] else 'NO':>7}{f['seconds']:>9.0f}")
    lo, hi = s["nominal_count_range"]
    lines += ["", f"held-out quantitative targets inside their 95% predictive interval: {s['inside']}/"
              f"{s['quantitative_targets']}" + (f" ({100 * s['inside_fraction']:.0f}%)" if s["inside_fraction"]
                                                 is not None else "")
              + f"; nominal 95% (a count in {lo}-{hi} if targets were independent)",
              f"qualitative statements reproduced: {s['qualitative_inside']}/{s['qualitative_targets']}",
              f"held-out log score better than the prior's: {s['better_than_prior']} of {s['folds']} studies",
              f"{s['evaluations']:,} likelihood evaluations, {s['seconds']:.0f} s", ""]
    for f in result["folds"]:
        lines.append(f"study {f['study']} held out:")
        for r in f["targets"]:
            mark = "inside" if r["inside"] else "OUTSIDE"
            lines.append(f"  {r['id']:<34}{_num(r['reported'], r['metric']):>12}  predicted "
                         f"{_num(r['predicted_median'], r['metric']):>9} ({_num(r['predicted_low'], r['metric'])} - "
                         f"{_num(r['predicted_high'], r['metric'])})  {mark}")
    return "\n".join(lines) + "\n"
