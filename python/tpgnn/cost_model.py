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
    import torch
    from tvm.s_tir.meta_schedule import TuneContext
    from tvm.s_tir.meta_schedule.runner import RunnerResult
    from tvm.s_tir.meta_schedule.search_strategy import MeasureCandidate

logger = logging.getLogger(__name__)

#: Cost MetaSchedule's own models give a failed measurement.
FAILURE_COST = 1e10

#: Target kind of the programs the shipped model was trained on (README: Dataset).
SHIPPED_MODEL_TARGET = "llvm"


def selection_scores(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``exp(logit / temperature)``: the GNN's ranking scores as MetaSchedule's search uses them.

    The evolutionary search picks mutation parents with probability proportional to their
    scores, keeps the best-scored programs across its iterations, and clamps scores at 0. A
    fixed exponential keeps the order, makes every score positive and comparable across
    calls, and turns a logit difference into odds: one logit more makes a parent ``e`` times
    as likely. (A sigmoid squashed the GNN's typical logits, 2 to 8, into 0.88 to 0.9997, so
    parents were picked almost uniformly.) Logits are clipped to +-60 so no score overflows.

    XGBModel's scores are its predicted relative throughputs; on validation
    (``benchmarks/bench_score_calibration.py``) log throughput rises by about 0.26 per logit
    within a task, so temperature 4 turns the GNN's logits into the throughput they predict,
    and temperature 2 spreads the scores as the true throughputs are spread. ``GNNModel``'s
    default, 2, was chosen on the validation network: in five seeds of ``bench_tuning_quality.py
    --network squeezenet1_0``, GNN / XGB after 64 trials per task was 0.795 on average at
    temperature 2 against 0.861 at 1, lower in four seeds of five (on average ahead from 16 to
    32 trials per task, even at 8 and 48, behind at 4). On the held-out network it did not
    repeat that gain in five seeds (README).
    """
    return (logits.double() / temperature).clamp(-60.0, 60.0).exp()


@derived_object
class GNNModel(PyCostModel):
    """Scores candidates with the GNN; refits its head on the run's own measurements.

    ``predict`` extracts each candidate's graph with the C++ pass, embeds the whole batch in
    one forward pass of the message-passing layers, and scores the embeddings with the MLP
    head, mapped by :func:`selection_scores`.

    ``update`` keeps the embedding and measured cost of every program the run has measured,
    for every task, and refits only the head on all of them: a few ranking-loss steps on
    pairs within each task, pulled towards the pretrained head by an L2 anchor. The
    message-passing layers stay frozen, so a measured program is embedded once, a step costs
    milliseconds, and every task's history is in every step: fine-tuning the whole network
    on the latest task alone pulled the shared model back and forth between tasks. Any error
    in ``update`` or ``predict`` is logged and the tuning run goes on.

    Parameters
    ----------
    checkpoint
        A ``tpgnn train`` checkpoint; default: the pretrained model shipped with tpgnn.
    device
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
    batch_size
        Candidates per forward pass; a refit step samples up to twice as many programs.
    update_steps
        Most head-refit steps per ``update`` call (0 disables online learning).
    update_seconds
        Time budget of one ``update`` call.
    update_lr
        Adam learning rate of the head refit.
    update_anchor
        Weight of the squared distance of the head's parameters from the pretrained ones.
    temperature
        Of :func:`selection_scores`: higher makes the search's choice of parents more uniform.
    seed
        Seeds the sampling of refit batches and the fallback scores.
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
        update_steps: int = 32,
        update_seconds: float = 5.0,
        update_lr: float = 1e-3,
        update_anchor: float = 1e-2,
        temperature: float = 2.0,
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
        if min(update_steps, update_seconds, update_lr, update_anchor) < 0:
            raise ValueError(
                "update_steps, update_seconds, update_lr and update_anchor must not be negative"
            )
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        reuse_freed_memory()
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.update_steps = update_steps
        self.update_seconds = update_seconds
        self.update_lr = update_lr
        self.update_anchor = update_anchor
        self.temperature = temperature
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._generator = torch.Generator().manual_seed(seed)
        #: Per task (structural hash): embeddings of its measured programs, and their costs.
        self._history: dict[str, tuple[list[torch.Tensor], list[float]]] = {}
        #: Target kinds already checked against what the model was trained on.
        self._targets_seen: set[str] = set()
        self.load(str(checkpoint or default_checkpoint_path()))

    # -- MetaSchedule interface -------------------------------------------------------------
    def load(self, path: str) -> None:
        """Load a checkpoint (raises with a clear message if it does not fit this build)."""
        import torch

        from .checkpoint import default_checkpoint_path, load_checkpoint

        self._model, self._meta = load_checkpoint(path, self.device)
        self._model.eval()
        self._optimizer = torch.optim.Adam(self._model.head.parameters(), lr=self.update_lr)
        self._anchor = [p.detach().clone() for p in self._model.head.parameters()]
        self.checkpoint = str(path)
        self._shipped = Path(path).resolve() == default_checkpoint_path().resolve()

    def save(self, path: str) -> None:
        """Save the model, its head refitted on this run, as a checkpoint."""
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
        """Record measured results and refit the head briefly; never raises into the tuner."""
        try:
            self._update(context, candidates, results)
        except Exception:  # noqa: BLE001 (the tuning run must go on)
            logger.exception("GNNModel.update failed; keeping the current model")

    def predict(self, context: TuneContext, candidates: list[MeasureCandidate]) -> np.ndarray:
        """Positive scores, higher is better; float64 ``[len(candidates)]``."""
        try:
            self._check_target(context)
            return self._predict(candidates)
        except Exception:  # noqa: BLE001 (the tuning run must go on)
            logger.exception("GNNModel.predict failed; returning random scores for this batch")
            return self._rng.uniform(size=len(candidates)).astype("float64")

    @property
    def num_online_samples(self) -> int:
        return sum(len(costs) for _, costs in self._history.values())

    # -- implementation ---------------------------------------------------------------------
    def _check_target(self, context: TuneContext) -> None:
        """Warn once per target kind when the shipped model scores programs for a target
        other than the CPU it was trained on: its ranking there was never measured. (A
        checkpoint of the user's own says nothing of its data's target, so it is trusted.)"""
        kind = str(context.target.kind.name) if context.target is not None else None
        if kind is None or kind in self._targets_seen:
            return
        self._targets_seen.add(kind)
        if self._shipped and kind != SHIPPED_MODEL_TARGET:
            logger.warning(
                "GNNModel: the shipped model was trained on programs measured on a CPU "
                "(target kind %r) and now scores programs for %r, where its ranking is "
                "untested and may be poor. For this target, tune with cost_model=\"xgb\", "
                "which learns from the run's own measurements, or pass GNNModel(checkpoint=...) "
                "a model trained on measurements for it (tpgnn train).",
                SHIPPED_MODEL_TARGET, kind,
            )

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

    def _embed(self, graphs: list) -> torch.Tensor:
        """Readouts of ``graphs`` by the frozen message-passing layers, on the device."""
        import torch

        from .batch import batch_graphs

        with torch.no_grad():
            return torch.cat([
                self._model.embed(batch_graphs(graphs[i : i + self.batch_size]).to(self.device))
                for i in range(0, len(graphs), self.batch_size)
            ])

    def _predict(self, candidates: list[MeasureCandidate]) -> np.ndarray:
        import torch

        out = np.zeros(len(candidates), dtype="float64")
        if not candidates:
            return out
        graphs, failed = self._graphs(candidates)
        if graphs:
            with torch.no_grad():
                logits = self._model.head(self._embed(graphs)).squeeze(-1)
            keep = np.setdiff1d(np.arange(len(candidates)), np.asarray(failed, dtype=int))
            out[keep] = selection_scores(logits, self.temperature).cpu().numpy()
        return out

    def _update(self, context, candidates, results) -> None:
        from tvm.s_tir.meta_schedule.utils import shash2hex

        if len(candidates) != len(results):
            raise ValueError(f"{len(candidates)} candidates but {len(results)} results")
        if not candidates:
            return
        graphs, failed = self._graphs(candidates)
        failed_set = set(failed)
        costs = [_median_cost(r) for i, r in enumerate(results) if i not in failed_set]
        if graphs:
            embeddings, task_costs = self._history.setdefault(shash2hex(context.mod), ([], []))
            embeddings.append(self._embed(graphs))
            task_costs.extend(costs)
        if self.update_steps > 0:
            self._refit_head()

    def _refit_head(self) -> None:
        """Ranking-loss steps on the head over every task's history, anchored, within budget."""
        import torch

        from .dataset import relative_throughput
        from .losses import pairwise_rank_loss

        tasks = [(torch.cat(e), c) for e, c in self._history.values() if len(c) >= 2]
        if not tasks:
            return
        x = torch.cat([e for e, _ in tasks])
        group = torch.cat([torch.full((len(c),), t) for t, (_, c) in enumerate(tasks)])
        costs = torch.tensor([cost for _, c in tasks for cost in c], dtype=torch.float64)
        y = relative_throughput(costs, group, len(tasks)).to(self.device)
        group = group.to(self.device)
        head = self._model.head
        deadline = time.monotonic() + self.update_seconds
        for _ in range(self.update_steps):
            if time.monotonic() > deadline:
                break
            idx = torch.randperm(len(x), generator=self._generator)[: 2 * self.batch_size]
            idx = idx.to(self.device)
            loss = pairwise_rank_loss(head(x[idx]).squeeze(-1), y[idx], group[idx])
            pairs = zip(head.parameters(), self._anchor, strict=True)
            drift = sum((p - p0).pow(2).sum() for p, p0 in pairs)
            self._optimizer.zero_grad()
            (loss + self.update_anchor * drift).backward()
            self._optimizer.step()


def _median_cost(result: RunnerResult) -> float:
    """Median of a result's repeats; infinite for a failed build or run."""
    secs = [float(s) for s in (result.run_secs or [])]
    if result.error_msg or not secs or min(secs) >= FAILURE_COST:
        return float("inf")
    return float(np.median(secs))
