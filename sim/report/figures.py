"""Figures (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.io.files import atomic_write
from sim.model.endpoints import Columns
from sim.outcomes.stream import StreamSummary
from sim.outcomes.summary import DAYS_PER_MONTH, endpoint_data
from sim.stats.weighted import Layout, estimate, loglog_band, sorted_curve, statistics

GRID_POINTS = 600  # curves are drawn on a grid so that 10^7 patients plot as fast as 10^3


def power_figure(curve: dict, path: Path | str, title: str) -> Path:
    """Simulated power against total sample size with a 95% Monte Carlo band (1.96 SE),
    the target power, the searched n with its bootstrap interval, and the analytic n
    (Schoenfeld, two proportions, exact binomial or one-sample log-rank)."""
    grid = curve["grid"]
    n = np.array([g["n"] for g in grid], float)
    p = np.array([g["power"] for g in grid])
    se = np.array([g["se"] for g in grid])
    fig, ax = plt.subplots(figsize=(9.5, 4.5), dpi=120)
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
    ax.set_xlabel("total patients enrolled")
    ax.set_ylabel("power (probability of rejecting the null)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title="band: 95% Monte Carlo interval", title_fontsize=7)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out


def month_ticks(horizon_months: float, fewest: int = 4) -> np.ndarray:
    """Tick positions in months from 0 to the horizon: the longest of 24, 12, 6, 3, 2 or
    1 months, or 14, 7, 5, 2 days that still gives ``fewest`` ticks (two years: every 6
    months; 100 days: monthly; 6 weeks: every 2 weeks; 20 days: every 5 days)."""
    steps = (24.0, 12.0, 6.0, 3.0, 2.0, 1.0, *(d / DAYS_PER_MONTH for d in (14, 7, 5, 2)))
    step = next((s for s in steps if horizon_months / s >= fewest - 1), 1 / DAYS_PER_MONTH)
    return np.arange(0.0, horizon_months + 1e-9, step)


def time_axis(horizon_days: float) -> tuple[np.ndarray, list[str], str]:
    """Ticks (months), their labels and the unit word of a time axis to the horizon:
    months, or days when the ticks are weeks apart."""
    ticks = month_ticks(horizon_days / DAYS_PER_MONTH)
    if len(ticks) > 1 and ticks[1] < 1.0:
        return ticks, [f"{t * DAYS_PER_MONTH:.0f}" for t in ticks], "days"
    return ticks, [f"{t:.0f}" for t in ticks], "months"


def numbers_at_risk(time_days: np.ndarray, at_days: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Patients still followed and event-free at each time: follow-up time >= t (the
    convention of published Kaplan-Meier plots; at t = 0, everyone); ``weight``: patients per row."""
    if weight is not None:
        order = np.argsort(time_days, kind="stable")
        before = np.concatenate(([0], np.cumsum(np.asarray(weight, np.int64)[order])))
        idx = np.searchsorted(np.asarray(time_days, float)[order], np.asarray(at_days, float), side="left")
        return (before[-1] - before[idx]).astype(np.int64)
    t = np.sort(np.asarray(time_days, float))
    return (len(t) - np.searchsorted(t, np.asarray(at_days, float), side="left")).astype(np.int64)


@dataclass(frozen=True)
class Curve:
    """One Kaplan-Meier curve of a figure: its data (days from its origin), label and style."""

    time_days: np.ndarray
    event: np.ndarray
    label: str
    colour: str
    short: str = ""  # row name in the numbers-at-risk strip (default: the label)
    style: str = "-"
    band: bool = True
    width: float = 1.6
    weight: np.ndarray | None = None  # patients per row (binned curves of a streamed run)


def km_axes(ax: Any, risk_ax: Any, curves: list[Curve], horizon_days: float) -> None:
    """Kaplan-Meier steps (with 95% pointwise bands where asked), each ending at its own
    longest follow-up, and the numbers at risk at the x ticks in ``risk_ax`` below."""
    ticks, labels, _ = time_axis(horizon_days)
    for c in curves:
        if len(c.time_days) == 0:
            continue
        end = float(np.max(c.time_days))  # no curve past the data
        grid = np.linspace(0.0, end, GRID_POINTS)
        if c.weight is None:
            est = estimate(c.time_days, np.asarray(c.event).astype(np.int8), grid, end)
        else:
            est = statistics(sorted_curve(np.arange(len(c.time_days)), c.time_days, np.asarray(c.event, np.int8)),
                             np.asarray(c.weight).reshape(-1, 1), grid, end, variance=True)[0]
        at = Layout(len(grid))
        s = est[at.survival]
        ax.step(grid / DAYS_PER_MONTH, s, where="post", color=c.colour, linestyle=c.style,
                linewidth=c.width, label=c.label)
        if c.band:
            lo, hi = np.array([loglog_band(v, g) for v, g in zip(s, est[at.greenwood], strict=True)]).T
            ax.fill_between(grid / DAYS_PER_MONTH, lo, hi, step="post", color=c.colour, alpha=0.18, linewidth=0)
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, horizon_days / DAYS_PER_MONTH)
    ax.set_xticks(ticks, labels)
    ax.grid(alpha=0.3)
    shown = [c for c in curves if len(c.time_days)]
    risk_ax.set_xlim(ax.get_xlim())
    risk_ax.set_ylim(-0.5, len(shown) - 0.5)
    risk_ax.set_xticks([])
    risk_ax.set_yticks(range(len(shown)), [c.short or c.label for c in shown][::-1], fontsize=7)
    for row, c in enumerate(shown[::-1]):
        for t, n in zip(ticks, numbers_at_risk(c.time_days, ticks * DAYS_PER_MONTH, c.weight), strict=True):
            risk_ax.text(t, row, f"{n:,}", ha="center", va="center", fontsize=7, color=c.colour)
        risk_ax.get_yticklabels()[row].set_color(c.colour)
    risk_ax.tick_params(axis="y", length=0, pad=24)  # clear of the numbers at t = 0
    for side in ("top", "right", "left", "bottom"):
        risk_ax.spines[side].set_visible(False)
    risk_ax.set_title("number at risk", fontsize=8, loc="left")


def km_layout(rows: int, panels: int = 1, width: float = 9.0) -> tuple[Any, list[Any], list[Any]]:
    """A figure with ``panels`` curve axes side by side, each over a numbers-at-risk strip
    of ``rows`` rows."""
    fig = plt.figure(figsize=(width, 4.2 + 0.22 * rows), dpi=120)
    grid = fig.add_gridspec(2, panels, height_ratios=[4.0, 0.45 + 0.22 * rows], hspace=0.38)
    axes = [fig.add_subplot(grid[0, k]) for k in range(panels)]
    risk = [fig.add_subplot(grid[1, k]) for k in range(panels)]
    return fig, axes, risk


def km_figure(df: Columns | StreamSummary, path: Path | str, title: str, horizon_days: float) -> Path:
    """OS and EFS from infusion (infused patients, with 95% pointwise bands) and OS from the
    decision to treat (every patient, dashed), numbers at risk below; each curve ends at
    its longest follow-up. ``df``: record columns, or a streamed run's binned curves."""
    curves = []
    for endpoint, origin, label, short, colour, style in (
            ("os", "infusion", "OS from infusion", "OS", "C0", "-"),
            ("efs", "infusion", "EFS from infusion", "EFS", "C1", "-"),
            ("os", "decision", "OS from decision to treat (ITT)", "OS (ITT)", "C2", "--")):
        weight = None
        if isinstance(df, StreamSummary):
            time, code, weight = df.binned(endpoint if origin == "infusion" else f"itt_{endpoint}")
            event, n = code > 0, int(weight.sum())
        else:
            time, event = endpoint_data(df, endpoint, origin)
            n = len(time)
        curves.append(Curve(time, event, f"{label} (n={n:,})", colour, short, style,
                            band=origin == "infusion", weight=weight))
    fig, (ax,), (risk,) = km_layout(len(curves))
    km_axes(ax, risk, curves, horizon_days)
    ax.set_xlabel(f"{time_axis(horizon_days)[2]} from infusion (ITT curve: from the decision to treat)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title="shaded: 95% pointwise CI", title_fontsize=7)
    fig.subplots_adjust(left=0.12, right=0.66, top=0.93, bottom=0.04)
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
