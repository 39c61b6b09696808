"""The public API of trial design: power and sample size of a trial spec simulated from
the pathway (``power``; multi-arm specs give power per comparison), the power of several
survival tests on the same simulated trials (``compare_tests``) and Simon's two-stage
designs (``simon``).

>>> import sim
>>> sim.simon(0.3, 0.5)["optimal"]["n"]          # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.api.runs import check_threads
from sim.io.files import SCENARIOS_DIR, json_safe, read_trial
from sim.model.errors import InputError
from sim.model.limits import LIMITS, check_option
from sim.trials.designs import exact_binomial_design
from sim.trials.simon import simon_two_stage

if TYPE_CHECKING:
    from sim.trials.spec import TrialSpec


def load_trial(path: Path | str) -> TrialSpec:
    """A trial file (``scenarios/trials/*.toml``) parsed and checked, with its base scenario."""
    from sim.trials.spec import parse_trial  # noqa: PLC0415 - compile only when used

    doc, base = read_trial(path)
    return parse_trial(doc, str(path), base)


def power_spec(trial: str | Path, trials: int | None = None, seed: int | None = None,
               threads: int | None = None) -> TrialSpec:
    """The trial spec :func:`power` would simulate, with its options checked (InputErrors):
    a command validates everything before it takes its output folder."""
    from sim.trials.simulate import check_trial_memory  # noqa: PLC0415 - compile only when used

    check_threads(threads)
    check_option("--trials", trials, "trials")
    check_option("--seed", seed, "seed")
    path = Path(trial)
    if not path.is_file() and (SCENARIOS_DIR / "trials" / f"{trial}.toml").is_file():
        path = SCENARIOS_DIR / "trials" / f"{trial}.toml"
    spec = load_trial(path)
    check_trial_memory(spec.trials if trials is None else trials, max(spec.grid), *(
        ("command line", "--trials") if trials is not None else (spec.file, "run.trials")))
    return spec


def power(trial: str | Path, trials: int | None = None, seed: int | None = None,
          threads: int | None = None, progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Power and sample size of a trial spec (scenarios/trials/*.toml) simulated from the
    pathway, with the analytic answer beside it and the assurance (probability of
    success for a single-arm trial); a JSON-ready dict. ``progress(stage, done, total)``
    is called as simulated trials finish (stages "power grid" and "assurance")."""
    from sim.model.posterior import load_posterior  # noqa: PLC0415
    from sim.trials.search import assurance, power_curve  # noqa: PLC0415 - compile only when used

    spec = power_spec(trial, trials, seed, threads)
    if spec.design == "multi_arm":
        from sim.trials.multiarm import power_multi  # noqa: PLC0415 - compile only when used

        out = power_multi(spec, spec.multiplicity, trials, seed, threads)
        out.update(trial=spec.name, design=spec.design, endpoint=spec.endpoint, test=spec.test, sides=spec.sides,
                   alpha=spec.alpha, target_power=spec.power)
        return json_safe(out)
    t0 = time.perf_counter()

    def stage(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    curve = power_curve(spec, trials=trials, seed=seed, threads=threads, progress=stage("power grid")).to_dict()
    elapsed = time.perf_counter() - t0
    n_at = curve["n_required"] or max(spec.grid)
    value, se = assurance(spec, int(n_at), trials=trials, seed=seed, threads=threads, progress=stage("assurance"))
    source = "posterior" if load_posterior() is not None else "prior"
    curve["assurance"] = value
    curve["assurance_se"] = se
    curve["assurance_n"] = int(n_at)
    curve["assurance_source"] = source
    where = ("the calibrated posterior sample (params/posterior.parquet; the parameters it does not hold "
             "from their priors)" if source == "posterior" else
             "the prior uncertainty distributions (params/defaults.toml; no calibrated posterior yet)")
    curve["assurance_note"] = (f"power averaged over parameter draws from {where}, one draw per simulated trial, "
                               "at n_required (or the largest grid size)")
    if spec.design == "single_arm":
        curve["probability_of_success"] = value
    curve["trial"] = spec.name
    curve["target_power"] = spec.power
    curve["alpha"] = spec.alpha
    curve["elapsed_s"] = elapsed
    return json_safe(curve)


def compare_tests(trial: str | Path, trials: int | None = None, seed: int | None = None, threads: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The power of log-rank, Cox, Fleming-Harrington and MaxCombo tests of a two-arm
    survival spec on the same simulated trials (``sim.trials.compare``); JSON-ready."""
    from sim.trials.compare import compare_tests as run  # noqa: PLC0415 - compile only when used

    spec = power_spec(trial, trials, seed, threads)
    out = run(spec, trials, seed, threads, progress)
    out["trial"] = spec.name
    return json_safe(out)


def simon(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8) -> dict[str, Any]:
    """Simon's optimal and minimax two-stage designs and the single-stage exact
    binomial design, as a JSON-ready dict; bad arguments are InputErrors."""
    try:
        single = exact_binomial_design(p0, p1, alpha, power)
        # the two-stage search enumerates sizes up to 1.5 n + 10 with work ~ n^4 and
        # tables ~ n^2: refuse what would run for hours or exhaust the memory
        nmax = math.ceil(1.5 * single.n) + 10
        limit = LIMITS["simon_nmax"]
        if nmax > limit.high:
            raise InputError("command line", "--p1", f"p1 - p0 = {p1 - p0:g} needs a single-stage n of "
                             f"{single.n:,}: the two-stage search would enumerate sizes up to {nmax:,}",
                             f"p0 and p1 far enough apart that sizes stay <= {limit.high:,.0f} (a single-stage n "
                             f"<= {math.floor((limit.high - 10) / 1.5)})")
        designs = simon_two_stage(p0, p1, alpha, power, nmax=nmax)
    except InputError:
        raise
    except ValueError as exc:
        raise InputError("command line", "", str(exc)) from None

    def as_dict(d: Any) -> dict[str, Any]:
        return {"r1": d.r1, "n1": d.n1, "r": d.r, "n": d.n, "en0": d.en0, "pet0": d.pet0, "alpha": d.alpha,
                "power": d.power}

    return {"p0": p0, "p1": p1, "alpha": alpha, "power": power, "optimal": as_dict(designs.optimal),
            "minimax": as_dict(designs.minimax),
            "single_stage": {"r": single.r, "n": single.n, "alpha": single.alpha, "power": single.power}}
