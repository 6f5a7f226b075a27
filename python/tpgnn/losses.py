"""Training objectives: regression on normalised throughput, or ranking within tasks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("rank", "lambdarank", "huber")


def huber_loss(
    scores: torch.Tensor, labels: torch.Tensor, task_index: torch.Tensor
) -> torch.Tensor:
    """Huber (smooth L1, delta 1) on normalised throughput, the regression the seed used."""
    return F.smooth_l1_loss(scores, labels)


def pairwise_rank_loss(
    scores: torch.Tensor, labels: torch.Tensor, task_index: torch.Tensor
) -> torch.Tensor:
    """RankNet loss over every pair of one task whose labels differ.

    ``mean(log(1 + exp(-(s_i - s_j))))`` over pairs with ``label_i > label_j``: only the order
    within a task matters to the tuner, so nothing forces scores across tasks to agree.
    """
    same_task = task_index.unsqueeze(0) == task_index.unsqueeze(1)
    better = (labels.unsqueeze(1) > labels.unsqueeze(0)) & same_task  # [i, j]: i beats j
    if not bool(better.any()):
        return scores.sum() * 0.0
    margin = scores.unsqueeze(1) - scores.unsqueeze(0)
    return F.softplus(-margin[better]).mean()


def lambdarank_loss(
    scores: torch.Tensor, labels: torch.Tensor, task_index: torch.Tensor
) -> torch.Tensor:
    """RankNet pairs weighted by how much swapping them changes the task's NDCG (LambdaRank).

    A tuner measures only the top of the ranking, so an inversion between the best programs
    must cost more than one among the slow ones. The gain of a program is its label (throughput
    relative to the task's best); the weight of a pair is ``|g_i - g_j| * |1/log2(1 + r_i) -
    1/log2(1 + r_j)| / IDCG`` with ranks ``r`` by the current scores within the task.
    """
    same_task = task_index.unsqueeze(0) == task_index.unsqueeze(1)
    better = (labels.unsqueeze(1) > labels.unsqueeze(0)) & same_task
    if not bool(better.any()):
        return scores.sum() * 0.0
    with torch.no_grad():
        s = scores.detach()
        rank = 1 + ((s.unsqueeze(0) > s.unsqueeze(1)) & same_task).sum(1)  # 1 = best scored
        ideal_rank = 1 + ((labels.unsqueeze(0) > labels.unsqueeze(1)) & same_task).sum(1)
        discount = 1.0 / torch.log2(1.0 + rank.to(scores.dtype))
        ideal = labels / torch.log2(1.0 + ideal_rank.to(scores.dtype))
        idcg = (ideal.unsqueeze(0) * same_task).sum(1).clamp(min=1e-12)  # per row's task
        weight = (
            (labels.unsqueeze(1) - labels.unsqueeze(0)).abs()
            * (discount.unsqueeze(1) - discount.unsqueeze(0)).abs()
            / idcg.unsqueeze(1)
        )
        weight = weight[better]
        weight = weight / weight.sum().clamp(min=1e-12)
    margin = scores.unsqueeze(1) - scores.unsqueeze(0)
    return (F.softplus(-margin[better]) * weight).sum()


def loss_function(name: str):
    """The loss called ``name`` (one of :data:`LOSSES`)."""
    if name == "rank":
        return pairwise_rank_loss
    if name == "lambdarank":
        return lambdarank_loss
    if name == "huber":
        return huber_loss
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
