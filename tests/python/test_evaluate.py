"""Tests of tpgnn.evaluate and tpgnn.baselines, end to end on a small measured dataset."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from tpgnn.baselines import (
    MLPConfig,
    fit_mlp,
    fit_xgb,
    load_store_features,
    predict_mlp,
    predict_xgb,
)
from tpgnn.dataset import load_graph_set


@pytest.fixture(scope="module")
def data(measured_dataset):
    return load_graph_set(measured_dataset, None, cache_dir=None, workers=1)


@pytest.fixture(scope="module")
def features(measured_dataset, data):
    return load_store_features(measured_dataset, data.keys, cache_dir=None, workers=1)


def test_store_features_align_with_samples(features, data):
    assert len(features) == len(data)
    assert all(f is not None and f.ndim == 2 and f.shape[1] == 164 for f in features)


def test_baselines_fit_and_predict(features, data):
    labels = data.labels.numpy()
    xgb = fit_xgb(features, labels)
    mlp = fit_mlp(features, labels, data.task_index.numpy())
    for scores in (predict_xgb(xgb, features), predict_mlp(mlp, features)):
        assert scores.shape == (len(data),) and scores.dtype == np.float64
        assert np.isfinite(scores).all()


def test_the_mlp_trains_the_same_whatever_the_caller_s_thread_count():
    # 512 programs of 80 stores make a batch large enough that torch splits its sums by
    # thread; before the MLP trained on one thread, one and two threads gave other weights.
    rng = np.random.default_rng(0)
    features = [rng.random((80, 164), dtype=np.float32) for _ in range(1024)]
    labels, tasks = rng.random(1024).astype(np.float32), np.repeat(np.arange(32), 32)
    threads = torch.get_num_threads()
    weights = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            model = fit_mlp(features, labels, tasks, MLPConfig(epochs=1))
            assert torch.get_num_threads() == count  # restored
            weights.append(model.state_dict())
    finally:
        torch.set_num_threads(threads)
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


@pytest.mark.slow
def test_evaluate_command_on_a_user_database(measured_dataset, tmp_path, monkeypatch, capsys):
    from tpgnn.cli import main

    out = tmp_path / "eval.json"
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    # The tiny shard, read as a plain MetaSchedule database; baselines fit on the dataset.
    code = main(["evaluate", "--data", str(measured_dataset / "shards" / "tiny"),
                 "--train-data", str(measured_dataset), "--json", str(out),
                 "--plot-dir", str(tmp_path), "--workers", "1",
                 "--cache-dir", str(tmp_path / "graphs"),
                 "--feature-cache-dir", str(tmp_path / "features")])
    assert code == 0
    # A featured network without tasks here gets one line in the table, not rows of NaN.
    printed = capsys.readouterr().out
    assert "inception_v3" in printed and "no tasks in the evaluation data" in printed
    assert "nan" not in printed
    # Both caches go where they were told, nothing into the working directory.
    assert list((tmp_path / "features").glob("*per-store-feature*"))
    assert list((tmp_path / "graphs").iterdir())
    assert not list(workdir.iterdir())
    # Strict JSON: a network without test tasks has null metrics, not NaN.
    report = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert report["gnn"]["inception_v3"]["top1"] is None
    for model in ("gnn", "xgb", "mlp"):
        row = report[model]["overall"]
        assert set(row) >= {"top1", "top5", "pairwise_accuracy", "rmse"}
        assert 0 < row["top1"] <= 1
        assert "resnet18" in report[model] and "inception_v3" in report[model]
    # Per task, the seconds the overall top-k scores are made of.
    tasks = [t for t in report["tasks"].values() if t["best_seconds"] is not None]
    assert tasks
    best = sum(t["weight"] * t["best_seconds"] for t in tasks)
    for model in ("gnn", "xgb", "mlp"):
        for k in (1, 5):
            # A failed pick is infinitely slow (null in JSON).
            picked = [(t[model][f"top{k}_seconds"] or math.inf, t) for t in tasks]
            assert all(seconds >= t["best_seconds"] for seconds, t in picked)
            total = sum(t["weight"] * seconds for seconds, t in picked)
            assert report[model]["overall"][f"top{k}"] == pytest.approx(best / total)
    # The paired bootstrap's interval brackets the overall figure.
    interval = report["gnn_vs_xgb_interval"]
    assert interval["tasks"] == len(tasks)
    for name, value in report["gnn_vs_xgb"].items():
        assert interval[name]["estimate"] == pytest.approx(value)
        assert interval[name]["low"] <= value <= interval[name]["high"]
    assert (tmp_path / "predicted_vs_measured.png").exists()
    assert (tmp_path / "top1_per_network.png").exists()
