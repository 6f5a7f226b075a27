"""How sharp the GNN's selection scores are: the temperature that makes them throughput-like.

MetaSchedule's evolutionary search picks mutation parents with probability proportional to
the cost model's scores. XGBModel's scores are predicted relative throughputs (the best
latency of the task divided by the program's), so a program twice as fast is about twice as
likely a parent. ``GNNModel`` scores ``exp(logit / temperature)``; its logits are trained to
rank, not to a scale. Regressing, within each task, the log relative throughput of measured
programs on their logits gives the slope ``s``: ``exp(logit * s)`` is proportional to the
throughput the logits predict, as XGBModel's scores are the throughput it predicts, so
``temperature = 1 / s`` makes the GNN's scores a throughput prediction too.

Printed for one split (validation by default; choose settings there, never on test): the
median and quartiles of the per-task slopes, the temperature they imply, and for each
temperature how much more likely a program at the task's 90th score percentile is than one
at the median, next to the same odds for the true relative throughput.

    .venv/bin/python benchmarks/bench_score_calibration.py [--plot out/calibration.png]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def task_slope(logits: np.ndarray, labels: np.ndarray) -> float | None:
    """Least-squares slope of ``log(label)`` on the logit over a task's measured programs
    (failures, label 0, left out); None with fewer than 10 of them."""
    ok = labels > 0
    if ok.sum() < 10 or np.ptp(logits[ok]) == 0:
        return None
    return float(np.polyfit(logits[ok], np.log(labels[ok]), 1)[0])


def upper_odds(scores: np.ndarray) -> float:
    """Score at the 90th percentile over score at the median: how much likelier a good
    program is picked as a parent than a typical one."""
    median = np.percentile(scores, 50)
    return float(np.percentile(scores, 90) / median) if median > 0 else float("inf")


def plot_calibration(logits: Sequence[np.ndarray], labels: Sequence[np.ndarray], slope: float,
                     path: Path) -> None:
    """Log relative throughput against the logit, both centred per task, with the median
    slope drawn through the origin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = [], []
    for x, y in zip(logits, labels, strict=True):
        ok = y > 0
        xs.append(x[ok] - x[ok].mean())
        ys.append(np.log(y[ok]) - np.log(y[ok]).mean())
    x, y = np.concatenate(xs), np.concatenate(ys)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(x, y, s=2, alpha=0.3)
    line = np.linspace(x.min(), x.max(), 2)
    ax.plot(line, slope * line, color="C1", label=f"median slope {slope:.3f}")
    ax.set_xlabel("GNN logit, centred per task")
    ax.set_ylabel("log relative throughput, centred per task")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="default: the model shipped with tpgnn")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--cache-dir", type=Path, default=REPO / "cache" / "graphs")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument("--plot", type=Path, default=None, help="draw the scatter here (PNG)")
    args = parser.parse_args(argv)
    if args.split == "test":
        print("warning: the test split is held out; choose settings on val", file=sys.stderr)

    import torch

    from tpgnn.checkpoint import default_checkpoint_path, load_checkpoint
    from tpgnn.dataset import load_graph_set
    from tpgnn.train import score_graphs

    data = load_graph_set(args.data_dir, [args.split], cache_dir=args.cache_dir, workers=1)
    model, _ = load_checkpoint(args.checkpoint or default_checkpoint_path(), torch.device("cpu"))
    with torch.no_grad():
        scores = score_graphs(model, data.graphs, torch.device("cpu")).double().numpy()
    labels = data.labels.double().numpy()
    fits = [(scores[m], labels[m], task_slope(scores[m], labels[m]))
            for m in (m.numpy() for m in data.task_members())]
    kept = [(x, y) for x, y, slope in fits if slope is not None]
    if not kept:
        raise SystemExit(f"no task of {args.split} has 10 measured programs")
    q25, median, q75 = np.percentile([s for _, _, s in fits if s is not None], [25, 50, 75])
    print(f"{args.split}: {len(data.graphs)} programs, {len(kept)} tasks with >= 10 measured")
    print(f"slope of log relative throughput on the logit, per task: median {median:.3f} "
          f"(quartiles {q25:.3f} to {q75:.3f}) -> temperature {1 / median:.2f}")
    truth = np.median([upper_odds(y[y > 0]) for _, y in kept])
    print(f"p90 / median odds of a parent, median over tasks: true throughput {truth:.2f}")
    for t in sorted({*args.temperatures, round(1 / median, 2)}):
        odds = np.median([upper_odds(np.exp((x[y > 0] - x[y > 0].max()) / t)) for x, y in kept])
        print(f"  exp(logit / {t:g}): {odds:.2f}")
    if args.plot:
        plot_calibration([x for x, _ in kept], [y for _, y in kept], median, args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
