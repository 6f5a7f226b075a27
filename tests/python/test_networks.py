"""Networks as MetaSchedule tasks: weights, caching, and the registry's contract."""

from __future__ import annotations

import pytest

from tpgnn.networks import NETWORKS, build_network, load_network_tasks

TARGET = {"kind": "llvm", "num-cores": 1}


def test_registry_has_the_required_networks():
    assert {"resnet18", "mobilenet_v2", "inception_v3"} <= set(NETWORKS)


def test_unknown_network_is_a_value_error():
    with pytest.raises(ValueError, match="network must be one of"):
        build_network("no_such_network")


@pytest.mark.slow
def test_bert_layer_tasks_are_cached_and_weighted(tmp_path):
    import tvm_ffi

    tasks = load_network_tasks("bert_layer", TARGET, tmp_path)
    assert (tmp_path / "bert_layer.json").exists()
    cached = load_network_tasks("bert_layer", TARGET, tmp_path)
    assert [t.task_name for t in cached] == [t.task_name for t in tasks]
    assert all(tvm_ffi.structural_equal(a.mod, b.mod) for a, b in zip(tasks, cached, strict=True))
    assert sum(t.weight for t in tasks) > len(tasks)  # some workloads are used twice
    assert any("matmul" in t.task_name for t in tasks)


@pytest.mark.slow
def test_resnet18_builds_without_weights():
    model, example = build_network("resnet18")
    assert tuple(example.shape) == (1, 3, 224, 224)
    assert not model.training


@pytest.mark.slow
def test_googlenet_299_runs_at_inception_resolution():
    import torch

    model, example = build_network("googlenet_299")
    assert tuple(example.shape) == (1, 3, 299, 299)
    with torch.no_grad():
        logits = model(example)
    assert tuple(logits.shape) == (1, 1000)  # no auxiliary heads: one output tensor


@pytest.mark.slow
def test_efficientnet_and_regnet_bring_kernels_the_others_lack():
    from torch import nn

    effnet = list(build_network("efficientnet_b0")[0].modules())
    regnet = list(build_network("regnet_x_400mf")[0].modules())
    depthwise_5x5 = [
        m for m in effnet
        if isinstance(m, nn.Conv2d) and m.kernel_size == (5, 5) and m.groups == m.in_channels > 1
    ]
    assert depthwise_5x5 and any(isinstance(m, nn.Sigmoid) for m in effnet)  # SE gates
    grouped = [m for m in regnet if isinstance(m, nn.Conv2d) and 1 < m.groups < m.in_channels]
    assert grouped  # grouped, not depthwise
