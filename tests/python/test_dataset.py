"""Tests of tpgnn.dataset on a small dataset measured by the real collector."""

from __future__ import annotations

import pytest
import torch
from tvm.s_tir import meta_schedule as ms

import tpgnn
from tpgnn.collect.loader import load_shard
from tpgnn.dataset import data_snapshot, dataset_layout, load_graph_set, relative_throughput


def _num_samples(dataset) -> int:
    return len(load_shard(dataset / "shards" / "tiny").samples)


def test_labels_are_throughput_relative_to_the_task_best(measured_dataset):
    data = load_graph_set(measured_dataset, None, cache_dir=None, workers=1)
    assert len(data) == _num_samples(measured_dataset) and len(data.tasks) == 2
    for members in data.task_members():
        labels, costs = data.labels[members], data.costs[members]
        assert float(labels.max()) == pytest.approx(1.0)
        torch.testing.assert_close(labels.double(), costs.min() / costs, rtol=1e-6, atol=0)


def test_failures_are_labelled_zero():
    costs = torch.tensor([1.0, float("inf"), 2.0], dtype=torch.float64)
    labels = relative_throughput(costs, torch.zeros(3, dtype=torch.long), 1)
    assert labels.tolist() == [1.0, 0.0, 0.5]


def test_graphs_are_the_programs_metaschedule_rebuilds(measured_dataset):
    data = load_graph_set(measured_dataset, None, cache_dir=None, workers=1)
    shard = load_shard(measured_dataset / "shards" / "tiny")
    sample = shard.samples[0]
    workload = ms.database.Workload.from_json(list(shard.workloads[sample.workload]))
    record = ms.database.TuningRecord.from_json(
        [sample.trace, sample.run_secs, sample.target, sample.args_info], workload
    )
    expected = tpgnn.extract_graph(record.as_measure_candidate().sch.mod)
    got = data.graphs[data.keys.index(("tiny", sample.record))]
    assert torch.equal(got.node_type, expected.node_type)
    assert torch.equal(got.col, expected.col)


def test_cache_is_reused_and_keyed_by_content(measured_dataset, tmp_path):
    first = load_graph_set(measured_dataset, None, cache_dir=tmp_path, workers=1)
    (cached,) = list(tmp_path.glob("*.pt"))
    mtime = cached.stat().st_mtime_ns
    second = load_graph_set(measured_dataset, None, cache_dir=tmp_path, workers=1)
    assert cached.stat().st_mtime_ns == mtime
    assert all(torch.equal(a.node_features, b.node_features)
               for a, b in zip(first.graphs, second.graphs, strict=True))


def test_split_and_network_filters(measured_dataset):
    assert len(load_graph_set(measured_dataset, ["test"], cache_dir=None, workers=1)) == 0
    train = load_graph_set(measured_dataset, ["train"], cache_dir=None, workers=1)
    assert len(train) == _num_samples(measured_dataset)
    assert len(load_graph_set(measured_dataset, None, cache_dir=None, workers=1,
                              networks=["resnet18"])) == 0
    with pytest.raises(ValueError, match="splits must be among"):
        load_graph_set(measured_dataset, ["holdout"], cache_dir=None)


def test_a_plain_metaschedule_database_loads(measured_dataset):
    shard_dir = measured_dataset / "shards" / "tiny"
    dirs, info = dataset_layout(shard_dir)
    assert dirs == [shard_dir] and info == {}
    data = load_graph_set(shard_dir, None, cache_dir=None, workers=1)
    assert len(data) == _num_samples(measured_dataset)
    assert all(i["networks"] == {"tiny": {"weight": 1}} for i in data.task_info.values())


def test_a_directory_without_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a TPGNN dataset"):
        dataset_layout(tmp_path)


def test_snapshot_reads_a_grown_dataset_as_it_was(measured_dataset):
    full = load_graph_set(measured_dataset, None, cache_dir=None, workers=1)
    snapshot = data_snapshot(full)
    assert snapshot == {"tiny": max(r for _, r in full.keys) + 1}
    half = {"tiny": snapshot["tiny"] // 2}
    older = load_graph_set(measured_dataset, None, cache_dir=None, workers=1, snapshot=half)
    assert older.keys == [k for k in full.keys if k[1] < half["tiny"]]
    assert data_snapshot(older) == {"tiny": max(r for _, r in older.keys) + 1}


def test_subset_keeps_order_labels_and_only_the_tasks_it_uses(measured_dataset):
    data = load_graph_set(measured_dataset, None, cache_dir=None, workers=1)
    second_task = data.task_members()[1].tolist()
    picked = second_task[::-1]
    part = data.subset(picked)
    assert part.tasks == [data.tasks[1]] and part.task_index.tolist() == [0] * len(picked)
    assert part.keys == [data.keys[i] for i in picked]
    assert part.graphs[0] is data.graphs[picked[0]]
    torch.testing.assert_close(part.labels, data.labels[picked])
    torch.testing.assert_close(part.costs, data.costs[picked])
    assert len(data.subset([])) == 0 and data.subset([]).tasks == []
