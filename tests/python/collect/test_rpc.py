"""Measurement through TVM's RPC tracker and server, both started on loopback."""

from __future__ import annotations

import time

import pytest
from collect_helpers import matmul_workload, small_config

from tpgnn.collect.collector import collect
from tpgnn.collect.config import RPCSettings, SearchConfig
from tpgnn.collect.loader import load_shard
from tpgnn.collect.manifest import cpu_info, load_manifest

KEY = "tpgnn-test-cpu"


@pytest.fixture()
def tracker_with_server():
    pytest.importorskip("tornado", reason="TVM's RPC tracker needs tornado")
    from tvm import rpc
    from tvm.rpc.server import Server
    from tvm.rpc.tracker import Tracker

    tracker = Tracker(host="127.0.0.1", port=9190, port_end=9290, silent=True)
    server = Server(
        host="127.0.0.1",
        port=9300,
        port_end=9400,
        key=KEY,
        tracker_addr=("127.0.0.1", tracker.port),
        silent=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until the server has registered its key
            summary = rpc.connect_tracker("127.0.0.1", tracker.port).summary()
            if any(KEY in str(q) for q in summary.get("queue_info", {})):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the RPC server did not register with the tracker")
            time.sleep(0.2)
        yield tracker
    finally:
        server.terminate()
        tracker.terminate()


@pytest.mark.slow
def test_collect_through_rpc_tracker(tmp_path, tracker_with_server):
    config = small_config(
        tmp_path,
        samples_per_workload=3,
        search=SearchConfig(random_per_workload=3, batch_size=2, population_size=4),
        rpc=RPCSettings("127.0.0.1", tracker_with_server.port, KEY),
    )
    stats = collect(config, [matmul_workload()])
    assert stats.successes >= 3 and stats.failures == 0
    shard = load_shard(tmp_path / "shards" / "tiny")
    assert all(s.ok and len(s.run_secs) == 3 for s in shard.samples)
    (session,) = load_manifest(tmp_path)["sessions"].values()
    assert session["runner"] == "RPCRunner" and session["rpc"]["key"] == KEY
    # The device's CPU is not known here; this machine is recorded as the one that built.
    assert session["cpu_model"] == f"unknown (RPC device {KEY!r})"
    assert session["cpu_flags"] == [] and session["num_cores"] is None
    assert session["build_host"]["cpu_model"] == cpu_info()["cpu_model"]
    assert session["tvm_version"]


def test_rpc_settings_parse_rejects_bad_address():
    assert RPCSettings.parse("127.0.0.1:9190", "k") == RPCSettings("127.0.0.1", 9190, "k")
    with pytest.raises(ValueError, match="rpc_tracker"):
        RPCSettings.parse("localhost", "k")
    with pytest.raises(ValueError, match="rpc_key"):
        RPCSettings.parse("localhost:9190", "")
