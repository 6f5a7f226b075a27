"""Pairwise ranking accuracy on the pairs a measurement can tell apart: GNN against XGBModel.

Run: ``.venv/bin/python benchmarks/bench_pairs_beyond_noise.py [--split test]``

Part of the dataset was timed on a busy machine (``python -m tpgnn.collect.quality data``),
so some pairs of programs differ by less than their own timing noise, and no model can order
them better than a coin. This scores the shipped GNN and MetaSchedule's XGBModel (fitted on
the checkpoint's training records, as ``tpgnn evaluate`` does) on one split, and counts
pairwise accuracy three ways: over every pair with different latencies (``tpgnn evaluate``'s
figure); over the pairs whose latency ratio exceeds ``1 +`` the larger spread of the two; and
over the pairs of programs with spread <= 5% that are at least 5% apart. If the GNN's margin
over XGBModel grows on the clean pairs, noise hides part of it; if not, it does not.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import torch

#: name -> (largest spread a program may have, least relative gap beyond the spreads);
#: a gap of None counts every pair with different latencies.
PAIR_SETS = {
    "all_pairs": (math.inf, None),
    "beyond_noise": (math.inf, 0.0),
    "quiet_5pct_apart": (0.05, 0.05),
}


def pairwise_counts(
    costs: np.ndarray, scores: np.ndarray, spreads: np.ndarray, max_spread: float,
    min_gap: float | None,
) -> tuple[int, int]:
    """(correctly ordered, counted) pairs of one task: ``i`` faster than ``j`` counts when
    both spreads are at most ``max_spread`` and ``cost_j / cost_i > (1 + min_gap) * (1 +
    max(spread_i, spread_j))`` (any ``cost_j > cost_i`` when ``min_gap`` is None)."""
    keep = np.isfinite(costs) & (spreads <= max_spread)
    c, s, sp = costs[keep], scores[keep], spreads[keep]
    ratio = c[None, :] / c[:, None]
    if min_gap is None:
        counted = ratio > 1
    else:
        counted = ratio > (1 + min_gap) * (1 + np.maximum(sp[None, :], sp[:, None]))
    return int(((s[:, None] > s[None, :]) & counted).sum()), int(counted.sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--split", default="test", choices=["test", "val"])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    from tpgnn.baselines import fit_xgb, load_store_features, predict_xgb
    from tpgnn.checkpoint import default_checkpoint_path, load_checkpoint
    from tpgnn.collect.quality import sample_spreads
    from tpgnn.dataset import load_graph_set
    from tpgnn.evaluate import with_features
    from tpgnn.train import score_graphs

    model, meta = load_checkpoint(args.checkpoint or default_checkpoint_path())
    snapshot = meta.get("train_config", {}).get("data_snapshot")
    train = load_graph_set(args.data, ["train"], snapshot=snapshot)
    train, train_features = with_features(train, load_store_features(args.data, train.keys))
    data = load_graph_set(args.data, [args.split])
    data, features = with_features(data, load_store_features(args.data, data.keys))
    scores = {
        "gnn": score_graphs(model, data.graphs, torch.device("cpu")).numpy(),
        "xgb": predict_xgb(fit_xgb(train_features, train.labels.numpy()), features),
    }
    spreads = np.asarray(sample_spreads(args.data, data.keys))
    costs = data.costs.numpy()
    report: dict[str, dict] = {}
    for name, score in scores.items():
        report[name] = {}
        for pair_set, (max_spread, min_gap) in PAIR_SETS.items():
            correct = counted = 0
            for members in data.task_members():
                m = members.numpy()
                c, n = pairwise_counts(costs[m], score[m], spreads[m], max_spread, min_gap)
                correct, counted = correct + c, counted + n
            report[name][pair_set] = {"pairwise_accuracy": correct / max(counted, 1),
                                      "pairs": counted}
    noisy = float(np.mean(spreads[np.isfinite(spreads)] > 0.2))
    print(f"{args.split}: {len(data)} programs, {noisy:.1%} with spread > 20%")
    print(f"{'pairs':18} {'count':>9} {'GNN':>7} {'XGB':>7} {'error cut':>10}")
    for pair_set in PAIR_SETS:
        g, x = report["gnn"][pair_set], report["xgb"][pair_set]
        cut = 1 - (1 - g["pairwise_accuracy"]) / (1 - x["pairwise_accuracy"])
        print(f"{pair_set:18} {g['pairs']:9d} {g['pairwise_accuracy']:7.3f} "
              f"{x['pairwise_accuracy']:7.3f} {cut:10.1%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"split": args.split, "programs": len(data), "noisy_fraction": noisy,
                       "models": report}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
