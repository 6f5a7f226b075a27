"""Where does XGBoost's lead come from: the features, the model, or the data?

On the grown dataset MetaSchedule's XGBModel beats the GNN in test top-1 (README). This tells
the three apart with one booster and nothing tuned:

- **features**: the same plain XGBoost regressor (squared error on relative throughput, the
  parameters below) on per-program aggregates (sum, max and mean over rows) of the graph
  pass's node features (all nodes, and the stores, loads and loops on their own, plus log
  node-type counts) and of MetaSchedule's ``PerStoreFeature`` (its rows are the stores), and
  on both side by side;
- **feature groups**: the same regressor on ``PerStoreFeature`` with only, or without, each of
  its five groups (arithmetic and loop annotations, buffer access, arithmetic intensity curve,
  allocation, outer loops), so the graph pass knows which kinds of feature carry over between
  networks;
- **data** (``--networks``): XGBModel itself fitted on the training split without the
  workloads of each named training network (its shard), to see which network lifts it.

Every fit is on the training split; the table shows validation (by which models are chosen)
and test beside it for the record: nothing here is selected on test. Run::

    .venv/bin/python benchmarks/bench_feature_sufficiency.py \\
        --networks googlenet_299 efficientnet_b0,regnet_x_400mf

About 8 minutes on 2 cores with the graph and ``PerStoreFeature`` caches in place (the first
run extracts the validation split's ``PerStoreFeature``, 2 minutes); ``--parts`` picks
sections.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

#: Column ranges of the five groups of TVM 0.27's ``PerStoreFeature`` (164 columns, CPU).
STORE_FEATURE_GROUPS = {
    "arith+loops": range(0, 57),
    "buffer_access": range(57, 147),
    "intensity_curve": range(147, 157),
    "allocation": range(157, 161),
    "outer_loops": range(161, 164),
}
#: Plain XGBoost, MetaSchedule XGBModel's tree parameters with its own regression target.
BOOSTER = {"max_depth": 10, "gamma": 0.001, "min_child_weight": 0, "eta": 0.2,
           "objective": "reg:squarederror", "verbosity": 0}
ROUNDS = 300
SPLITS = ("train", "val", "test")


def aggregate(rows: np.ndarray) -> np.ndarray:
    """Sum, max and mean over a program's rows (zeros for a program without any)."""
    if len(rows) == 0:
        rows = np.zeros((1, rows.shape[1]), dtype=rows.dtype)
    return np.concatenate([rows.sum(0), rows.max(0), rows.mean(0)])


def graph_vector(graph, num_types: int, groups: list[torch.Tensor]) -> np.ndarray:
    """A program graph as one vector: log node-type counts, then :func:`aggregate` of the node
    features over all nodes and over the nodes of each type group."""
    x, types = graph.node_features.numpy(), graph.node_type.long()
    parts = [np.log1p(torch.bincount(types, minlength=num_types).numpy().astype(np.float32))]
    parts.append(aggregate(x))
    parts += [aggregate(x[torch.isin(types, g).numpy()]) for g in groups]
    return np.concatenate(parts)


def val_and_test(sets: dict, predict) -> dict:
    """Ranking metrics of ``predict(split) -> scores`` on the validation and test splits."""
    from tpgnn.metrics import ranking_metrics
    from tpgnn.train import task_scores

    return {split: ranking_metrics(task_scores(sets[split], torch.from_numpy(
        np.asarray(predict(split), dtype=np.float64)))) for split in ("val", "test")}


def fit_and_score(vectors: dict, sets: dict, threads: int) -> dict:
    """Fit :data:`BOOSTER` on the training vectors; ranking metrics on val and test."""
    import xgboost as xgb

    booster = xgb.train({**BOOSTER, "nthread": threads},
                        xgb.DMatrix(vectors["train"], label=sets["train"].labels.numpy()),
                        ROUNDS)
    return val_and_test(sets, lambda split: booster.predict(xgb.DMatrix(vectors[split])))


def row(name: str, metrics: dict, seconds: float) -> str:
    cells = "  ".join(f"{m.top1:.3f} / {m.top5:.3f} / {m.pairwise_accuracy:.3f}"
                      for m in (metrics["val"], metrics["test"]))
    return f"{name:50s} {cells}  {seconds:5.0f} s"


def header(title: str) -> str:
    return (f"\n{title}\n{'':50s} {'val top1 / top5 / pairwise':26s}  "
            f"{'test top1 / top5 / pairwise':26s}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--parts", nargs="+", choices=["features", "groups", "networks"],
                        default=["features", "groups", "networks"])
    parser.add_argument("--networks", nargs="*", default=[], metavar="NET[,NET]",
                        help="training shards to leave out of XGBModel's fit, one row each; "
                             "join several with commas for one row")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from tpgnn.baselines import fit_xgb, load_store_features, predict_xgb
    from tpgnn.dataset import load_graph_set
    from tpgnn.evaluate import with_features
    from tpgnn.graph import node_type_vocabulary

    sets, stores = {}, {}
    for split in SPLITS:
        data = load_graph_set(args.data, [split])
        sets[split], stores[split] = with_features(data, load_store_features(args.data,
                                                                             data.keys))
    print("programs: " + ", ".join(f"{s} {len(sets[s]):,}" for s in SPLITS))

    if "features" in args.parts:
        vocabulary = node_type_vocabulary()
        ids = {name: i for i, name in enumerate(vocabulary)}
        groups = [torch.tensor([ids[n]]) for n in ("tirx.BufferStore", "ir.TensorLoad",
                                                   "tirx.For")]
        graph = {s: np.stack([graph_vector(g, len(vocabulary), groups) for g in sets[s].graphs])
                 for s in SPLITS}
        store = {s: np.stack([aggregate(f) for f in stores[s]]) for s in SPLITS}
        both = {s: np.concatenate([graph[s], store[s]], 1) for s in SPLITS}
        print(header(f"the same booster ({ROUNDS} rounds) on per-program aggregates"))
        for name, vectors in (("graph pass", graph), ("PerStoreFeature", store),
                              ("both", both)):
            start = time.perf_counter()
            metrics = fit_and_score(vectors, sets, args.threads)
            print(row(f"{name} ({vectors['train'].shape[1]} columns)", metrics,
                      time.perf_counter() - start), flush=True)

    if "groups" in args.parts:
        print(header("PerStoreFeature groups, the same booster"))
        variants = {"all 164 columns": list(range(164))}
        for name, columns in STORE_FEATURE_GROUPS.items():
            variants[f"only {name}"] = list(columns)
            variants[f"without {name}"] = [c for c in range(164) if c not in columns]
        for name, columns in variants.items():
            start = time.perf_counter()
            vectors = {s: np.stack([aggregate(f[:, columns]) for f in stores[s]])
                       for s in SPLITS}
            metrics = fit_and_score(vectors, sets, args.threads)
            print(row(f"{name} ({len(columns)})", metrics, time.perf_counter() - start),
                  flush=True)

    if "networks" in args.parts:
        print(header("XGBModel (PerStoreFeature, its own training) without a network's shard"))
        train = sets["train"]
        for dropped in [set(), *(set(n.split(",")) for n in args.networks)]:
            unknown = dropped - {name for name, _ in train.keys}
            if unknown:
                raise SystemExit(f"--networks: no training shard named {sorted(unknown)}")
            start = time.perf_counter()
            keep = [i for i, (shard, _) in enumerate(train.keys) if shard not in dropped]
            model = fit_xgb([stores["train"][i] for i in keep],
                            train.labels.numpy()[keep], num_threads=args.threads)
            metrics = val_and_test(sets, lambda split, model=model: predict_xgb(model,
                                                                                stores[split]))
            name = "all training shards" if not dropped else "without " + ", ".join(
                sorted(dropped))
            print(row(f"{name} ({len(keep):,})", metrics, time.perf_counter() - start),
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
