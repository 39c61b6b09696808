"""Figures a clinician reads without help: numbers at risk under the Kaplan-Meier curves
(equal to the counts in the data), time ticks for short and long horizons, curves that
stop at the data, legends outside the axes, readable labels with units, honest error bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sim
from sim.model.parameters import SPECS, theta_labels
from sim.outcomes.sets import OUTCOMES
from sim.outcomes.summary import DAYS_PER_MONTH, endpoint_data
from sim.report import figures, sweep_figures
from sim.report.figures import Curve, km_axes, km_layout, month_ticks, numbers_at_risk, time_axis
from sim.report.labels import WORDS, outcome_label, parameter_label
from sim.stats.survival import kaplan_meier


@pytest.fixture(scope="module")
def cohort() -> object:
    return sim.run("baseline", patients=400, seed=5, horizon_days=500.0).patients


def test_numbers_at_risk_count_follow_up_at_or_past_each_time() -> None:
    rng = np.random.default_rng(1)
    time = np.round(rng.exponential(100.0, 500), 0)  # ties on whole days
    at = np.array([0.0, 10.0, 50.0, 100.0, 365.25, 10_000.0])
    expected = [int(np.sum(time >= t)) for t in at]
    assert numbers_at_risk(time, at).tolist() == expected
    assert numbers_at_risk(time, at)[0] == len(time) and numbers_at_risk(time, at)[-1] == 0
    # the Kaplan-Meier estimator's own risk sets at its event times agree
    km = kaplan_meier(time, rng.random(500) < 0.7)
    assert numbers_at_risk(time, km.time).tolist() == km.at_risk.tolist()


@pytest.mark.parametrize(("horizon_days", "ticks"), [
    (730.5, [0, 6, 12, 18, 24]), (100.0, [0, 1, 2, 3]), (1826.25, [0, 12, 24, 36, 48, 60]),
    (45.0, [0, 14, 28, 42]), (20.0, [0, 5, 10, 15, 20]), (4.0, [0, 1, 2, 3, 4])])
def test_time_ticks_suit_the_horizon(horizon_days: float, ticks: list[int]) -> None:
    months, labels, unit = time_axis(horizon_days)
    assert labels == [str(t) for t in ticks]
    assert unit == ("days" if horizon_days < 60 else "months")
    assert months[-1] <= horizon_days / DAYS_PER_MONTH + 1e-9
    assert len(month_ticks(horizon_days / DAYS_PER_MONTH)) >= 4


def test_km_panel_shows_the_data_at_risk_and_stops_at_the_longest_follow_up(cohort: object) -> None:
    curves = []
    for endpoint, origin in (("os", "infusion"), ("efs", "infusion"), ("os", "decision")):
        t, e = endpoint_data(cohort, endpoint, origin)  # type: ignore[arg-type]
        curves.append(Curve(t, e, f"{endpoint} {origin}", "C0", short=f"{endpoint}-{origin}"))
    fig, (ax,), (risk,) = km_layout(len(curves))
    km_axes(ax, risk, curves, 500.0)
    ticks, _, _ = time_axis(500.0)
    drawn: dict[str, list[int]] = {}
    rows = [lab.get_text() for lab in risk.get_yticklabels()]
    for text in risk.texts:
        drawn.setdefault(rows[round(text.get_position()[1])], []).append(int(text.get_text().replace(",", "")))
    for c in curves:
        counts = [int(np.sum(c.time_days >= t * DAYS_PER_MONTH)) for t in ticks]
        assert drawn[c.short] == counts
        assert drawn[c.short][0] == len(c.time_days)
    for line, c in zip(ax.get_lines(), curves, strict=True):
        assert np.max(line.get_xdata()) == pytest.approx(np.max(c.time_days) / DAYS_PER_MONTH)
    plt.close(fig)


def test_km_figure_legend_sits_outside_the_axes(cohort: object, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    kept: list[Any] = []
    original = figures.atomic_write

    def keep(path: Path, write: Any) -> Path:
        kept.append(plt.gcf())
        return original(path, write)

    monkeypatch.setattr(figures, "atomic_write", keep)
    figures.km_figure(cohort, tmp_path / "km.png", "t", 500.0)  # type: ignore[arg-type]
    ax = kept[0].axes[0]
    kept[0].canvas.draw()
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1  # right of the data
    assert (tmp_path / "km.png").stat().st_size > 10_000


def test_every_parameter_has_a_readable_label_with_its_unit() -> None:
    parts = {p for spec in SPECS for p in (*spec.name.split("."), *spec.element_labels)}
    assert parts <= set(WORDS), sorted(parts - set(WORDS))
    for label in theta_labels():
        text = parameter_label(label)
        assert "_" not in text and "." not in text.split(":")[0], text
    assert parameter_label("remission.relapse.median_days") == "Remission: relapse, median time (days)"
    assert parameter_label("response.p_cr.first.cd19") == "Response: P(CR), first infusion, CD19"
    assert parameter_label("crs.grade_probs[g3]") == "CRS: grade shares, grade 3"
    for o in OUTCOMES:
        assert outcome_label(o.name) != o.name and "_" not in outcome_label(o.name)


def test_tornado_has_no_per_end_whiskers_and_heatmap_text_is_readable(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tornado = {"outcome": "cr_rate", "base": 0.8, "factors": [
        {"factor": "response.p_cr.first.cd19", "low": 0.7, "high": 0.9, "outcome_low": 0.75, "outcome_low_se": 0.01,
         "outcome_high": 0.85, "outcome_high_se": 0.01, "swing": 0.1}]}
    kept: list[Any] = []
    original = sweep_figures._save

    def keep(fig: Any, path: Path) -> Path:
        kept.append(fig)
        return original(fig, path)

    monkeypatch.setattr(sweep_figures, "_save", keep)
    sweep_figures.tornado_figure(tornado, tmp_path / "t.png", "t")
    grid = {"outcome": "os_m12", "factors": ["remission.relapse.median_days", "response.p_cr.first.cd19"],
            "values": [[100.0, 200.0], [0.7, 0.9]], "grid": [[0.1, 0.2], [0.5, 0.9]],
            "grid_se": [[0.01, 0.01], [0.01, 0.01]]}
    sweep_figures.heatmap_figure(grid, tmp_path / "h.png", "h")
    tornado_ax = kept[0].axes[0]
    assert [type(c).__name__ for c in tornado_ax.containers] == ["BarContainer", "BarContainer"]  # no ErrorbarContainer
    assert "no error bars" in tornado_ax.get_xlabel()
    heat_ax = kept[1].axes[0]
    colours = {t.get_text().split("\n")[0]: t.get_color() for t in heat_ax.texts}
    assert colours["0.1"] == "white" and colours["0.9"] == "black"  # viridis: dark purple low, yellow high
    assert "1.96 Monte Carlo SE" in heat_ax.get_xlabel()
    assert heat_ax.get_ylabel() == "Remission: relapse, median time (days)"
