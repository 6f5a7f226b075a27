"""Tests of tpgnn.holdout and ``tpgnn evaluate``'s leave-one-network-out rows.

The dataset is measured by the real collector: four networks of tiny workloads,
- ``alpha`` and ``beta`` share a matmul (training; neither owns it),
- ``beta`` alone uses a softmax, and shares a second matmul only with ``gamma``,
- ``gamma`` is the validation network, ``delta`` the test network.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tpgnn.dataset import load_graph_set
from tpgnn.holdout import hold_out_network


@pytest.fixture(scope="module")
def four_networks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tpgnn.collect.collector import collect
    from tpgnn.collect.workloads import merge_tasks
    from tpgnn.networks import NetworkTask
    from tpgnn.operators import matmul, softmax

    sys.path.insert(0, str(Path(__file__).parent / "collect"))
    from collect_helpers import small_config

    shared, with_val = matmul(32, 32, 32), matmul(24, 24, 24)
    workloads = merge_tasks([
        NetworkTask("alpha", "matmul", 2, shared),
        NetworkTask("beta", "matmul", 1, shared),
        NetworkTask("beta", "softmax", 3, softmax(32, 32)),
        NetworkTask("beta", "matmul_1", 1, with_val),
        NetworkTask("gamma", "matmul", 1, with_val),
        NetworkTask("gamma", "matmul_1", 1, matmul(16, 16, 16)),
        NetworkTask("delta", "matmul", 1, matmul(8, 8, 8)),
    ])
    data_dir = tmp_path_factory.mktemp("four_networks")
    config = small_config(data_dir, networks=("alpha", "beta", "gamma", "delta"),
                          samples_per_workload=10, val_networks=("gamma",),
                          test_networks=("delta",))
    collect(config, workloads)
    return data_dir


def test_a_network_owns_what_no_other_training_network_uses(four_networks):
    train = load_graph_set(four_networks, ["train"], cache_dir=None, workers=1)
    split = hold_out_network(train, "beta", held_out=["delta", "gamma"])
    assert sorted(split.train_indices + split.owned_indices) == list(range(len(train)))

    def users(indices) -> set[tuple[str, ...]]:
        return {tuple(sorted(train.task_info[train.tasks[int(train.task_index[i])]]["networks"]))
                for i in indices}

    assert users(split.train_indices) == {("alpha", "beta")}
    assert users(split.owned_indices) == {("beta",), ("beta", "gamma")}


def test_a_network_that_owns_nothing_or_is_held_out_already_is_refused(four_networks):
    train = load_graph_set(four_networks, ["train"], cache_dir=None, workers=1)
    with pytest.raises(ValueError, match="alpha owns no workload"):
        hold_out_network(train, "alpha", held_out=["delta", "gamma"])
    with pytest.raises(ValueError, match="gamma is held out by the dataset's split"):
        hold_out_network(train, "gamma", held_out=["delta", "gamma"])


@pytest.mark.slow
def test_evaluate_adds_a_leave_one_network_out_row(four_networks, tmp_path):
    from tpgnn.cli import main

    out = tmp_path / "eval.json"
    code = main(["evaluate", "--data", str(four_networks), "--train-data", str(four_networks),
                 "--holdout-networks", "beta", "--holdout-epochs", "1", "--json", str(out),
                 "--workers", "1", "--cache-dir", str(tmp_path),
                 "--feature-cache-dir", str(tmp_path)])
    assert code == 0
    report = json.loads(out.read_text())
    assert "leave-one-network-out" in report["protocol"]["beta"]
    assert "test split" in report["protocol"]["delta"]
    for model in ("gnn", "xgb", "mlp"):
        assert report[model]["beta"]["num_tasks"] == 2  # the softmax and the shared-with-val matmul
        assert 0 < report[model]["beta"]["top1"] <= 1
        assert report[model]["delta"]["num_tasks"] == 1
        assert report[model]["resnet18"]["top1"] is None  # not in this dataset: an empty row


def test_holdout_needs_a_tpgnn_dataset_to_refit_on(four_networks, tmp_path, capsys):
    from tpgnn.cli import main

    user_database = four_networks / "shards" / next(iter(sorted(
        p.name for p in (four_networks / "shards").iterdir())))
    code = main(["evaluate", "--data", str(user_database), "--train-data", str(user_database),
                 "--holdout-networks", "beta", "--workers", "1", "--cache-dir", str(tmp_path),
                 "--feature-cache-dir", str(tmp_path)])
    assert code == 1
    assert "--holdout-networks needs a TPGNN dataset" in capsys.readouterr().err


def test_evaluate_refuses_a_network_that_owns_nothing_before_fitting(four_networks, tmp_path):
    from tpgnn.cli import main

    out = tmp_path / "eval.json"
    with pytest.raises(ValueError, match="alpha owns no workload"):
        main(["-v", "evaluate", "--data", str(four_networks), "--train-data",
              str(four_networks), "--holdout-networks", "alpha", "--json", str(out),
              "--workers", "1", "--cache-dir", str(tmp_path),
              "--feature-cache-dir", str(tmp_path)])
    assert not out.exists()
