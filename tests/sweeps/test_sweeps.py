"""Sensitivity sweeps: the compiled outcome reduction, quantile functions, designs,
monotone one-way effects, Sobol and Morris on a case with a known answer, and the
``cartsim sweep`` command (good runs and one-line errors)."""

from __future__ import annotations

import dataclasses
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from cli_process import assert_one_error_line, cartsim, cartsim_in_process, describe
from scipy import stats

from sim import api
from sim.engine.kernel import run_kernel
from sim.model.errors import InputError
from sim.model.parameters import OFFSETS
from sim.model.uncertainty import from_unit, quantile, uncertain_names, unit_dimensions
from sim.outcomes.sets import OUTCOME_NAMES, OUTCOMES, reduce_patients, simulate_sets
from sim.outcomes.summary import DAYS_PER_MONTH, endpoint_data, summarise
from sim.stats.survival import kaplan_meier
from sim.stats.weighted import Layout, estimate
from sim.sweeps import analysis, designs
from sim.sweeps.runner import run_sweep

SC = api.as_scenario(None)
PARAMS = SC.params
HORIZON = SC.run.horizon_days
IX = {n: k for k, n in enumerate(OUTCOME_NAMES)}
REPO = Path(__file__).resolve().parents[2]


def summary_value(summary: dict, key: tuple[str, ...]) -> float:
    v = summary
    for k in key:
        v = v[k]
    return math.nan if v is None else float(v)


# --- the compiled reduction --------------------------------------------------------------

@pytest.mark.parametrize("horizon", [HORIZON, 300.0])  # 300 d: medians not reached, heavy censoring
def test_fast_reduction_equals_summarise(horizon):
    f, i = run_kernel(PARAMS.theta(), 11, 20_000, horizon)
    out, se = reduce_patients(f, i)
    table = api.patient_table(f, i)
    s = summarise(table)
    for k, o in enumerate(OUTCOMES):
        if not o.summary_key:
            continue
        ref = summary_value(s, o.summary_key)
        if o.name == "icu_days_per_infused":
            # summarise averages the float32 column in float32 (~1e-7 relative); the reduction in float64
            assert out[k] == pytest.approx(ref, rel=1e-6), o.name
        elif math.isnan(ref):
            assert math.isnan(out[k]), o.name
        else:
            # same sums in the same order except the restricted mean's areas (split at censoring times)
            assert out[k] == pytest.approx(ref, rel=1e-12, abs=1e-12), o.name
    assert out[IX["infused_share"]] == s["infused"] / s["patients"]
    # Greenwood SE of the landmarks and the median's SE from its log-log interval
    t, e = endpoint_data(table, "os")
    km = kaplan_meier(t, e)
    for m in (6, 12, 24):
        day = m * DAYS_PER_MONTH
        gw = km.greenwood[np.searchsorted(km.time, day, side="right") - 1]
        if s["os"][f"m{m}"] is None:  # beyond the maximum follow-up: no value, no SE
            assert math.isnan(out[IX[f"os_m{m}"]]) and math.isnan(se[IX[f"os_m{m}"]])
            continue
        assert se[IX[f"os_m{m}"]] == pytest.approx(float(km.survival_at(day)) * math.sqrt(gw), rel=1e-10)
    lo, hi = s["os"]["median_days_ci"]
    if hi is not None and lo is not None:
        assert se[IX["os_median_days"]] == pytest.approx((hi - lo) / (2 * 1.959963984540054), rel=1e-12)
    else:
        assert math.isnan(se[IX["os_median_days"]])
    k = s["rates"]["cr_rate"]["k"]
    n = s["rates"]["cr_rate"]["n"]
    assert se[IX["cr_rate"]] == pytest.approx(math.sqrt(k / n * (1 - k / n) / n), rel=1e-12)


def test_fast_reduction_gives_no_number_past_the_follow_up():
    # 300 days from the decision: nobody has 12 months of follow-up from infusion
    f, i = run_kernel(PARAMS.theta(), 11, 5_000, 300.0)
    out, se = reduce_patients(f, i)
    for name in ("os_m12", "os_m24", "os_rmst_m24_days", "efs_m12", "efs_m24", "itt_os_m12", "itt_os_m24"):
        assert math.isnan(out[IX[name]]) and math.isnan(se[IX[name]]), name
    assert 0.0 < out[IX["os_m6"]] < 1.0 and se[IX["os_m6"]] > 0.0
    # a curve that reached 0 stays known past the data: S(24 months) = 0 and the full
    # area; with the last patient censored instead, neither is estimable
    t = np.array([10.0, 20.0, 30.0])
    marks, tau = np.array([24 * DAYS_PER_MONTH]), 24 * DAYS_PER_MONTH
    at = Layout(1)
    o = estimate(t, np.ones(3, np.int8), marks, tau)
    assert o[at.survival][0] == 0.0 and o[at.rmst] == pytest.approx(20.0, abs=1e-12)
    o = estimate(t, np.array([1, 1, 0], np.int8), marks, tau)
    assert math.isnan(o[at.survival][0]) and math.isnan(o[at.rmst])


def test_sets_reproduce_the_kernel_and_do_not_depend_on_threads():
    thetas = designs.psa_design(SC, 5, prior=True, seed=3).thetas
    ids = np.arange(5)
    par, par_se = simulate_sets(thetas, ids, 7, 3000, HORIZON, crn=True)
    ser, ser_se = simulate_sets(thetas, ids, 7, 3000, HORIZON, crn=True, threads=1)
    assert np.array_equal(par, ser, equal_nan=True)
    assert np.array_equal(par_se, ser_se, equal_nan=True)
    for j in range(5):  # CRN: every set on replicate 0 = the stream of `cartsim run --seed 7`
        ref, ref_se = reduce_patients(*run_kernel(thetas[j], 7, 3000, HORIZON))
        assert np.array_equal(par[j], ref, equal_nan=True)
        assert np.array_equal(par_se[j], ref_se, equal_nan=True)
    ind, _ = simulate_sets(thetas, ids, 7, 3000, HORIZON, crn=False)
    for j in range(5):  # no CRN: set j on replicate j + 1
        ref, _ = reduce_patients(*run_kernel(thetas[j], 7, 3000, HORIZON, replicate=j + 1))
        assert np.array_equal(ind[j], ref, equal_nan=True)


def test_monte_carlo_se_matches_the_spread_across_independent_streams():
    """60 sets with the same parameters on independent streams: the SD of each outcome
    across sets matches its reported SE (root mean square). An SD from 60 values has a
    relative SE of 1/sqrt(118) = 9%: the band 0.62-1.38 is about 4 of those."""
    thetas = np.tile(PARAMS.theta(), (60, 1))
    out, se = simulate_sets(thetas, np.arange(60), 5, 2000, HORIZON, crn=False)
    for name in ("cr_rate", "crs_grade3plus", "os_m12", "os_m24", "efs_m12", "itt_os_m12", "os_rmst_m24_days",
                 "icu_days_per_infused", "infusions_per_patient", "hsct_per_patient"):
        k = IX[name]
        ratio = np.std(out[:, k], ddof=1) / math.sqrt(np.mean(se[:, k] ** 2))
        assert 0.62 < ratio < 1.38, (name, ratio)


# --- quantile functions --------------------------------------------------------------------

def test_quantiles_match_scipy():
    q = np.array([0.001, 0.025, 0.3, 0.5, 0.975, 0.999])
    checked = set()
    for name in uncertain_names(PARAMS):
        unc = PARAMS.entries[name].uncertainty
        dist = unc["dist"]
        got = quantile(PARAMS, name, q)
        if dist == "beta":
            ref = stats.beta(unc["a"], unc["b"]).ppf(q)
        elif dist == "lognormal":
            ref = stats.lognorm(s=unc["sdlog"], scale=unc["median"]).ppf(q)
        elif dist == "gamma":
            ref = stats.gamma(unc["shape"], scale=unc["scale"]).ppf(q)
        elif dist == "normal":
            ref = stats.norm(unc["mean"], unc["sd"]).ppf(q)
        elif dist == "uniform":
            ref = stats.uniform(unc["low"], unc["high"] - unc["low"]).ppf(q)
        else:  # dirichlet: each share's marginal is Beta(alpha_i, alpha_0 - alpha_i)
            alpha = unc["concentration"] * np.asarray(PARAMS.value(name))
            ref = np.column_stack([stats.beta(a, alpha.sum() - a).ppf(q) if a > 0 else np.zeros(len(q))
                                   for a in alpha])
        assert np.allclose(got, ref, rtol=1e-9, atol=1e-12), name  # two implementations of the same special functions
        checked.add(dist)
    assert {"beta", "lognormal", "dirichlet"} <= checked
    # no default parameter has a normal prior since the life table replaced the Gompertz slope
    name = "nrm.hazard_halflife_days"
    entries = {**PARAMS.entries, name: dataclasses.replace(PARAMS.entries[name],
                                                           uncertainty={"dist": "normal", "mean": 180.0, "sd": 20.0})}
    got = quantile(dataclasses.replace(PARAMS, entries=entries), name, q)
    assert np.allclose(got, stats.norm(180.0, 20.0).ppf(q), rtol=1e-9, atol=1e-12)


def test_quantile_of_a_bad_probability_is_an_input_error():
    with pytest.raises(InputError, match="quantile"):
        quantile(PARAMS, "nrm.hazard_halflife_days", [0.0, 0.5])


def test_dirichlet_from_unit_is_an_exact_dirichlet():
    """Stick breaking from independent uniforms: shares sum to 1, each marginal is
    Beta(alpha_i, alpha_0 - alpha_i) (KS at alpha 1e-4, several tests per run)."""
    name = "crs.grade_probs"
    rng = np.random.default_rng(5)
    u = rng.random((20_000, unit_dimensions(PARAMS, name)))
    x = from_unit(PARAMS, name, u)
    assert np.allclose(x.sum(axis=1), 1.0, atol=1e-12)  # rounding of a sum of five shares
    alpha = PARAMS.entries[name].uncertainty["concentration"] * np.asarray(PARAMS.value(name))
    for i, a in enumerate(alpha):
        assert stats.kstest(x[:, i], stats.beta(a, alpha.sum() - a).cdf).pvalue > 1e-4, i


# --- designs ----------------------------------------------------------------------------------

def test_oneway_design_moves_one_factor_per_set():
    d = designs.oneway_design(SC, ["remission.relapse.median_days", "crs.grade_probs[g3]"])
    base = PARAMS.theta()
    assert d.sets == 5
    assert np.array_equal(d.thetas[0], base)
    off = OFFSETS["remission.relapse.median_days"]
    lo, hi = quantile(PARAMS, "remission.relapse.median_days", [0.025, 0.975])
    assert d.thetas[1, off] == lo
    assert d.thetas[2, off] == hi
    changed = np.flatnonzero(d.thetas[1] != base)
    assert changed.tolist() == [off]
    g = OFFSETS["crs.grade_probs"]
    shares = d.thetas[3:5, g:g + 5]
    assert np.allclose(shares.sum(axis=1), 1.0, atol=1e-12)
    assert shares[0, 3] == quantile(PARAMS, "crs.grade_probs", [0.025])[0, 3]
    # the other shares keep their proportions (conditional means given the moved one)
    others = np.delete(shares, 3, axis=1)
    assert np.allclose(others / others.sum(axis=1, keepdims=True),
                       np.delete(base[g:g + 5], 3) / np.delete(base[g:g + 5], 3).sum())


def test_one_way_swings_are_monotone_where_the_model_says_so():
    """With common random numbers the effects are exact: a higher first-infusion CR
    probability never lowers the CR rate, a longer relapse median never lowers OS at 12
    months, a higher severe-CRS share never lowers CRS >= 3."""
    cases = [("response.p_cr.first.cd19", np.linspace(0.5, 0.99, 6), "cr_rate"),
             ("remission.relapse.median_days", np.linspace(60, 720, 6), "os_m12"),
             ("remission.relapse.median_days", np.linspace(60, 720, 6), "efs_m24")]
    for name, values, outcome in cases:
        thetas = np.tile(PARAMS.theta(), (len(values), 1))
        thetas[:, OFFSETS[name]] = values
        out, _ = simulate_sets(thetas, np.arange(len(values)), 3, 5000, HORIZON)
        y = out[:, IX[outcome]]
        assert np.all(np.diff(y) >= 0), (name, outcome, y)
        assert y[-1] > y[0], (name, outcome, y)
    d = designs.twoway_design(SC, ["crs.grade_probs[g3]", "response.p_cr.first.cd19"], grid=3)
    out, _ = simulate_sets(d.thetas, np.arange(d.sets), 3, 5000, HORIZON)
    crs3 = out[:, IX["crs_grade3plus"]].reshape(3, 3)
    assert np.all(np.diff(crs3, axis=0) > 0)


# --- Sobol and Morris on a case with a known answer ------------------------------------------

ONE_MATTERS = ["response.p_cr.first.cd19", "remission.relapse.median_days", "hsct.p_trm",
               "salvage.refractory.median_days"]


@pytest.fixture(scope="module")
def one_matters(tmp_path_factory):
    """Only the CD19 first-infusion CR probability can move the CR rate: the other three
    act after the day-28 assessment, so with common random numbers their effect on the
    CR rate is exactly zero; analytically S1 = ST = 1 for p_cr and 0 for the others."""
    out = {}
    for kind, design in (("sobol", designs.sobol_design(SC, ONE_MATTERS, n=128, seed=9)),
                         ("morris", designs.morris_design(SC, ONE_MATTERS, trajectories=12, seed=9))):
        results, _ = run_sweep(design, tmp_path_factory.mktemp(kind), patients=2000, seed=4, horizon_days=HORIZON)
        out[kind] = (design, results)
    return out


def test_sobol_indices_on_a_case_with_a_known_answer(one_matters):
    design, results = one_matters["sobol"]
    assert design.sets == 128 * (4 + 2)
    ind = {r["parameter"]: r for r in analysis.sobol_indices(design, results, "cr_rate", 9)["indices"]}
    p = ind["response.p_cr.first.cd19"]
    assert abs(p["S1"] - 1) <= p["S1_conf"], p  # within SALib's 95% bootstrap interval
    assert abs(p["ST"] - 1) <= p["ST_conf"], p
    for name in ONE_MATTERS[1:]:
        assert ind[name]["S1"] == 0.0  # exact: identical outputs under CRN
        assert ind[name]["ST"] == 0.0
    # OS at 12 months does depend on the relapse median (and less on p_cr)
    os_ind = {r["parameter"]: r for r in analysis.sobol_indices(design, results, "os_m12", 9)["indices"]}
    assert os_ind["remission.relapse.median_days"]["ST"] > os_ind["hsct.p_trm"]["ST"]


def test_morris_mu_star_ordering_on_the_same_case(one_matters):
    design, results = one_matters["morris"]
    rows = analysis.morris_indices(design, results, "cr_rate", 9)["indices"]
    assert rows[0]["parameter"] == "response.p_cr.first.cd19"
    assert rows[0]["mu_star"] > 0.05  # CR rate moves by ~0.1 over the p_cr prior's central range
    assert all(r["mu_star"] == 0.0 for r in rows[1:])


def test_sobol_groups_a_share_vector():
    d = designs.sobol_design(SC, ["crs.grade_probs", "nrm.hazard_halflife_days"], n=8, seed=1)
    assert d.problem["groups"].count("crs.grade_probs") == 4
    assert d.sets == 8 * (2 + 2)
    g = OFFSETS["crs.grade_probs"]
    assert np.allclose(d.thetas[:, g:g + 5].sum(axis=1), 1.0, atol=1e-12)


# --- the command ----------------------------------------------------------------------------

BAD_CASES = [
    ("unknown_param", ["oneway", "--param", "response.p_cr.frist.cd19"], ["did you mean", "response.p_cr.first.cd19"]),
    ("vector_param", ["twoway", "--param", "crs.grade_probs", "--param", "nrm.p_year1"], ["crs.grade_probs[g0]"]),
    ("grid_zero", ["twoway", "--param", "nrm.p_year1", "--param", "hsct.p_trm", "--grid", "0"],
     ["--grid", "from 2 to 1,000"]),
    ("draws_zero", ["psa", "--draws", "0"], ["--draws"]),
    ("unknown_outcome", ["oneway", "--outcome", "os_m13"], ["--outcome", "os_m12"]),
    ("sobol_n", ["sobol", "--n", "1000"], ["--n", "power of 2"]),
    ("bad_address", ["psa", "--draws", "2", "--cluster", "localhost"], ["--cluster", "tcp://"]),
    ("unreachable", ["psa", "--draws", "2", "--patients", "100", "--cluster", "tcp://127.0.0.1:1"],
     ["--cluster", "cannot reach"]),
    ("bounds_support", ["oneway", "--param", "hsct.p_trm", "--bounds", "bounds.toml"], ["hsct.p_trm", "1.4"]),
    ("bounds_order", ["oneway", "--param", "nrm.hazard_halflife_days", "--bounds", "order.toml"],
     ["nrm.hazard_halflife_days", "low"]),
    ("fixed_param", ["oneway", "--param", "cohort.p_high_risk"], ["fixed"]),
    ("patients", ["psa", "--patients", "0"], ["--patients"]),
]


REAL_PROCESS = {"unreachable"}  # run as a real process (imports cost ~5 s)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("bad")
    (cwd / "bounds.toml").write_text('[bounds]\n"hsct.p_trm" = [0.1, 1.4]\n')
    (cwd / "order.toml").write_text('[bounds]\n"nrm.hazard_halflife_days" = [2.0, 1.0]\n')
    return cwd


def _args(case: tuple, cwd: Path) -> list[str]:
    return ["sweep", *[str(cwd / a) if a.endswith(".toml") else a for a in case[1]], "--out", str(cwd / case[0])]


# the unreachable scheduler costs the connect timeout: only in the real-process test
@pytest.mark.parametrize("case", [c for c in BAD_CASES if c[0] != "unreachable"],
                         ids=[c[0] for c in BAD_CASES if c[0] != "unreachable"])
def test_bad_input_is_one_line_and_exit_2(bad_files, case, capsys, monkeypatch):
    proc = cartsim_in_process(_args(case, bad_files), capsys, monkeypatch)
    assert_one_error_line(proc)
    for word in case[2]:
        assert word in proc.stderr, (word, proc.stderr)
    assert not (bad_files / case[0] / "sweep.parquet").exists()


def test_bad_input_from_a_real_process(bad_files):
    cases = [c for c in BAD_CASES if c[0] in REAL_PROCESS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(lambda c: cartsim(*_args(c, bad_files), cwd=bad_files), cases))
    for case, proc in zip(cases, procs, strict=True):
        assert_one_error_line(proc)
        assert case[2][0] in proc.stderr


def test_sweep_command_writes_table_figure_and_json(tmp_path):
    (tmp_path / "b.toml").write_text('[bounds]\n"remission.relapse.median_days" = [90.0, 400.0]\n')
    proc = cartsim("sweep", "twoway", "--param", "remission.relapse.median_days,response.p_cr.first.cd19",
                   "--grid", "2", "--bounds", "b.toml", "--patients", "800", "--seed", "3", "--out", "o", "--json",
                   cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    s = json.loads(proc.stdout)
    assert s["kind"] == "twoway"
    assert s["sets"] == 4
    assert s["twoway"]["values"][0] == [90.0, 400.0]
    assert len(s["twoway"]["grid"]) == 2
    table = pq.read_table(tmp_path / "o" / "sweep.parquet")
    meta = json.loads(table.schema.metadata[b"cartsim"])
    assert meta["seed"] == 3
    assert meta["spec_hash"] == s["spec_hash"]
    assert meta["parameter_hash"] == PARAMS.digest()
    df = table.to_pandas()
    assert df["set_id"].tolist() == [0, 1, 2, 3]
    assert {"remission.relapse.median_days", "os_m12", "os_m12_se", "cr_rate_se"} <= set(df.columns)
    assert (tmp_path / "o" / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["spec_hash"] == s["spec_hash"]


def test_sweep_past_the_follow_up_is_nan_in_the_table_and_null_in_json(tmp_path):
    import sim

    # 400 days from the decision: 12-month landmarks are inside the data, 24-month ones are not
    s = sim.sweep("psa", "baseline", out=tmp_path / "s", patients=500, draws=12, horizon_days=400.0)
    for name in ("os_m24", "efs_m24", "itt_os_m24", "os_rmst_m24_days"):
        entry = s["psa"][name]
        assert entry["sets"] == 0 and entry["mean"] is None and entry["q975"] is None, name
        assert "beyond the maximum follow-up" in entry["note"]
    assert s["psa"]["os_m12"]["sets"] == 12 and "note" not in s["psa"]["os_m12"]
    df = pq.read_table(tmp_path / "s" / "sweep.parquet").to_pandas()
    for name in ("os_m24", "os_m24_se", "os_rmst_m24_days", "efs_m24", "itt_os_m24"):
        assert df[name].isna().all(), name
    assert df["os_m12"].between(0.0, 1.0).all() and df["os_m6"].between(0.0, 1.0).all()
    meta = json.loads(pq.read_table(tmp_path / "s" / "sweep.parquet").schema.metadata[b"cartsim"])
    assert "NaN beyond the follow-up" in meta["outcomes"]["os_m24"]
    # an analysis of one outcome that no cohort can estimate is refused before simulating
    with pytest.raises(InputError, match=r"--outcome: os_m24 needs 730\.5 days of follow-up but the horizon is 400"):
        sim.sweep("oneway", "baseline", out=tmp_path / "t", patients=500, outcome="os_m24", horizon_days=400.0)
    assert not (tmp_path / "t").exists()


def test_python_api_sweep_returns_the_summary_and_writes_the_files(tmp_path):
    import sim

    s = sim.sweep("oneway", "baseline", out=tmp_path / "s", patients=500, outcome="cr_rate",
                  params=["response.p_cr.first.cd19"])
    assert s["kind"] == "oneway"
    assert [f["factor"] for f in s["tornado"]["factors"]] == ["response.p_cr.first.cd19"]
    # a higher first-infusion CR probability never lowers the CR rate under common random numbers
    f = s["tornado"]["factors"][0]
    assert f["outcome_high"] >= f["outcome_low"]
    assert (tmp_path / "s" / "sweep.parquet").is_file()
    assert (tmp_path / "s" / "tornado.png").is_file()
    with pytest.raises(sim.InputError, match="unknown sweep"):
        sim.sweep("twoways", "baseline", out=tmp_path / "t")
