"""Figures of sensitivity sweeps (matplotlib, Agg backend): tornado, two-way heatmap,
PSA outcome distributions, Sobol and Morris indices, with parameter and outcome names
as readable labels with units (``sim.report.labels``). The tornado has no error bars
(see :func:`tornado_figure`); the heatmap's cells carry 1.96 Monte Carlo SEs; Sobol and
Morris indices their SALib bootstrap 95% intervals."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.io.files import atomic_write
from sim.report.labels import outcome_label, outcome_unit, parameter_label

TOP = 20  # factors shown in a tornado or index chart (the table has them all)
PSA_PANELS = ("cr_rate", "crs_grade3plus", "icans_any", "os_m12", "os_m24", "efs_m12", "os_rmst_m24_days",
              "icu_days_per_infused", "infusions_per_patient")


def _save(fig: Any, path: Path | str) -> Path:
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out


def tornado_figure(tornado: dict[str, Any], path: Path | str, title: str) -> Path:
    """Bars from the base value to the outcome at each factor's low (blue) and high
    (orange) value, largest swing on top. No error bars: the sets run on common random
    numbers, so the noise of a swing (high minus low) is far below the Monte Carlo SE of
    either end, and the paired SE is not estimated from the set summaries."""
    rows = tornado["factors"][:TOP][::-1]
    base = tornado["base"]
    fig, ax = plt.subplots(figsize=(10.0, 0.38 * len(rows) + 2.0), dpi=120)
    y = np.arange(len(rows))
    for end, colour, label in (("low", "C0", "parameter at its low value"), ("high", "C1",
                                                                             "parameter at its high value")):
        vals = np.array([r[f"outcome_{end}"] if r[f"outcome_{end}"] is not None else np.nan for r in rows])
        ax.barh(y, vals - base, left=base, color=colour, alpha=0.8, label=label)
    ax.axvline(base, color="black", linewidth=0.8)
    ax.set_yticks(y, [f"{parameter_label(r['factor'])}: {r['low']:.3g} to {r['high']:.3g}" for r in rows],
                  fontsize=7)
    ax.set_xlabel(f"{outcome_label(tornado['outcome'])}; vertical line: base value {base:.3g}\n"
                  "no error bars: common random numbers make a swing far more precise than either end", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def _text_colour(rgba: Any) -> str:
    """Black on light cells, white on dark ones (relative luminance of the cell colour)."""
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def heatmap_figure(grid: dict[str, Any], path: Path | str, title: str) -> Path:
    """The outcome over the two-factor grid; cells annotated with the value and ± 1.96
    Monte Carlo SEs (the 95% simulation noise of that cell), in a colour readable on it."""
    z = np.array([[np.nan if v is None else v for v in row] for row in grid["grid"]], float)
    se = np.array([[np.nan if v is None else v for v in row] for row in grid["grid_se"]], float)
    va, vb = (np.asarray(v) for v in grid["values"])
    fig, ax = plt.subplots(figsize=(8.0, 6.0), dpi=120)
    im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis")
    k = len(va)
    if k <= 9:
        for i in range(k):
            for j in range(len(vb)):
                ax.text(j, i, f"{z[i, j]:.3g}\n±{1.96 * se[i, j]:.2g}", ha="center", va="center", fontsize=7,
                        color=_text_colour(im.cmap(im.norm(z[i, j]))))
    ax.set_yticks(range(k), [f"{v:.3g}" for v in va], fontsize=7)
    ax.set_xticks(range(len(vb)), [f"{v:.3g}" for v in vb], fontsize=7, rotation=45)
    ax.set_ylabel(parameter_label(grid["factors"][0]), fontsize=8)
    ax.set_xlabel(parameter_label(grid["factors"][1]) + "\ncells: value ± 1.96 Monte Carlo SE (95% simulation noise)",
                  fontsize=8)
    fig.colorbar(im, ax=ax, label=outcome_label(grid["outcome"]))
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def psa_figure(results: pd.DataFrame, summary: dict[str, Any], path: Path | str, title: str,
               outcome: str | None = None) -> Path:
    """Histograms of outcomes over the parameter sets with their 95% interval (dashed)
    and the mean MC SE of one set as a bar, so spread is read against noise."""
    names = list(PSA_PANELS)
    if outcome and outcome not in names:
        names[0] = outcome
    fig, axes = plt.subplots(3, 3, figsize=(11.0, 9.5), dpi=110)
    for ax, name in zip(axes.ravel(), names, strict=True):
        y = results[name].to_numpy(float)
        y = y[np.isfinite(y)]
        s = summary[name]
        if len(y):
            ax.hist(y, bins=min(40, max(5, len(y) // 10)), color="C0", alpha=0.7)
            for q in ("q025", "q975"):
                if s.get(q) is not None:
                    ax.axvline(s[q], color="black", linestyle="--", linewidth=0.8)
            if s.get("mc_var") is not None and s.get("mean") is not None:
                sd_mc = float(np.sqrt(s["mc_var"]))
                ymax = ax.get_ylim()[1]
                ax.plot([s["mean"] - 1.96 * sd_mc, s["mean"] + 1.96 * sd_mc], [0.92 * ymax] * 2, color="C3",
                        linewidth=3)
        share = s.get("parameter_share")
        label = outcome_label(name)
        ax.set_title("\n".join(textwrap.wrap(label, 42)), fontsize=7)
        ax.set_xlabel(outcome_unit(name) + (f"; parameters: {100 * share:.0f}% of the variance" if share is not None
                                             else ""), fontsize=7)
        ax.set_ylabel("parameter sets", fontsize=7)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{title}\nhistogram over parameter sets; dashed: 2.5% and 97.5% quantiles; red bar: ± 1.96 Monte "
                 "Carlo SE of one set (simulation noise)", fontsize=9)
    return _save(fig, path)


def indices_figure(indices: dict[str, Any], path: Path | str, title: str, kind: str) -> Path:
    """Sobol S1 and ST, or Morris mu*, per parameter with 95% bootstrap intervals."""
    rows = indices["indices"][:TOP][::-1]
    fig, ax = plt.subplots(figsize=(10.0, 0.38 * max(len(rows), 1) + 2.0), dpi=120)
    y = np.arange(len(rows))

    def col(key: str) -> np.ndarray:
        return np.array([np.nan if r[key] is None else r[key] for r in rows], float)

    if kind == "sobol":
        ax.barh(y - 0.2, col("ST"), height=0.4, xerr=col("ST_conf"), color="C1", label="total (ST)", capsize=2)
        ax.barh(y + 0.2, col("S1"), height=0.4, xerr=col("S1_conf"), color="C0", label="first order (S1)",
                capsize=2)
        ax.set_xlabel(f"Sobol index of {outcome_label(indices['outcome'])}\n(share of its variance; whiskers: 95% "
                      "bootstrap interval)", fontsize=8)
    else:
        ax.barh(y, col("mu_star"), xerr=col("mu_star_conf"), color="C0", capsize=2, label="mu*")
        ax.set_xlabel(f"Morris mu* of {outcome_label(indices['outcome'])}\n(mean absolute change per unit of the "
                      "parameter's quantile scale; whiskers: 95% bootstrap interval)", fontsize=8)
    ax.set_yticks(y, [parameter_label(r["parameter"]) for r in rows], fontsize=7)
    if indices.get("note"):
        ax.text(0.5, 0.5, f"no indices: {indices['outcome']} is {indices['note']}", transform=ax.transAxes,
                ha="center")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)
