"""Tests of tpgnn.bootstrap on hand-made tasks, against tpgnn.metrics' own pooling."""

from __future__ import annotations

import math

import pytest
import torch

from tpgnn.bootstrap import compare_models, format_comparison, task_totals
from tpgnn.metrics import TaskScores, ranking_metrics


def _task(costs, scores, weight=1.0) -> TaskScores:
    costs = torch.tensor(costs, dtype=torch.float64)
    return TaskScores(costs, torch.tensor(scores), (costs.min() / costs).float(), weight)


def _tasks(seed: int, noise: float, num_tasks: int = 30) -> list[TaskScores]:
    """Tasks of 20 programs each, scored by a model that sees -cost plus noise."""
    g = torch.Generator().manual_seed(seed)
    tasks = []
    for t in range(num_tasks):
        costs = torch.rand(20, generator=g, dtype=torch.float64) * (t + 1) + 0.1
        scores = -costs.float() + noise * torch.randn(20, generator=g)
        tasks.append(TaskScores(costs, scores, (costs.min() / costs).float(), 1 + t % 3))
    return tasks


def test_the_estimates_are_the_pooled_metrics():
    good, poor = _tasks(0, 0.3), _tasks(0, 3.0)
    out = compare_models(good, poor, draws=200)
    for side, tasks in (("model", good), ("baseline", poor)):
        metrics = ranking_metrics(tasks)
        assert out[side]["top1"]["estimate"] == pytest.approx(metrics.top1)
        assert out[side]["pairwise_accuracy"]["estimate"] == pytest.approx(
            metrics.pairwise_accuracy)
    reduction = 1 - (1 - ranking_metrics(good).top1) / (1 - ranking_metrics(poor).top1)
    assert out["top1_error_reduction"]["estimate"] == pytest.approx(reduction)


def test_a_clearly_better_model_has_an_interval_above_zero():
    out = compare_models(_tasks(0, 0.3), _tasks(0, 3.0), draws=500)
    for name in ("top1_error_reduction", "pairwise_error_reduction"):
        i = out[name]
        assert 0 < i["low"] <= i["estimate"] <= i["high"] < 1
    assert out["p_target"] > 0.9
    assert "share of draws meeting the target" in format_comparison("gnn", "xgb", out)


def test_the_same_model_twice_reduces_nothing_on_any_draw():
    tasks = _tasks(1, 1.0)
    out = compare_models(tasks, tasks, draws=300)
    for name in ("top1_error_reduction", "pairwise_error_reduction"):
        assert out[name]["low"] == pytest.approx(0) and out[name]["high"] == pytest.approx(0)
    assert out["p_target"] == 0.0


def test_the_draw_is_paired_and_seeded():
    a, b = _tasks(2, 0.5), _tasks(2, 2.0)
    assert compare_models(a, b, seed=3) == compare_models(a, b, seed=3)
    # The model equals the baseline but on one task, where it orders every pair: drawn with
    # the same tasks for both, it is never worse on any draw; drawn apart, it often would be.
    baseline = _tasks(4, 1.0)
    model = list(baseline)
    t = model[0]
    model[0] = TaskScores(t.costs, -t.costs.float(), t.labels, t.weight)
    out = compare_models(model, baseline, draws=1000)
    assert out["pairwise_error_reduction"]["low"] >= 0
    assert out["pairwise_error_reduction"]["high"] > 0


def test_tasks_without_a_finite_cost_are_left_out_as_ranking_metrics_does():
    failed = _task([math.inf, math.inf], [0.0, 1.0])
    ok = _task([1.0, 2.0], [1.0, 0.0])
    assert task_totals([failed, ok]).shape == (1, 5)
    with pytest.raises(ValueError, match="no task with a finite cost"):
        compare_models([failed], [failed])


def test_different_tasks_are_refused():
    with pytest.raises(ValueError, match="same tasks"):
        compare_models(_tasks(0, 1.0, 5), _tasks(0, 1.0, 4))
