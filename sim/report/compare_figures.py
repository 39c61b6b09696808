"""The figure of ``cartsim compare``: OS and EFS curves of every scenario overlaid."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.analysis.compare import CompareResult
from sim.analysis.outcomes import DAYS_PER_MONTH, endpoint_data
from sim.analysis.survival import kaplan_meier
from sim.io.files import atomic_write

GRID_POINTS = 600  # curves drawn on a grid: 10^7 patients plot as fast as 10^3


def compare_figure(result: CompareResult, path: Path | str) -> Path:
    """Two panels, OS and EFS from infusion (Kaplan-Meier), one curve per scenario; the
    first scenario (the reference of the differences) is drawn thicker."""
    horizon = result.horizon_days
    grid = np.linspace(0.0, horizon, GRID_POINTS)
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.8), dpi=120, sharey=True)
    for ax, endpoint in zip(axes, ("os", "efs"), strict=True):
        for k, (sc, df) in enumerate(zip(result.scenarios, result.tables, strict=True)):
            t, e = endpoint_data(df, endpoint, "infusion")
            if len(t) == 0:
                continue
            s = kaplan_meier(t, e).survival_at(grid)
            ax.step(grid / DAYS_PER_MONTH, s, where="post", color=f"C{k % 10}", linewidth=2.2 if k == 0 else 1.4,
                    label=f"{sc.name} (n={len(t):,})" + (" [reference]" if k == 0 else ""))
        ax.set_title(f"{endpoint.upper()} from infusion")
        ax.set_xlabel("months")
        ax.set_xlim(0, horizon / DAYS_PER_MONTH)
        ax.set_xticks(np.arange(0, horizon / DAYS_PER_MONTH + 1, 6))
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[0].set_ylabel("survival probability")
    fig.suptitle(f"cartsim compare: {result.patients:,} patients per scenario, seed {result.seed} "
                 "(common random numbers)")
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
