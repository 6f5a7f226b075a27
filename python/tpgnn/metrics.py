"""Ranking metrics of a cost model on measured tasks (TenSet's, plus pairwise accuracy).

A model's scores matter only within a task: the tuner compares candidates of one task.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TaskScores:
    """One task's measured costs (seconds, ``inf`` for failures) and a model's scores."""

    costs: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    weight: float = 1.0


@dataclass(frozen=True)
class RankingMetrics:
    """Aggregated metrics; ``top1`` and ``top5`` are TenSet's top-k scores (1 is perfect)."""

    top1: float
    top5: float
    pairwise_accuracy: float
    rmse: float
    num_tasks: int
    num_samples: int

    def to_dict(self) -> dict:
        return asdict(self)


def best_in_top_k(task: TaskScores, k: int) -> float:
    """The lowest true cost among the ``k`` best-scored programs."""
    k = min(k, len(task.scores))
    picks = torch.topk(task.scores, k).indices
    return float(task.costs[picks].min())


def pairwise_accuracy(task: TaskScores) -> tuple[int, int]:
    """(correctly ordered pairs, pairs with different labels) within one task."""
    diff_label = task.labels.unsqueeze(0) - task.labels.unsqueeze(1)
    diff_score = task.scores.unsqueeze(0) - task.scores.unsqueeze(1)
    mask = diff_label > 0
    correct = int(((diff_score > 0) & mask).sum())
    return correct, int(mask.sum())


#: Columns of :func:`task_totals`: the per-task sums the pooled metrics are ratios of.
TOTALS = ("best", "top1", "top5", "correct", "pairs")


def measured_tasks(tasks: Sequence[TaskScores]) -> list[TaskScores]:
    """The tasks with at least one finite cost: a task whose every program failed has no
    best to score picks against."""
    return [t for t in tasks if len(t.costs) > 0 and math.isfinite(float(t.costs.min()))]


def task_totals(tasks: Sequence[TaskScores]) -> np.ndarray:
    """``[T, 5]``: per measured task, ``w * best``, ``w * cost of the top pick``, ``w * best of
    the top 5``, correctly ordered pairs and pairs (columns :data:`TOTALS`).

    Summed over any set of tasks they give that set's pooled metrics (:func:`pooled_metrics`),
    which is what lets :mod:`tpgnn.bootstrap` redraw the tasks without rescoring them.
    """
    rows = []
    for t in measured_tasks(tasks):
        correct, pairs = pairwise_accuracy(t)
        rows.append([t.weight * float(t.costs.min()), t.weight * best_in_top_k(t, 1),
                     t.weight * best_in_top_k(t, 5), correct, pairs])
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(TOTALS))


def pooled_metrics(totals: np.ndarray) -> dict[str, np.ndarray]:
    """Top-1, top-5 and pairwise accuracy from summed :func:`task_totals` (``[..., 5]``, any
    leading shape); NaN where there are no pairs."""
    best, top1, top5, correct, pairs = np.moveaxis(totals, -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"top1": best / top1, "top5": best / top5, "pairwise_accuracy": correct / pairs}


def ranking_metrics(tasks: Sequence[TaskScores]) -> RankingMetrics:
    """Aggregate over tasks.

    - ``top1`` / ``top5``: ``sum_t w_t * best_t / sum_t w_t * best_in_top_k_t`` (TenSet's
      network-level score: the latency the picks would give relative to the best measured).
    - ``pairwise_accuracy``: correctly ordered pairs over all pairs with different labels,
      pooled over tasks.
    - ``rmse``: of scores against normalised throughput, pooled over samples (meaningful for
      regression-trained models only; ranking losses do not calibrate scores).
    """
    tasks = measured_tasks(tasks)
    if not tasks:
        nan = float("nan")
        return RankingMetrics(nan, nan, nan, nan, 0, 0)
    pooled = pooled_metrics(task_totals(tasks).sum(0))
    errors = torch.cat([(t.scores.double() - t.labels.double()) ** 2 for t in tasks])
    return RankingMetrics(
        top1=float(pooled["top1"]),
        top5=float(pooled["top5"]),
        pairwise_accuracy=float(pooled["pairwise_accuracy"]),
        rmse=float(errors.mean().sqrt()),
        num_tasks=len(tasks),
        num_samples=int(sum(len(t.costs) for t in tasks)),
    )
