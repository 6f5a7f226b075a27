"""How sure is a comparison of two cost models? Intervals by resampling the evaluation's tasks.

The top-k scores add seconds over tasks, weighted by use, so a few slow, heavily used tasks
decide them: XGBModel's test top-1 moved from 0.593 to 0.700 when two networks unrelated to
the test split joined its training data (README). A gap between two models is worth acting on
only when it holds over the tasks that could have been drawn, so :func:`compare_models` draws
the evaluation's tasks again with replacement, the same draw for both models (a paired
bootstrap), and recomputes the pooled metrics of :func:`tpgnn.metrics.ranking_metrics` and the
error reductions against XGBModel that the project's target is set in on every draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .metrics import TaskScores, pooled_metrics, task_totals

__all__ = ["Interval", "compare_models", "error_reductions", "format_comparison",
           "task_totals"]


def error_reductions(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]):
    """The target's figures: the relative reduction of ``1 - top1`` and of the pairwise error
    (a perfect baseline's error counts as 1e-12), of arrays of draws or of single figures."""
    def reduction(metric: str) -> np.ndarray:
        return 1 - (1 - ours[metric]) / np.maximum(1 - theirs[metric], 1e-12)

    return {"top1_error_reduction": reduction("top1"),
            "pairwise_error_reduction": reduction("pairwise_accuracy")}


@dataclass(frozen=True)
class Interval:
    """A figure on the evaluation's own tasks and the central ``level`` of its bootstrap."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return asdict(self)


def compare_models(
    model_tasks: Sequence[TaskScores],
    baseline_tasks: Sequence[TaskScores],
    *,
    draws: int = 2000,
    level: float = 0.95,
    target: float = 0.33,
    seed: int = 0,
) -> dict:
    """Paired bootstrap over tasks of one model against a baseline on the same tasks.

    Parameters
    ----------
    model_tasks, baseline_tasks
        The same tasks, in the same order, scored by each model (:func:`tpgnn.train.task_scores`).
    draws
        Resamples of the tasks, each as many tasks as there are, drawn with replacement.
    level
        Coverage of the percentile intervals.
    target
        The error reduction the project aims at on both figures (33% against XGBModel);
        ``p_target`` is the share of draws in which both reach it.

    Returns
    -------
    ``{"draws", "level", "tasks", "p_target", "model": {metric: Interval}, "baseline": {...},
    "top1_error_reduction": Interval, "pairwise_error_reduction": Interval}``, as plain dicts.
    """
    ours, theirs = task_totals(model_tasks), task_totals(baseline_tasks)
    if ours.shape != theirs.shape:
        raise ValueError(f"the two models must be scored on the same tasks, got {len(ours)} "
                         f"and {len(theirs)} tasks with finite costs")
    if len(ours) == 0:
        raise ValueError("no task with a finite cost to compare the models on")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(ours), np.full(len(ours), 1 / len(ours)), size=draws)
    drawn = {"model": pooled_metrics(counts @ ours), "baseline": pooled_metrics(counts @ theirs)}
    drawn |= error_reductions(drawn["model"], drawn["baseline"])
    point = {"model": pooled_metrics(ours.sum(0)), "baseline": pooled_metrics(theirs.sum(0))}
    point |= error_reductions(point["model"], point["baseline"])
    tail = (1 - level) / 2 * 100

    def interval(estimate: np.ndarray, values: np.ndarray) -> dict:
        low, high = np.nanpercentile(values, [tail, 100 - tail])
        return Interval(float(estimate), float(low), float(high)).to_dict()

    out: dict = {"draws": draws, "level": level, "tasks": len(ours)}
    for side in ("model", "baseline"):
        out[side] = {m: interval(point[side][m], drawn[side][m]) for m in drawn[side]}
    for name in ("top1_error_reduction", "pairwise_error_reduction"):
        out[name] = interval(point[name], drawn[name])
    met = (drawn["top1_error_reduction"] >= target) & (drawn["pairwise_error_reduction"] >= target)
    out["p_target"] = float(met.mean())
    return out


def format_comparison(name: str, baseline: str, comparison: dict) -> str:
    """One line per figure, e.g. ``(1 - top1) reduced by 19.3% [-4.1%, 38.0%]``."""
    pct = comparison["level"] * 100

    def show(i: dict, percent: bool) -> str:
        f = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.3f}")
        return f"{f(i['estimate'])} [{f(i['low'])}, {f(i['high'])}]"

    lines = [f"{name} vs {baseline}, {pct:.0f}% intervals over {comparison['tasks']} tasks "
             f"({comparison['draws']} paired bootstrap draws):"]
    for metric in ("top1", "pairwise_accuracy"):
        lines.append(f"  {metric:18s} {name} {show(comparison['model'][metric], False)}  "
                     f"{baseline} {show(comparison['baseline'][metric], False)}")
    lines.append(f"  (1 - top1) reduced by {show(comparison['top1_error_reduction'], True)}, "
                 f"pairwise error by {show(comparison['pairwise_error_reduction'], True)}; "
                 f"share of draws meeting the target on both: {comparison['p_target']:.1%}")
    return "\n".join(lines)
