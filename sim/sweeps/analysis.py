"""What to make of a sweep's outcomes: the tornado (one-way), the two-way grid, the PSA
summary, and Sobol and Morris indices through SALib."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.outcomes.sets import OUTCOME_NAMES
from sim.sweeps.designs import Design


# --------------------------------------------------------------------------------------
# analyses of the outcome table
# --------------------------------------------------------------------------------------
def _finite(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def tornado(design: Design, results: pd.DataFrame, outcome: str) -> dict[str, Any]:
    """Per factor: the outcome at low and high with MC SEs, and the swing (high - low),
    sorted by |swing|, largest first."""
    base = results.iloc[0]
    rows = []
    for f in design.factors:
        lo = results[(results["factor"] == f.label) & (results["level"] == "low")].iloc[0]
        hi = results[(results["factor"] == f.label) & (results["level"] == "high")].iloc[0]
        swing = float(hi[outcome] - lo[outcome])
        rows.append({"factor": f.label, "base_value": f.base_value(design.scenario.params),
                     "low": float(lo["value"]), "high": float(hi["value"]), "range": lo["range"],
                     "outcome_low": _finite(lo[outcome]), "outcome_low_se": _finite(lo[f"{outcome}_se"]),
                     "outcome_high": _finite(hi[outcome]), "outcome_high_se": _finite(hi[f"{outcome}_se"]),
                     "swing": _finite(swing)})
    rows.sort(key=lambda r: -abs(r["swing"]) if r["swing"] is not None else 0.0)
    return {"outcome": outcome, "base": _finite(base[outcome]), "base_se": _finite(base[f"{outcome}_se"]),
            "factors": rows}


def twoway_grid(design: Design, results: pd.DataFrame, outcome: str) -> dict[str, Any]:
    k = design.options["grid"]
    values = results.sort_values("set_id")[outcome].to_numpy().reshape(k, k)
    ses = results.sort_values("set_id")[f"{outcome}_se"].to_numpy().reshape(k, k)
    return {"outcome": outcome, "factors": design.options["factors"], "values": design.options["values"],
            "grid": [[_finite(x) for x in row] for row in values],
            "grid_se": [[_finite(x) for x in row] for row in ses]}


def psa_summary(results: pd.DataFrame) -> dict[str, Any]:
    """Per outcome: mean, SD, 2.5/50/97.5% over the parameter sets, the mean MC variance
    and the share of the across-set variance due to parameter uncertainty,
    1 - mean(SE^2) / Var(across sets), floored at 0. Under common random numbers the
    noise is partly shared by the sets and shifts them together, so this share is
    conservative (understates parameter uncertainty)."""
    out: dict[str, Any] = {}
    for name in OUTCOME_NAMES:
        y = results[name].to_numpy(float)
        se = results[f"{name}_se"].to_numpy(float)
        ok = np.isfinite(y)
        entry: dict[str, Any] = {"sets": int(ok.sum())}
        if ok.sum() < len(y):
            entry["note"] = _UNDEFINED
        if ok.sum() == 0:
            entry.update(dict.fromkeys(("mean", "sd", "q025", "q50", "q975", "mc_var", "total_var",
                                        "parameter_share")))
        else:
            y = y[ok]
            mc_var = float(np.nanmean(se[ok] ** 2)) if np.isfinite(se[ok]).any() else float("nan")
            var = float(np.var(y, ddof=1)) if len(y) > 1 else float("nan")
            share = max(0.0, 1.0 - mc_var / var) if var > 0 and np.isfinite(mc_var) else None
            entry.update({"mean": _finite(y.mean()), "sd": _finite(np.sqrt(var)) if np.isfinite(var) else None,
                          "q025": _finite(np.quantile(y, 0.025)), "q50": _finite(np.quantile(y, 0.5)),
                          "q975": _finite(np.quantile(y, 0.975)), "mc_var": _finite(mc_var),
                          "total_var": _finite(var), "parameter_share": share})
        out[name] = entry
    return out


_UNDEFINED = ("undefined (NaN) in some parameter sets: a median not reached, or a landmark or restricted mean "
              "beyond the maximum follow-up (a longer --horizon-days may help)")


def _salib_y(results: pd.DataFrame, outcome: str) -> np.ndarray | None:
    y = results.sort_values("set_id")[outcome].to_numpy(float)
    return y if np.all(np.isfinite(y)) else None


def sobol_indices(design: Design, results: pd.DataFrame, outcome: str, seed: int) -> dict[str, Any]:
    """First-order (S1) and total (ST) indices with bootstrap 95% CIs for one outcome;
    an outcome that is undefined in some set (e.g. a median not reached) or constant has
    no indices (``note`` says why)."""
    from SALib.analyze import sobol as sobol_analyze  # noqa: PLC0415

    assert design.problem is not None
    y = _salib_y(results, outcome)
    if y is None:
        return {"outcome": outcome, "indices": [], "note": _UNDEFINED}
    if np.var(y) == 0:
        return {"outcome": outcome, "indices": [], "note": "the same in every parameter set"}
    res = sobol_analyze.analyze(design.problem, y, calc_second_order=False, num_resamples=200, conf_level=0.95,
                                seed=seed % 2**32)
    groups = design.problem.get("groups")
    names = list(dict.fromkeys(groups)) if groups else list(design.problem["names"])
    rows = [{"parameter": n, "S1": _finite(res["S1"][k]), "S1_conf": _finite(res["S1_conf"][k]),
             "ST": _finite(res["ST"][k]), "ST_conf": _finite(res["ST_conf"][k])} for k, n in enumerate(names)]
    rows.sort(key=lambda r: -(r["ST"] or 0.0))
    return {"outcome": outcome, "indices": rows}


def morris_indices(design: Design, results: pd.DataFrame, outcome: str, seed: int) -> dict[str, Any]:
    """Morris mu* (mean absolute elementary effect, in the outcome's unit per unit of the
    hypercube) with its bootstrap 95% CI, mu and sigma, for one outcome."""
    from SALib.analyze import morris as morris_analyze  # noqa: PLC0415

    assert design.problem is not None
    assert design.unit is not None
    y = _salib_y(results, outcome)
    if y is None:
        return {"outcome": outcome, "indices": [], "note": _UNDEFINED}
    res = morris_analyze.analyze(design.problem, design.unit, y, num_resamples=200, conf_level=0.95,
                                 num_levels=design.options["levels"], seed=seed % 2**32)
    names = [str(n) for n in res["names"]]
    rows: list[dict[str, Any]] = [
        {"parameter": n, "mu_star": _finite(res["mu_star"][k]), "mu_star_conf": _finite(res["mu_star_conf"][k]),
         "mu": _finite(res["mu"][k]), "sigma": _finite(res["sigma"][k])} for k, n in enumerate(names)]
    rows.sort(key=lambda r: -(r["mu_star"] or 0.0))
    return {"outcome": outcome, "indices": rows}
