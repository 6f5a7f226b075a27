"""``tpgnn train``: fit the GNN on the training split, select by the validation split.

Reads top to bottom: load graphs, fastText vectors, feature statistics, then epochs of
task-grouped batches, validation after each, and the best checkpoint written at the end.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .dataset import GraphSet
from .graph import ProgramGraph, edge_type_names, node_feature_names, node_type_vocabulary
from .losses import LOSSES, loss_function
from .metrics import RankingMetrics, TaskScores, ranking_metrics
from .model import TPGNN, ModelConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How to train; stored in the checkpoint.

    Attributes
    ----------
    loss
        ``"rank"`` (pairwise within a task), ``"lambdarank"`` (pairs weighted by their NDCG
        change) or ``"huber"`` (regression on relative throughput).
    epochs
        Passes over the training split.
    tasks_per_batch, samples_per_task
        A batch holds ``samples_per_task`` programs of each of ``tasks_per_batch`` tasks, so
        every batch has many comparable pairs.
    lr, weight_decay
        AdamW parameters.
    fasttext
        Initialise the type embedding from fastText vectors (else a plain learned embedding).
    seed
        Seeds Python, NumPy, torch and fastText.
    device
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
    task_fraction
        Train on this share of the training split's tasks (:func:`draw_tasks`), to measure
        how validation grows with the data; 1 (the default) trains on all of them. Give a
        smaller share proportionally more ``epochs`` to keep the number of steps.
    program_fraction
        Train on this share of each training task's programs (:func:`draw_programs`): beside
        ``task_fraction``, it tells whether more workloads or more programs of each
        workload are the data to add. 1 (the default) trains on all of them.
    """

    loss: str = "rank"
    epochs: int = 20
    tasks_per_batch: int = 8
    samples_per_task: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    fasttext: bool = True
    seed: int = 0
    device: str = "auto"
    task_fraction: float = 1.0
    program_fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        for name in ("epochs", "tasks_per_batch", "samples_per_task"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("task_fraction", "program_fraction"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"`` as a torch device."""
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA device")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def deterministic_algorithms(enabled: bool = True) -> Iterator[None]:
    """Run the block with torch's deterministic kernels, then restore the caller's setting.

    Why: on CUDA, PyG's scatter sums add with atomics in no fixed order, so two runs of one seed
    drift apart (an H200, 2026-11-27: 0.13 in score after 20 steps of a small probe). The
    deterministic kernels made those runs bit-identical there, and no slower. cuBLAS needs
    its workspace fixed for that (``CUBLAS_WORKSPACE_CONFIG``, unless the caller set it); an op
    without a deterministic kernel warns instead of failing.
    """
    if not enabled:
        yield
        return
    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled())
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def feature_statistics(graphs: Sequence[ProgramGraph]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column mean and standard deviation over all nodes, accumulated in float64."""
    total = torch.zeros(len(node_feature_names()), dtype=torch.float64)
    squares = torch.zeros_like(total)
    count = 0
    for g in graphs:
        x = g.node_features.double()
        total += x.sum(0)
        squares += (x * x).sum(0)
        count += x.shape[0]
    mean = total / max(count, 1)
    std = (squares / max(count, 1) - mean * mean).clamp(min=0).sqrt()
    return mean.float(), std.float()


def task_batches(
    data: GraphSet, tasks_per_batch: int, samples_per_task: int, rng: np.random.Generator
) -> Iterator[torch.Tensor]:
    """One epoch of sample-index batches: each sample once, grouped by task."""
    chunks = []
    for members in data.task_members():
        shuffled = members[torch.from_numpy(rng.permutation(len(members)))]
        chunks.extend(torch.split(shuffled, samples_per_task))
    order = rng.permutation(len(chunks))
    for start in range(0, len(order), tasks_per_batch):
        yield torch.cat([chunks[i] for i in order[start : start + tasks_per_batch]])


#: Seeds :func:`draw_tasks` and :func:`draw_programs`: one draw for every training seed, so
#: seeds vary only the model.
TASK_DRAW_SEED = 0


def draw_tasks(data: GraphSet, fraction: float) -> GraphSet:
    """Every sample of ``ceil(fraction * tasks)`` of ``data``'s tasks, the rest left out.

    The tasks are the first of one fixed permutation (:data:`TASK_DRAW_SEED`) of the sorted
    task keys, so for one dataset the draw does not depend on the training seed or the
    order the shards were read in, and a smaller share's tasks are among a larger one's:
    points of a data-scaling curve differ only by the tasks added.
    """
    if fraction >= 1.0:
        return data
    keys = sorted(data.tasks)
    order = np.random.default_rng(TASK_DRAW_SEED).permutation(len(keys))
    kept = {keys[i] for i in order[: math.ceil(fraction * len(keys))]}
    kept_index = torch.tensor([t for t, key in enumerate(data.tasks) if key in kept])
    return data.subset(torch.isin(data.task_index, kept_index).nonzero().flatten().tolist())


def draw_programs(data: GraphSet, fraction: float) -> GraphSet:
    """``ceil(fraction * n)`` of the ``n`` samples of each of ``data``'s tasks, the rest left out.

    Each task's samples, sorted by ``(shard, record)``, are permuted with a generator seeded
    by :data:`TASK_DRAW_SEED` and the task's key, and the first are kept: the draw does not
    depend on the training seed, the order of the tasks or of their samples, and a smaller
    share's programs are among a larger one's. Labels stay relative to each task's best
    measured program, kept or not.
    """
    if fraction >= 1.0:
        return data
    kept = []
    for key, members in zip(data.tasks, data.task_members(), strict=True):
        ordered = sorted(members.tolist(), key=lambda i: data.keys[i])
        rng = np.random.default_rng([TASK_DRAW_SEED, zlib.crc32(key.encode())])
        order = rng.permutation(len(ordered))[: math.ceil(fraction * len(ordered))]
        kept += [ordered[i] for i in sorted(order)]
    return data.subset(sorted(kept))


def training_draw(data: GraphSet, config: TrainConfig) -> GraphSet:
    """The samples of the training split ``data`` that :func:`train` trains on with
    ``config``: its ``task_fraction`` of the tasks, then its ``program_fraction`` of theirs."""
    return draw_programs(draw_tasks(data, config.task_fraction), config.program_fraction)


@torch.no_grad()
def score_graphs(
    model: TPGNN, graphs: Sequence[ProgramGraph], device: torch.device, batch_size: int = 512
) -> torch.Tensor:
    """Scores of ``graphs`` in batches; float32 ``[len(graphs)]`` on the CPU."""
    from .batch import batch_graphs

    model.eval()
    out = [
        model(batch_graphs(graphs[i : i + batch_size]).to(device)).float().cpu()
        for i in range(0, len(graphs), batch_size)
    ]
    return torch.cat(out) if out else torch.zeros(0)


def task_scores(data: GraphSet, scores: torch.Tensor, network: str | None = None):
    """Split a set's scores into :class:`TaskScores`, weighted by network usage."""
    out = []
    for key, members in zip(data.tasks, data.task_members(), strict=True):
        networks = data.task_info.get(key, {}).get("networks", {})
        if network is not None and network not in networks:
            continue
        weight = (
            networks[network]["weight"]
            if network is not None
            else sum(n.get("weight", 1) for n in networks.values()) or 1
        )
        out.append(TaskScores(data.costs[members], scores[members], data.labels[members], weight))
    return out


def evaluate_model(model: TPGNN, data: GraphSet, device: torch.device) -> RankingMetrics:
    return ranking_metrics(task_scores(data, score_graphs(model, data.graphs, device)))


def selection_key(val: dict) -> float:
    """How validation results are ranked, for epochs and seeds alike: pairwise accuracy first,
    top-1 breaking ties."""
    return val["pairwise_accuracy"] + 1e-3 * val["top1"]


def train(
    config: TrainConfig,
    model_config: ModelConfig,
    train_set: GraphSet,
    val_set: GraphSet,
    type_vectors: torch.Tensor | None = None,
) -> tuple[TPGNN, dict]:
    """Train; returns the model of the epoch that validates best, and an info dict: the
    validation ``history``, the type ``vectors`` it started from (``None`` without fastText)
    and the number of ``train_graphs`` it trained on (fewer than given with a ``task_fraction``
    or ``program_fraction``).

    With ``config.fasttext`` the type embedding starts from ``type_vectors``, trained on the
    training split when not given. Given the same vectors, training is bit-reproducible for a
    seed, on CUDA too (:func:`deterministic_algorithms`); fastText itself is not (see
    :func:`tpgnn.embeddings.train_type_vectors`), so pass saved vectors to repeat a run exactly.
    """
    from tqdm import tqdm

    from ._memory import reuse_freed_memory
    from .batch import batch_graphs
    from .embeddings import train_type_vectors

    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(
            f"training needs graphs in both splits, got {len(train_set)} train and "
            f"{len(val_set)} validation: collect data first (`tpgnn collect`)"
        )
    drawn = training_draw(train_set, config)
    if len(drawn) < len(train_set):
        logger.info("training on %d of %d programs, %d of %d tasks (task_fraction %g, "
                    "program_fraction %g)", len(drawn), len(train_set), len(drawn.tasks),
                    len(train_set.tasks), config.task_fraction, config.program_fraction)
    train_set = drawn
    reuse_freed_memory()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    vectors = None
    if config.fasttext:
        vectors = type_vectors
        if vectors is None:
            vectors = train_type_vectors(
                train_set.graphs, model_config.type_embedding_dim, seed=config.seed
            )
    model = TPGNN(model_config, vectors)
    model.set_feature_statistics(*feature_statistics(train_set.graphs))
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = sum(
        1 for _ in task_batches(train_set, config.tasks_per_batch, config.samples_per_task,
                                np.random.default_rng(0))
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs * steps_per_epoch
    )
    loss_fn = loss_function(config.loss)
    rng = np.random.default_rng(config.seed)
    history: list[dict] = []
    best: tuple[float, dict] | None = None
    with deterministic_algorithms(device.type == "cuda"):
        for epoch in range(config.epochs):
            model.train()
            losses = []
            bar = tqdm(
                task_batches(train_set, config.tasks_per_batch, config.samples_per_task, rng),
                total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
            )
            for idx in bar:
                batch = batch_graphs([train_set.graphs[i] for i in idx.tolist()]).to(device)
                scores = model(batch)
                labels = train_set.labels[idx].to(device)
                loss = loss_fn(scores, labels, train_set.task_index[idx].to(device))
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            val = evaluate_model(model, val_set, device)
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), **val.to_dict()})
            logger.info(
                "epoch %d: loss %.4f, val pairwise %.4f top1 %.4f top5 %.4f",
                epoch + 1, np.mean(losses), val.pairwise_accuracy, val.top1, val.top5,
            )
            key = selection_key(history[-1])
            if best is None or key > best[0]:
                best = (key, {k: v.detach().clone() for k, v in model.state_dict().items()})
    assert best is not None
    model.load_state_dict(best[1])
    return model.cpu().eval(), {"history": history, "vectors": vectors,
                                "train_graphs": len(train_set)}


def train_seeds(
    config: TrainConfig,
    model_config: ModelConfig,
    train_set: GraphSet,
    val_set: GraphSet,
    seeds: Sequence[int],
    type_vectors: torch.Tensor | None = None,
) -> tuple[TPGNN, dict]:
    """Train once per seed and keep the run that validates best.

    The seed alone moves the best validation pairwise accuracy by up to 0.05 on our data
    (README), as much as the recipe changes one would choose between, so a recipe is judged
    by its best of several seeds. Each seed draws its own fastText vectors unless
    ``type_vectors`` is given.

    Returns
    -------
    (TPGNN, dict)
        The chosen model, and :func:`train`'s info for it plus ``seed`` and ``seed_runs``
        (each seed's best validation).
    """
    if not seeds:
        raise ValueError("train_seeds needs at least one seed")
    runs = []
    for seed in seeds:
        model, info = train(replace(config, seed=seed), model_config, train_set, val_set,
                            type_vectors)
        best = max(info["history"], key=selection_key)
        logger.info("seed %d: best val pairwise %.4f top1 %.4f (epoch %d)",
                    seed, best["pairwise_accuracy"], best["top1"], best["epoch"])
        runs.append((best, seed, model, info))
    best, seed, model, info = max(runs, key=lambda r: selection_key(r[0]))
    seed_runs = [{"seed": r[1], **r[0]} for r in runs]
    return model, {**info, "seed": seed, "seed_runs": seed_runs}


def run(args: argparse.Namespace) -> int:
    """Handler of ``tpgnn train``."""
    from .checkpoint import checkpoint_metadata, save_checkpoint
    from .dataset import data_snapshot, load_graph_set
    from .embeddings import load_type_vectors, save_type_vectors

    config = TrainConfig(
        loss=args.loss, epochs=args.epochs, lr=args.lr, fasttext=not args.no_fasttext,
        seed=args.seed[0], device=args.device, tasks_per_batch=args.tasks_per_batch,
        samples_per_task=args.samples_per_task, task_fraction=args.task_fraction,
        program_fraction=args.program_fraction,
    )
    model_config = ModelConfig(
        num_node_types=len(node_type_vocabulary()),
        num_node_features=len(node_feature_names()),
        num_edge_types=len(edge_type_names()),
        hidden_dim=args.hidden_dim,
        layer_norm=args.layer_norm,
        residual=args.residual,
        gate_temperature=args.gate_temperature,
        negative_slope=args.negative_slope,
        cost_readout=args.cost_readout,
    )
    logger.info("train config: %s", asdict(config))
    logger.info("model config: %s", model_config.to_dict())
    cache = None if args.no_cache else args.cache_dir
    snapshot = None
    if args.data_snapshot_of:
        snapshot = checkpoint_metadata(args.data_snapshot_of).get("train_config", {}).get(
            "data_snapshot")
        if snapshot is None:
            raise ValueError(f"{args.data_snapshot_of} records no data snapshot to reuse")
    train_set = load_graph_set(args.data, ["train"], cache_dir=cache, workers=args.workers,
                               snapshot=snapshot)
    val_set = load_graph_set(args.data, ["val"], cache_dir=cache, workers=args.workers,
                             snapshot=snapshot)
    if args.prepare_only:
        print(f"graphs ready in {cache}: {len(train_set)} train and {len(val_set)} validation "
              f"programs; nothing trained")
        return 0
    vectors = None
    if config.fasttext and args.type_vectors:
        vectors = load_type_vectors(args.type_vectors)
    model, info = train_seeds(config, model_config, train_set, val_set, args.seed, vectors)
    if config.fasttext and not args.type_vectors:
        vectors_path = Path(args.out).with_suffix(".vectors.pt")
        vectors_path.parent.mkdir(parents=True, exist_ok=True)
        save_type_vectors(info["vectors"], vectors_path)
        logger.info("fastText type vectors saved to %s", vectors_path)
    best = max(info["history"], key=selection_key)
    save_checkpoint(
        args.out, model,
        train_config={**asdict(replace(config, seed=info["seed"])), "data": str(args.data),
                      "train_graphs": info["train_graphs"],
                      "val_graphs": len(val_set),
                      "data_snapshot": data_snapshot(train_set, val_set)},
        metrics={"best_val": best, "history": info["history"], "seed_runs": info["seed_runs"]},
    )
    print(f"best epoch {best['epoch']} of seed {info['seed']}: val pairwise accuracy "
          f"{best['pairwise_accuracy']:.4f}, top1 {best['top1']:.4f}, top5 {best['top5']:.4f}; "
          f"checkpoint {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    defaults = TrainConfig()
    p = subparsers.add_parser("train", help="train the GNN cost model on the measured dataset")
    p.add_argument("--data", default="data", help="dataset directory (default: data)")
    p.add_argument("--out", default="out/tpgnn.pt", help="checkpoint to write")
    p.add_argument("--loss", choices=LOSSES, default=defaults.loss)
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--tasks-per-batch", type=int, default=defaults.tasks_per_batch)
    p.add_argument("--samples-per-task", type=int, default=defaults.samples_per_task)
    p.add_argument("--task-fraction", type=float, default=defaults.task_fraction, metavar="F",
                   help="train on this share of the training tasks, a fixed draw (TrainConfig; "
                        "for data-scaling experiments)")
    p.add_argument("--program-fraction", type=float, default=defaults.program_fraction,
                   metavar="F", help="train on this share of each training task's programs, "
                   "a fixed draw (TrainConfig; for data-scaling experiments)")
    p.add_argument("--hidden-dim", type=int, default=ModelConfig(1, 1).hidden_dim)
    p.add_argument("--layer-norm", action="store_true",
                   help="LayerNorm before each ReLU of the message passing (ModelConfig)")
    p.add_argument("--residual", action="store_true",
                   help="add each message-passing level to its input (ModelConfig)")
    p.add_argument("--gate-temperature", action=argparse.BooleanOptionalAction,
                   default=ModelConfig(1, 1).gate_temperature,
                   help="learn a temperature for each TopK pooling gate (ModelConfig; on by "
                        "default, as in the shipped model)")
    p.add_argument("--negative-slope", type=float, default=ModelConfig(1, 1).negative_slope,
                   help="slope of the activations below zero: 0 is ReLU, e.g. 0.01 leaky ReLU "
                        "(ModelConfig)")
    p.add_argument("--cost-readout", type=int, default=ModelConfig(1, 1).cost_readout,
                   metavar="K", help="channels of a log-sum-exp readout beside max and mean, "
                                     "0 for none (ModelConfig)")
    p.add_argument("--no-fasttext", action="store_true",
                   help="plain learned type embedding (the ablation)")
    p.add_argument("--type-vectors", metavar="PATH",
                   help="fastText vectors saved by an earlier run (OUT.vectors.pt), to repeat it")
    p.add_argument("--seed", type=int, nargs="+", default=[defaults.seed],
                   help="one seed, or several: train once per seed and keep the run that "
                        "validates best (the seed alone moves validation accuracy)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=defaults.device)
    p.add_argument("--workers", type=int, default=2, help="graph extraction processes")
    p.add_argument("--cache-dir", default="cache/graphs")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--prepare-only", action="store_true",
                   help="extract the dataset's graphs into the cache and stop, so that several "
                        "training runs started next share one cache instead of each building it")
    p.add_argument("--data-snapshot-of", metavar="CHECKPOINT",
                   help="train on exactly the records another checkpoint was trained on "
                        "(the dataset may have grown since), e.g. for an ablation")
    p.set_defaults(func=run)

