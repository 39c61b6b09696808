"""The figure of ``cartsim power --compare-tests``: the power of several survival tests
on the same simulated trials against the sample size."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.report import save_png


def compare_tests_figure(result: dict, path: Path | str, title: str) -> Path:
    """One line per test with its 95% Monte Carlo band (1.96 SE)."""
    n = np.asarray(result["grid"], float)
    fig, ax = plt.subplots(figsize=(9.5, 4.5), dpi=120)
    for i, row in enumerate(result["tests"]):
        p = np.asarray(row["power"])
        se = np.asarray(row["se"])
        ax.plot(n, p, "o-", color=f"C{i}", label=row["label"], markersize=4)
        ax.fill_between(n, np.clip(p - 1.96 * se, 0, 1), np.clip(p + 1.96 * se, 0, 1), color=f"C{i}", alpha=0.15,
                        linewidth=0)
    ax.set_xlabel("total patients enrolled")
    ax.set_ylabel("power (probability of rejecting the null)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title=f"same {result['trials']:,} trials per size\nband: 95% Monte Carlo interval", title_fontsize=7)
    fig.tight_layout()
    return save_png(fig, path, dpi=120)
