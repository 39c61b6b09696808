"""Sweeps on a Dask cluster: a real ``LocalCluster`` with 2 worker processes gives the
local table bit for bit (same chunks, same seeds, assembled by chunk id), and an
unreachable scheduler, a server that is not Dask and a scheduler without workers are
prompt InputErrors."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from cli_process import not_dask_server

from sim import api
from sim.api import sweeps as api_sweep
from sim.model.errors import InputError
from sim.sweeps import designs
from sim.sweeps import runner as sweep_runner
from sim.sweeps.runner import CONNECT_TIMEOUT_S, HANDSHAKE_TIMEOUT_S, run_sweep

SC = api.as_scenario(None)
HORIZON = SC.run.horizon_days


def test_local_cluster_with_two_workers_gives_the_local_table(tmp_path):
    design = designs.oneway_design(SC, ["response.p_cr.first.cd19", "remission.relapse.median_days",
                                     "crs.grade_probs[g4]", "nrm.p_year1"])
    kw = {"patients": 2000, "seed": 6, "horizon_days": HORIZON, "chunk_sets": 3, "crn": False}
    local, info_local = run_sweep(design, tmp_path / "local", **kw)
    on_dask, info_dask = run_sweep(design, tmp_path / "dask", cluster="local", workers=2, **kw)
    assert info_dask["chunks"] == 3
    assert info_dask["spec_hash"] == info_local["spec_hash"]
    pd.testing.assert_frame_equal(on_dask, local, check_exact=True)


def test_unreachable_scheduler_is_a_prompt_input_error(tmp_path):
    design = designs.psa_design(SC, 2, prior=True, seed=1)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="cannot reach a Dask scheduler"):
        run_sweep(design, tmp_path, patients=100, seed=1, horizon_days=HORIZON, cluster="tcp://127.0.0.1:1")
    assert time.perf_counter() - t0 < CONNECT_TIMEOUT_S + 10  # the connect timeout, plus slack for a loaded machine


@pytest.mark.parametrize("address", ["localhost:8786", "http://host:8786", "tcp://host", "tcp://a b:1"])
def test_malformed_address_is_an_input_error(tmp_path, address):
    with pytest.raises(InputError, match="--cluster"):
        run_sweep(designs.psa_design(SC, 2, prior=True, seed=1), tmp_path, patients=100, seed=1, horizon_days=HORIZON,
                  cluster=address)


@pytest.fixture(params=["silent", "http"])
def not_dask_address(request):
    """A plain TCP server on 127.0.0.1 that is not Dask: it accepts and never answers
    ("silent"), or answers in another protocol ("http")."""
    reply = b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n" if request.param == "http" else None
    with not_dask_server(reply) as address:
        yield address


def test_a_server_that_is_not_dask_is_refused_within_the_connect_timeout(tmp_path, not_dask_address):
    assert HANDSHAKE_TIMEOUT_S < CONNECT_TIMEOUT_S
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="--cluster") as info:
        api_sweep.sweep("psa", None, out=tmp_path, draws=2, prior=True, patients=100, cluster=not_dask_address)
    # the deadline of the handshake, plus slack for a loaded machine (it hung 14 minutes before)
    assert time.perf_counter() - t0 < CONNECT_TIMEOUT_S + 10
    assert "\n" not in str(info.value) and not_dask_address in str(info.value)
    assert not (tmp_path / "chunks").exists()  # refused before any work


def test_a_scheduler_that_lost_all_its_workers_times_out(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    monkeypatch.setattr(sweep_runner, "WORKER_LOSS_TIMEOUT_S", 2.0)
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                           dashboard_address=None)
    try:
        with Client(cluster) as client:
            cluster.scale(0)
            deadline = time.monotonic() + 30
            while client.scheduler_info().get("workers") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not client.scheduler_info().get("workers")
        design = designs.psa_design(SC, 2, prior=True, seed=1)
        with pytest.raises(InputError, match="no worker for 2 s") as info:
            run_sweep(design, tmp_path, patients=100, seed=1, horizon_days=HORIZON, cluster=cluster.scheduler_address)
        assert "--resume" in str(info.value) and "\n" not in str(info.value)
    finally:
        cluster.close()
