"""Tests of tpgnn.train and tpgnn.checkpoint on a small measured dataset."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest
import torch

from tpgnn.checkpoint import (
    CheckpointMismatchError,
    checkpoint_metadata,
    load_checkpoint,
    save_checkpoint,
)
from tpgnn.dataset import load_graph_set
from tpgnn.embeddings import train_type_vectors
from tpgnn.graph import edge_type_names, node_feature_names, node_type_vocabulary
from tpgnn.model import ModelConfig
from tpgnn.train import (
    TrainConfig,
    deterministic_algorithms,
    draw_programs,
    draw_tasks,
    feature_statistics,
    score_graphs,
    selection_key,
    task_batches,
    train,
    train_seeds,
)


@pytest.fixture(scope="module")
def data(measured_dataset):
    return load_graph_set(measured_dataset, None, cache_dir=None, workers=1)


def _model_config(**options) -> ModelConfig:
    return ModelConfig(len(node_type_vocabulary()), len(node_feature_names()),
                       len(edge_type_names()), hidden_dim=16, type_embedding_dim=8, **options)


def test_config_is_validated():
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="mse")
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="device"):
        TrainConfig(device="gpu")
    for fraction in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"task_fraction must be in \(0, 1\]"):
            TrainConfig(task_fraction=fraction)
        with pytest.raises(ValueError, match=r"program_fraction must be in \(0, 1\]"):
            TrainConfig(program_fraction=fraction)


def test_deterministic_algorithms_are_restored_on_exit():
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_algorithms():
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_algorithms(enabled=False):
        assert not torch.are_deterministic_algorithms_enabled()


def test_batches_cover_each_sample_once_grouped_by_task(data):
    import numpy as np

    batches = list(task_batches(data, 1, 5, np.random.default_rng(0)))
    assert sorted(torch.cat(batches).tolist()) == list(range(len(data)))
    assert all(len(set(data.task_index[b].tolist())) == 1 for b in batches)


def test_feature_statistics_match_torch(data):
    mean, std = feature_statistics(data.graphs)
    x = torch.cat([g.node_features for g in data.graphs]).double()
    torch.testing.assert_close(mean, x.mean(0).float())
    torch.testing.assert_close(std, x.std(0, unbiased=False).float(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", ["rank", "huber"])
def test_training_runs_and_is_reproducible(data, loss):
    config = TrainConfig(loss=loss, epochs=2, tasks_per_batch=2, samples_per_task=6, seed=3)
    # fastText is not bit-reproducible: a repeated run passes the vectors of the first.
    vectors = train_type_vectors(data.graphs, _model_config().type_embedding_dim)
    runs = [train(config, _model_config(), data, data, vectors) for _ in range(2)]
    (m1, info), (m2, _) = runs
    assert len(info["history"]) == 2
    torch.testing.assert_close(score_graphs(m1, data.graphs, torch.device("cpu")),
                               score_graphs(m2, data.graphs, torch.device("cpu")))


def test_a_task_fraction_keeps_whole_tasks_of_one_draw_whatever_their_order(data):
    assert draw_tasks(data, 1.0) is data
    half = draw_tasks(data, 0.5)
    assert len(half.tasks) == 1 and set(half.tasks) < set(data.tasks)
    sizes = dict(zip(data.tasks, map(len, data.task_members()), strict=True))
    assert [len(m) for m in half.task_members()] == [sizes[k] for k in half.tasks]
    # The draw depends on the task keys, not on the order the shards were read in.
    last = len(data.tasks) - 1
    reordered = replace(data, tasks=data.tasks[::-1], task_index=last - data.task_index)
    assert draw_tasks(reordered, 0.5).tasks == half.tasks
    # The smallest share keeps one task; a larger share keeps that one too.
    assert draw_tasks(data, 0.01).tasks == half.tasks


def test_training_on_a_task_fraction_is_training_on_its_draw(data):
    config = TrainConfig(epochs=1, tasks_per_batch=2, samples_per_task=6, fasttext=False)
    drawn, _ = train(replace(config, task_fraction=0.5), _model_config(), data, data)
    direct, _ = train(config, _model_config(), draw_tasks(data, 0.5), data)
    everything, _ = train(config, _model_config(), data, data)
    cpu = torch.device("cpu")
    scores = [score_graphs(m, data.graphs, cpu) for m in (drawn, direct, everything)]
    torch.testing.assert_close(scores[0], scores[1])
    assert not torch.allclose(scores[0], scores[2])


def test_a_program_fraction_keeps_part_of_every_task_whatever_the_order(data):
    assert draw_programs(data, 1.0) is data
    half = draw_programs(data, 0.5)
    sizes = dict(zip(data.tasks, map(len, data.task_members()), strict=True))
    assert half.tasks == data.tasks
    assert [len(m) for m in half.task_members()] == [math.ceil(sizes[k] / 2) for k in data.tasks]
    assert set(half.keys) < set(data.keys)
    torch.testing.assert_close(half.labels, data.labels[[data.keys.index(k) for k in half.keys]])
    # The draw depends on the samples' keys, not on the order they were read in.
    flipped = data.subset(range(len(data) - 1, -1, -1))
    assert set(draw_programs(flipped, 0.5).keys) == set(half.keys)
    # A smaller share's programs are among a larger one's; the smallest keeps one per task.
    quarter = draw_programs(data, 0.25)
    assert set(quarter.keys) < set(half.keys)
    assert [len(m) for m in draw_programs(data, 0.01).task_members()] == [1] * len(data.tasks)


def test_training_on_a_program_fraction_is_training_on_its_draw(data):
    config = TrainConfig(epochs=1, tasks_per_batch=2, samples_per_task=6, fasttext=False)
    drawn, info = train(replace(config, program_fraction=0.5), _model_config(), data, data)
    direct, _ = train(config, _model_config(), draw_programs(data, 0.5), data)
    cpu = torch.device("cpu")
    torch.testing.assert_close(score_graphs(drawn, data.graphs, cpu),
                               score_graphs(direct, data.graphs, cpu))
    assert info["train_graphs"] == len(draw_programs(data, 0.5)) < len(data)


def test_several_seeds_keep_the_run_that_validates_best(data):
    config = TrainConfig(epochs=2, tasks_per_batch=2, samples_per_task=6, fasttext=False)
    model, info = train_seeds(config, _model_config(), data, data, seeds=[3, 4, 5])
    runs = {r["seed"]: selection_key(r) for r in info["seed_runs"]}
    assert sorted(runs) == [3, 4, 5]
    assert runs[info["seed"]] == max(runs.values())
    # The kept model is that seed's own run, as a single-seed training reproduces it.
    again, _ = train(replace(config, seed=info["seed"]), _model_config(), data, data)
    cpu = torch.device("cpu")
    torch.testing.assert_close(score_graphs(model, data.graphs, cpu),
                               score_graphs(again, data.graphs, cpu))
    with pytest.raises(ValueError, match="at least one seed"):
        train_seeds(config, _model_config(), data, data, seeds=[])


def test_cli_without_validation_data_is_a_clear_error(measured_dataset, tmp_path, capsys):
    from tpgnn.cli import main

    args = ["train", "--data", str(measured_dataset), "--out", str(tmp_path / "m.pt"),
            "--epochs", "1", "--no-cache", "--workers", "1"]
    assert main(args) == 1
    assert re.search(r"tpgnn train: error: .*\d+ train and 0 validation", capsys.readouterr().err)
    assert not (tmp_path / "m.pt").exists()


def test_cli_prepare_only_fills_the_cache_and_trains_nothing(measured_dataset, tmp_path,
                                                             capsys):
    from tpgnn.cli import main

    cache = tmp_path / "graphs"
    args = ["train", "--data", str(measured_dataset), "--out", str(tmp_path / "m.pt"),
            "--cache-dir", str(cache), "--workers", "1", "--prepare-only"]
    assert main(args) == 0
    assert "nothing trained" in capsys.readouterr().out
    assert list(cache.iterdir()) and not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("options", [{}, {"layer_norm": True, "residual": True},
                                     {"gate_temperature": False}, {"negative_slope": 0.01},
                                     {"cost_readout": 4}])
def test_checkpoint_round_trip_gives_identical_scores(data, tmp_path, options):
    config = TrainConfig(epochs=1, tasks_per_batch=2, samples_per_task=6, fasttext=False)
    model, _ = train(config, _model_config(**options), data, data)
    save_checkpoint(tmp_path / "m.pt", model, train_config={"epochs": 1})
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert loaded.config == model.config
    assert meta["train_config"] == {"epochs": 1}
    assert meta["vocabulary"] == list(node_type_vocabulary())
    assert set(meta["versions"]) >= {"tpgnn", "apache-tvm", "torch"}
    cpu = torch.device("cpu")
    torch.testing.assert_close(score_graphs(model, data.graphs, cpu),
                               score_graphs(loaded, data.graphs, cpu))


def test_a_checkpoint_from_before_the_gate_temperature_loads_with_the_plain_gate(data, tmp_path):
    model, _ = train(TrainConfig(epochs=1, tasks_per_batch=2, samples_per_task=6,
                                 fasttext=False),
                     _model_config(gate_temperature=False), data, data)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model)
    payload = torch.load(path, weights_only=True)
    del payload["model_config"]["gate_temperature"]  # as checkpoints made before it stored it
    torch.save(payload, path)
    loaded, _ = load_checkpoint(path)
    assert loaded.config.gate_temperature is False
    cpu = torch.device("cpu")
    torch.testing.assert_close(score_graphs(model, data.graphs, cpu),
                               score_graphs(loaded, data.graphs, cpu))


def test_checkpoint_with_another_feature_layout_is_refused(data, tmp_path):
    model, _ = train(TrainConfig(epochs=1, fasttext=False), _model_config(), data, data)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, train_config={"data_snapshot": {"shard": 3}})
    payload = torch.load(path, weights_only=True)
    payload["feature_names"] = payload["feature_names"][:-6]  # an older, shorter layout
    torch.save(payload, path)
    with pytest.raises(CheckpointMismatchError, match="node feature layout"):
        load_checkpoint(path)
    # What it was trained on stays readable (tpgnn train --data-snapshot-of), weights aside.
    meta = checkpoint_metadata(path)
    assert meta["train_config"]["data_snapshot"] == {"shard": 3}
    assert meta["feature_names"] == payload["feature_names"] and "state_dict" not in meta
