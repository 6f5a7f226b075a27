"""Training objectives: regression on normalised throughput, or ranking within tasks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("rank", "huber")


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


def loss_function(name: str):
    """The loss called ``name`` (one of :data:`LOSSES`)."""
    if name == "rank":
        return pairwise_rank_loss
    if name == "huber":
        return huber_loss
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
