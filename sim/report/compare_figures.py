"""The figure of ``cartsim compare``: OS and EFS curves of every scenario overlaid."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from sim.io.files import atomic_write
from sim.outcomes.summary import endpoint_data
from sim.report.figures import Curve, km_axes, km_layout, time_axis
from sim.whatif.result import CompareResult


def compare_figure(result: CompareResult, path: Path | str) -> Path:
    """Two panels, OS and EFS from infusion (Kaplan-Meier, infused patients), one curve per
    scenario with the numbers at risk below; the first scenario (the reference of the
    differences) is drawn thicker. Each curve ends at its longest follow-up."""
    horizon = result.horizon_days
    k_sc = len(result.scenarios)
    fig, axes, risks = km_layout(k_sc, panels=2, width=13.0)
    for ax, risk, endpoint in zip(axes, risks, ("os", "efs"), strict=True):
        curves = []
        for k, (sc, df) in enumerate(zip(result.scenarios, result.tables, strict=True)):
            t, e = endpoint_data(df, endpoint, "infusion")
            curves.append(Curve(t, e, f"{sc.name} (n={len(t):,})" + (" [reference]" if k == 0 else ""),
                                f"C{k % 10}", sc.name, band=False, width=2.2 if k == 0 else 1.4))
        km_axes(ax, risk, curves, horizon)
        ax.set_title(f"{endpoint.upper()} from infusion")
        ax.set_xlabel(f"{time_axis(horizon)[2]} from infusion")
    axes[1].set_ylabel("")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.suptitle(f"cartsim compare: {result.patients:,} patients per scenario, seed {result.seed} "
                 "(common random numbers)")
    fig.subplots_adjust(left=0.1, right=0.8, top=0.9, bottom=0.04, wspace=0.35)
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
