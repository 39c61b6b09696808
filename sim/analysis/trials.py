"""Trial planning: power and sample size of a two-arm trial simulated from the pathway.

A trial specification (``scenarios/trials/*.toml``) names a base scenario, two arms
(overrides of it by dotted parameter name), the allocation ratio, accrual, dropout,
the follow-up rule, the endpoint and its test, alpha, the target power and a grid of
total sample sizes. :func:`simulate_trials` simulates K whole trials; :func:`power_curve`
turns them into power (with Monte Carlo error) per sample size, a searched sample size
and the Schoenfeld answer beside it.

How one simulated trial is built (every random number has an address, DESIGN.md s.4)
-----------------------------------------------------------------------------------
* Trial ``k`` (0-based) of a run with largest size ``N`` consists of patients
  ``k N .. k N + N - 1``. Trials are therefore independent, adding trials changes no
  earlier trial, and the trial of size ``n <= N`` is the first ``n`` randomised
  patients of the size-``N`` trial (nested designs: common random numbers across sizes,
  so the simulated power curve is smooth and close to monotone in ``n``).
* Both arms are simulated by the kernel with the *same* (seed, replicate) and patient
  ids: a patient's record in the arm it is randomised to is the record that the same
  random numbers give under that arm's parameters (common random numbers between arms;
  with identical arms a patient's outcome does not depend on its arm at all, so the
  null hypothesis holds exactly). Each patient is observed in one arm only, so sharing
  addresses between arms creates no dependence between patients.
* Trial-level draws use decision code ``TRIAL_DECISION`` (15; the pathway uses 1-14) at
  the patient's own address: lane 0 randomisation (arm B, the experimental arm, iff
  ``u < ratio / (1 + ratio)``), lane 1 the accrual gap before the patient (Poisson
  accrual: exponential gaps; the first patient is randomised on day 0), lane 2 an
  exponential dropout time (``dropout_rate_per_year`` is a hazard per patient-year; the
  proportion lost in a year is ``1 - exp(-rate)``).
* Endpoint time is from randomisation = the decision to treat (t = 0 of the records):
  OS = death from any cause, EFS = ``t_efs_days`` (see ``sim.analysis.outcomes``).
* Follow-up rule ``min_followup``: a fixed calendar data cut-off at the last patient's
  randomisation plus ``min_followup_days``. Each patient is censored at the earlier of
  the cut-off and its dropout time. Duration = first randomisation to cut-off.
* Analysis: the log-rank test (Mantel-Haenszel variance with the tie correction, as
  ``sim.analysis.survival.logrank_test`` and lifelines), computed in compiled code for
  all trials at once. ``z = (O_B - E_B) / sqrt(V)``; two-sided ``p = P(chi2_1 > z^2)``;
  one-sided ``p = Phi(z)`` (alternative: fewer events than expected in the experimental
  arm B, i.e. hazard ratio B/A below 1). A trial rejects when ``p < alpha``; a trial
  with no events has ``p = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from sim.analysis.designs import schoenfeld_events, schoenfeld_n
from sim.analysis.outcomes import DAYS_PER_MONTH
from sim.engine.kernel import run_kernel
from sim.engine.rng import make_key, patient_key, uniform
from sim.model.errors import InputError, unknown_key_error
from sim.model.outputs import F
from sim.model.parameter_set import flatten
from sim.model.scenario import Scenario

TRIAL_DECISION = 15  # address 'decision' of trial-level draws; the pathway uses 1-14
DESIGNS = ("two_arm",)
TESTS = ("logrank",)
#: endpoints a trial spec may name, and those each test can analyse
ENDPOINTS = ("os", "efs", "lfs", "cr_rate", "crs_grade3plus_rate")
ANALYSABLE = {"logrank": ("os", "efs")}
FOLLOWUP_RULES = ("min_followup",)
ARM_NAMES = ("control", "experimental")  # arm A, arm B
SECTIONS = ("trial", "arms", "allocation", "accrual", "dropout", "follow_up", "analysis", "grid", "run")
KEYS: dict[str, tuple[str, ...]] = {
    "trial": ("name", "description", "scenario", "design"),
    "allocation": ("ratio",),
    "accrual": ("per_month",),
    "dropout": ("rate_per_year",),
    "follow_up": ("rule", "min_followup_days"),
    "analysis": ("endpoint", "test", "sides", "alpha", "power"),
    "grid": ("n",),
    "run": ("trials", "seed"),
}
ARM_KEYS = ("label", "overrides")
DEFAULT_TRIALS = 2000
DEFAULT_SEED = 20261121
MIN_HORIZON_DAYS = 100 * 365.25  # kernel horizon; extended when a trial follows patients longer
CHUNK_PATIENTS = 1_000_000  # kernel patients per call (memory bound; results do not depend on it)


# --------------------------------------------------------------------------- #
# specification


@dataclass(frozen=True)
class Arm:
    name: str  # "control" (arm A) or "experimental" (arm B)
    label: str
    overrides: dict[str, Any]
    scenario: Scenario = field(repr=False)


@dataclass(frozen=True)
class TrialSpec:
    """A validated two-arm trial specification (see the module docstring)."""

    name: str
    description: str
    file: str
    design: str
    arms: tuple[Arm, Arm]  # (control = A, experimental = B)
    allocation_ratio: float  # experimental : control
    accrual_per_month: float
    dropout_rate_per_year: float
    followup_rule: str
    min_followup_days: float
    endpoint: str
    test: str
    sides: int
    alpha: float
    power: float
    grid: tuple[int, ...]  # total patients, ascending, distinct
    trials: int = DEFAULT_TRIALS
    seed: int = DEFAULT_SEED

    @property
    def p_experimental(self) -> float:
        """Probability that a patient is randomised to the experimental arm."""
        return self.allocation_ratio / (1.0 + self.allocation_ratio)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _whole(x: Any, lowest: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and lowest <= x < 2**63


def _check_keys(table: Any, section: str, allowed: tuple[str, ...], file: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(file, section, "expected a table", f"[{section}]")
    for key in table:
        if key not in allowed:
            raise unknown_key_error(file, f"{section}.{key}", [f"{section}.{k}" for k in allowed])
    return table


def _choice(value: Any, key: str, allowed: tuple[str, ...], file: str) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise InputError(file, key, f"unknown value {value!r}", ", ".join(allowed))
    return value.lower()


def _open_unit(value: Any, key: str, file: str) -> float:
    if not _number(value) or not 0.0 < value < 1.0:
        raise InputError(file, key, f"expected a number strictly between 0 and 1, got {value!r}", "0 < x < 1")
    return float(value)


def _positive(value: Any, key: str, file: str, zero_ok: bool = False) -> float:
    ok = _number(value) and (value >= 0.0 if zero_ok else value > 0.0)
    if not ok:
        bound = ">= 0" if zero_ok else "> 0"
        raise InputError(file, key, f"expected a finite number {bound}, got {value!r}", f"a number {bound}")
    return float(value)


def _parse_arm(name: str, table: Any, file: str, base: Scenario) -> Arm:
    table = _check_keys(table, f"arms.{name}", ARM_KEYS, file)
    label = table.get("label", name)
    if not isinstance(label, str):
        raise InputError(file, f"arms.{name}.label", f"expected text, got {label!r}")
    raw = table.get("overrides", {})
    if not isinstance(raw, dict):
        raise InputError(file, f"arms.{name}.overrides", "expected a table of parameter values by dotted name")
    overrides = flatten(raw)
    try:
        params = base.params.with_values(overrides, file)
    except InputError as exc:  # name the arm in the key
        raise InputError(file, f"arms.{name}.overrides.{exc.key}", exc.problem, exc.allowed) from None
    return Arm(name, label, overrides, replace(base, params=params))


def parse_trial(doc: dict[str, Any], file: str, base_scenario: Scenario) -> TrialSpec:
    """A validated trial specification from its TOML document; ``base_scenario`` is the
    scenario the arms override (``trial.scenario`` names it; the caller loads it, see
    :func:`load_trial`). Bad input raises :class:`InputError` naming the file and key."""
    for section, table in doc.items():
        if section not in SECTIONS:
            raise unknown_key_error(file, section, SECTIONS, "section")
        if section in KEYS:
            _check_keys(table, section, KEYS[section], file)
    header = doc.get("trial", {})
    design = _choice(header.get("design", "two_arm"), "trial.design", DESIGNS, file)
    scenario_ref = header.get("scenario", "baseline")
    if not isinstance(scenario_ref, str):
        raise InputError(file, "trial.scenario", f"expected a scenario file or name, got {scenario_ref!r}")

    arms_table = _check_keys(doc.get("arms", {}), "arms", ARM_NAMES, file)
    for name in ARM_NAMES:
        if name not in arms_table:
            raise InputError(file, f"arms.{name}", "missing arm", "[arms.control] and [arms.experimental]")
    arms = (_parse_arm("control", arms_table["control"], file, base_scenario),
            _parse_arm("experimental", arms_table["experimental"], file, base_scenario))

    ratio = _positive(doc.get("allocation", {}).get("ratio", 1.0), "allocation.ratio", file)
    if "per_month" not in doc.get("accrual", {}):
        raise InputError(file, "accrual.per_month", "missing accrual rate", "patients per month > 0")
    accrual = _positive(doc["accrual"]["per_month"], "accrual.per_month", file)
    dropout = _positive(doc.get("dropout", {}).get("rate_per_year", 0.0), "dropout.rate_per_year", file,
                        zero_ok=True)
    fu = doc.get("follow_up", {})
    rule = _choice(fu.get("rule", "min_followup"), "follow_up.rule", FOLLOWUP_RULES, file)
    if "min_followup_days" not in fu:
        raise InputError(file, "follow_up.min_followup_days", "missing minimum follow-up", "days >= 0")
    min_fu = _positive(fu["min_followup_days"], "follow_up.min_followup_days", file, zero_ok=True)

    an = doc.get("analysis", {})
    test = _choice(an.get("test", "logrank"), "analysis.test", TESTS, file)
    endpoint = _choice(an.get("endpoint", "os"), "analysis.endpoint", ENDPOINTS, file)
    if endpoint not in ANALYSABLE[test]:
        raise InputError(file, "analysis.endpoint", f"the {test} test cannot analyse endpoint {endpoint!r}",
                         ", ".join(ANALYSABLE[test]))
    sides = an.get("sides", 2)
    if sides not in (1, 2) or isinstance(sides, bool):
        raise InputError(file, "analysis.sides", f"expected 1 or 2, got {sides!r}", "1 or 2")
    alpha = _open_unit(an.get("alpha", 0.05), "analysis.alpha", file)
    power = _open_unit(an.get("power", 0.8), "analysis.power", file)
    if power <= alpha:
        raise InputError(file, "analysis.power", f"target power {power} does not exceed alpha {alpha}",
                         "alpha < power < 1")

    grid = doc.get("grid", {}).get("n", [])
    if not isinstance(grid, list) or not grid:
        raise InputError(file, "grid.n", "the sample-size grid is empty", "a list of total sample sizes >= 2")
    if not all(_whole(n, 2) for n in grid):
        raise InputError(file, "grid.n", f"expected whole numbers >= 2, got {grid!r}", "total sample sizes >= 2")

    run = doc.get("run", {})
    trials = run.get("trials", DEFAULT_TRIALS)
    if not _whole(trials, 1):
        raise InputError(file, "run.trials", f"expected a whole number >= 1, got {trials!r}", "an integer >= 1")
    seed = run.get("seed", DEFAULT_SEED)
    if not _whole(seed, 0):
        raise InputError(file, "run.seed", f"expected a whole number >= 0, got {seed!r}", "an integer >= 0")

    return TrialSpec(
        name=str(header.get("name", "")) or file, description=str(header.get("description", "")), file=file,
        design=design, arms=arms, allocation_ratio=ratio, accrual_per_month=accrual,
        dropout_rate_per_year=dropout, followup_rule=rule, min_followup_days=min_fu, endpoint=endpoint,
        test=test, sides=int(sides), alpha=alpha, power=power, grid=tuple(sorted({int(n) for n in grid})),
        trials=int(trials), seed=int(seed))


def load_trial(path: Path | str) -> TrialSpec:
    """Read a trial file and its base scenario (``trial.scenario``: a path relative to the
    trial file, or a scenario name such as ``baseline``)."""
    from sim.io.files import load_scenario, read_toml  # noqa: PLC0415 - io imports model; keep analysis light

    path = Path(path)
    doc = read_toml(path)
    ref = doc.get("trial", {}).get("scenario", "baseline") if isinstance(doc.get("trial"), dict) else "baseline"
    if not isinstance(ref, str):
        raise InputError(str(path), "trial.scenario", f"expected a scenario file or name, got {ref!r}")
    local = path.parent / ref
    base = load_scenario(local if local.is_file() else ref)
    return parse_trial(doc, str(path), base)


# --------------------------------------------------------------------------- #
# compiled parts: trial-level draws and the log-rank test over all trials


@nb.njit(parallel=True, cache=True)
def _trial_draws(k0: np.uint64, k1: np.uint64, first_trial: int, n_max: int, p_b: float, accrual_per_day: float,
                 dropout_per_day: float, arm: np.ndarray, entry: np.ndarray, dropout: np.ndarray) -> None:
    """Arm (1 = experimental), randomisation day and dropout time of every patient of
    trials first_trial .. first_trial + len(arm) - 1, each at the patient's own address."""
    for k in nb.prange(arm.shape[0]):
        base = (first_trial + k) * n_max
        day = 0.0
        for j in range(n_max):
            key = patient_key(k0, k1, base + j)
            arm[k, j] = 1 if uniform(key, TRIAL_DECISION, 0, 0, 0) < p_b else 0
            if j > 0:
                day += -math.log(uniform(key, TRIAL_DECISION, 0, 0, 1)) / accrual_per_day
            entry[k, j] = day
            if dropout_per_day > 0.0:
                dropout[k, j] = -math.log(uniform(key, TRIAL_DECISION, 0, 0, 2)) / dropout_per_day
            else:
                dropout[k, j] = math.inf


@nb.njit(cache=True)
def _logrank_sorted(time: np.ndarray, event: np.ndarray, group: np.ndarray, n: int) -> tuple[float, float, int]:
    """(O_B - E_B, variance, events) of the two-group log-rank test on the first n
    entries (group 1 = B); hypergeometric variance with the (n - d)/(n - 1) tie factor."""
    order = np.argsort(time[:n], kind="mergesort")
    at_a = 0
    at_b = 0
    for j in range(n):
        if group[j] == 1:
            at_b += 1
        else:
            at_a += 1
    o_minus_e = 0.0
    var = 0.0
    events = 0
    i = 0
    while i < n:
        t = time[order[i]]
        d_a = 0
        d_b = 0
        r_a = 0
        r_b = 0
        while i < n and time[order[i]] == t:
            p = order[i]
            if group[p] == 1:
                r_b += 1
                if event[p]:
                    d_b += 1
            else:
                r_a += 1
                if event[p]:
                    d_a += 1
            i += 1
        d = d_a + d_b
        if d > 0:
            at = at_a + at_b
            o_minus_e += d_b - d * at_b / at
            if at > 1:
                var += d * (at_a * at_b / (at * at)) * (at - d) / (at - 1.0)
            events += d
        at_a -= r_a
        at_b -= r_b
    return o_minus_e, var, events


@nb.njit(inline="always", cache=True)
def _p_value(z: float, sides: int) -> float:
    if not math.isfinite(z):
        return 1.0
    if sides == 2:
        return math.erfc(abs(z) / math.sqrt(2.0))  # chi-square(1) upper tail of z^2
    return 0.5 * math.erfc(-z / math.sqrt(2.0))  # Phi(z): small when B has fewer events


@nb.njit(parallel=True, cache=True)
def logrank_many(time: np.ndarray, event: np.ndarray, group: np.ndarray, sides: int) -> tuple[np.ndarray, ...]:
    """The two-group log-rank test on every row of (K, n) arrays at once.

    Returns (chi2, z, p, o_minus_e, variance, events), each of length K; ``group`` 1
    marks arm B (z > 0: more events than expected in B). A row without events has
    z = chi2 = 0 and p = 1."""
    K, n = time.shape
    chi2 = np.zeros(K)
    zs = np.zeros(K)
    ps = np.ones(K)
    oe = np.zeros(K)
    vs = np.zeros(K)
    ev = np.zeros(K, np.int64)
    for k in nb.prange(K):
        o, v, e = _logrank_sorted(time[k], event[k], group[k], n)
        oe[k] = o
        vs[k] = v
        ev[k] = e
        if v > 0.0:
            z = o / math.sqrt(v)
            zs[k] = z
            chi2[k] = z * z
            ps[k] = _p_value(z, sides)
    return chi2, zs, ps, oe, vs, ev


@nb.njit(parallel=True, cache=True)
def _analyse(t_event: np.ndarray, arm: np.ndarray, entry: np.ndarray, dropout: np.ndarray, sizes: np.ndarray,
             min_followup: float, sides: int, zs: np.ndarray, ps: np.ndarray, oe: np.ndarray, vs: np.ndarray,
             events: np.ndarray, duration: np.ndarray) -> None:
    """Censor at the cut-off and at dropout, then the log-rank test, for every trial
    (rows) and every size (columns of the outputs)."""
    K, n_max = t_event.shape
    for k in nb.prange(K):
        time = np.empty(n_max)
        event = np.zeros(n_max, np.bool_)
        for g in range(sizes.size):
            n = sizes[g]
            cutoff = entry[k, n - 1] + min_followup
            for j in range(n):
                c = min(dropout[k, j], cutoff - entry[k, j])
                if t_event[k, j] <= c:
                    time[j] = t_event[k, j]
                    event[j] = True
                else:
                    time[j] = c
                    event[j] = False
            o, v, e = _logrank_sorted(time, event, arm[k], n)
            oe[k, g] = o
            vs[k, g] = v
            events[k, g] = e
            duration[k, g] = cutoff - entry[k, 0]
            if v > 0.0:
                z = o / math.sqrt(v)
                zs[k, g] = z
                ps[k, g] = _p_value(z, sides)
            else:
                zs[k, g] = 0.0
                ps[k, g] = 1.0


# --------------------------------------------------------------------------- #
# simulation


@dataclass(frozen=True)
class SimulatedTrials:
    """K simulated trials of the largest size N: per-patient arrays shaped (K, N).

    ``t_event``: endpoint day from randomisation (inf: no event within the kernel
    horizon); ``arm``: 1 = experimental (B); ``entry``: randomisation day from the
    trial's first randomisation; ``dropout``: days from randomisation to dropout."""

    spec: TrialSpec
    seed: int
    t_event: np.ndarray
    arm: np.ndarray
    entry: np.ndarray
    dropout: np.ndarray

    @property
    def trials(self) -> int:
        return self.t_event.shape[0]

    @property
    def n_max(self) -> int:
        return self.t_event.shape[1]

    def observed(self, k: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, event, arm) of trial k at size n after censoring (plain numpy; the
        reference the compiled analysis is tested against)."""
        entry = self.entry[k, :n]
        cutoff = entry[-1] + self.spec.min_followup_days
        cens = np.minimum(self.dropout[k, :n], cutoff - entry)
        t = self.t_event[k, :n]
        event = t <= cens
        return np.where(event, t, cens), event, self.arm[k, :n].copy()

    def analyse(self, sizes: Any) -> TrialResults:
        """Log-rank test of every trial at every size in ``sizes`` (each <= N)."""
        sizes = np.asarray(sizes, dtype=np.int64).ravel()
        if sizes.size and (sizes.min() < 2 or sizes.max() > self.n_max):
            raise ValueError(f"sizes must lie in [2, {self.n_max}]")
        shape = (self.trials, sizes.size)
        zs, ps, oe, vs, dur = (np.empty(shape) for _ in range(5))
        events = np.empty(shape, np.int64)
        _analyse(self.t_event, self.arm, self.entry, self.dropout, sizes, float(self.spec.min_followup_days),
                 int(self.spec.sides), zs, ps, oe, vs, events, dur)
        return TrialResults(sizes, zs, ps, oe, vs, events, dur, self.spec.alpha)


@dataclass(frozen=True)
class TrialResults:
    """Per trial (rows) and size (columns): z, p, O_B - E_B, variance, events, duration (days)."""

    sizes: np.ndarray
    z: np.ndarray
    p: np.ndarray
    o_minus_e: np.ndarray
    variance: np.ndarray
    events: np.ndarray
    duration_days: np.ndarray
    alpha: float

    @property
    def chi2(self) -> np.ndarray:
        return self.z**2

    @property
    def reject(self) -> np.ndarray:
        return self.p < self.alpha

    @property
    def power(self) -> np.ndarray:
        return self.reject.mean(axis=0)


def _endpoint_column(endpoint: str) -> int:
    return int(F.T_DEATH_DAYS if endpoint == "os" else F.T_EFS_DAYS)


def _trial_layout(spec: TrialSpec, trials: int, seed: int, n: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(arm, entry, dropout) of K trials of n patients, drawn at the patients' own
    addresses, and a kernel horizon beyond every follow-up (any such horizon gives the
    same observed data)."""
    if trials < 1 or n < 2:
        raise ValueError("trials must be >= 1 and the trial size >= 2")
    k0, k1 = make_key(seed, 0)
    arm = np.empty((trials, n), np.int8)
    entry = np.empty((trials, n))
    dropout = np.empty((trials, n))
    _trial_draws(k0, k1, 0, n, spec.p_experimental, spec.accrual_per_month / DAYS_PER_MONTH,
                 spec.dropout_rate_per_year / 365.25, arm, entry, dropout)
    horizon = max(MIN_HORIZON_DAYS, float(entry[:, -1].max()) + spec.min_followup_days + 1.0)
    return arm, entry, dropout, horizon


def simulate_trials(spec: TrialSpec, trials: int | None = None, seed: int | None = None, n_max: int | None = None,
                    threads: int | None = None, progress: Callable[[int, int], None] | None = None
                    ) -> SimulatedTrials:
    """Simulate ``trials`` whole trials of ``n_max`` patients (default: the grid's
    largest size), both arms by the kernel with common random numbers (module docstring)."""
    trials = spec.trials if trials is None else int(trials)
    seed = spec.seed if seed is None else int(seed)
    n_max = max(spec.grid) if n_max is None else int(n_max)
    arm, entry, dropout, horizon = _trial_layout(spec, trials, seed, n_max)
    col = _endpoint_column(spec.endpoint)
    thetas = [a.scenario.params.theta() for a in spec.arms]
    same = bool(np.array_equal(thetas[0], thetas[1]))
    t_event = np.empty((trials, n_max))
    per_chunk = max(1, CHUNK_PATIENTS // n_max)
    for k_start in range(0, trials, per_chunk):
        k_stop = min(trials, k_start + per_chunk)
        count = (k_stop - k_start) * n_max
        times = []
        for theta in thetas[:1] if same else thetas:
            fout, _ = run_kernel(theta, seed, count, horizon, first_patient_id=k_start * n_max, threads=threads)
            t = fout[:, col].astype(np.float64).reshape(k_stop - k_start, n_max)
            times.append(np.where(np.isnan(t), np.inf, t))
        block = times[0] if same else np.where(arm[k_start:k_stop] == 1, times[1], times[0])
        t_event[k_start:k_stop] = block
        if progress is not None:
            progress(k_stop, trials)
    return SimulatedTrials(spec, seed, t_event, arm, entry, dropout)


def assurance(spec: TrialSpec, n: int, trials: int | None = None, seed: int | None = None,
              names: list[str] | None = None, threads: int | None = None) -> tuple[float, float]:
    """Assurance at total size ``n``: the probability of a significant result averaged
    over parameter uncertainty, with its Monte Carlo SE. Trial k uses its own draw of
    the base scenario's uncertain parameters (``sim.model.uncertainty``; ``names``
    restricts which), with each arm's overrides applied on top, and otherwise the same
    patients, randomisation, accrual and dropout as :func:`simulate_trials` (with no
    parameter drawn it equals the power there exactly). The draws come from the
    parameters' prior distributions until the calibration's posterior sample exists."""
    from sim.model.uncertainty import sample_thetas  # noqa: PLC0415 - model-level sampler

    trials = spec.trials if trials is None else int(trials)
    seed = spec.seed if seed is None else int(seed)
    arm, entry, dropout, horizon = _trial_layout(spec, trials, seed, n)
    base = spec.arms[0].scenario.params
    base_theta = base.theta()
    draws = sample_thetas(base, trials, seed, names=names, source=spec.file)
    col = _endpoint_column(spec.endpoint)
    arm_thetas = []
    for a in spec.arms:
        theta_a = a.scenario.params.theta()
        overridden = theta_a != base_theta
        d = draws.copy()
        d[:, overridden] = theta_a[overridden]
        arm_thetas.append(d)
    t_event = np.empty((trials, n))
    for k in range(trials):
        times = []
        for d in arm_thetas:
            fout, _ = run_kernel(d[k], seed, n, horizon, first_patient_id=k * n, threads=threads)
            t = fout[:, col].astype(np.float64)
            times.append(np.where(np.isnan(t), np.inf, t))
        t_event[k] = np.where(arm[k] == 1, times[1], times[0])
    res = SimulatedTrials(spec, seed, t_event, arm, entry, dropout).analyse([n])
    p = float(res.power[0])
    return p, math.sqrt(p * (1.0 - p) / trials)


# --------------------------------------------------------------------------- #
# power curve


@dataclass(frozen=True)
class PowerCurve:
    endpoint: str
    test: str
    trials: int
    seed: int
    grid: list[dict[str, float]]  # n, power, se, events_mean, duration_months_mean
    n_required: int | None
    n_required_note: str
    analytic_n: int | None
    analytic_events: int | None
    hazard_ratio_pooled: float | None
    event_fraction_pooled: float
    searched: list[dict[str, float]]  # sizes evaluated by the search (n, power, se)
    assurance: float | None = None  # not computed yet (needs the calibration's posterior)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "test": self.test, "trials": self.trials, "seed": self.seed,
            "grid": self.grid, "n_required": self.n_required, "n_required_note": self.n_required_note,
            "analytic_n": self.analytic_n, "analytic_events": self.analytic_events,
            "analytic_note": "Schoenfeld with the hazard ratio and event fraction pooled over the simulated "
                             "trials at the largest grid size",
            "hazard_ratio_pooled": self.hazard_ratio_pooled, "event_fraction_pooled": self.event_fraction_pooled,
            "searched": self.searched, "assurance": self.assurance,
        }


def _row(res: TrialResults, g: int) -> dict[str, float]:
    p = float(res.power[g])
    k = res.p.shape[0]
    return {"n": int(res.sizes[g]), "power": p, "se": math.sqrt(p * (1.0 - p) / k),
            "events_mean": float(res.events[:, g].mean()),
            "duration_months_mean": float(res.duration_days[:, g].mean() / DAYS_PER_MONTH)}


def search_n(sim: SimulatedTrials, target: float, grid: tuple[int, ...], power: np.ndarray
             ) -> tuple[int | None, str, list[dict[str, float]]]:
    """Smallest n reaching ``target`` power: bisection over whole n between the last grid
    point below the target and the first at or above it, each midpoint simulated with
    the same K nested trials (so the estimated curve is close to monotone; with Monte
    Carlo noise the answer is a crossing of the estimated curve, not a proof that no
    smaller n reaches the target)."""
    above = np.flatnonzero(power >= target)
    if above.size == 0:
        return None, f"no grid size reaches power {target} (largest grid size {grid[-1]})", []
    i = int(above[0])
    if i == 0:
        return int(grid[0]), "reached at the smallest grid size (not searched below it)", []
    lo, hi = int(grid[i - 1]), int(grid[i])
    searched = []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        res = sim.analyse([mid])
        searched.append(_row(res, 0))
        if res.power[0] >= target:
            hi = mid
        else:
            lo = mid
    return hi, f"bisection between grid sizes {grid[i - 1]} and {grid[i]}", searched


def power_curve(spec: TrialSpec, trials: int | None = None, seed: int | None = None, threads: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> PowerCurve:
    """Simulated power per grid size with its Monte Carlo SE ``sqrt(p (1 - p) / K)``,
    mean events and duration, the searched smallest n, and Schoenfeld's answer with the
    hazard ratio estimated from the simulated trials (pooled Peto one-step estimate
    ``exp(sum(O_B - E_B) / sum(V))`` at the largest grid size) and the pooled event
    fraction there: ``analytic_n = ceil(D / event_fraction)``."""
    sim = simulate_trials(spec, trials, seed, threads=threads, progress=progress)
    res = sim.analyse(spec.grid)
    rows = [_row(res, g) for g in range(len(spec.grid))]
    n_req, note, searched = search_n(sim, spec.power, spec.grid, res.power)
    v = float(res.variance[:, -1].sum())
    hr = math.exp(float(res.o_minus_e[:, -1].sum()) / v) if v > 0 else None
    frac = float(res.events[:, -1].mean()) / spec.grid[-1]
    analytic_n = analytic_d = None
    alloc = spec.p_experimental
    if hr is not None and abs(math.log(hr)) > 1e-12:
        analytic_d = schoenfeld_events(hr, spec.alpha, spec.power, alloc, spec.sides)
        if 0.0 < frac < 1.0:
            analytic_n = schoenfeld_n(hr, frac, spec.alpha, spec.power, alloc, spec.sides)
    return PowerCurve(spec.endpoint, spec.test, sim.trials, sim.seed, rows, n_req, note, analytic_n, analytic_d,
                      hr, frac, searched)
