"""``validation.png``: per study, the model's OS and EFS curves from infusion (median and
95% band over the posterior draws: parameter uncertainty, drawn from large simulated
cohorts) with the published landmarks and medians, each beside its posterior-predictive
95% interval for a cohort of the study's size and follow-up (the interval the validation
table tests); a last panel compares every reported proportion with its interval.
Landmarks of an endpoint without a model curve here (LFS, CIR: patients in CR) get their
own colour and no curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.calibration.targets import PROPORTIONS, TargetSet
from sim.calibration.validation import CURVE_DAYS, ValidationResult
from sim.outcomes.summary import DAYS_PER_MONTH
from sim.report import save_png

COLOURS = {"os": "#1f77b4", "efs": "#d62728", "lfs": "#2ca02c", "cir": "#9467bd"}
NAMES = {"os": "OS", "efs": "EFS", "lfs": "LFS (patients in CR)", "cir": "relapse incidence (patients in CR)"}
SURVIVAL_METRICS = {"os_at": "os", "efs_at": "efs", "lfs_at": "lfs", "cir_at": "cir", "os_median": "os",
                    "efs_median": "efs"}
#: the predictive interval is drawn just right of the published value (months), apart per endpoint
OFFSET_MONTHS = {"os": 0.6, "efs": 0.6, "lfs": 1.3, "cir": 2.0}
MEDIAN_Y = {"os": 0.53, "efs": 0.47}  # predictive intervals of the medians, just above and below 1/2


def _landmark(ax: Any, t: Any, row: dict[str, Any] | None, endpoint: str) -> None:
    colour = COLOURS[endpoint]
    x = (t.landmark_days or 0.0) / DAYS_PER_MONTH
    y = float(t.reported)
    yerr = None if t.ci is None else [[y - t.ci[0]], [t.ci[1] - y]]
    ax.errorbar([x], [y], yerr=yerr, fmt="o", color=colour, mec="black", capsize=3, lw=1,
                label=f"published {NAMES[endpoint]} (95% CI)")
    if row is not None and row.get("predicted_low") is not None and row.get("predicted_high") is not None:
        ax.plot([x + OFFSET_MONTHS[endpoint]] * 2, [row["predicted_low"], row["predicted_high"]], color=colour, lw=5,
                alpha=0.45, solid_capstyle="butt", label=f"predicted {NAMES[endpoint]}, study-size 95% interval")


def _median(ax: Any, t: Any, row: dict[str, Any] | None, endpoint: str, right_months: float) -> None:
    colour = COLOURS[endpoint]
    xm = float(t.reported) / DAYS_PER_MONTH
    xerr = None if t.ci is None else [[xm - t.ci[0] / DAYS_PER_MONTH], [t.ci[1] / DAYS_PER_MONTH - xm]]
    ax.errorbar([xm], [0.5], xerr=xerr, fmt="D", color=colour, mec="black", capsize=3, lw=1,
                label=f"published median {NAMES[endpoint]} (95% CI)")
    if row is not None and row.get("predicted_low") is not None:
        high = row["predicted_high"] / DAYS_PER_MONTH if row.get("predicted_high") is not None else right_months
        ax.plot([row["predicted_low"] / DAYS_PER_MONTH, high], [MEDIAN_Y[endpoint]] * 2, color=colour, lw=5, alpha=0.45,
                solid_capstyle="butt", label=f"predicted median {NAMES[endpoint]}, study-size 95% interval")


def validation_figure(result: ValidationResult, targets: TargetSet, path: Path | str) -> Path:
    studies = list(targets.studies)
    rows = {r["id"]: r for r in result.rows}
    ncols = 3
    nrows = (len(studies) + 1 + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 4.1 * nrows + 1.2), squeeze=False)
    flat = axes.ravel()
    months = CURVE_DAYS / DAYS_PER_MONTH
    for ax, sid in zip(flat, studies, strict=False):
        for ep in ("os", "efs"):
            c = result.curves[sid][ep]
            lo, mid, hi = (_quantile(c, q) for q in (0.025, 0.5, 0.975))
            ax.fill_between(months, lo, hi, color=COLOURS[ep], alpha=0.15, lw=0)
            ax.plot(months, mid, color=COLOURS[ep], lw=1.6,
                    label=f"model {ep.upper()}: median and 95% over posterior draws")
        for t in targets.targets:
            if t.study_id != sid or t.statistic not in SURVIVAL_METRICS or t.groups or not t.quantitative:
                continue
            if t.statistic.endswith("_at"):
                _landmark(ax, t, rows.get(t.target_id), SURVIVAL_METRICS[t.statistic])
            else:
                _median(ax, t, rows.get(t.target_id), SURVIVAL_METRICS[t.statistic], months[-1])
        st = targets.studies[sid]
        ax.set_title(f"study {sid} ({st.n_infused} patients infused)", fontsize=10)
        ax.set_xlabel("months from infusion")
        ax.set_ylabel("probability")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, months[-1])
        ax.grid(alpha=0.3)
    handles: dict[str, Any] = {}
    for ax in flat[:len(studies)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    ax = flat[len(studies)]
    kind = {t.target_id: t.statistic for t in targets.targets}
    props = [r for r in result.rows if r["quantitative"] and kind[r["id"]] in PROPORTIONS]
    for i, r in enumerate(props):
        colour = "#2ca02c" if r["inside"] else "#d62728"
        ax.plot([r["predicted_low"], r["predicted_high"]], [i, i], color=colour, lw=2)
        ax.plot([r["reported"]], [i], "o", color="black", ms=4)
    ax.set_yticks(range(len(props)))
    ax.set_yticklabels([r["id"] for r in props], fontsize=6)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("proportion: published (dot); study-size predictive 95% interval (bar)", fontsize=8)
    ax.set_title(f"proportions: {sum(r['inside'] for r in props)} of {len(props)} inside (green)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    for extra in flat[len(studies) + 1:]:
        extra.axis("off")
    fig.suptitle(f"cartsim validate: {100 * result.inside_fraction:.0f}% of quantitative targets inside their "
                 "predictive interval\nlines and bands: model curves over "
                 f"{result.draws} posterior draws (parameter uncertainty; large simulated cohorts); thick bars: the "
                 "95% predictive interval of a study of the same size and follow-up", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.96))
    return save_png(fig, path)


def _quantile(curves: np.ndarray, q: float) -> np.ndarray:
    return np.quantile(curves, q, axis=0)
