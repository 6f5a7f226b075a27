"""What a group of the graph pass's feature columns adds to the shipped training recipe.

The recipe is trained twice, with the group and with it zeroed.

Run: ``.venv/bin/python benchmarks/bench_column_ablation.py --columns memory [--epochs 11]
[--seed 0]`` (11 epochs on the 59,679 training programs: about 30 min on a quiet 2-core
machine; the two runs go in parallel, one core each). The shipped model is seed 0; the seed
moves the figures as much as a column group may, so compare the two runs of one invocation
only.

The groups (see ``cpp/include/tpgnn/node_features.h``):

- ``loop_context``, the ``enclosing_*`` columns: how often the loops around a node make it run
  and how they are parallelised, vectorised and unrolled;
- ``access``, the ``access_*`` columns: the stride and reuse of each load and store along
  the loops around it, and what they cost in bytes, cache lines and reuse distance;
- ``memory``, the last five of those: element bytes, unique bytes, cache lines and reuse
  distance (bytes, iterations).

Both runs train ``tpgnn train``'s recipe on the same training records, with the same seed and
the shipped fastText vectors; the ablated run sees the group's columns as zeros in every graph
(and its checkpoint is not written: the columns are real at inference). It prints each run's
best validation pairwise accuracy and top-1, and the training loss of its last epoch.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

#: The column groups, by the prefixes of their names.
COLUMN_GROUPS = {
    "loop_context": ("enclosing_",),
    "access": ("access_",),
    "memory": ("access_element_bytes", "access_unique_bytes", "access_cache_lines",
               "access_reuse_distance_"),
}


def train_once(data: str, epochs: int, seed: int, ablated: tuple[str, ...] | None) -> dict:
    """One training run on one thread (runs in a worker process); its validation history."""
    import torch

    torch.set_num_threads(1)
    from tpgnn.checkpoint import default_checkpoint_path
    from tpgnn.dataset import load_graph_set
    from tpgnn.embeddings import load_type_vectors
    from tpgnn.graph import edge_type_names, node_feature_names, node_type_vocabulary
    from tpgnn.model import ModelConfig
    from tpgnn.train import TrainConfig, train

    train_set = load_graph_set(data, ["train"])
    val_set = load_graph_set(data, ["val"])
    names = node_feature_names()
    if ablated is not None:
        columns = [i for i, name in enumerate(names) if name.startswith(ablated)]
        for graph in train_set.graphs + val_set.graphs:
            graph.node_features[:, columns] = 0.0  # views of the in-memory arrays only
    vectors_path = default_checkpoint_path().with_name("node_type_vectors.pt")
    model_config = ModelConfig(len(node_type_vocabulary()), len(names), len(edge_type_names()))
    config = TrainConfig(epochs=epochs, seed=seed, device="cpu")
    _, info = train(config, model_config, train_set, val_set, load_type_vectors(vectors_path))
    return {"train_graphs": len(train_set), "val_graphs": len(val_set),
            "history": info["history"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", choices=sorted(COLUMN_GROUPS), required=True,
                        help="the group of columns the ablated run zeroes")
    parser.add_argument("--data", default="data")
    parser.add_argument("--epochs", type=int, default=11)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write both runs' histories here")
    args = parser.parse_args()

    from tpgnn.train import selection_key

    group = args.columns.replace("_", " ")
    runs = {f"with {group}": None, f"{group} zeroed": COLUMN_GROUPS[args.columns]}
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        futures = {
            name: pool.submit(train_once, args.data, args.epochs, args.seed, prefix)
            for name, prefix in runs.items()
        }
        results = {name: f.result() for name, f in futures.items()}
    first = next(iter(results.values()))
    print(f"{first['train_graphs']} training / {first['val_graphs']} validation programs, "
          f"seed {args.seed}, {args.epochs} epochs")
    print(f"{'run':<22} {'best epoch':>10} {'val pairwise':>13} {'val top-1':>10} "
          f"{'last loss':>10}")
    for name, result in results.items():
        best = max(result["history"], key=selection_key)
        print(f"{name:<22} {best['epoch']:>10} {best['pairwise_accuracy']:>13.4f} "
              f"{best['top1']:>10.4f} {result['history'][-1]['loss']:>10.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
