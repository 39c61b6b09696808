"""``cartsim report DIR``: the HTML page of every kind of output folder, built from small
real runs; its content (tables, intervals, nulls with their reasons, escaping,
provenance, self-containment) and its rendering in headless Chromium without console
errors."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cli_process import assert_one_error_line, cartsim

import sim
from sim.api import compare
from sim.api.calibration import posterior_learning, validate
from sim.io.files import write_json
from sim.model.errors import InputError
from sim.report.figures import power_figure
from sim.report.html import DASH
from sim.report.page import REPORT_NAME, build_report, detect_kinds, write_report

HORIZON_DAYS = 400.0  # shorter than 24 months: the 24-month landmark is past every patient's follow-up


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small real output folder of each kind (run, compare, oneway and psa sweeps,
    power, validate), written as the commands write them."""
    from sim.report.compare_figures import compare_figure
    from sim.report.posterior_figure import posterior_figure
    from sim.report.validation_figure import validation_figure

    root = tmp_path_factory.mktemp("outputs")
    out = {k: root / k for k in ("run", "compare", "oneway", "psa", "power", "validate")}
    sim.write_outputs(sim.run("baseline", patients=300, seed=1, horizon_days=HORIZON_DAYS), out["run"])
    result = compare(["baseline", "tandem_for_all"], patients=300, seed=2, bootstrap=10)
    write_json(out["compare"] / "compare.json", result.to_dict())
    compare_figure(result, out["compare"] / "compare.png")
    sim.sweep("oneway", "baseline", out=out["oneway"], patients=200, outcome="cr_rate",
              params=["response.p_cr.first.cd19", "nrm.p_year1"])
    sim.sweep("psa", "baseline", out=out["psa"], patients=200, draws=8)
    curve = sim.power("single_arm_cr_rate", trials=20)
    write_json(out["power"] / "power.json", curve)
    power_figure(curve, out["power"] / "power.png", "single arm")
    v, targets = validate(draws=3, patients_per_draw=100)
    taught = posterior_learning(None, seed=1)
    write_json(out["validate"] / "validation.json", {**v.to_json(), "learning": taught.learning.to_json()})
    validation_figure(v, targets, out["validate"] / "validation.png")
    posterior_figure(taught.learning, taught.prior, taught.posterior, out["validate"] / "posterior.png")
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_kind_of_each_folder_is_detected(folders: dict[str, Path]) -> None:
    expected = {"run": "run", "compare": "compare", "oneway": "sweep", "psa": "sweep", "power": "power",
                "validate": "validate"}
    for name, kind in expected.items():
        assert detect_kinds(folders[name]) == [kind], name


def test_run_page_has_tables_intervals_figure_and_provenance(folders: dict[str, Path]) -> None:
    kinds, text = build_report(folders["run"])
    assert kinds == ["run"]
    summary = json.loads((folders["run"] / "summary.json").read_text())
    assert "<h1>cartsim run: baseline</h1>" in text
    for heading in ("Provenance", "Response and toxicity after the first infusion", "Survival", "Resource use"):
        assert f"<h2>{heading}</h2>" in text
    cr = summary["rates"]["cr_rate"]
    assert f"{100 * cr['rate']:.1f}%" in text
    assert f"{100 * cr['ci'][0]:.1f}% to {100 * cr['ci'][1]:.1f}%" in text  # its Wilson interval
    lo, hi = summary["os"]["m6_ci"]
    assert f"95% CI {100 * lo:.1f}% to {100 * hi:.1f}%" in text
    # provenance from the Parquet metadata and the JSON
    assert summary["parameter_hash"] in text and str(summary["seed"]) in text
    assert f"<td class=\"text\">{sim.__version__}</td>" in text
    assert "Time zero is the first CAR-T infusion" in text
    assert text.count('src="data:image/png;base64,') == 1


def test_compare_sweep_power_validate_pages(folders: dict[str, Path]) -> None:
    _, text = build_report(folders["compare"])
    doc = json.loads((folders["compare"] / "compare.json").read_text())
    d = next(x for x in doc["differences"] if x["outcome"] == "cr_rate")
    assert f"{100 * d['diff']:+.1f} pp" in text and f"{100 * d['diff_low']:+.1f} to {100 * d['diff_high']:+.1f}" in text
    assert "tandem_for_all minus baseline" in text and "compare.png" in text
    _, text = build_report(folders["oneway"])
    assert "cartsim sweep oneway: baseline" in text
    assert "Response: P(CR), first infusion, CD19" in text  # readable parameter labels, not dotted names
    assert "tornado.png" in text and "No error bars" in text
    _, text = build_report(folders["psa"])
    assert "95% range over parameter sets" in text and "OS at 12 months (probability)" in text
    _, text = build_report(folders["power"])
    curve = json.loads((folders["power"] / "power.json").read_text())
    assert f"{curve['n_required']:,}" in text and "Power by sample size" in text
    assert text.count("<tr>") >= len(curve["grid"]) + 4
    _, text = build_report(folders["validate"])
    v = json.loads((folders["validate"] / "validation.json").read_text())
    assert f"{v['inside']} of {v['quantitative_targets']} quantitative targets" in text
    assert all(r["id"] in text for r in v["targets"])
    assert "validation.png" in text and "posterior.png" in text


def test_every_cause_of_death_has_words() -> None:
    from sim.model.states import DeathCause
    from sim.report.sections import DEATH_LABELS

    assert set(DEATH_LABELS) == {c.name.lower() for c in DeathCause}


def test_null_values_show_a_dash_and_their_reason(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(folders["run"], tmp_path / "run")
    summary = json.loads((folder / "summary.json").read_text())
    why = f"not estimable: beyond the longest follow-up ({HORIZON_DAYS:.0f} days)"
    summary["os"]["m24"] = None
    summary["os"]["m24_ci"] = [None, None]
    summary["os"]["not_estimable"] = {"m24": why, "m24_ci": why}
    summary["efs"]["median_days"] = None
    write_json(folder / "summary.json", summary)
    _, text = build_report(folder)
    assert f'<span class="na">{DASH}</span><span class="why">{why}</span>' in text
    assert "not reached (the curve stays above 50%)" in text  # a null median without a given reason
    assert "None" not in re.sub(r"<[^>]+>", "", text)


def test_null_differences_and_sweep_values_show_their_reason(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(folders["compare"], tmp_path / "compare")
    doc = json.loads((folder / "compare.json").read_text())
    row = next(d for d in doc["differences"] if d["outcome"] == "os_m24")
    row.update(diff=None, diff_low=None, diff_high=None, value=None, not_estimable="tandem_for_all: beyond the data")
    doc["scenarios"][0]["values"]["os_m24"] = None
    doc["scenarios"][0]["not_estimable"] = {"os_m24": "beyond the maximum follow-up of 300.0 d"}
    write_json(folder / "compare.json", doc)
    _, text = build_report(folder)
    assert text.count('<span class="why">tandem_for_all: beyond the data</span>') == 2  # its value and the difference
    assert '<span class="why">beyond the maximum follow-up of 300.0 d</span>' in text
    folder = _copy(folders["psa"], tmp_path / "psa")
    summary = json.loads((folder / "summary.json").read_text())
    summary["psa"]["os_m24"].update(mean=None, q025=None, q975=None, note="beyond the follow-up in every set")
    write_json(folder / "summary.json", summary)
    _, text = build_report(folder)
    assert '<span class="why">beyond the follow-up in every set</span>' in text


def test_text_from_the_files_is_escaped(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(folders["run"], tmp_path / "run")
    summary = json.loads((folder / "summary.json").read_text())
    summary["scenario"] = 'a<b & "c"</td><script>x</script>'
    write_json(folder / "summary.json", summary)
    _, text = build_report(folder)
    assert "a&lt;b &amp; &quot;c&quot;&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;" in text
    assert "<script" not in text


def test_page_is_self_contained(folders: dict[str, Path]) -> None:
    """Only data: URIs, no script; each embedded PNG is the folder's file, byte for byte."""
    for name, folder in folders.items():
        _, text = build_report(folder)
        refs = re.findall(r'(?:src|href)="([^"]*)"', text)
        assert refs and all(r.startswith("data:") for r in refs), name
        assert "<script" not in text.lower() and "@import" not in text and "url(" not in text
        for alt, data in re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', text):
            assert base64.b64decode(data) == (folder / alt).read_bytes()


class _Balance(HTMLParser):
    """Every element that is opened is closed, in order (void elements aside)."""

    VOID = frozenset({"meta", "link", "img", "br", "hr", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def test_every_element_is_closed_in_order(folders: dict[str, Path]) -> None:
    for folder in folders.values():
        parser = _Balance()
        parser.feed(build_report(folder)[1])
        assert parser.stack == []


def test_a_folder_holding_several_outputs_reports_each(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(folders["run"], tmp_path / "mixed")
    shutil.copy(folders["power"] / "power.json", folder / "power.json")
    kinds, text = build_report(folder)
    assert kinds == ["run", "power"]
    assert "<h1>cartsim run: baseline</h1>" in text and "<h1>cartsim power: " in text


def test_bad_folders_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no cartsim output found"):
        detect_kinds(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        detect_kinds(tmp_path / "missing")
    (tmp_path / "compare.json").write_text("{not json")
    with pytest.raises(InputError, match=r"compare\.json.*not valid JSON"):
        build_report(tmp_path)


def test_write_is_atomic_and_leaves_no_temporary_file(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(folders["power"], tmp_path / "power")
    path = write_report(folder)
    assert path == folder / REPORT_NAME and path.read_text().startswith("<!DOCTYPE html>")
    assert not list(folder.glob(".*.tmp"))
    target = tmp_path / "elsewhere" / "r.html"
    assert sim.write_report(folder, target) == target and target.is_file()


def test_cli_writes_the_page_and_refuses_an_empty_folder(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(folders["power"], tmp_path / "power")
    proc = cartsim("report", folder, "--out", tmp_path / "p.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p.html").is_file() and str(tmp_path / "p.html") in proc.stdout
    (tmp_path / "empty").mkdir()
    assert_one_error_line(cartsim("report", tmp_path / "empty", cwd=tmp_path), "empty", "no cartsim output found")


# ---------------------------------------------------------------------------------------------
# rendering in headless Chromium (installed from Debian's packages by .ci/run)

def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def render(page: Path, profile: Path) -> tuple[str, list[str]]:
    """(DOM after rendering, console messages) of a page opened in headless Chromium. With
    ``--enable-logging=stderr`` every console message and uncaught error of the page is
    written to stderr as ``...:CONSOLE:...] "message", source: ...``."""
    exe = _chromium()
    assert exe is not None
    proc = subprocess.run([exe, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


needs_chromium = pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (on Debian: apt-get install "
                                    "chromium; .ci/run installs it), so the HTML report is not rendered")


@needs_chromium
def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The detector itself: a page with a console error and an uncaught exception."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                   '<script>console.error("report-test-error"); missing_function();</script></body></html>')
    _, console = render(bad, tmp_path / "profile")
    assert any("report-test-error" in line for line in console)
    assert any("missing_function" in line for line in console)


@needs_chromium
@pytest.mark.parametrize("name", ["run", "compare", "oneway", "power", "validate"])
def test_page_renders_in_chromium_without_console_errors(folders: dict[str, Path], tmp_path: Path,
                                                         name: str) -> None:
    page = write_report(folders[name], tmp_path / f"{name}.html")
    dom, console = render(page, tmp_path / "profile")
    assert console == []
    assert "<h1>cartsim " in dom and "</table>" in dom
    assert dom.count("<img") == len(re.findall(r"<img ", page.read_text()))


def test_study_scenario_page_shows_targets_and_why_an_interval_is_missing(tmp_path: Path) -> None:
    result = sim.run("studies/s004_donor_derived", patients=200, seed=3)
    sim.write_outputs(result, tmp_path / "study")
    _, text = build_report(tmp_path / "study")
    study = result.summary["study"]
    assert f"<h2>Published study {study['study_id']}</h2>" in text
    assert all(r["id"] in text for r in study["targets"])
    infused = study["infused"]
    assert f"an interval needs 40 cohorts of {study['cohort_patients']} patients" in text
    assert f"this run has {infused:,}" in text
