"""Figures (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.analysis.outcomes import DAYS_PER_MONTH, endpoint_data
from sim.analysis.survival import kaplan_meier
from sim.io.files import atomic_write

GRID_POINTS = 600  # curves are drawn on a grid so that 10^7 patients plot as fast as 10^3


def power_figure(curve: dict, path: Path | str, title: str) -> Path:
    """Simulated power against total sample size with a 95% Monte Carlo band (1.96 SE),
    the target power, the searched n with its bootstrap interval, and the analytic n
    (Schoenfeld, two proportions, exact binomial or one-sample log-rank)."""
    grid = curve["grid"]
    n = np.array([g["n"] for g in grid], float)
    p = np.array([g["power"] for g in grid])
    se = np.array([g["se"] for g in grid])
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=120)
    ax.plot(n, p, "o-", color="C0", label=f"simulated ({curve['trials']:,} trials per size)")
    ax.fill_between(n, np.clip(p - 1.96 * se, 0, 1), np.clip(p + 1.96 * se, 0, 1), color="C0", alpha=0.2,
                    linewidth=0)
    if curve.get("target_power") is not None:
        ax.axhline(curve["target_power"], color="grey", linestyle=":", label=f"target {curve['target_power']:.2f}")
    if curve.get("n_required") is not None:
        ax.axvline(curve["n_required"], color="C0", linestyle="--", label=f"simulated n = {curve['n_required']:,}")
    band = (curve.get("n_required_mc") or {}).get("interval")
    if band:
        ax.axvspan(band[0], band[1], color="C0", alpha=0.08, label="n 95% MC interval")
    if curve.get("analytic_n") is not None:
        ax.axvline(curve["analytic_n"], color="C1", linestyle="--", label=f"analytic n = {curve['analytic_n']:,}")
    ax.set_xlabel("total patients")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out


def km_figure(df: pd.DataFrame, path: Path | str, title: str, horizon_days: float) -> Path:
    """OS and EFS from infusion with 95% pointwise bands; ITT OS dashed."""
    grid = np.linspace(0.0, horizon_days, GRID_POINTS)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    curves = [("os", "infusion", "OS from infusion", "C0", "-"), ("efs", "infusion", "EFS from infusion", "C1", "-"),
              ("os", "decision", "OS from decision to treat (ITT)", "C0", "--")]
    for endpoint, origin, label, colour, style in curves:
        time, event = endpoint_data(df, endpoint, origin)
        if len(time) == 0:
            continue
        km = kaplan_meier(time, event)
        s = km.survival_at(grid)
        ax.step(grid / DAYS_PER_MONTH, s, where="post", color=colour, linestyle=style,
                label=f"{label} (n={len(time):,})")
        if origin == "infusion":
            lo, hi = km.survival_ci_at(grid)
            ax.fill_between(grid / DAYS_PER_MONTH, lo, hi, step="post", color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel("months")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, horizon_days / DAYS_PER_MONTH)
    ax.set_xticks(np.arange(0, horizon_days / DAYS_PER_MONTH + 1, 6))
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
