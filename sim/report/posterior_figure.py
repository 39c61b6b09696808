"""``posterior.png``: prior against posterior marginal of every calibrated slot, so a
reader sees at a glance which parameters the abstracts informed and which still rest on
their external priors (``sim.calibration.identifiability``)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.calibration.identifiability import PRIOR_DOMINATED, Learning
from sim.report import save_png
from sim.report.labels import parameter_label

BINS = 40
LOG_SPAN = 20.0  # positive parameters whose prior 95% interval spans more than this factor get a log axis


def posterior_figure(learning: Learning, prior: np.ndarray, posterior: np.ndarray, path: Path | str) -> Path:
    n = len(learning.labels)
    ncols = 5
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.8 * nrows), squeeze=False)
    flat = axes.ravel()
    ratio = learning.interval_ratio
    for k, ax in enumerate(flat[:n]):
        lo, hi = np.quantile(prior[:, k], [0.001, 0.999])
        log_axis = lo > 0 and learning.prior_q[k, 2] / max(learning.prior_q[k, 0], 1e-300) > LOG_SPAN
        bins = np.geomspace(lo, hi, BINS + 1) if log_axis else np.linspace(lo, hi, BINS + 1)
        # share of draws per bin: bins are equal-width on the axis's own scale (linear or log)
        ax.hist(prior[:, k], bins=bins, weights=np.full(prior.shape[0], 1.0 / prior.shape[0]), color="0.6",
                alpha=0.6, label="prior")
        ax.hist(posterior[:, k], bins=bins, weights=np.full(posterior.shape[0], 1.0 / posterior.shape[0]),
                histtype="step", lw=1.6, color="#d62728" if ratio[k] >= PRIOR_DOMINATED else "#1f77b4",
                label="posterior")
        if log_axis:
            ax.set_xscale("log")
        ax.set_title("\n".join(textwrap.wrap(parameter_label(learning.labels[k]), 40)), fontsize=7)
        ax.text(0.98, 0.95, f"interval ratio {ratio[k]:.2f}\nshift {learning.shift[k]:+.2f} SD",
                transform=ax.transAxes, ha="right", va="top", fontsize=6.5)
        ax.tick_params(labelsize=6.5)
        ax.set_yticks([])
    for extra in flat[n:]:
        extra.axis("off")
    flat[0].legend(fontsize=6.5, loc="upper left")
    dominated = int(np.sum(ratio >= PRIOR_DOMINATED))
    fig.suptitle(f"cartsim validate: prior (grey) and posterior ({learning.posterior_draws} draws) of each calibrated "
                 f"parameter; red: posterior 95% interval at least {PRIOR_DOMINATED:.0%} of the prior's on the prior's "
                 f"quantile scale ({dominated} of {n})", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)
