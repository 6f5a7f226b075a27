"""The manifest: provenance of every session, counts per shard, a split per workload."""

from __future__ import annotations

import json
import logging

import pytest

from tpgnn.collect.manifest import (
    FORMAT,
    cpu_info,
    load_manifest,
    refuse_other_cpu,
    timing_changes,
    timing_cpus,
)
from tpgnn.collect.split import SPLITS, assign_split


def test_manifest_records_provenance_and_settings(collected):
    data_dir, stats = collected
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["format"] == FORMAT
    (session,) = manifest["sessions"].values()
    for key in ("cpu_model", "cpu_flags", "num_cores", "tvm_version", "tvm_ffi_version", "started"):
        assert session[key], key
    assert session["measurement"] == {
        "number": 1,
        "repeat": 3,
        "min_repeat_ms": 1,
        "enable_cpu_cache_flush": False,
        "number_probe_ms": 2,
        "build_timeout_s": 60.0,
        "run_timeout_s": 30.0,
        "programs_per_timing_worker": 2000,
    }
    shard = manifest["shards"]["tiny"]
    assert shard["records"] == stats.measured and shard["successes"] == stats.successes
    assert shard["complete"] is True
    assert shard["files"]["tuning_record"] == "database_tuning_record.json.gz"
    (wl,) = manifest["workloads"].values()
    assert wl["networks"] == {"tiny": {"task_name": "matmul", "weight": 1}}
    assert wl["split"] == "train" and wl["successes"] == stats.successes


def test_cpu_info_reads_this_machine():
    info = cpu_info()
    assert info["num_cores"] >= 1 and isinstance(info["cpu_flags"], list)


def test_load_manifest_of_empty_dir_is_a_skeleton(tmp_path):
    assert load_manifest(tmp_path)["workloads"] == {}
    (tmp_path / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="format"):
        load_manifest(tmp_path)


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        (["resnet18"], ("train", False)),
        (["inception_v3"], ("test", False)),
        (["squeezenet1_0"], ("val", False)),
        (["inception_v3", "resnet50"], ("train", True)),
        (["inception_v3", "squeezenet1_0"], ("val", False)),
    ],
)
def test_assign_split_holds_out_whole_networks(users, expected):
    assert assign_split(users, ["inception_v3"], ["squeezenet1_0"]) == expected


def test_assign_split_needs_a_user():
    with pytest.raises(ValueError, match="networks"):
        assign_split([], ["a"], ["b"])


def test_no_workload_in_two_splits():
    users = [["a"], ["b"], ["c"], ["a", "b"], ["b", "c"], ["a", "c"]]
    splits = [assign_split(u, ["b"], ["c"])[0] for u in users]
    assert all(s in SPLITS for s in splits)
    assert splits == ["train", "test", "val", "train", "val", "train"]


def test_a_later_run_over_other_networks_keeps_earlier_uses(collected, tmp_path):
    import shutil

    from collect_helpers import matmul_workload, small_config

    from tpgnn.collect.collector import collect
    from tpgnn.collect.workloads import merge_tasks
    from tpgnn.networks import NetworkTask

    data_dir, _ = collected
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    (wl,) = merge_tasks([NetworkTask("other", "mm", 3, matmul_workload().mod)])
    assert collect(small_config(copy), [wl]).measured == 0  # same workload, already measured
    (entry,) = load_manifest(copy)["workloads"].values()
    assert entry["networks"] == {
        "tiny": {"task_name": "matmul", "weight": 1},
        "other": {"task_name": "mm", "weight": 3},
    }
    assert entry["shard"] == "tiny"  # a workload never moves between shards


def test_timing_changes_names_earlier_settings_that_differ():
    from tpgnn.collect.config import MeasureConfig

    timing = {"number": 1, "repeat": 3, "enable_cpu_cache_flush": False}
    manifest = {
        "sessions": {
            "a": {"measurement": {**timing, "min_repeat_ms": 25, "build_timeout_s": 60.0}},
            "b": {"measurement": {**timing, "min_repeat_ms": 10, "build_timeout_s": 120.0}},
            "c": {},  # a session without settings says nothing
        }
    }
    # Time limits do not change what a cost means; only the timing settings count.
    assert timing_changes(manifest, MeasureConfig(min_repeat_ms=10, build_timeout_s=5)) == {
        "min_repeat_ms": [25]
    }
    assert timing_changes(manifest, MeasureConfig(repeat=5, min_repeat_ms=25)) == {
        "repeat": [3],
        "min_repeat_ms": [10],
    }
    assert timing_changes({}, MeasureConfig()) == {}


def test_the_cpus_that_timed_locally_are_the_sessions_cpus():
    here = cpu_info()["cpu_model"]
    manifest = {"sessions": {
        "a": {"cpu_model": "Other CPU 9000", "runner": "LocalRunner"},
        "b": {"cpu_model": here, "runner": "LocalRunner"},
        "c": {"cpu_model": "Driver CPU", "runner": "RPCRunner"},  # timed elsewhere
    }}
    assert timing_cpus(manifest) == sorted(["Other CPU 9000", here])
    assert timing_cpus(manifest, ["a", "c", "foreign"]) == ["Other CPU 9000"]
    assert timing_cpus(manifest, ["c"]) == timing_cpus({}) == []


def test_a_workload_stays_on_the_cpu_that_timed_it(caplog):
    here = cpu_info()["cpu_model"]
    manifest = {"sessions": {
        "a": {"cpu_model": "Other CPU 9000", "runner": "LocalRunner"},
        "b": {"cpu_model": here, "runner": "LocalRunner"},
        "c": {"cpu_model": "Driver CPU", "runner": "RPCRunner"},
    }}
    # x/0: the other CPU's; x/1: this CPU's and an RPC session's; y/0: new.
    sessions_of = {"x/0": {"a"}, "x/1": {"b", "c"}, "y/0": set()}
    with caplog.at_level(logging.WARNING, logger="tpgnn.collect.manifest"):
        assert refuse_other_cpu(manifest, sessions_of, "d", allow=False) == {"x/0"}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "leaving 1 of the 3" in warning and "x/0" in warning and "x/1" not in warning
    assert refuse_other_cpu(manifest, sessions_of, "d", allow=True) == set()
    with pytest.raises(ValueError, match="timed on Other CPU 9000, and this machine is .*"
                       "another network's.*--allow-other-cpu"):
        refuse_other_cpu(manifest, {"x/0": {"a"}}, "d", allow=False)
    assert refuse_other_cpu(manifest, {"x/1": {"b", "c"}, "y/0": set()}, "d", False) == set()
    assert refuse_other_cpu({}, {"y/0": set()}, "d", allow=False) == set()  # a new dataset
