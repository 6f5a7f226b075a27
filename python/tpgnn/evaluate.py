"""``tpgnn evaluate``: the GNN against MetaSchedule's XGBModel and the TenSet MLP, in one run,
on the held-out test workloads (or on any MetaSchedule database a user brings).

Both baselines are fitted on the same training split the GNN was trained on; every model is
scored on the same programs (those for which every model has an input). Training networks
that should have a row (ResNet-18, MobileNet-V2) get one by leaving them out: every model is
refitted without their own workloads (:mod:`tpgnn.holdout`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .dataset import GraphSet
    from .holdout import NetworkHoldout
    from .model import ModelConfig
    from .train import TrainConfig

logger = logging.getLogger(__name__)

MODELS = ("gnn", "xgb", "mlp")
#: Networks that always get a row (empty when the evaluation data has none of their tasks).
FEATURED_NETWORKS = ("resnet18", "mobilenet_v2", "inception_v3")
METRICS = ("top1", "top5", "pairwise_accuracy", "rmse")


def network_rows(test, scores: dict[str, torch.Tensor]) -> dict[str, dict[str, dict]]:
    """``{network or "overall": {model: metrics}}`` over the test set."""
    from .metrics import ranking_metrics
    from .train import task_scores

    networks = sorted(
        {n for info in test.task_info.values() for n in info.get("networks", {})}
        | set(FEATURED_NETWORKS)
    )
    rows = {}
    for network in [*networks, None]:
        rows[network or "overall"] = {
            model: ranking_metrics(task_scores(test, s, network)).to_dict()
            for model, s in scores.items()
        }
    return rows


def task_rows(test, per_model: dict[str, list]) -> dict[str, dict]:
    """Per task: its weight, programs and best measured seconds, and for each model the true
    seconds of its top pick, the best of its top 5 and its pairwise accuracy there.

    ``per_model`` holds each model's :func:`tpgnn.train.task_scores` over all of ``test``.
    The top-k scores add seconds over tasks, weighted by use, so a few slow, heavily used
    tasks decide them; these rows show which tasks a model loses on.
    """
    from .metrics import best_in_top_k, pairwise_accuracy

    rows = {}
    for i, key in enumerate(test.tasks):
        some = next(iter(per_model.values()))[i]
        row = {"weight": some.weight, "programs": len(some.costs),
               "best_seconds": float(some.costs.min())}
        for model, tasks in per_model.items():
            correct, pairs = pairwise_accuracy(tasks[i])
            row[model] = {
                "top1_seconds": best_in_top_k(tasks[i], 1),
                "top5_seconds": best_in_top_k(tasks[i], 5),
                "pairwise_accuracy": correct / pairs if pairs else math.nan,
            }
        rows[key] = row
    return rows


def format_table(rows: dict[str, dict[str, dict]]) -> str:
    header = f"{'network':16s} {'model':5s} {'tasks':>5s} {'samples':>7s} " + " ".join(
        f"{m:>17s}" for m in METRICS
    )
    lines = [header, "-" * len(header)]
    for network, models in rows.items():
        if all(m["num_tasks"] == 0 for m in models.values()):
            # A featured network the data has no tasks of (e.g. a training network whose
            # leave-one-network-out row was not asked for): one line, not rows of NaN.
            lines.append(f"{network:16s} no tasks in the evaluation data")
            continue
        for model, m in models.items():
            values = " ".join(f"{m[k]:17.4f}" for k in METRICS)
            lines.append(
                f"{network:16s} {model:5s} {m['num_tasks']:5d} {m['num_samples']:7d} {values}"
            )
    return "\n".join(lines)


def improvement(rows: dict, model: str = "gnn", baseline: str = "xgb") -> dict[str, float]:
    """Relative reduction of (1 - top1) and of pairwise error of ``model`` over ``baseline``."""
    from .bootstrap import error_reductions

    reductions = error_reductions(rows["overall"][model], rows["overall"][baseline])
    return {name: float(value) for name, value in reductions.items()}


def plot(test, scores: dict[str, torch.Tensor], rows: dict, out_dir: Path) -> list[Path]:
    """Predicted vs measured (per model) and per-network top-1 bars; returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(scores), figsize=(4.2 * len(scores), 4), squeeze=False)
    for ax, (model, s) in zip(axes[0], scores.items(), strict=True):
        # Scores are comparable within a task only: plot each task's ranks, scaled to [0, 1].
        ranks = torch.zeros_like(s, dtype=torch.float64)
        for members in test.task_members():
            if len(members) > 1:
                ranks[members] = torch.argsort(torch.argsort(s[members])).double() / (
                    len(members) - 1
                )
        ax.scatter(test.labels.numpy(), ranks.numpy(), s=3, alpha=0.3)
        ax.set_xlabel("measured throughput / best in task")
        ax.set_ylabel("predicted rank within task")
        ax.set_title(model)
    fig.tight_layout()
    scatter = out_dir / "predicted_vs_measured.png"
    fig.savefig(scatter, dpi=110)
    plt.close(fig)

    names = [n for n in rows if rows[n][next(iter(scores))]["num_tasks"] > 0]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), 4))
    width = 0.8 / len(scores)
    for i, model in enumerate(scores):
        ax.bar(np.arange(len(names)) + i * width, [rows[n][model]["top1"] for n in names],
               width, label=model)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=20)
    ax.set_ylabel("top-1 score (1 = best program picked)")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    bars = out_dir / "top1_per_network.png"
    fig.savefig(bars, dpi=110)
    plt.close(fig)
    return [scatter, bars]


def with_features(data: GraphSet, features: list) -> tuple[GraphSet, list]:
    """The samples of ``data`` that have PerStoreFeature, and those features.

    Every model is scored on the same programs, so a program the baselines have no input for
    is left out for all of them.
    """
    have = [i for i, f in enumerate(features) if f is not None and len(f) > 0]
    if len(have) < len(data):
        logger.warning("%d of %d programs have no PerStoreFeature; every model skips them",
                       len(data) - len(have), len(data))
    return data.subset(have), [features[i] for i in have]


def baseline_scores(
    train: GraphSet, train_features: list, test_features: list
) -> dict[str, torch.Tensor]:
    """MetaSchedule's XGBModel and the TenSet MLP, fitted on ``train``, scoring the test set."""
    from .baselines import fit_mlp, fit_xgb, predict_mlp, predict_xgb

    train, train_features = with_features(train, train_features)
    if len(train) == 0:
        raise ValueError("no training program has PerStoreFeature to fit the baselines on")
    labels = train.labels.numpy()
    logger.info("fitting XGBModel on %d training programs", len(train))
    xgb = fit_xgb(train_features, labels)
    logger.info("fitting the TenSet MLP on %d training programs", len(train))
    mlp = fit_mlp(train_features, labels, train.task_index.numpy())
    return {
        "xgb": torch.from_numpy(predict_xgb(xgb, test_features)),
        "mlp": torch.from_numpy(predict_mlp(mlp, test_features)),
    }


def training_recipe(meta: dict, epochs: int | None = None) -> TrainConfig:
    """The :class:`~tpgnn.train.TrainConfig` a checkpoint was trained with (``epochs`` may
    override its number of epochs)."""
    from dataclasses import fields

    from .train import TrainConfig

    stored = meta.get("train_config", {})
    recipe = {f.name: stored[f.name] for f in fields(TrainConfig) if f.name in stored}
    if epochs is not None:
        recipe["epochs"] = epochs
    return TrainConfig(**recipe)


def holdout_row(
    split: NetworkHoldout,
    train: GraphSet,
    train_features: list,
    val: GraphSet,
    recipe: TrainConfig,
    model_config: ModelConfig,
) -> dict[str, dict]:
    """``{model: metrics}`` on the workloads ``split.network`` owns, every model refitted
    without them (see :mod:`tpgnn.holdout`)."""
    from .embeddings import train_type_vectors
    from .metrics import ranking_metrics
    from .train import score_graphs, task_scores
    from .train import train as train_gnn

    fit_set = train.subset(split.train_indices)
    owned, owned_features = with_features(
        train.subset(split.owned_indices), [train_features[i] for i in split.owned_indices]
    )
    vectors = None
    if recipe.fasttext:
        vectors = train_type_vectors(fit_set.graphs, model_config.type_embedding_dim,
                                     seed=recipe.seed)
    gnn, _ = train_gnn(recipe, model_config, fit_set, val, vectors)
    scores = {"gnn": score_graphs(gnn, owned.graphs, torch.device("cpu"))}
    scores |= baseline_scores(fit_set, [train_features[i] for i in split.train_indices],
                              owned_features)
    return {model: ranking_metrics(task_scores(owned, s, split.network)).to_dict()
            for model, s in scores.items()}


def evaluate(args: argparse.Namespace) -> dict:
    """Score every model on the evaluation programs; returns the report."""
    from ._memory import reuse_freed_memory
    from .baselines import load_store_features
    from .bootstrap import compare_models, format_comparison
    from .checkpoint import default_checkpoint_path, load_checkpoint
    from .collect.manifest import load_manifest
    from .dataset import dataset_layout, load_graph_set
    from .holdout import hold_out_network
    from .train import score_graphs, task_scores

    reuse_freed_memory()
    checkpoint = args.checkpoint or default_checkpoint_path()
    model, meta = load_checkpoint(checkpoint)
    # Fit the baselines on the records the GNN was trained on, though the data has grown since
    # (when the training data is the dataset the checkpoint was trained on: shards in common).
    snapshot = meta.get("train_config", {}).get("data_snapshot")
    if snapshot and not set(snapshot) & {d.name for d in dataset_layout(args.train_data)[0]}:
        logger.info("%s shares no shard with the checkpoint's training data: baselines fit "
                    "on all of its train split", args.train_data)
        snapshot = None
    own_dataset = (Path(args.data) / "manifest.json").exists()
    manifest = Path(args.train_data) / "manifest.json"
    split = load_manifest(args.train_data)["split"] if manifest.exists() else {}
    held_out = [*split.get("test_networks", []), *split.get("val_networks", [])]
    holdouts = args.holdout_networks
    if holdouts is None:  # by default, when the test split is ours: the featured training nets
        holdouts = [n for n in FEATURED_NETWORKS if own_dataset and split and n not in held_out]
    if holdouts and not split:
        raise ValueError(f"--holdout-networks needs a TPGNN dataset as --train-data (one with "
                         f"manifest.json and its split); {args.train_data} has none")
    test = load_graph_set(args.data, ["test"] if own_dataset else None,
                          cache_dir=args.cache_dir, workers=args.workers)
    train = load_graph_set(args.train_data, ["train"], cache_dir=args.cache_dir,
                           workers=args.workers, snapshot=snapshot)
    # Refuse a network that cannot be held out before any model is fitted.
    holdout_splits = [hold_out_network(train, n, held_out) for n in holdouts]
    train_features = load_store_features(args.train_data, train.keys,
                                          cache_dir=args.feature_cache_dir, workers=args.workers)
    test, test_features = with_features(
        test, load_store_features(args.data, test.keys, cache_dir=args.feature_cache_dir,
                                  workers=args.workers)
    )

    scores = {"gnn": score_graphs(model, test.graphs, torch.device("cpu"))}
    scores |= baseline_scores(train, train_features, test_features)
    rows = network_rows(test, scores)
    per_task = {model: task_scores(test, s) for model, s in scores.items()}
    gnn = "shipped model" if args.checkpoint is None else f"GNN {checkpoint}"
    protocol = {network: f"test split, {gnn} and baselines fitted on its training data"
                for network, models in rows.items() if models["gnn"]["num_tasks"] > 0}
    if holdouts:
        val = load_graph_set(args.train_data, ["val"], cache_dir=args.cache_dir,
                             workers=args.workers, snapshot=snapshot)
        recipe = training_recipe(meta, args.holdout_epochs)
        for i, holdout in enumerate(holdout_splits, 1):
            network = holdout.network
            logger.info("leave one network out %d/%d: %s (every model refitted without it, "
                        "%d epochs for the GNN)", i, len(holdouts), network, recipe.epochs)
            rows[network] = holdout_row(holdout, train, train_features, val, recipe,
                                        model.config)
            protocol[network] = (f"leave-one-network-out: its own workloads, every model "
                                 f"refitted without them (GNN: {recipe.epochs} epochs)")
    report = {
        "data": str(args.data),
        "train_data": str(args.train_data),
        "checkpoint": str(checkpoint),
        "checkpoint_train_config": meta.get("train_config", {}),
        "test_programs": len(test),
        "test_tasks": len(test.tasks),
        "train_programs": len(train),
        "rows": rows,
        "tasks": task_rows(test, per_task),
        "protocol": protocol,
        "gnn_vs_xgb": improvement(rows),
        "gnn_vs_xgb_interval": compare_models(per_task["gnn"], per_task["xgb"]),
    }
    print(format_table(rows))
    for network, how in protocol.items():
        print(f"{network}: {how}")
    gain = report["gnn_vs_xgb"]
    print(f"GNN vs XGB overall: (1 - top1) reduced by {gain['top1_error_reduction']:.1%}, "
          f"pairwise error reduced by {gain['pairwise_error_reduction']:.1%} (target: both "
          f">= 33%)")
    print(format_comparison("gnn", "xgb", report["gnn_vs_xgb_interval"]))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        document = {**report, **{m: {n: rows[n][m] for n in rows} for m in MODELS}}
        text = json.dumps(json_safe(document), indent=2, allow_nan=False)
        Path(args.json).write_text(text + "\n")
    if args.plot_dir:
        for path in plot(test, scores, rows, Path(args.plot_dir)):
            print(f"plot written to {path}")
    return report


def json_safe(value: object) -> object:
    """``value`` with every NaN or infinity replaced by ``None``.

    A network with no test tasks has no metrics; ``null`` says so in standard JSON, where
    Python's default ``NaN`` breaks strict parsers (``jq``, browsers).
    """
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate", help="compare the GNN with XGBModel and the TenSet MLP on held-out tasks"
    )
    p.add_argument("--data", default="data",
                   help="TPGNN dataset (its test split) or any MetaSchedule database directory")
    p.add_argument("--train-data", default="data", help="dataset whose train split fits baselines")
    p.add_argument("--checkpoint", help="GNN checkpoint (default: the shipped model)")
    p.add_argument("--json", metavar="PATH", help="write the metrics as JSON")
    p.add_argument("--plot-dir", metavar="DIR", help="write plots (PNG) here")
    p.add_argument("--holdout-networks", nargs="*", metavar="NETWORK",
                   help="training networks that get a leave-one-network-out row: every model "
                        "refitted without the workloads each owns, then scored on them "
                        f"(default, on a TPGNN dataset: {', '.join(FEATURED_NETWORKS)} unless "
                        "held out already; give the flag alone for none)")
    p.add_argument("--holdout-epochs", type=int,
                   help="GNN epochs of each leave-one-network-out refit (default: the "
                        "checkpoint's own recipe)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache-dir", default="cache/graphs", help="cache of extracted graphs")
    p.add_argument("--feature-cache-dir", default="cache/features",
                   help="cache of the baselines' PerStoreFeature arrays")
    p.set_defaults(func=lambda a: 0 if evaluate(a) else 1)
