"""Bayesian calibration of the pathway to the seed abstracts (``params/targets.toml``) by
incremental mixture importance sampling (IMIS; Raftery & Bao 2010, as used for
simulation models by Menzies et al. 2017).

* **Parameters.** ``CALIBRATED`` lists the parameters the abstracts inform, each with
  the targets that inform it. Every other parameter keeps its external prior and its
  point value (``prior_only``).
* **Prior space.** Each calibrated parameter is written as independent standard
  normals z through its prior's quantile function (Beta, log-normal, gamma, normal,
  uniform; a Dirichlet vector by stick-breaking into Betas), so the prior is N(0, I)
  in z and IMIS proposals are Gaussian mixtures there.
* **Likelihood.** For a parameter set, each study scenario is simulated by the kernel
  with ``patients_per_study`` patients on one fixed seed (common random numbers: the
  simulated likelihood is a deterministic, smooth-ish function of the parameters), and
  each target's pooled model value enters its likelihood (``sim.calibration.likelihood``);
  small-sample order statistics use a synthetic likelihood over pseudo-cohorts.
* **Stopping.** IMIS adds mixture components until the importance weights pass a
  convergence rule (ESS at least ``min_ess`` and an expected share of distinct draws
  in the resample of at least 1 - 1/e, Raftery & Bao's criterion), or the iteration
  budget ends; the weight summary of every iteration and whether it converged are
  reported with the posterior.
* **Output.** ``samples`` equally weighted draws by systematic resampling of the
  importance weights, with the effective sample size and the number of distinct draws.

Everything is keyed by ``seed``: the same seed gives the same posterior, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats

from sim.calibration import likelihood as lik
from sim.calibration.scoring import min_patients_per_study, study_logliks
from sim.calibration.study_metrics import StudyPatients, simulate_study
from sim.calibration.targets import TargetSet
from sim.model.errors import InputError
from sim.model.limits import check_option
from sim.model.parameter_set import ParameterSet
from sim.model.parameters import OFFSETS, SPEC_BY_NAME

#: calibrated parameters and the targets that inform them
CALIBRATED: dict[str, str] = {
    "response.p_cr.first.cd19": "CR counts of studies 000, 003, 004 (CD19 products)",
    "response.p_cr.first.tandem": "study 004 (CD19 + CD22 products)",
    "response.p_cr.reinfusion.cd19": "study 001 single-target arm (10/18)",
    "response.p_cr.reinfusion.cd22": "study 001 single-target arm (10/18)",
    "response.p_cr.reinfusion.tandem": "study 001 tandem arm (12/14)",
    "response.p_cr.reinfusion.sequential": "study 001 sequential arm (1/3)",
    "response.p_mrd_neg_given_cr": "MRD-negative CR counts of studies 000 and 004",
    "response.or_extramedullary": "study 003 CR (6/7, extramedullary relapse)",
    "response.or_source.donor": "study 002 'no CR difference' recipient vs donor",
    "crs.grade_probs": "CRS counts of studies 000, 001, 003, 004",
    "icans.p_any.crs_mild": "ICANS counts of studies 000, 003, 004",
    "icans.p_any.crs_severe": "ICANS counts of studies 000, 003, 004",
    "gvhd.p_any.donor": "aGVHD counts of studies 003 and 004",
    "gvhd.p_any.recipient": "study 002 'no aGVHD difference'",
    "remission.p_cure.mrd_neg": "OS/EFS/LFS landmarks and medians of studies 001 and 004; relapses of 003",
    "remission.relapse.median_days": "EFS of study 004, LFS of study 001, remission durations of 000",
    "remission.or_cure.source.donor": "study 002 'better 12-month PFS/OS for recipient cells'",
    "remission.relapse_hr.consolidation.hsct": "study 001 'better LFS with allo-HSCT or DAC consolidation'",
    "remission.relapse_hr.consolidation.decitabine": "study 001 'better LFS with allo-HSCT or DAC consolidation'",
    "hsct.p_eligible.after_one": "study 001 consolidation counts (4 allo-HSCT, 3 DAC of 23 CRs)",
    "salvage.refractory.median_days": "OS vs EFS of study 004 (non-responders) and 2-year OS of study 001",
    "salvage.early_relapse.median_days": "OS vs EFS of study 004 and 2-year OS of study 001",
    "salvage.late_relapse.median_days": "OS vs EFS/LFS of studies 001 and 004 (relapses after 6 months)",
    "nrm.p_year1": "OS vs EFS/LFS of studies 001 and 004",
}
CLIP_U = 1e-12


# ------------------------------------------------------------------ prior transform
@dataclass(frozen=True)
class _Block:
    name: str
    dist: dict[str, Any]
    value: Any
    slot0: int  # first theta offset
    length: int  # theta slots
    z0: int  # first z dimension
    dims: int  # z dimensions


class PriorTransform:
    """Maps standard-normal z (rows) to the calibrated theta slots through the priors."""

    def __init__(self, params: ParameterSet, names: list[str] | None = None) -> None:
        names = list(CALIBRATED) if names is None else names
        blocks = []
        z0 = 0
        for name in names:
            if name not in SPEC_BY_NAME:
                raise InputError("calibration", name, "unknown parameter")
            entry = params.entries[name]
            dist = entry.uncertainty
            if dist.get("dist") in (None, "fixed"):
                raise InputError(params.file, name, "a calibrated parameter needs a prior distribution", "not 'fixed'")
            length = SPEC_BY_NAME[name].length
            dims = length - 1 if dist["dist"] == "dirichlet" else 1
            if dist["dist"] == "dirichlet" and np.count_nonzero(np.asarray(entry.value)) != length:
                raise InputError(params.file, name, "a calibrated Dirichlet needs every share > 0")
            blocks.append(_Block(name, dist, entry.value, OFFSETS[name], length, z0, dims))
            z0 += dims
        self.blocks = blocks
        self.dims = z0
        self.slots = np.concatenate([np.arange(b.slot0, b.slot0 + b.length) for b in blocks])
        self.labels = [_label(b.name, i) for b in blocks for i in range(b.length)]

    def digest(self) -> str:
        """SHA-256 (hex, 16 chars) of the calibrated parameters and their priors: a posterior
        records it, so a check against other priors can say so."""
        text = json.dumps([[b.name, b.dist, b.value] for b in self.blocks], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def values(self, z: np.ndarray) -> np.ndarray:
        """Calibrated slot values, shape (rows, len(slots))."""
        z = np.atleast_2d(z)
        u = np.clip(special.ndtr(z), CLIP_U, 1.0 - CLIP_U)
        cols = []
        for b in self.blocks:
            d = b.dist
            kind = d["dist"]
            ub = u[:, b.z0]
            if kind == "beta":
                cols.append(stats.beta.ppf(ub, d["a"], d["b"])[:, None])
            elif kind == "lognormal":
                cols.append((d["median"] * np.exp(d["sdlog"] * z[:, b.z0]))[:, None])
            elif kind == "gamma":
                cols.append(stats.gamma.ppf(ub, d["shape"], scale=d["scale"])[:, None])
            elif kind == "normal":
                cols.append((d["mean"] + d["sd"] * z[:, b.z0])[:, None])
            elif kind == "uniform":
                cols.append((d["low"] + (d["high"] - d["low"]) * ub)[:, None])
            elif kind == "dirichlet":
                cols.append(_stick_breaking(d["concentration"] * np.asarray(b.value, float), u[:, b.z0:b.z0 + b.dims]))
            else:
                raise InputError("calibration", b.name, f"no quantile function for prior {kind!r}")
        return np.hstack(cols)


def _label(name: str, i: int) -> str:
    spec = SPEC_BY_NAME[name]
    return name if spec.length == 1 else f"{name}[{spec.element_labels[i]}]"


def _stick_breaking(alpha: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Dirichlet(alpha) draws from K-1 uniforms: x_k = v_k * prod_{j<k}(1 - v_j) with
    v_k ~ Beta(alpha_k, sum_{j>k} alpha_j)."""
    k = alpha.size
    out = np.empty((u.shape[0], k))
    rest = np.ones(u.shape[0])
    for i in range(k - 1):
        v = stats.beta.ppf(u[:, i], alpha[i], alpha[i + 1:].sum())
        out[:, i] = rest * v
        rest = rest * (1.0 - v)
    out[:, k - 1] = rest
    return out


# ------------------------------------------------------------------ likelihood of a parameter set
@dataclass
class TargetModel:
    """Simulates the studies for a parameter set and scores every target."""

    targets: TargetSet
    transform: PriorTransform
    patients_per_study: int = 2000
    seed: int = 20261121
    threads: int | None = None
    base_thetas: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.base_thetas = {sid: st.scenario.params.theta() for sid, st in self.targets.studies.items()}
        for st in self.targets.studies.values():
            for name in (b.name for b in self.transform.blocks):
                if st.scenario.params.entries[name].origin == st.scenario.file:
                    raise InputError(st.scenario.file, name, "a study scenario must not set a calibrated parameter")

    def simulate(self, slot_values: np.ndarray, patients: int | None = None, seed: int | None = None
                 ) -> dict[str, StudyPatients]:
        out = {}
        for sid, st in self.targets.studies.items():
            theta = self.base_thetas[sid].copy()
            theta[self.transform.slots] = slot_values
            out[sid] = simulate_study(st, theta, patients or self.patients_per_study,
                                      self.seed if seed is None else seed, threads=self.threads)
        return out

    def target_logliks(self, slot_values: np.ndarray) -> np.ndarray:
        return study_logliks(self.targets, self.simulate(slot_values))

    def loglik(self, slot_values: np.ndarray) -> float:
        return float(self.target_logliks(slot_values).sum())


# ------------------------------------------------------------------ IMIS
@dataclass
class CalibrationResult:
    labels: list[str]
    posterior: np.ndarray  # (samples, slots), equally weighted
    z: np.ndarray  # every evaluated point (rows)
    loglik: np.ndarray  # per point
    log_weights: np.ndarray  # final normalised log importance weights
    ess: float
    unique: int
    evaluations: int
    seconds: float
    settings: dict[str, Any]
    prior_only: list[str]
    convergence: Convergence

    def meta(self) -> dict[str, Any]:
        return {"method": "IMIS (Raftery & Bao 2010)", "ess": self.ess, "unique_draws": self.unique,
                "evaluations": self.evaluations, "seconds": round(self.seconds, 1), **self.settings,
                "calibrated": list(dict.fromkeys(lab.split("[")[0] for lab in self.labels)),
                "prior_only": self.prior_only, "convergence": self.convergence.to_json()}


def _rng(seed: int, stage: str) -> np.random.Generator:
    return np.random.Generator(np.random.Philox(key=[seed, zlib.crc32(f"imis:{stage}".encode())]))


def _log_normal_pdf(z: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    sol = np.linalg.solve(chol, (z - mean).T)
    d = z.shape[1]
    return -0.5 * (sol**2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * d * math.log(2 * math.pi)


#: the share of distinct draws expected when resampling from equal weights (Raftery & Bao 2010)
UNIQUE_FRACTION = 1.0 - math.exp(-1.0)


def weight_summary(log_weights: np.ndarray, samples: int, evaluations: int) -> dict[str, float]:
    """How concentrated normalised importance weights are: the effective sample size
    1 / sum(w^2), the largest weight, and the expected share of distinct draws among
    ``samples`` resampled ones, sum(1 - (1 - w)^samples) / samples."""
    w = np.exp(log_weights)
    unique = float(np.sum(-np.expm1(samples * np.log1p(-np.minimum(w, 1.0 - 1e-16))))) / samples
    return {"evaluations": evaluations, "ess": float(1.0 / np.sum(w**2)), "max_weight": float(w.max()),
            "expected_unique_fraction": unique}


def has_converged(summary: dict[str, float], min_ess: float) -> bool:
    """The stopping rule: enough effective draws (ESS >= ``min_ess``) and weights not
    concentrated on a few points (expected distinct share >= 1 - 1/e, as when resampling
    from equal weights: Raftery & Bao's criterion)."""
    return summary["ess"] >= min_ess and summary["expected_unique_fraction"] >= UNIQUE_FRACTION


@dataclass(frozen=True)
class Convergence:
    converged: bool
    components: int  # mixture components added before stopping
    min_ess: float
    history: list[dict[str, float]]  # weight summary before each iteration and at the end

    def to_json(self) -> dict[str, Any]:
        return {"converged": self.converged, "components": self.components, "min_ess": self.min_ess,
                "unique_fraction_needed": round(UNIQUE_FRACTION, 6),
                "history": [{k: round(v, 6) for k, v in h.items()} for h in self.history]}


def imis(loglik_fn: Callable[[np.ndarray], float], dims: int, seed: int, n_initial: int, iterations: int,
         batch: int, progress: Callable[[int, int], None] | None = None, samples: int = 1000,
         min_ess: float = 500.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, Convergence]:
    """IMIS in a space where the prior is N(0, I), adding up to ``iterations`` mixture
    components and stopping as soon as the weights pass :func:`has_converged` (for
    ``samples`` resampled draws). Returns (points, log-likelihoods, normalised log
    importance weights, convergence record)."""
    total = n_initial + iterations * batch
    z = _rng(seed, "initial").standard_normal((n_initial, dims))
    ll = np.empty(total)
    done = 0

    def evaluate(rows: np.ndarray) -> None:
        nonlocal done
        for r in rows:
            ll[done] = loglik_fn(r)
            done += 1
            if progress is not None and done % 25 == 0:
                progress(done, total)

    evaluate(z)
    if not np.isfinite(ll[:n_initial]).any():  # no weights to build the first mixture component from
        raise InputError("command line", "--initial", f"none of the {n_initial} initial draws reproduces the "
                         "targets (every log-likelihood is -inf)",
                         "more initial draws (--initial) or more simulated patients (--patients-per-study)")
    means: list[np.ndarray] = []
    chols: list[np.ndarray] = []
    eye_chol = np.eye(dims)
    zero = np.zeros(dims)

    def log_weights(points: np.ndarray, lls: np.ndarray) -> np.ndarray:
        n = points.shape[0]
        log_prior = _log_normal_pdf(points, zero, eye_chol)
        comps = [math.log(n_initial / n) + log_prior]
        comps += [math.log(batch / n) + _log_normal_pdf(points, m, c) for m, c in zip(means, chols, strict=True)]
        log_q = np.logaddexp.reduce(np.vstack(comps), axis=0)
        lw = lls + log_prior - log_q
        lw[~np.isfinite(lw)] = -np.inf
        return lw - np.logaddexp.reduce(lw)

    history: list[dict[str, float]] = []
    components = 0
    for k in range(iterations):
        n = z.shape[0]
        lw = log_weights(z, ll[:n])
        history.append(weight_summary(lw, samples, n))
        if has_converged(history[-1], min_ess):
            break
        w = np.exp(lw)
        centre = z[int(np.argmax(lw))]
        dist = ((z - centre) ** 2).sum(1)  # Mahalanobis under the N(0, I) prior
        near = np.argsort(dist, kind="mergesort")[: min(batch, n)]
        wn = (w[near] + 1.0 / n) / 2.0
        wn /= wn.sum()
        dev = z[near] - centre
        cov = (dev * wn[:, None]).T @ dev + 1e-6 * np.eye(dims)
        chol = np.linalg.cholesky(cov)
        means.append(centre)
        chols.append(chol)
        new = centre + _rng(seed, f"iteration{k}").standard_normal((batch, dims)) @ chol.T
        evaluate(new)
        z = np.vstack([z, new])
        components += 1
    if progress is not None:
        progress(total, total)
    ll = ll[: z.shape[0]]
    lw = log_weights(z, ll)
    if components == iterations:  # stopped by the budget: the final weights decide
        history.append(weight_summary(lw, samples, z.shape[0]))
    return z, ll, lw, Convergence(has_converged(history[-1], min_ess), components, min_ess, history)


def systematic_resample(log_weights: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Indices of ``samples`` equally weighted draws (systematic resampling)."""
    w = np.exp(log_weights - log_weights.max())
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    u0 = _rng(seed, "resample").random()
    return np.searchsorted(cdf, (u0 + np.arange(samples)) / samples, side="left")


def check_settings(samples: int, patients_per_study: int, n_initial: int, iterations: int, batch: int) -> None:
    """The IMIS settings are whole numbers in range (an InputError naming the option)."""
    # options as `cartsim calibrate` names them
    for option, v, limit in (("--samples", samples, "samples"), ("--initial", n_initial, "initial"),
                             ("--patients-per-study", patients_per_study, "patients"),
                             ("--iterations", iterations, "iterations"), ("--batch", batch, "batch")):
        check_option(option, v, limit)


def calibrate(targets: TargetSet, params: ParameterSet, samples: int = 1000, seed: int = 20261121,
              patients_per_study: int = 2000, n_initial: int = 3000, iterations: int = 10, batch: int = 300,
              names: list[str] | None = None, threads: int | None = None,
              progress: Callable[[int, int], None] | None = None, min_ess: float | None = None
              ) -> CalibrationResult:
    """Run IMIS (at most ``iterations`` components; stopping once the ESS reaches
    ``min_ess``, default half of ``samples``, and the weights are not concentrated) and
    return ``samples`` posterior draws of the calibrated slots."""
    min_ess = samples / 2 if min_ess is None else min_ess
    check_settings(samples, patients_per_study, n_initial, iterations, batch)
    need = min_patients_per_study(targets)
    if patients_per_study < need:
        raise InputError("command line", "--patients-per-study", f"{patients_per_study} simulated patients cannot "
                         f"form the {lik.MIN_SYNTHETIC_COHORTS} cohorts of a study's size that the synthetic "
                         "likelihoods need (every parameter set would score -inf)", f">= {need}")
    transform = PriorTransform(params, names)
    model = TargetModel(targets, transform, patients_per_study, seed, threads)
    t0 = time.perf_counter()
    z, ll, lw, conv = imis(lambda row: model.loglik(transform.values(row)[0]), transform.dims, seed, n_initial,
                           iterations, batch, progress, samples=samples, min_ess=min_ess)
    idx = systematic_resample(lw, samples, seed)
    w = np.exp(lw)
    from sim.model.uncertainty import uncertain_names  # noqa: PLC0415

    calibrated = {b.name for b in transform.blocks}
    return CalibrationResult(
        labels=transform.labels, posterior=transform.values(z[idx]), z=z, loglik=ll, log_weights=lw,
        ess=float(1.0 / np.sum(w**2)), unique=int(np.unique(idx).size), evaluations=int(z.shape[0]),
        seconds=time.perf_counter() - t0,
        settings={"seed": seed, "samples": samples, "patients_per_study": patients_per_study,
                  "n_initial": n_initial, "iterations": iterations, "batch": batch, "prior_digest": transform.digest()},
        prior_only=[n for n in uncertain_names(params) if n not in calibrated], convergence=conv)
