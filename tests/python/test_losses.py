"""Tests of tpgnn.losses."""

from __future__ import annotations

import pytest
import torch

from tpgnn.losses import huber_loss, lambdarank_loss, loss_function, pairwise_rank_loss


@pytest.mark.parametrize("loss", [pairwise_rank_loss, lambdarank_loss])
def test_ranking_losses_prefer_the_right_order(loss):
    labels = torch.tensor([1.0, 0.5, 0.1])
    tasks = torch.zeros(3, dtype=torch.long)
    right = loss(torch.tensor([3.0, 2.0, 1.0]), labels, tasks)
    wrong = loss(torch.tensor([1.0, 2.0, 3.0]), labels, tasks)
    assert right < wrong


def test_rank_loss_gradient_pushes_the_better_program_up():
    scores = torch.zeros(2, requires_grad=True)
    tasks = torch.zeros(2, dtype=torch.long)
    pairwise_rank_loss(scores, torch.tensor([1.0, 0.2]), tasks).backward()
    assert scores.grad[0] < 0 < scores.grad[1]


@pytest.mark.parametrize("loss", [pairwise_rank_loss, lambdarank_loss])
def test_ranking_losses_ignore_pairs_across_tasks_and_ties(loss):
    labels = torch.tensor([1.0, 0.1, 0.5, 0.5])
    scores = torch.tensor([0.0, 5.0, 1.0, 2.0], requires_grad=True)
    value = loss(scores, labels, torch.tensor([0, 1, 2, 2]))
    assert value.item() == 0.0
    value.backward()
    assert torch.equal(scores.grad, torch.zeros(4))


def test_lambdarank_charges_an_inversion_at_the_top_more_than_one_at_the_bottom():
    labels = torch.tensor([1.0, 0.9, 0.2, 0.1])
    tasks = torch.zeros(4, dtype=torch.long)
    top_swapped = torch.tensor([3.0, 4.0, 2.0, 1.0])
    bottom_swapped = torch.tensor([4.0, 3.0, 1.0, 2.0])
    # The same set of score margins, so RankNet cannot tell them apart; LambdaRank can.
    assert torch.isclose(
        pairwise_rank_loss(top_swapped, labels, tasks),
        pairwise_rank_loss(bottom_swapped, labels, tasks),
    )
    assert lambdarank_loss(top_swapped, labels, tasks) > lambdarank_loss(
        bottom_swapped, labels, tasks
    )


def test_huber_is_zero_at_the_labels():
    labels = torch.tensor([0.3, 1.0])
    assert float(huber_loss(labels.clone(), labels, torch.zeros(2, dtype=torch.long))) == 0.0


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss must be one of"):
        loss_function("listnet")
