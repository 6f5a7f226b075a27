"""``GNNModel``: TPGNN as a MetaSchedule cost model (``cost_model="gnn"``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.cost_model import PyCostModel

if TYPE_CHECKING:
    from tvm.s_tir.meta_schedule import TuneContext
    from tvm.s_tir.meta_schedule.runner import RunnerResult
    from tvm.s_tir.meta_schedule.search_strategy import MeasureCandidate

logger = logging.getLogger(__name__)

#: Cost MetaSchedule's own models give a failed measurement.
FAILURE_COST = 1e10


@derived_object
class GNNModel(PyCostModel):
    """Scores candidates with the GNN; fine-tunes on the run's own measurements.

    ``predict`` extracts each candidate's graph with the C++ pass, scores the whole batch in
    one forward pass, and maps scores through a fixed sigmoid: MetaSchedule's evolutionary
    search clamps scores at 0, samples parents in proportion to them and compares them
    across calls, so they must be non-negative and on one scale.

    ``update`` keeps every measured program per task and takes a few ranking-loss steps on
    the current task, within a time budget, so the search is never held up for long. Any
    error in ``update`` or ``predict`` is logged and the tuning run goes on.

    Parameters
    ----------
    checkpoint
        A ``tpgnn train`` checkpoint; default: the pretrained model shipped with tpgnn.
    device
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
    batch_size
        Candidates per forward pass.
    update_steps
        Most gradient steps per ``update`` call (0 disables online fine-tuning).
    update_seconds
        Time budget of one ``update`` call.
    update_lr
        Learning rate of online fine-tuning.
    seed
        Seeds the sampling of fine-tuning batches and the fallback scores.
    num_tuning_cores
        Accepted for MetaSchedule's ``CostModel.create`` contract; inference uses torch's
        thread pool as configured.
    """

    def __init__(
        self,
        *,
        checkpoint: str | Path | None = None,
        device: str = "auto",
        batch_size: int = 512,
        update_steps: int = 8,
        update_seconds: float = 5.0,
        update_lr: float = 2e-4,
        seed: int = 0,
        num_tuning_cores: int | None = None,
    ) -> None:
        super().__init__()
        import torch

        from ._memory import reuse_freed_memory
        from .checkpoint import default_checkpoint_path
        from .train import resolve_device

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if update_steps < 0 or update_seconds < 0:
            raise ValueError("update_steps and update_seconds must not be negative")
        reuse_freed_memory()
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.update_steps = update_steps
        self.update_seconds = update_seconds
        self.update_lr = update_lr
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._generator = torch.Generator().manual_seed(seed)
        self._history: dict[str, tuple[list, list[float]]] = {}
        self.load(str(checkpoint or default_checkpoint_path()))

    # -- MetaSchedule interface -------------------------------------------------------------
    def load(self, path: str) -> None:
        """Load a checkpoint (raises with a clear message if it does not fit this build)."""
        import torch

        from .checkpoint import load_checkpoint

        self._model, self._meta = load_checkpoint(path, self.device)
        self._optimizer = torch.optim.AdamW(self._model.parameters(), lr=self.update_lr)
        self.checkpoint = str(path)

    def save(self, path: str) -> None:
        """Save the (possibly fine-tuned) model as a checkpoint."""
        from .checkpoint import save_checkpoint

        save_checkpoint(
            path, self._model,
            train_config=self._meta.get("train_config"),
            metrics={**self._meta.get("metrics", {}), "online_samples": self.num_online_samples},
        )

    def update(
        self,
        context: TuneContext,
        candidates: list[MeasureCandidate],
        results: list[RunnerResult],
    ) -> None:
        """Record measured results and fine-tune briefly; never raises into the tuner."""
        try:
            self._update(context, candidates, results)
        except Exception:  # noqa: BLE001 (the tuning run must go on)
            logger.exception("GNNModel.update failed; keeping the current model")

    def predict(self, context: TuneContext, candidates: list[MeasureCandidate]) -> np.ndarray:
        """Scores in ``[0, 1]``, higher is better; float64 ``[len(candidates)]``."""
        try:
            return self._predict(candidates)
        except Exception:  # noqa: BLE001 (the tuning run must go on)
            logger.exception("GNNModel.predict failed; returning random scores for this batch")
            return self._rng.uniform(size=len(candidates)).astype("float64")

    @property
    def num_online_samples(self) -> int:
        return sum(len(costs) for _, costs in self._history.values())

    # -- implementation ---------------------------------------------------------------------
    def _graphs(self, candidates: list[MeasureCandidate]) -> tuple[list, list[int]]:
        """Graphs of the candidates that extract; indices of those that do not."""
        from .graph import extract_graph

        graphs, failed = [], []
        for i, candidate in enumerate(candidates):
            try:
                graphs.append(extract_graph(candidate.sch.mod))
            except Exception as err:  # noqa: BLE001 (one bad candidate must not sink a batch)
                logger.warning("candidate %d has no graph (%s); scored 0", i, err)
                failed.append(i)
        return graphs, failed

    def _predict(self, candidates: list[MeasureCandidate]) -> np.ndarray:
        import torch

        from .train import score_graphs

        out = np.zeros(len(candidates), dtype="float64")
        if not candidates:
            return out
        graphs, failed = self._graphs(candidates)
        if graphs:
            scores = torch.sigmoid(score_graphs(self._model, graphs, self.device, self.batch_size))
            keep = np.setdiff1d(np.arange(len(candidates)), np.asarray(failed, dtype=int))
            out[keep] = scores.double().numpy()
        return out

    def _update(self, context, candidates, results) -> None:
        import torch
        from tvm.s_tir.meta_schedule.utils import shash2hex

        from .batch import batch_graphs
        from .losses import pairwise_rank_loss

        if len(candidates) != len(results):
            raise ValueError(f"{len(candidates)} candidates but {len(results)} results")
        if not candidates:
            return
        graphs, failed = self._graphs(candidates)
        failed_set = set(failed)
        costs = [_median_cost(r) for i, r in enumerate(results) if i not in failed_set]
        key = shash2hex(context.mod)
        task_graphs, task_costs = self._history.setdefault(key, ([], []))
        task_graphs.extend(graphs)
        task_costs.extend(costs)
        if self.update_steps == 0 or len(task_costs) < 2:
            return

        cost = torch.tensor(task_costs, dtype=torch.float64)
        labels = torch.nan_to_num(cost.min() / cost, nan=0.0, posinf=0.0).float()
        deadline = time.monotonic() + self.update_seconds
        self._model.train()
        for _ in range(self.update_steps):
            if time.monotonic() > deadline:
                break
            size = min(len(task_graphs), self.batch_size // 2)
            idx = torch.randperm(len(task_graphs), generator=self._generator)[:size]
            batch = batch_graphs([task_graphs[i] for i in idx.tolist()]).to(self.device)
            loss = pairwise_rank_loss(
                self._model(batch), labels[idx].to(self.device),
                torch.zeros(size, dtype=torch.long, device=self.device),
            )
            self._optimizer.zero_grad()
            loss.backward()
            self._optimizer.step()
        self._model.eval()


def _median_cost(result: RunnerResult) -> float:
    """Median of a result's repeats; infinite for a failed build or run."""
    secs = [float(s) for s in (result.run_secs or [])]
    if result.error_msg or not secs or min(secs) >= FAILURE_COST:
        return float("inf")
    return float(np.median(secs))
