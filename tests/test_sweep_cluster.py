"""Sweeps on a Dask cluster: a real ``LocalCluster`` with 2 worker processes gives the
local table bit for bit (same chunks, same seeds, assembled by chunk id), and an
unreachable scheduler is a prompt InputError."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from sim import api
from sim.analysis import sensitivity as sens
from sim.analysis.sweep_runner import CONNECT_TIMEOUT_S, run_sweep
from sim.model.errors import InputError

SC = api.as_scenario(None)
HORIZON = SC.run.horizon_days


def test_local_cluster_with_two_workers_gives_the_local_table(tmp_path):
    design = sens.oneway_design(SC, ["response.p_cr.first.cd19", "remission.relapse.median_days",
                                     "crs.grade_probs[g4]", "nrm.p_year1"])
    kw = {"patients": 2000, "seed": 6, "horizon_days": HORIZON, "chunk_sets": 3, "crn": False}
    local, info_local = run_sweep(design, tmp_path / "local", **kw)
    on_dask, info_dask = run_sweep(design, tmp_path / "dask", cluster="local", workers=2, **kw)
    assert info_dask["chunks"] == 3
    assert info_dask["spec_hash"] == info_local["spec_hash"]
    pd.testing.assert_frame_equal(on_dask, local, check_exact=True)


def test_unreachable_scheduler_is_a_prompt_input_error(tmp_path):
    design = sens.psa_design(SC, 2, prior=True, seed=1)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="cannot reach a Dask scheduler"):
        run_sweep(design, tmp_path, patients=100, seed=1, horizon_days=HORIZON, cluster="tcp://127.0.0.1:1")
    assert time.perf_counter() - t0 < CONNECT_TIMEOUT_S + 10  # the connect timeout, plus slack for a loaded machine


@pytest.mark.parametrize("address", ["localhost:8786", "http://host:8786", "tcp://host", "tcp://a b:1"])
def test_malformed_address_is_an_input_error(tmp_path, address):
    with pytest.raises(InputError, match="--cluster"):
        run_sweep(sens.psa_design(SC, 2, prior=True, seed=1), tmp_path, patients=100, seed=1, horizon_days=HORIZON,
                  cluster=address)
