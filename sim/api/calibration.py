"""The public API of calibration and validation (``calibrate``, ``validate`` and
``posterior_learning`` are re-exported by ``sim.api``):
``calibrate`` writes ``posterior.parquet`` and ``calibrated.toml`` (by default in
``cartsim_calibration/`` of the current folder; the committed pair in the package's
``params/`` is replaced only when asked with ``force``);
``validate`` compares every target with its predictive interval, for the committed
posterior or any other model (a posterior sample, a parameter file at its point values
or with its priors, overrides); ``cannot_tell`` gives the values of the
decision-relevant parameters the abstracts cannot reject; ``leave_one_out`` calibrates
on all studies but one and predicts that one, for each study.

>>> import sim
>>> v = sim.validate(draws=50)                    # doctest: +SKIP
>>> v.to_json()["inside_fraction"]                # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import textwrap
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.calibration.cannot_tell import cannot_tell as _cannot_tell
from sim.calibration.identifiability import Learning, learning, prior_draws
from sim.calibration.imis import CALIBRATED, CalibrationResult, PriorTransform, TargetModel, check_settings
from sim.calibration.imis import calibrate as _calibrate
from sim.calibration.scoring import min_patients_per_study
from sim.calibration.targets import TargetSet, parse_targets
from sim.calibration.validation import ValidationResult
from sim.calibration.validation import validate as _validate
from sim.io.calibration_files import write_calibrated, write_posterior
from sim.io.files import (
    PARAMS_DIR,
    PROJECT_ROOT,
    TARGETS_PATH,
    OutputSet,
    atomic_write,
    load_parameter_set,
    load_scenario,
    read_toml,
    write_json,
)
from sim.model.errors import InputError
from sim.model.limits import check_option
from sim.model.parameter_set import ParameterSet
from sim.model.posterior import POSTERIOR_PATH, load_posterior
from sim.model.scenario import Scenario, build_scenario

DEFAULTS_PATH = PARAMS_DIR / "defaults.toml"
CALIBRATED_PATH = PARAMS_DIR / "calibrated.toml"
VALIDATION_PATH = PARAMS_DIR / "validation.json"
#: where a re-fit goes unless told otherwise (relative to the current folder)
DEFAULT_CALIBRATION_DIR = Path("cartsim_calibration")
#: the settings of the committed posterior (`cartsim calibrate` with no options)
DEFAULT_SAMPLES = 1000
DEFAULT_SEED = 20261121
DEFAULT_PATIENTS_PER_STUDY = 2000
DEFAULT_N_INITIAL = 3000
DEFAULT_ITERATIONS = 25
DEFAULT_BATCH = 400
#: validation: posterior draws and simulated patients per study per draw
DEFAULT_VALIDATION_DRAWS = 200
DEFAULT_VALIDATION_PATIENTS = 600

Progress = Callable[[int, int], None]


#: where ``--set`` values come from, as error messages and parameter origins name it
SET_SOURCE = "command line --set"


def load_targets(path: Path | str | None = None, params: ParameterSet | None = None,
                 overrides: dict[str, Any] | None = None) -> TargetSet:
    """Read and validate ``params/targets.toml`` (or ``path``) and its study scenarios
    (their ``scenario`` paths are relative to the targets file). With ``params`` every
    study scenario is built on that parameter set instead of its own ``base`` file (the
    study's cohort, policy and overrides still apply); ``overrides`` (parameter name ->
    value) are applied last, to every study."""
    p = TARGETS_PATH if path is None else Path(path)

    def load_study(ref: str) -> Scenario:
        where = p.parent / ref
        sc = load_scenario(where) if params is None else build_scenario(read_toml(where), str(where), params)
        return replace(sc, params=sc.params.with_values(overrides, SET_SOURCE)) if overrides else sc

    return parse_targets(read_toml(p), str(p), load_study)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``--set NAME=VALUE`` items as a dict; VALUE is read as a TOML value (``0.3``,
    ``[0.7, 0, 0.3, 0]``). Names and values are checked when they are applied."""
    out: dict[str, Any] = {}
    for item in items or []:
        name, eq, text = item.partition("=")
        name = name.strip()
        try:
            if not eq or not name:
                raise ValueError
            out[name] = tomllib.loads(f"v = {text.strip()}")["v"]
        except (ValueError, tomllib.TOMLDecodeError):
            raise InputError("command line", "--set", f"{item!r} is not NAME=VALUE with a number or list as VALUE",
                             "e.g. --set nrm.p_year1=0.3 or --set 'policy.target_shares=[0.7, 0, 0.3, 0]'"
                             ) from None
    return out


@dataclass
class CalibrationRun:
    result: CalibrationResult
    posterior_path: Path
    calibrated_path: Path

    def summary(self) -> dict[str, Any]:
        r = self.result
        post = r.posterior
        params = []
        for j, lab in enumerate(r.labels):
            q = np.quantile(post[:, j], [0.025, 0.5, 0.975])
            params.append({"parameter": lab, "median": float(q[1]), "low": float(q[0]), "high": float(q[2]),
                           "mean": float(post[:, j].mean())})
        return {"posterior": str(self.posterior_path), "calibrated": str(self.calibrated_path),
                **r.meta(), "parameters": params}


def _point_values(result: CalibrationResult) -> dict[str, Any]:
    """Posterior medians (a Dirichlet vector: its posterior mean, which stays on the simplex)."""
    groups: dict[str, list[int]] = {}
    for j, lab in enumerate(result.labels):
        groups.setdefault(lab.split("[")[0], []).append(j)
    out: dict[str, Any] = {}
    for name, cols in groups.items():
        if len(cols) == 1:
            out[name] = float(np.median(result.posterior[:, cols[0]]))
        else:
            mean = result.posterior[:, cols].mean(0)
            out[name] = [float(x) for x in mean / mean.sum()]
    return out


def _relative(path: Path | str) -> str:
    """A path relative to the project root when inside it (metadata stays portable)."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(p)


def calibrate(samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED,
              patients_per_study: int = DEFAULT_PATIENTS_PER_STUDY, n_initial: int = DEFAULT_N_INITIAL,
              iterations: int = DEFAULT_ITERATIONS, batch: int = DEFAULT_BATCH, targets: Path | str | None = None,
              out: Path | str = DEFAULT_CALIBRATION_DIR, posterior_path: Path | str | None = None,
              calibrated_path: Path | str | None = None, force: bool = False, threads: int | None = None,
              progress: Progress | None = None, min_ess: float | None = None) -> CalibrationRun:
    """Calibrate to the targets and write the posterior sample and the point values, both or
    neither (``posterior_path`` default ``out/posterior.parquet``, ``calibrated_path``
    default ``out/calibrated.toml``). Their folders are checked and locked before the
    calibration starts; a path in the package's params/ needs ``force``."""
    for key, value, limit in (("--samples", samples, "samples"), ("--seed", seed, "seed"),
                              ("--patients-per-study", patients_per_study, "patients"),
                              ("--initial", n_initial, "initial"), ("--iterations", iterations, "iterations"),
                              ("--batch", batch, "batch"), ("--threads", threads, "threads")):
        check_option(key, value, limit)
    check_settings(samples, patients_per_study, n_initial, iterations, batch)
    if min_ess is not None and not 1 <= min_ess <= samples:
        raise InputError("command line", "--min-ess", f"expected an effective sample size in [1, --samples = "
                         f"{samples}], got {min_ess}", f"1 to {samples}")
    target_set = load_targets(targets)
    params = load_parameter_set(DEFAULTS_PATH)
    post_target = Path(out) / "posterior.parquet" if posterior_path is None else Path(posterior_path)
    cal_target = Path(out) / "calibrated.toml" if calibrated_path is None else Path(calibrated_path)
    for target, option in ((post_target, "--posterior"), (cal_target, "--calibrated")):
        if target.name == "" or target.is_dir():
            raise InputError("command line", option, f"{str(target)!r} is a folder", "a file path")
    folders = {post_target.parent: "--out" if posterior_path is None else "--posterior",
               cal_target.parent: "--out" if calibrated_path is None else "--calibrated"}
    with OutputSet(folders, force=force, force_option="--force") as outs:
        result = _calibrate(target_set, params, samples=samples, seed=seed, patients_per_study=patients_per_study,
                            n_initial=n_initial, iterations=iterations, batch=batch, threads=threads,
                            progress=progress, min_ess=min_ess)
        _write_calibration(result, outs.stage(post_target), outs.stage(cal_target), target_set, samples, seed,
                           patients_per_study)
    return CalibrationRun(result, post_target, cal_target)


def _write_calibration(result: CalibrationResult, post_path: Path, cal_path: Path, target_set: TargetSet,
                       samples: int, seed: int, patients_per_study: int) -> None:
    meta = {**result.meta(), "targets": _relative(target_set.file), "prior": _relative(DEFAULTS_PATH)}
    write_posterior(post_path, result.labels, result.posterior, meta)
    points = _point_values(result)
    notes = {name: f"posterior {'mean' if isinstance(v, list) else 'median'} of {samples} draws "
             f"(IMIS, seed {seed}; {CALIBRATED[name]})" for name, v in points.items()}
    header = (
        "# cartsim — calibrated point values, written by `cartsim calibrate`.\n"
        "# Do not edit by hand: re-run `cartsim calibrate` after changing params/defaults.toml or\n"
        "# params/targets.toml. Identical to params/defaults.toml except the calibrated parameters,\n"
        "# whose value is the posterior median (Dirichlet vectors: the posterior mean) of the sample\n"
        "# in the posterior.parquet written with it; their `uncertainty` entries remain the PRIORS (the posterior\n"
        "# is the sample itself). Parameters the abstracts cannot identify keep their external priors:\n"
        + "\n".join(textwrap.wrap(", ".join(result.prior_only) + ".", 88, initial_indent="#   ",
                                  subsequent_indent="#   ")) + "\n"
        f"# Calibration: IMIS, {result.evaluations} parameter sets, ESS {result.ess:.0f}, "
        f"{result.unique} distinct draws, seed {seed}, {patients_per_study} patients per study; "
        + ("converged" if result.convergence.converged else "NOT converged")
        + f" after {result.convergence.components} components."
    )
    write_calibrated(DEFAULTS_PATH, cal_path, points, header, notes)


#: leave-one-study-out: posterior draws simulated as the held-out study, and patients per draw
DEFAULT_HOLDOUT_DRAWS = 200
DEFAULT_HOLDOUT_PATIENTS = 600
LOSO_FILES = ("loso.json", "loso.txt")


def _fold_file(study_id: str) -> str:
    return f"loso_fold_{study_id}.json"


def leave_one_out(samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED,
                  patients_per_study: int = DEFAULT_PATIENTS_PER_STUDY, n_initial: int = DEFAULT_N_INITIAL,
                  iterations: int = DEFAULT_ITERATIONS, batch: int = DEFAULT_BATCH, targets: Path | str | None = None,
                  out: Path | str = DEFAULT_CALIBRATION_DIR, studies: list[str] | None = None,
                  holdout_draws: int = DEFAULT_HOLDOUT_DRAWS, holdout_patients: int = DEFAULT_HOLDOUT_PATIENTS,
                  min_ess: float | None = None, threads: int | None = None, force: bool = False,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Leave-one-study-out validation (:mod:`sim.calibration.loso`) with the calibration's
    settings; writes ``loso.json`` and ``loso.txt`` in ``out``.

    Resumable in chunks: each fold is written to ``out/loso_fold_<study>.json`` as soon as
    it is done, and a later run with the same settings, targets and priors reuses it
    (``studies`` limits a run to some folds; the summary covers every fold found)."""
    from sim.calibration import loso  # noqa: PLC0415 - only this command needs it

    for key, value, limit in (("--samples", samples, "samples"), ("--seed", seed, "seed"),
                              ("--holdout-draws", holdout_draws, "draws"),
                              ("--holdout-patients", holdout_patients, "patients"), ("--threads", threads, "threads")):
        check_option(key, value, limit)
    check_settings(samples, patients_per_study, n_initial, iterations, batch)
    min_ess = samples / 2 if min_ess is None else min_ess
    if not 1 <= min_ess <= samples:
        raise InputError("command line", "--min-ess", f"expected an effective sample size in [1, --samples = "
                         f"{samples}], got {min_ess}", f"1 to {samples}")
    target_set = load_targets(targets)
    known = list(target_set.studies)
    chosen = studies or known
    for sid in chosen:
        if sid not in known:
            raise InputError("command line", "--studies", f"no study {sid!r} in {target_set.file}", ", ".join(known))
    if len(known) < 2:
        raise InputError(target_set.file, "study", "leave-one-study-out needs at least two studies")
    params = load_parameter_set(DEFAULTS_PATH)
    transform = PriorTransform(params)
    need = min_patients_per_study(target_set)
    if patients_per_study < need:
        raise InputError("command line", "--patients-per-study", f"{patients_per_study} simulated patients cannot "
                         "form the cohorts the synthetic likelihoods need", f">= {need}")
    settings = {"samples": samples, "seed": seed, "patients_per_study": patients_per_study, "n_initial": n_initial,
                "iterations": iterations, "batch": batch, "min_ess": min_ess, "holdout_draws": holdout_draws,
                "holdout_patients": holdout_patients, "targets": _relative(target_set.file),
                "inputs_sha256": _inputs_digest(target_set, params)}
    with OutputSet(out, force=force, force_option="--force") as outs:
        model = TargetModel(target_set, transform, patients_per_study, seed, threads)
        likelihoods = loso.StudyLikelihoods(target_set, model)
        for k, sid in enumerate(chosen):
            path = outs.target(_fold_file(sid))
            if _reusable(path, settings) is not None:
                continue

            def tick(done: int, total: int, k: int = k) -> None:
                if progress is not None:
                    progress(k * total + done, len(chosen) * total)

            fold = loso.run_fold(target_set, transform, likelihoods, sid, seed=seed, n_initial=n_initial,
                                 iterations=iterations, batch=batch, samples=samples, min_ess=min_ess,
                                 holdout_draws=holdout_draws, holdout_patients=holdout_patients, threads=threads,
                                 progress=tick)
            write_json(path, {"settings": settings, "fold": fold})  # kept even if a later fold fails
        folds = [f for sid in known if (f := _reusable(outs.target(_fold_file(sid)), settings)) is not None]
        result = {"settings": settings, "summary": loso.summarise(folds), "folds": folds}
        write_json(outs.stage("loso.json"), result)
        text = loso.text_report(result)
        atomic_write(outs.stage("loso.txt"), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return result


def _inputs_digest(target_set: TargetSet, params: ParameterSet) -> str:
    """What a saved fold depends on besides the settings: the targets file, the priors and
    every study's parameter values."""
    h = hashlib.sha256(Path(target_set.file).read_bytes())
    h.update(Path(params.file).read_bytes())
    for st in target_set.studies.values():
        h.update(st.scenario.params.theta().tobytes())
    return h.hexdigest()[:16]


def _reusable(path: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """A saved fold made with these settings, or None (missing, other settings, unreadable)."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("settings") != settings:
        return None
    fold = saved.get("fold")
    return fold if isinstance(fold, dict) else None


def posterior_slots(posterior_file: Path | str | None, transform: PriorTransform) -> np.ndarray:
    """The posterior sample's values in the transform's slot order."""
    post = load_posterior(posterior_file, required=True)
    assert post is not None
    missing = [lab for lab in transform.labels if lab not in post.labels]
    if missing:
        raise InputError(post.file, missing[0], "calibrated parameter missing from the posterior",
                         "re-run `cartsim calibrate`")
    cols = [post.labels.index(lab) for lab in transform.labels]
    return post.values[:, cols]


#: where the calibrated parameters of the checked model come from (``ValidationInputs.draws_from``)
DRAWS_FROM = ("posterior", "prior", "point")


@dataclass(frozen=True)
class ValidationInputs:
    """The model ``cartsim validate`` checks: the targets with their study scenarios (built
    on ``params_file`` when one is given, with the ``--set`` overrides), the prior
    transform of the calibrated parameters the overrides leave free, and one row of their
    values per validation draw (``draws_from``: a posterior sample, the parameter file's
    priors, or its point values repeated)."""

    targets: TargetSet
    transform: PriorTransform
    values: np.ndarray
    draws_from: str
    params_file: str
    posterior_file: str | None
    overrides: dict[str, Any]
    posterior_meta: dict[str, Any] | None = None
    #: whether the posterior was made under the priors checked against (None: its file does not say)
    priors_match: bool | None = None

    def describe(self) -> dict[str, Any]:
        return {"draws_from": self.draws_from, "params": _relative(self.params_file),
                "posterior": None if self.posterior_file is None else _relative(self.posterior_file),
                "overrides": self.overrides, "calibrated_free": list(dict.fromkeys(
                    b.name for b in self.transform.blocks)), "sampler": self.sampler()}

    def sampler(self) -> dict[str, Any] | None:
        """How the posterior checked was sampled, from its metadata: the IMIS budget, ESS,
        distinct draws and the stopping rule's verdict (``converged`` None when the file
        records no convergence test: made before the rule existed)."""
        if self.posterior_meta is None:
            return None
        m = self.posterior_meta
        conv = m.get("convergence")
        return {"method": m.get("method"), "evaluations": m.get("evaluations"), "ess": m.get("ess"),
                "priors_match": self.priors_match,
                "unique_draws": m.get("unique_draws"), "samples": m.get("samples"),
                "converged": None if not isinstance(conv, dict) else conv.get("converged"),
                "components": None if not isinstance(conv, dict) else conv.get("components"),
                "min_ess": None if not isinstance(conv, dict) else conv.get("min_ess")}


def validation_inputs(draws: int = DEFAULT_VALIDATION_DRAWS, patients_per_draw: int = DEFAULT_VALIDATION_PATIENTS,
                      seed: int = DEFAULT_SEED, posterior: Path | str | None = None,
                      targets: Path | str | None = None, params: Path | str | None = None, prior: bool = False,
                      overrides: dict[str, Any] | None = None) -> ValidationInputs:
    """What :func:`validate` checks, read and checked without simulating (InputErrors).

    * no ``params``: the committed model: study scenarios on their own base
      (params/calibrated.toml), the calibrated parameters from ``posterior`` (default
      params/posterior.parquet) or, with ``prior``, from the priors of params/defaults.toml;
    * ``params`` (a parameter file such as params/defaults.toml): every study scenario is
      built on it; the calibrated parameters are its point values in every draw (the
      predictive interval is then the sampling noise of a study of that size at those
      values), or drawn from its priors with ``prior``, or from ``posterior`` when given
      (laid over the file's other values);
    * ``overrides`` apply to every study and fix any calibrated parameter they name.
    """
    check_option("--draws", draws, "draws")
    check_option("--patients", patients_per_draw, "patients")
    check_option("--seed", seed, "seed")
    if prior and posterior is not None:
        raise InputError("command line", "--prior", "cannot be combined with --posterior",
                         "one of --posterior FILE (a posterior sample), --prior (the parameter file's priors) or "
                         "neither")
    overrides = dict(overrides or {})
    base = load_parameter_set(DEFAULTS_PATH if params is None else params)
    if overrides:
        base.with_values(overrides, SET_SOURCE)  # names and values checked once, before the studies are read
    target_set = load_targets(targets, None if params is None else base, overrides)
    transform = PriorTransform(base, [n for n in CALIBRATED if n not in overrides])
    meta: dict[str, Any] | None = None  # the posterior file's record of how it was made
    priors_match: bool | None = None
    if prior:
        draws_from, post_file = "prior", None
        values = transform.values(np.random.default_rng(seed).standard_normal((draws, transform.dims)))
    elif params is not None and posterior is None:
        draws_from, post_file = "point", None
        values = np.tile(base.theta()[transform.slots], (draws, 1))
    else:
        draws_from, post_file = "posterior", str(posterior or POSTERIOR_PATH)
        values = posterior_slots(posterior, transform)
        loaded = load_posterior(posterior, required=True)
        meta = None if loaded is None else loaded.meta
        priors_match = _priors_match(base, meta or {})
        if draws > len(values):  # each draw is simulated once: more than the sample holds would repeat draws
            raise InputError("command line", "--draws", f"{draws:,} draws asked for, the posterior "
                             f"{post_file} holds {len(values):,}", f"1 to {len(values):,}")
    return ValidationInputs(target_set, transform, values, draws_from, str(params or DEFAULTS_PATH), post_file,
                            overrides, meta, priors_match)


def _priors_match(base: ParameterSet, meta: dict[str, Any]) -> bool | None:
    """Were the posterior's parameters calibrated under ``base``'s priors? (its recorded
    ``prior_digest`` against the same parameters' priors now; None when not recorded)"""
    recorded, names = meta.get("prior_digest"), meta.get("calibrated")
    if not isinstance(recorded, str) or not isinstance(names, list):
        return None
    try:
        return PriorTransform(base, [str(n) for n in names]).digest() == recorded
    except InputError:  # a parameter the priors no longer have, or no longer give a distribution
        return False


def check_validation(draws: int = DEFAULT_VALIDATION_DRAWS, patients_per_draw: int = DEFAULT_VALIDATION_PATIENTS,
                     posterior: Path | str | None = None, targets: Path | str | None = None,
                     seed: int = DEFAULT_SEED, params: Path | str | None = None, prior: bool = False,
                     overrides: dict[str, Any] | None = None) -> ValidationInputs:
    """What :func:`validate` reads and checks, without simulating (InputErrors): a command
    validates everything before it takes its output folder."""
    return validation_inputs(draws, patients_per_draw, seed, posterior, targets, params, prior, overrides)


def validate(draws: int = DEFAULT_VALIDATION_DRAWS, patients_per_draw: int = DEFAULT_VALIDATION_PATIENTS,
             seed: int = DEFAULT_SEED, posterior: Path | str | None = None, targets: Path | str | None = None,
             threads: int | None = None, progress: Progress | None = None, params: Path | str | None = None,
             prior: bool = False, overrides: dict[str, Any] | None = None,
             inputs: ValidationInputs | None = None) -> tuple[ValidationResult, TargetSet]:
    """Predictive check of every target (see :func:`validation_inputs` for what is
    checked; default: the committed posterior). ``inputs``: already checked inputs."""
    if inputs is None:
        inputs = validation_inputs(draws, patients_per_draw, seed, posterior, targets, params, prior, overrides)
    model = TargetModel(inputs.targets, inputs.transform, patients_per_draw, seed, threads)
    return (_validate(inputs.targets, model, inputs.values, draws, patients_per_draw, seed, progress),
            inputs.targets)


@dataclass
class PosteriorLearning:
    """Prior against posterior for the calibrated slots (``sim.calibration.identifiability``),
    with the draws behind it (for the figure)."""

    learning: Learning
    prior: np.ndarray
    posterior: np.ndarray


def posterior_learning(posterior: Path | str | None = None, seed: int = DEFAULT_SEED,
                       transform: PriorTransform | None = None) -> PosteriorLearning:
    """What the abstracts taught each calibrated parameter: prior and posterior medians and
    95% intervals, the interval ratio and shift on the prior's quantile scale, and the
    moderate-or-strong posterior correlations (``posterior`` default:
    params/posterior.parquet; ``transform`` default: the priors of params/defaults.toml)."""
    transform = PriorTransform(load_parameter_set(DEFAULTS_PATH)) if transform is None else transform
    values = posterior_slots(posterior, transform)
    prior = prior_draws(transform, seed=seed)
    return PosteriorLearning(learning(transform.labels, prior, values), prior, values)


def cannot_tell(taught: PosteriorLearning) -> dict[str, Any]:
    """For the decision-relevant parameters, the values the abstracts cannot reject
    (:mod:`sim.calibration.cannot_tell`), from a posterior and its priors."""
    return _cannot_tell(taught.learning.labels, taught.prior, taught.posterior)


def write_validation(result: ValidationResult, path: Path | str) -> Path:
    return write_json(path, result.to_json())
