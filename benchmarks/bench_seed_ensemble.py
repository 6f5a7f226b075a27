"""Seeds of one recipe on validation: each alone, the mean of their logits, and best-of-seeds.

The seed alone moves the GNN's validation pairwise accuracy by up to 0.05 (README), and the
shipped model is the best of several seeds on validation. Two ways to use several seeds:

- **best of seeds** (``tpgnn train --seed 0 1 2``): keep the run that validates best;
- **ensemble**: score with the mean of every run's logits (costs one embedding per member
  in ``GNNModel.predict``, where embedding is almost all of the GNN's predict time).

Comparing the best seed's validation score with the ensemble's favours the best seed: it was
picked for that score. So the validation tasks are also split in two halves (alternating, in
the order of their keys): the seed is picked on one half and scored on the other, beside the
ensemble on that half, and the other way round.

Checkpoints must have been trained on the same records (``--data-snapshot-of``), e.g.::

    OMP_NUM_THREADS=1 .venv/bin/tpgnn train --epochs 11 --seed 2 \\
        --type-vectors python/tpgnn/pretrained/node_type_vectors.pt \\
        --data-snapshot-of python/tpgnn/pretrained/tpgnn.pt --out out/seed2.pt
    .venv/bin/python benchmarks/bench_seed_ensemble.py python/tpgnn/pretrained/tpgnn.pt \\
        out/seed0.pt out/seed2.pt out/seed3.pt --plot out/seed_ensemble.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def metrics_of(tasks: list, indices: list[int]) -> dict:
    """Ranking metrics over the tasks at ``indices``."""
    from tpgnn.metrics import ranking_metrics

    return ranking_metrics([tasks[i] for i in indices]).to_dict()


def plot(members: dict[str, float], ensemble: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [*members, "ensemble"]
    values = [*members.values(), ensemble]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 3.6))
    ax.bar(names, values, color=["tab:blue"] * len(members) + ["tab:orange"])
    ax.set_ylim(min(values) - 0.03, max(values) + 0.01)
    ax.set_ylabel("validation pairwise accuracy")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot written to {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoints of one recipe, other seeds")
    parser.add_argument("--data", default="data")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache-dir", default="cache/graphs")
    parser.add_argument("--plot", type=Path, metavar="PNG")
    args = parser.parse_args()
    if len(args.checkpoints) < 2:
        parser.error("give at least two checkpoints")

    from tpgnn.checkpoint import checkpoint_metadata, load_checkpoint
    from tpgnn.dataset import load_graph_set
    from tpgnn.train import score_graphs, selection_key, task_scores

    snapshots = [checkpoint_metadata(p)["train_config"].get("data_snapshot")
                 for p in args.checkpoints]
    if any(s != snapshots[0] for s in snapshots):
        raise SystemExit("the checkpoints were trained on different records: retrain them with "
                         f"`tpgnn train --data-snapshot-of {args.checkpoints[0]}`")
    val = load_graph_set(args.data, ["val"], cache_dir=args.cache_dir, workers=args.workers,
                         snapshot=snapshots[0])
    cpu = torch.device("cpu")
    logits = {p: score_graphs(load_checkpoint(p)[0], val.graphs, cpu) for p in args.checkpoints}
    tasks = {p: task_scores(val, s) for p, s in logits.items()}
    everything = list(range(len(val.tasks)))

    print(f"validation: {len(val)} programs of {len(val.tasks)} tasks")
    members = {}
    for p in args.checkpoints:
        m = metrics_of(tasks[p], everything)
        members[Path(p).name] = m["pairwise_accuracy"]
        print(f"  {Path(p).name:28s} pairwise {m['pairwise_accuracy']:.4f}  top1 {m['top1']:.4f}"
              f"  top5 {m['top5']:.4f}")
    print(f"  mean of the members         pairwise {sum(members.values()) / len(members):.4f}")
    for k in range(2, len(args.checkpoints) + 1):
        prefix = task_scores(val, sum(logits[p] for p in args.checkpoints[:k]) / k)
        m = metrics_of(prefix, everything)
        print(f"  ensemble of the first {k:<5d} pairwise {m['pairwise_accuracy']:.4f}  "
              f"top1 {m['top1']:.4f}  top5 {m['top5']:.4f}")
    # The ensemble compared below and plotted is that of every checkpoint (the last prefix).
    tasks["ensemble"] = prefix
    ensemble = m["pairwise_accuracy"]

    print("best of seeds against the ensemble, the seed picked on the other half:")
    halves = [everything[0::2], everything[1::2]]
    for pick, score in ((0, 1), (1, 0)):
        chosen = max(args.checkpoints,
                     key=lambda p: selection_key(metrics_of(tasks[p], halves[pick])))
        c, e = metrics_of(tasks[chosen], halves[score]), metrics_of(tasks["ensemble"],
                                                                    halves[score])
        print(f"  half {score}: best of seeds ({Path(chosen).name}) pairwise "
              f"{c['pairwise_accuracy']:.4f} top1 {c['top1']:.4f}; ensemble pairwise "
              f"{e['pairwise_accuracy']:.4f} top1 {e['top1']:.4f}")
    if args.plot:
        plot(members, ensemble, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
