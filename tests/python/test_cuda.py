"""CUDA runs the same code path as the CPU: training, checkpoints and ``GNNModel``.

Skipped where torch sees no CUDA device (CI has none); run them on a GPU machine with
``pytest tests/python/test_cuda.py``. The other tests also reach CUDA there, since
``device="auto"`` is the default; these compare the two devices directly.

Scores are compared by their order, not their values: PyG's ``TopKPooling`` breaks ties
between equal node scores with an unstable sort, so a graph's logit may differ slightly
between devices (see the README's note on devices).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tvm.s_tir import meta_schedule as ms

import tpgnn
from tpgnn.checkpoint import default_checkpoint_path, load_checkpoint, save_checkpoint
from tpgnn.dataset import load_graph_set
from tpgnn.graph import edge_type_names, node_feature_names, node_type_vocabulary
from tpgnn.metrics import TaskScores, pairwise_accuracy
from tpgnn.model import ModelConfig
from tpgnn.operators import softmax
from tpgnn.sampling import llvm_target, sample_candidates
from tpgnn.train import TrainConfig, score_graphs, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CPU = torch.device("cpu")
CUDA = torch.device("cuda")


def _order_agreement(reference: np.ndarray, scores: np.ndarray) -> float:
    """Share of the pairs ``reference`` orders (ties left out) that ``scores`` orders alike."""
    ref = torch.as_tensor(reference, dtype=torch.float64)
    task = TaskScores(costs=ref, scores=torch.as_tensor(scores, dtype=torch.float64), labels=ref)
    correct, total = pairwise_accuracy(task)
    return correct / total


@pytest.fixture(scope="module")
def data(measured_dataset):
    return load_graph_set(measured_dataset, None, cache_dir=None, workers=1)


def test_training_on_cuda_gives_a_model_the_cpu_loads(data, tmp_path):
    config = TrainConfig(
        epochs=2, tasks_per_batch=2, samples_per_task=6, fasttext=False, device="cuda", seed=1
    )
    model_config = ModelConfig(
        len(node_type_vocabulary()),
        len(node_feature_names()),
        len(edge_type_names()),
        hidden_dim=16,
        type_embedding_dim=8,
    )
    torch.cuda.reset_peak_memory_stats()
    model, info = train(config, model_config, data, data)
    assert torch.cuda.max_memory_allocated() > 0, "training did not run on the GPU"
    assert len(info["history"]) == 2
    assert all(np.isfinite(h["loss"]) for h in info["history"])

    save_checkpoint(tmp_path / "m.pt", model)  # train() hands the model back on the CPU
    on_cuda = score_graphs(model.to(CUDA), data.graphs, CUDA).numpy()
    loaded, _ = load_checkpoint(tmp_path / "m.pt", CPU)
    on_cpu = score_graphs(loaded, data.graphs, CPU).numpy()
    assert np.all(np.isfinite(on_cuda)) and len(np.unique(on_cuda)) > 1
    assert _order_agreement(on_cpu, on_cuda) >= 0.9


def test_shipped_model_ranks_alike_on_both_devices(data):
    cpu_model, _ = load_checkpoint(default_checkpoint_path(), CPU)
    cuda_model, _ = load_checkpoint(default_checkpoint_path(), CUDA)
    on_cpu = score_graphs(cpu_model, data.graphs, CPU).numpy()
    on_cuda = score_graphs(cuda_model, data.graphs, CUDA).numpy()
    assert _order_agreement(on_cpu, on_cuda) >= 0.9


def test_gnnmodel_on_cuda_predicts_and_updates_like_on_cpu():
    mod = softmax(64, 64)
    context = ms.TuneContext(mod=mod, target=llvm_target(), task_name="softmax")
    candidates = sample_candidates(mod, 16, seed=5)
    results = [
        ms.runner.RunnerResult(run_secs=[1e-4 * (1 + i)], error_msg=None)
        for i in range(len(candidates))
    ]

    scores = {}
    for device in ("cpu", "cuda"):
        model = tpgnn.GNNModel(device=device, update_steps=200, update_seconds=1e9, seed=2)
        assert next(model._model.parameters()).device.type == device
        before = model.predict(context, candidates)
        model.update(context, candidates, results)
        scores[device] = (before, model.predict(context, candidates))
    for i in range(2):
        assert _order_agreement(scores["cpu"][i], scores["cuda"][i]) >= 0.9
    # Candidate 0 measured fastest, 1 next, ...: the refit head learns that order on CUDA too.
    measured = -np.arange(len(candidates), dtype=float)
    before, after = scores["cuda"]
    assert _order_agreement(measured, after) > max(_order_agreement(measured, before), 0.75)
