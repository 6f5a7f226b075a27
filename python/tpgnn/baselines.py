"""The baselines TPGNN is measured against, on MetaSchedule's ``PerStoreFeature`` features.

- ``xgb``: MetaSchedule's own ``XGBModel`` (its features, objective, parameters and early
  stopping), fitted once on the training split through its ``_train``.
- ``mlp``: the TenSet MLP (a per-store MLP summed per program, features scaled by their
  training maximum), trained here with torch: MetaSchedule's ``mlp_model`` port does not
  train on torch 2.13.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

#: Bump when PerStoreFeature settings or the packing below change.
FEATURE_SIGNATURE = "per-store-feature/1"


def extract_shard_features(shard_dir: str) -> dict:
    """PerStoreFeature of every sample of one shard (runs in a worker process)."""
    from tvm.s_tir import meta_schedule as ms

    from .dataset import measured_candidates
    from .sampling import llvm_target

    context = ms.TuneContext(target=llvm_target(), num_threads=1)
    extractor = ms.feature_extractor.PerStoreFeature()
    features, records, stores, failed = [], [], [], []
    for s, candidate, error in measured_candidates(shard_dir):
        if candidate is not None:
            try:
                (f,) = extractor.extract_from(context, [candidate])
            except Exception as err:  # noqa: BLE001 (reported by the caller, not fatal)
                error = f"{type(err).__name__}: {err}"
        if error is not None:
            failed.append((s.record, error))
            continue
        array = torch.from_numpy(f.numpy().astype(np.float32))
        features.append(array)
        records.append(s.record)
        stores.append(array.shape[0])
    return {
        "features": torch.cat(features) if features else torch.zeros(0, 0),
        "record": torch.tensor(records, dtype=torch.long),
        "num_stores": torch.tensor(stores, dtype=torch.long),
        "failed": failed,
    }


def load_store_features(
    data_dir: str | Path,
    keys: Sequence[tuple[str, int]],
    *,
    cache_dir: str | Path | None = "cache/features",
    workers: int = 2,
) -> list[np.ndarray | None]:
    """PerStoreFeature arrays ``[num_stores, 164]`` aligned with ``keys`` (``None`` where a
    sample has none)."""
    from .dataset import dataset_layout, load_packed_shards

    dirs, _ = dataset_layout(data_dir)
    wanted = {name for name, _ in keys}
    packed = load_packed_shards(
        [d for d in dirs if d.name in wanted], Path(cache_dir) if cache_dir else None, workers,
        extract=extract_shard_features, signature=FEATURE_SIGNATURE.replace("/", "-"),
    )
    lookup: dict[tuple[str, int], np.ndarray] = {}
    for name, p in packed.items():
        parts = torch.split(p["features"], p["num_stores"].tolist()) if len(p["record"]) else []
        for record, part in zip(p["record"].tolist(), parts, strict=True):
            lookup[(name, record)] = part.numpy()
    return [lookup.get(k) for k in keys]


def fit_xgb(features: Sequence[np.ndarray], labels: np.ndarray, num_threads: int = 2):
    """MetaSchedule's XGBModel fitted on all the given programs at once."""
    from tvm.s_tir.meta_schedule.cost_model import XGBModel

    model = XGBModel(num_tuning_cores=num_threads, verbose_eval=0)
    model._train(xs=list(features), ys=np.asarray(labels, dtype=np.float32))
    return model


def predict_xgb(model, features: Sequence[np.ndarray]) -> np.ndarray:
    return model._predict(xs=list(features)).astype(np.float64)


class SegmentSumMLP(nn.Module):
    """TenSet's MLP: ``score(program) = sum over stores of MLP(store features)``.

    Parameters
    ----------
    in_features
        Features per store (164 for PerStoreFeature).
    hidden
        Width of the two hidden layers.
    """

    def __init__(self, in_features: int, hidden: int = 256) -> None:
        super().__init__()
        self.in_features, self.hidden = in_features, hidden
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )
        self.register_buffer("scale", torch.ones(in_features))

    def reset_parameters(self) -> None:
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def forward(self, stores: torch.Tensor, program: torch.Tensor, num_programs: int):
        """``stores`` ``[S, F]``, ``program`` ``[S]`` (program of each store) -> ``[P]``."""
        per_store = self.net(stores / self.scale).squeeze(-1)
        return per_store.new_zeros(num_programs).index_add_(0, program, per_store)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_features}, hidden={self.hidden})"


@dataclass(frozen=True)
class MLPConfig:
    hidden: int = 256
    epochs: int = 30
    batch_programs: int = 512
    lr: float = 7e-4
    loss: str = "rank"
    seed: int = 0


def _stack(features: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    stores = torch.from_numpy(np.concatenate(features)).float()
    counts = torch.tensor([len(f) for f in features])
    return stores, torch.repeat_interleave(torch.arange(len(features)), counts)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch's CPU kernels on one thread inside the block, then restore the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@one_torch_thread()
def fit_mlp(
    features: Sequence[np.ndarray], labels: np.ndarray, task_index: np.ndarray,
    config: MLPConfig = MLPConfig(),
    loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> SegmentSumMLP:
    """Train the TenSet MLP with the same losses as the GNN (batches grouped by task), or with
    ``loss`` (``(scores, labels, task_index) -> loss``, e.g. an objective under study) in
    place of ``config.loss``.

    Training runs on one thread, so a seed gives the same model on any machine's core count:
    torch's CPU kernels split large sums by thread, and on the shipped model's training
    programs one and two threads trained other weights. One thread is also the faster here
    beside other work (17 s for 30 epochs; two threads beside a training run took minutes).
    """
    from .losses import loss_function

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = SegmentSumMLP(features[0].shape[1], config.hidden)
    all_stores, _ = _stack(features)
    model.scale.copy_(all_stores.abs().amax(0).clamp(min=1e-6))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = loss or loss_function(config.loss)
    labels_t = torch.as_tensor(labels, dtype=torch.float32)
    tasks_t = torch.as_tensor(task_index, dtype=torch.long)
    for _ in range(config.epochs):
        order = np.argsort(tasks_t.numpy() * 1.0 + rng.random(len(labels)), kind="stable")
        starts = rng.permutation(np.arange(0, len(order), config.batch_programs))
        for start in starts:
            idx = order[start : start + config.batch_programs]
            stores, program = _stack([features[i] for i in idx])
            scores = model(stores, program, len(idx))
            loss = loss_fn(scores, labels_t[idx], tasks_t[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def predict_mlp(model: SegmentSumMLP, features: Sequence[np.ndarray]) -> np.ndarray:
    stores, program = _stack(features)
    return model(stores, program, len(features)).double().numpy()
