"""How well checkpoints fit their training tasks, against validation, and their dead units.

The seed alone moves the GNN's validation pairwise accuracy by 0.07 (README). Whether that is
a matter of fitting (some draws train worse) or of generalising (some fits transfer worse)
decides what to try next: a model that fits its training tasks no better than validation is
held back by optimisation or capacity, one with a wide gap by its data and inductive bias.
So for each checkpoint this prints the ranking metrics on a fixed sample of training tasks
and on the validation split, and, per message-passing level, the share of hidden units that
no node of 1,024 validation programs drives above zero: a ReLU unit that never fires gets no
gradient, stays dead and narrows the model.

A checkpoint trained on a share of the training tasks (``tpgnn train --task-fraction``) is
scored on the sampled tasks it trained on, and also on every training task it left out: the
networks it learned from, workloads it never saw. That places the gap to validation between
unseen workloads and an unseen network. One trained on a share of each task's programs
(``--program-fraction``) is scored on the sampled tasks' programs it trained on, and on the
programs it left out: workloads it learned from, programs it never saw.

Checkpoints must have been trained on the same records (``--data-snapshot-of``), e.g.::

    .venv/bin/python benchmarks/bench_training_fit.py python/tpgnn/pretrained/tpgnn.pt \\
        out/seed0.pt out/seed1.pt

Loading the training graphs takes about 5 GB of memory and half a minute with the graph
cache in place; scoring is one thread, a few seconds per checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def dead_unit_shares(model, batch) -> dict[str, float]:
    """Share of the units of the input projection and of each convolution that are not above
    zero for any node of ``batch`` (their pre-activation, as the ReLU sees it)."""
    layers = {"input": model.input, **{f"conv{i}": c for i, c in enumerate(model.convs)}}
    outputs: dict[str, torch.Tensor] = {}
    hooks = [layer.register_forward_hook(
        lambda _module, _inputs, output, name=name: outputs.__setitem__(name, output))
        for name, layer in layers.items()]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for hook in hooks:
            hook.remove()
    return {name: float(((out > 0).sum(0) == 0).float().mean()) for name, out in outputs.items()}


def samples_of(data, keys: set[tuple[str, int]], inside: bool = True):
    """``data``'s samples whose ``(shard, record)`` is among ``keys`` (``inside``) or is not."""
    return data.subset([i for i, k in enumerate(data.keys) if (k in keys) == inside])


def pairwise_top1(model, data) -> str:
    """``pairwise / top1`` of ``model`` on ``data``, or a dash when it holds no task."""
    from tpgnn.metrics import ranking_metrics
    from tpgnn.train import score_graphs, task_scores

    if not data.tasks:
        return f"{'-':>13s}"
    fit = ranking_metrics(task_scores(data, score_graphs(model, data.graphs, torch.device("cpu"))))
    return f"{fit.pairwise_accuracy:.3f} / {fit.top1:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoints trained on the same records")
    parser.add_argument("--data", default="data")
    parser.add_argument("--cache-dir", default="cache/graphs")
    parser.add_argument("--train-tasks", type=int, default=80,
                        help="training tasks sampled (fixed by --seed) to score")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from tpgnn.batch import batch_graphs
    from tpgnn.checkpoint import checkpoint_metadata, load_checkpoint
    from tpgnn.dataset import load_graph_set
    from tpgnn.evaluate import training_recipe
    from tpgnn.train import training_draw

    torch.set_num_threads(1)
    snapshots = [checkpoint_metadata(p)["train_config"].get("data_snapshot")
                 for p in args.checkpoints]
    if any(s != snapshots[0] for s in snapshots):
        raise SystemExit("the checkpoints were trained on different records: retrain them with "
                         f"`tpgnn train --data-snapshot-of {args.checkpoints[0]}`")
    sets = {split: load_graph_set(args.data, [split], cache_dir=args.cache_dir, workers=1,
                                  snapshot=snapshots[0]) for split in ("train", "val")}
    full_train = sets["train"]
    members = full_train.task_members()
    count = min(args.train_tasks, len(members))
    picked = np.random.default_rng(args.seed).choice(len(members), count, replace=False)
    sets["train"] = full_train.subset(torch.cat([members[i] for i in sorted(picked)]).tolist())
    probe = batch_graphs(sets["val"].graphs[::5][:1024])
    print(f"train: {len(sets['train'])} programs of {count} tasks; "
          f"val: {len(sets['val'])} programs of {len(sets['val'].tasks)} tasks")
    print(f"{'checkpoint':24s} {'train pairwise/top1':>20s} {'left out':>14s} "
          f"{'val pairwise/top1':>18s}  dead units (input, conv0-2)")
    for path in args.checkpoints:
        model = load_checkpoint(path)[0].eval()
        drawn = training_draw(full_train, training_recipe(checkpoint_metadata(path)))
        trained, left_out = sets["train"], full_train.subset([])
        if len(drawn) < len(full_train):
            keys = set(drawn.keys)
            trained = samples_of(sets["train"], keys)
            left_out = samples_of(full_train, keys, inside=False)
        dead = dead_unit_shares(model, probe)
        print(f"{Path(path).name:24s} {pairwise_top1(model, trained):>20s} "
              f"{pairwise_top1(model, left_out):>14s} {pairwise_top1(model, sets['val']):>18s}  "
              + " ".join(f"{v:.2f}" for v in dead.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
