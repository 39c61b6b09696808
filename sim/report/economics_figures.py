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


# --------------------------------------------------------------------------------------
# probabilistic analysis (cartsim psa)
# --------------------------------------------------------------------------------------
Z95 = 1.959963984540054


def _save(fig: plt.Figure, path: Path | str) -> Path:
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out


def psa_plane_figure(names: list[str], cost: np.ndarray, qalys: np.ndarray, wtp: float, currency: str,
                     path: Path | str) -> Path:
    """The CE-plane cloud: per draw, each strategy's incremental QALYs and cost against
    the first; the mean with its 95% Monte Carlo interval (over draws) as error bars."""
    fig, ax = plt.subplots(figsize=(7.5, 6.0))
    xs, ys = [0.0], [0.0]
    n = cost.shape[0]
    for k in range(1, len(names)):
        dq, dc = qalys[:, k] - qalys[:, 0], cost[:, k] - cost[:, 0]
        ax.scatter(dq, dc, s=5, alpha=0.3, color=f"C{k % 10}")
        ax.errorbar([dq.mean()], [dc.mean()], xerr=[Z95 * dq.std(ddof=1) / np.sqrt(n)],
                    yerr=[Z95 * dc.std(ddof=1) / np.sqrt(n)], fmt="o", ms=7, color=f"C{k % 10}", mec="black",
                    capsize=3, zorder=3, label=f"{names[k]} vs {names[0]} (mean, 95% MC interval)")
        xs += list(dq)
        ys += list(dc)
    span = max(abs(min(xs)), abs(max(xs))) * 1.1 or 1.0
    yspan = max(abs(min(ys)), abs(max(ys))) * 1.1 or 1.0
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.plot([-span, span], [-wtp * span, wtp * span], ls="--", color="black", lw=1,
            label=f"{wtp:,.0f} {currency} per QALY")
    ax.set_xlim(-span, span)
    ax.set_ylim(-yspan, yspan)
    ax.set_xlabel("incremental QALYs per patient (discounted)")
    ax.set_ylabel(f"incremental cost per patient ({currency}, discounted)")
    ax.set_title(f"probabilistic CE plane: {n:,} parameter draws", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return _save(fig, path)


def ceac_figure(summary: dict, currency: str, path: Path | str) -> Path:
    """Acceptability curves with 95% binomial Monte Carlo bands, and the acceptability
    frontier (the strategy with the highest expected net benefit, thick)."""
    c, f = summary["ceac"], summary["ceaf"]
    wtps = np.asarray(c["wtp"], float)
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    for k, name in enumerate(c["probability"]):
        p = np.asarray(c["probability"][name], float)
        se = np.asarray(c["se"][name], float)
        ax.plot(wtps, p, color=f"C{k % 10}", lw=1.2, label=name)
        ax.fill_between(wtps, np.clip(p - Z95 * se, 0, 1), np.clip(p + Z95 * se, 0, 1), color=f"C{k % 10}",
                        alpha=0.15, lw=0)
    best = np.asarray(f["probability"], float)
    ax.plot(wtps, best, color="black", lw=3, alpha=0.35, label="acceptability frontier")
    ax.axvline(summary["wtp"], color="grey", ls=":", lw=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"willingness to pay ({currency} per QALY)")
    ax.set_ylabel("probability cost-effective")
    ax.set_title(f"CEAC and CEAF: {summary['draws']:,} draws (bands: 95% Monte Carlo error)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def voi_figure(summary: dict, currency: str, path: Path | str) -> Path:
    """EVPI per patient over willingness to pay (95% Monte Carlo band), and EVPPI of
    each parameter group at the reference willingness to pay (95% intervals)."""
    e = summary["evpi"]["curve"]
    wtps = np.asarray(e["wtp"], float)
    v = np.asarray(e["per_patient"], float)
    se = np.asarray(e["se"], float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.0, 4.8))
    a1.plot(wtps, v, color="C0")
    a1.fill_between(wtps, v - Z95 * se, v + Z95 * se, color="C0", alpha=0.2, lw=0)
    a1.axvline(summary["wtp"], color="grey", ls=":", lw=1)
    a1.set_xlabel(f"willingness to pay ({currency} per QALY)")
    a1.set_ylabel(f"EVPI per patient ({currency})")
    a1.set_title("EVPI (band: 95% Monte Carlo error)", fontsize=10)
    rows = [r for r in summary["evppi"] if r["evppi"] is not None and np.isfinite(r["evppi"])]
    rows.sort(key=lambda r: r["evppi"])
    y = np.arange(len(rows))
    a2.barh(y, [r["evppi"] for r in rows], xerr=[Z95 * (r["evppi_se"] or 0.0) for r in rows], color="C1",
            capsize=3)
    a2.set_yticks(y, [r["group"] for r in rows], fontsize=8)
    a2.axvline(summary["evpi"]["per_patient"], color="C0", ls="--", lw=1, label="EVPI")
    a2.set_xlabel(f"EVPPI per patient ({currency}) at {summary['wtp']:,.0f} per QALY")
    a2.set_title("EVPPI by parameter group (95% intervals)", fontsize=10)
    a2.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def enbs_figure(block: dict, currency: str, path: Path | str) -> Path:
    """Population EVSI, trial cost and ENBS by sample size (95% Monte Carlo bands), the
    ENBS optimum and the power-based size."""
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    if "enbs" in block:
        rows = block["enbs"]
        n = np.array([r["n"] for r in rows], float)
        for key, label, color in (("population_evsi", "population EVSI", "C0"), ("enbs", "ENBS", "C2")):
            val = np.array([r[key] for r in rows], float)
            se = np.array([r[key + "_se"] if key + "_se" in r else r["enbs_se"] for r in rows], float)
            ax.plot(n, val, marker="o", color=color, label=label)
            ax.fill_between(n, val - Z95 * se, val + Z95 * se, color=color, alpha=0.15, lw=0)
        ax.plot(n, [r["trial_cost"] for r in rows], color="C3", ls="--", label="trial cost")
        ax.axvline(block["optimum"]["n"], color="C2", ls=":", lw=1, label=f"ENBS optimum n = {block['optimum']['n']}")
        ax.set_ylabel(currency)
    else:
        rows = block["evsi"]
        n = np.array([r["n"] for r in rows], float)
        val = np.array([r["evsi"] for r in rows], float)
        se = np.array([r["evsi_se"] for r in rows], float)
        ax.plot(n, val, marker="o", color="C0", label="EVSI per patient")
        ax.fill_between(n, val - Z95 * se, val + Z95 * se, color="C0", alpha=0.15, lw=0)
        ax.set_ylabel(f"{currency} per patient")
    power_n = block["power"]["n_required"]
    if power_n is not None:
        ax.axvline(power_n, color="black", ls="-.", lw=1, label=f"power-based n = {power_n}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("trial size (patients)")
    ax.set_title(f"value of the trial {block['trial']} (bands: 95% Monte Carlo error)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)
