"""``validation.png``: posterior-predictive OS and EFS curves of every study with the
published landmarks, medians and their 95% CIs overlaid, and a panel comparing every
reported proportion with its predictive interval."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.analysis.targets import TargetSet
from sim.analysis.validation import CURVE_DAYS, ValidationResult
from sim.report import save_png

COLOURS = {"os": "#1f77b4", "efs": "#d62728"}
SURVIVAL_METRICS = {"os_at": "os", "efs_at": "efs", "lfs_at": "efs", "os_median": "os", "efs_median": "efs"}


def validation_figure(result: ValidationResult, targets: TargetSet, path: Path | str) -> Path:
    studies = list(targets.studies)
    ncols = 3
    nrows = (len(studies) + 1 + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.0 * nrows), squeeze=False)
    flat = axes.ravel()
    months = CURVE_DAYS / 30.4375
    for ax, sid in zip(flat, studies, strict=False):
        for ep in ("os", "efs"):
            c = result.curves[sid][ep]
            lo, mid, hi = (_quantile(c, q) for q in (0.025, 0.5, 0.975))
            ax.fill_between(months, lo, hi, color=COLOURS[ep], alpha=0.18, lw=0)
            ax.plot(months, mid, color=COLOURS[ep], lw=1.6, label=f"{ep.upper()} model (95% band)")
        for t in targets.targets:
            if t.study_id != sid or t.metric not in SURVIVAL_METRICS or not t.quantitative:
                continue
            colour = COLOURS[SURVIVAL_METRICS[t.metric]]
            marker = "s" if t.metric == "lfs_at" else "o"
            if t.metric.endswith("_at"):
                x = (t.landmark_days or 0.0) / 30.4375
                yerr = None if t.ci is None else [[float(t.reported) - t.ci[0]], [t.ci[1] - float(t.reported)]]
                ax.errorbar([x], [float(t.reported)], yerr=yerr, fmt=marker, color=colour, mec="black", capsize=3,
                            label=f"reported {t.metric.removesuffix('_at').upper()}")
            else:
                xm = float(t.reported) / 30.4375
                xerr = None if t.ci is None else [[xm - t.ci[0] / 30.4375], [t.ci[1] / 30.4375 - xm]]
                ax.errorbar([xm], [0.5], xerr=xerr, fmt="D", color=colour, mec="black", capsize=3,
                            label=f"reported median {t.metric.removesuffix('_median').upper()}")
        st = targets.studies[sid]
        ax.set_title(f"study {sid} (n = {st.n_infused})", fontsize=10)
        ax.set_xlabel("months from infusion")
        ax.set_ylabel("survival")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, months[-1])
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper right")
    ax = flat[len(studies)]
    props = [r for r in result.rows if r["quantitative"] and r["metric"] not in SURVIVAL_METRICS
             and r["metric"] != "cr_duration_median"]
    for i, r in enumerate(props):
        colour = "#2ca02c" if r["inside"] else "#d62728"
        ax.plot([r["predicted_low"], r["predicted_high"]], [i, i], color=colour, lw=2)
        ax.plot([r["reported"]], [i], "o", color="black", ms=4)
    ax.set_yticks(range(len(props)))
    ax.set_yticklabels([r["id"] for r in props], fontsize=6)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("proportion: reported (dot), predictive 95% interval (bar)")
    ax.set_title(f"counts: {sum(r['inside'] for r in props)}/{len(props)} inside", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    for extra in flat[len(studies) + 1:]:
        extra.axis("off")
    fig.suptitle(f"cartsim validate: posterior predictive, {result.draws} posterior draws; "
                 f"{100 * result.inside_fraction:.0f}% of quantitative targets inside", fontsize=11)
    fig.tight_layout()
    return save_png(fig, path)


def _quantile(curves: np.ndarray, q: float) -> np.ndarray:
    return np.quantile(curves, q, axis=0)
