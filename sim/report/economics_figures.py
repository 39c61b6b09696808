"""The cost-effectiveness plane of ``cartsim cea``: incremental QALYs and costs of each
strategy against the first, with the spread of the paired mean."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np

mpl.use("Agg")
import matplotlib.pyplot as plt

from sim.io.files import atomic_write

CLOUD = 400  # draws of the paired mean per strategy


def ce_plane_figure(names: list[str], samples: list[np.ndarray], wtp: float, currency: str, path: Path | str,
                    seed: int = 0) -> Path:
    """``samples[k]``: per patient (discounted cost, discounted QALYs) of strategy k,
    patient ids shared by all (common random numbers). Each strategy after the first is
    a point (mean paired increment) and a cloud of draws from the normal sampling
    distribution of that mean (covariance of the pairs / n); the line is
    the willingness to pay ``wtp`` (currency per QALY)."""
    rng = np.random.Generator(np.random.Philox(seed))
    fig, ax = plt.subplots(figsize=(7.5, 6.0))
    n = len(samples[0])
    xs, ys = [0.0], [0.0]
    for k in range(1, len(samples)):
        d = samples[k] - samples[0]
        # the sampling spread of the paired mean: normal with the pairs' covariance / n
        cov = np.cov(d, rowvar=False) / n
        boot = d.mean(axis=0) + rng.multivariate_normal(np.zeros(2), cov, CLOUD, method="eigh")
        ax.scatter(boot[:, 1], boot[:, 0], s=4, alpha=0.25, color=f"C{k % 10}")
        mean = d.mean(axis=0)
        ax.scatter([mean[1]], [mean[0]], s=60, color=f"C{k % 10}", edgecolor="black", zorder=3,
                   label=f"{names[k]} vs {names[0]}")
        xs += list(boot[:, 1])
        ys += list(boot[:, 0])
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    span = max(abs(min(xs)), abs(max(xs))) * 1.15 or 1.0
    grid = np.linspace(-span, span, 2)
    ax.plot(grid, wtp * grid, ls="--", color="black", lw=1, label=f"{wtp:,.0f} {currency} per QALY")
    ax.set_xlim(-span, span)
    yspan = max(abs(min(ys)), abs(max(ys))) * 1.15 or 1.0
    ax.set_ylim(-yspan, yspan)
    ax.set_xlabel("incremental QALYs per patient (discounted)")
    ax.set_ylabel(f"incremental cost per patient ({currency}, discounted)")
    ax.set_title(f"cost-effectiveness plane: {n:,} patients per strategy (common random numbers)", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
