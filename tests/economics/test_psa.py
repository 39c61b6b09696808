"""``cartsim psa`` and ``sim.economics.psa``: the per-draw table does not depend on threads,
chunking or Dask and an interrupted run resumes to it; acceptability curves are
probabilities summing to 1; EVPPI lies in [0, EVPI]; the ENBS optimum of a normal
example is the analytic one; economic draws are reproducible; bad input is one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_process import assert_one_error_line, cartsim, cartsim_in_process
from scipy import stats

from sim import api
from sim.api import economics as econ_api
from sim.economics import psa as ps
from sim.economics.voi import Value, evsi, population_value
from sim.io.chunks import ChunkStore
from sim.io.files import load_economics
from sim.model.economic_inputs import ECON_SPECS
from sim.sweeps.runner import run_sweep

STRATEGIES = ["recipient_collected_cells", "donor_derived_cells", "universal_product"]
HORIZON = 3652.5  # ten years: shorter walks, same code
KW = {"patients": 300, "seed": 11, "horizon_days": HORIZON, "chunk_sets": 4}


class Interrupted(Exception):
    pass


def _design(draws: int = 40):
    scs = [api.as_scenario(s) for s in STRATEGIES]
    return econ_api.psa_sweep_design(scs, load_economics("uk_nhs"), draws, seed=3)


def _run(out: Path, **kw):
    return run_sweep(_design(), out, task=ps.psa_chunk, names=ps.columns(STRATEGIES), **(KW | kw))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("ref"), threads=2)[0]


def test_table_is_bit_identical_across_threads_and_chunking(tmp_path, reference):
    one, _ = _run(tmp_path / "a", threads=1, chunk_sets=3)
    pd.testing.assert_frame_equal(one, reference, check_exact=True)
    names = ps.columns(STRATEGIES)
    assert np.isfinite(reference[[n for n in names if not n.startswith("d_cov")]].to_numpy()).all()
    # the same patients in every strategy: the paired increment is the difference of the means
    d = reference[f"d_cost:{STRATEGIES[1]}"] - (reference[f"cost:{STRATEGIES[1]}"] - reference[f"cost:{STRATEGIES[0]}"])
    assert np.abs(d).max() < 1e-6 * reference[f"cost:{STRATEGIES[0]}"].abs().max()


def test_interrupted_psa_resumes_to_the_same_table(tmp_path, reference):
    def stop(chunk_id: int, finished: int) -> None:
        if finished == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        _run(tmp_path, on_chunk=stop, threads=2)
    assert len(list(ChunkStore(tmp_path).dir.glob("chunk_*.parquet"))) == 2
    done = []
    results, info = _run(tmp_path, resume=True, threads=2, on_chunk=lambda c, n: done.append(c))
    assert info["resumed_chunks"] == 2 and done == list(range(2, 10))  # 40 draws in chunks of 4
    pd.testing.assert_frame_equal(results, reference, check_exact=True)


def test_local_dask_cluster_gives_the_local_table(tmp_path, reference):
    on_dask, info = _run(tmp_path, cluster="local", workers=2)
    assert info["chunks"] == 10
    pd.testing.assert_frame_equal(on_dask, reference, check_exact=True)


def test_draws_share_parameters_across_strategies_and_vary_the_economics():
    design = _design(draws=30)
    table = design.table
    cols = ps.parameter_columns(table, [])
    assert any(c.startswith("econ.cost.") for c in cols) and any(c.startswith("remission.") for c in cols)
    assert "econ.cost.product.recipient" not in cols  # a fixed list price is not drawn
    econ = load_economics("uk_nhs")
    values = econ.sample(30, 3)
    again = econ.sample(50, 3)
    np.testing.assert_array_equal(values, again[:30])  # draw m depends on (seed, name, m) only
    for j, spec in enumerate(ECON_SPECS):
        assert spec.limit.contains(values[:, j].min()) and spec.limit.contains(values[:, j].max())
        if spec.name not in econ.uncertain_names():
            assert np.all(values[:, j] == econ.values[spec.name])
    groups = ps.default_groups(cols)
    assert "econ.cost" in groups and "remission" in groups
    assert sorted(c for g in groups.values() for c in g) == sorted(cols)


def test_analysis_ceac_sums_to_one_and_evppi_within_evpi(reference):
    table = reference  # run_sweep joins the design table (drawn inputs) with the values
    cols = ps.parameter_columns(table, STRATEGIES)
    wtps = ps.wtp_grid(300_000.0)
    s = ps.analyse(table, STRATEGIES, 300_000.0, wtps, {"all econ": [c for c in cols if c.startswith("econ.")][:1]},
                   incidence=50.0, years=10.0, rate=0.035)
    prob = np.array([s["ceac"]["probability"][n] for n in STRATEGIES])
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    np.testing.assert_allclose(prob.sum(axis=0), 1.0, rtol=0, atol=1e-12)
    chosen = s["ceaf"]["strategy"]
    for k, name in enumerate(chosen):  # the frontier is the CEAC of the strategy chosen on expected net benefit
        assert s["ceaf"]["probability"][k] == s["ceac"]["probability"][name][k]
    ev = s["evpi"]["per_patient"]
    assert ev >= 0.0
    assert s["evpi"]["population"] == pytest.approx(population_value(ev, 50.0, 10.0, 0.035))
    row = s["evppi"][0]
    # the metamodel's value is an estimate: within EVPI up to 4 of its standard errors
    assert -4 * row["evppi_se"] <= row["evppi"] <= ev + 4 * row["evppi_se"] + 1e-9


def test_enbs_optimum_of_a_normal_example_is_the_analytic_one():
    """Incremental net benefit theta ~ N(mu, sigma^2); a trial of n patients observes
    theta + noise of variance s^2 / n. The preposterior mean is N(mu, v_n), v_n =
    sigma^4 / (sigma^2 + s^2 / n), so EVSI(n) = E[max(0, m)] - max(0, mu) in closed form."""
    mu, sigma, s_pat = -200.0, 1500.0, 20_000.0
    sizes = [10, 40, 160, 640, 2560]
    incidence, years, rate, fixed, per_patient = 200.0, 10.0, 0.035, 50_000.0, 600.0
    rng = np.random.Generator(np.random.Philox(8))
    draws = 100_000
    theta = mu + sigma * rng.standard_normal(draws)
    nb = np.column_stack([np.zeros(draws), theta])
    noise = rng.standard_normal(draws)
    values, exact = [], []
    for n in sizes:
        summary = theta + s_pat / math.sqrt(n) * noise
        values.append(evsi(nb, summary[:, None], seed=1))
        sd = sigma**2 / math.sqrt(sigma**2 + s_pat**2 / n)
        z = mu / sd
        exact.append(Value(sd * stats.norm.pdf(z) + mu * stats.norm.cdf(z) - max(0.0, mu), 0.0))
    # the metamodel's SE leaves out the Monte Carlo error of the mean over draws, at most sigma / sqrt(draws)
    for v, e in zip(values, exact, strict=True):
        assert abs(v.value - e.value) < 4 * (v.se + sigma / math.sqrt(draws))
    zero = [0.0] * len(sizes)
    est = ps.enbs(values, sizes, zero, incidence, years, rate, fixed, per_patient)
    ref = ps.enbs(exact, sizes, zero, incidence, years, rate, fixed, per_patient)
    best = ps.optimum(ref)
    assert best["n"] == 160 and not best["note"]
    assert ps.optimum(est)["n"] == best["n"]
    # ENBS = population EVSI - cost, the population over the whole horizon when the trial takes no time
    assert ref[2]["enbs"] == pytest.approx(exact[2].value * population_value(1.0, incidence, years, rate)
                                           - fixed - per_patient * 160)
    # a trial that takes the whole decision horizon is worth nothing
    late = ps.enbs(exact, sizes, [years] * len(sizes), incidence, years, rate, fixed, per_patient)
    assert all(r["population_evsi"] == 0.0 for r in late)
    assert "not worth its cost" in ps.optimum(late)["note"]


def test_cli_json_and_files(tmp_path):
    proc = cartsim("psa", STRATEGIES[0], STRATEGIES[1], "--draws", 24, "--patients", 200, "--horizon-days", HORIZON,
                   "--incidence", 100, "--group", "relapse=remission.", "--group", "costs=econ.cost",
                   "--out", tmp_path / "out", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["strategy"] for s in doc["strategies"]] == STRATEGIES[:2]
    assert [g["group"] for g in doc["evppi"]] == ["relapse", "costs"]
    assert doc["evpi"]["population"] is not None and doc["economics"]["currency"] == "GBP"
    for name in ("psa.parquet", "psa.json", "psa_plane.png", "ceac.png", "voi.png"):
        assert (tmp_path / "out" / name).is_file()
    table = pd.read_parquet(tmp_path / "out" / "psa.parquet")
    assert len(table) == 24 and f"qalys:{STRATEGIES[1]}" in table.columns


@pytest.mark.parametrize(("args", "fragments"), [
    ([STRATEGIES[0]], ("need at least 2 strategies",)),
    ([*STRATEGIES[:2], "--draws", "5"], ("--draws", "at least 20")),
    ([*STRATEGIES[:2], "--group", "nothing"], ("--group", "NAME=PREFIX")),
    ([*STRATEGIES[:2], "--group", "x=no_such_prefix"], ("--group", "no varying input")),
    ([*STRATEGIES[:2], "--trial-sizes", "10,abc"], ("--trial-sizes", "whole numbers")),
    ([*STRATEGIES[:2], "--wtp", "50000", "--wtp-max", "20000"], ("--wtp-max",)),
    ([*STRATEGIES[:2], "--incidence", "-3"], ("--incidence",)),
    ([STRATEGIES[0], STRATEGIES[0]], ("given twice",)),
])
def test_bad_options_are_one_error_line(tmp_path, capsys, monkeypatch, args, fragments):
    proc = cartsim_in_process(["psa", *args, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert_one_error_line(proc, *fragments)
    assert not (tmp_path / "out" / "psa.json").exists()


def test_trial_draws_are_the_psa_draws_and_evsi_runs_per_size(reference):
    """Trial k of the EVSI is simulated under PSA draw k: every parameter both draw has
    the same value (same posterior rows, same prior streams)."""
    from sim.api.trials import power_spec
    from sim.model.parameters import OFFSETS
    from sim.trials.search import assurance_draws

    spec = power_spec("two_arm_cr_rate_tandem_vs_cd19")
    design = _design()
    (control, _), _ = assurance_draws(spec, design.sets, 3)
    shared = [c for c in ps.parameter_columns(design.table, []) if c in OFFSETS]
    assert len(shared) > 5
    for c in shared:
        np.testing.assert_array_equal(design.table[c].to_numpy(), control[:, OFFSETS[c]])
    nb = ps.Draws.from_table(reference, STRATEGIES).nb(300_000.0)
    values, durations, about = econ_api.evsi_of_trial(spec, nb, 3, [40, 120], threads=2)
    assert len(values) == 2 and durations[0] < durations[1]
    assert all(np.isfinite(v.value) and v.se >= 0 for v in values)
    assert about["summaries"] == "each arm's observed rate"


def test_a_share_vector_loses_one_share_and_evppi_keeps_a_finite_se():
    """Shares summing to 1 are collinear with the intercept: one is dropped, so the
    metamodel stays regular (its SE was astronomically large with all of them)."""
    rng = np.random.Generator(np.random.Philox(4))
    shares = rng.dirichlet([2.0, 3.0, 5.0], 2000)
    other = rng.standard_normal(2000)
    phi = np.column_stack([shares, other])
    kept = ps.independent_columns(phi)
    assert kept.shape[1] == 3
    nb = np.column_stack([np.zeros(2000), 1000.0 * (shares[:, 0] - 0.2) + 50.0 * other])
    value, _ = ps.group_evppi(nb, phi, seed=2)
    assert np.isfinite(value.se) and value.se < 0.1 * value.value
