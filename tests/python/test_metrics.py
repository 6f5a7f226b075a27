"""Tests of tpgnn.metrics on hand-made tasks."""

from __future__ import annotations

import math

import pytest
import torch

from tpgnn.metrics import TaskScores, best_in_top_k, pairwise_accuracy, ranking_metrics


def _task(costs, scores, weight=1.0) -> TaskScores:
    costs = torch.tensor(costs, dtype=torch.float64)
    return TaskScores(costs, torch.tensor(scores), (costs.min() / costs).float(), weight)


def test_perfect_model():
    m = ranking_metrics([_task([1.0, 2.0, 4.0], [3.0, 2.0, 1.0])])
    assert m.top1 == 1.0 and m.top5 == 1.0 and m.pairwise_accuracy == 1.0


def test_reversed_model():
    task = _task([1.0, 2.0, 4.0], [1.0, 2.0, 3.0])
    assert pairwise_accuracy(task) == (0, 3)
    assert best_in_top_k(task, 1) == 4.0
    assert ranking_metrics([task]).top1 == pytest.approx(0.25)


def test_top_k_is_weighted_like_tenset():
    a = _task([1.0, 2.0], [0.0, 1.0], weight=3.0)  # picks 2.0 instead of 1.0
    b = _task([10.0, 20.0], [1.0, 0.0], weight=1.0)  # picks the best
    expected = (3 * 1.0 + 1 * 10.0) / (3 * 2.0 + 1 * 10.0)
    assert ranking_metrics([a, b]).top1 == pytest.approx(expected)


def test_failures_are_never_the_best_pick():
    task = _task([1.0, math.inf], [0.0, 5.0])
    assert ranking_metrics([task]).top1 == 0.0


def test_no_tasks_gives_nan():
    assert math.isnan(ranking_metrics([]).top1)
