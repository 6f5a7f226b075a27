"""Does the training objective explain XGBModel's top-1? Train the TenSet MLP with several.

XGBModel regresses relative throughput, which weighs the fast programs of a task most, while
the GNN and the TenSet MLP learn the order of pairs (RankNet). If that were why XGBModel's
top-1 leads, a top-heavy objective would lift the MLP's top-1 on validation. The MLP (a
per-store MLP summed per program, on ``PerStoreFeature``; 30 s a fit on one thread) stands in
for the GNN, which takes half an hour a seed. Objectives, all within a task:

- ``rank``: RankNet over every pair (the project's default);
- ``huber``: Huber regression on relative throughput (XGBModel's kind of target);
- ``lambdarank``: RankNet pairs weighted by their NDCG change;
- ``gap_rank``: RankNet pairs weighted by their gap in relative throughput;
- ``listnet``: cross-entropy of the softmax of the scores against that of relative
  throughput / 0.1, so the best programs take most of the target.

Run: ``.venv/bin/python benchmarks/bench_mlp_objectives.py [--seeds 0 1]`` (validation only:
about 6 minutes with the ``PerStoreFeature`` cache in place).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch_geometric.utils import scatter


def gap_rank_loss(scores: torch.Tensor, labels: torch.Tensor, task: torch.Tensor):
    """RankNet pairs weighted by their gap in relative throughput."""
    same = task.unsqueeze(0) == task.unsqueeze(1)
    better = (labels.unsqueeze(1) > labels.unsqueeze(0)) & same
    gap = (labels.unsqueeze(1) - labels.unsqueeze(0))[better]
    margin = (scores.unsqueeze(1) - scores.unsqueeze(0))[better]
    return (F.softplus(-margin) * gap).sum() / gap.sum().clamp(min=1e-12)


def listnet_loss(scores: torch.Tensor, labels: torch.Tensor, task: torch.Tensor,
                 temperature: float = 0.1):
    """Per task, cross-entropy of softmax(scores) against softmax(labels / temperature)."""
    def log_softmax(x: torch.Tensor) -> torch.Tensor:
        peak = scatter(x.detach(), task, reduce="max")[task]
        total = scatter((x - peak).exp(), task, reduce="sum")[task]
        return x - peak - total.log()

    target = log_softmax(labels / temperature).exp()
    per_task = scatter(-target * log_softmax(scores), task, reduce="sum")
    return per_task.mean()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()

    from tpgnn.baselines import MLPConfig, fit_mlp, load_store_features, predict_mlp
    from tpgnn.dataset import load_graph_set
    from tpgnn.evaluate import with_features
    from tpgnn.losses import loss_function
    from tpgnn.metrics import ranking_metrics
    from tpgnn.train import task_scores

    objectives = {name: loss_function(name)
                  for name in ("rank", "huber", "lambdarank")}
    objectives |= {"gap_rank": gap_rank_loss, "listnet": listnet_loss}
    train, val = (load_graph_set(args.data, [s]) for s in ("train", "val"))
    train, train_features = with_features(train, load_store_features(args.data, train.keys))
    val, val_features = with_features(val, load_store_features(args.data, val.keys))
    print(f"TenSet MLP, {len(train):,} training programs; validation ({len(val):,} programs) "
          f"top-1 / top-5 / pairwise")
    for name, loss in objectives.items():
        for seed in args.seeds:
            start = time.perf_counter()
            model = fit_mlp(train_features, train.labels.numpy(), train.task_index.numpy(),
                            MLPConfig(seed=seed), loss=loss)
            m = ranking_metrics(task_scores(val, torch.from_numpy(
                predict_mlp(model, val_features))))
            print(f"{name:11s} seed {seed}  {m.top1:.3f} / {m.top5:.3f} / "
                  f"{m.pairwise_accuracy:.3f}  {time.perf_counter() - start:4.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
