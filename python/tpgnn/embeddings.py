"""Node-type embeddings learned with fastText from random walks over program graphs.

Types that co-occur along the program's structure (a ``tirx.For`` beside its ``ir.Range``,
a ``prim.FloorDiv`` beside a ``prim.FloorMod``) get similar vectors before the GNN is trained,
as word2vec does for words; the GNN's type embedding starts from them.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .graph import ProgramGraph, node_type_vocabulary

logger = logging.getLogger(__name__)


def random_walks(
    graph: ProgramGraph, num_walks: int, length: int, rng: np.random.Generator
) -> np.ndarray:
    """``num_walks`` random walks of ``length`` nodes over every edge kind.

    Returns
    -------
    np.ndarray
        int ``[num_walks, length]`` node-type ids; a walk stays put at a node without edges.
    """
    row_ptr = graph.row_ptr.numpy()
    col = graph.col.numpy()
    degree = np.diff(row_ptr)
    node = rng.integers(0, graph.num_nodes, size=num_walks)
    steps = [node]
    for _ in range(length - 1):
        d = degree[node]
        offset = (rng.random(num_walks) * np.maximum(d, 1)).astype(np.int64)
        node = np.where(d > 0, col[np.minimum(row_ptr[node] + offset, len(col) - 1)], node)
        steps.append(node)
    return graph.node_type.numpy()[np.stack(steps, axis=1)]


def write_corpus(
    graphs: Sequence[ProgramGraph], path: Path, walks_per_graph: int, length: int, seed: int
) -> int:
    """Write one walk per line as space-separated type keys; returns the number of lines."""
    vocab = node_type_vocabulary()
    rng = np.random.default_rng(seed)
    lines = 0
    with open(path, "w") as f:
        for g in graphs:
            for walk in random_walks(g, walks_per_graph, length, rng):
                f.write(" ".join(vocab[t] for t in walk))
                f.write("\n")
                lines += 1
    return lines


def train_type_vectors(
    graphs: Sequence[ProgramGraph],
    dim: int,
    *,
    walks_per_graph: int = 8,
    walk_length: int = 32,
    epochs: int = 5,
    seed: int = 0,
) -> torch.Tensor:
    """Train fastText skip-gram vectors for every node type of the vocabulary.

    Character n-grams stay on: keys that share pieces (``prim.FloorDiv`` / ``prim.FloorMod``,
    ``s_tir.SBlock`` / ``s_tir.SBlockRealize``) start close, the prior fastText adds over
    word2vec. Only the ``[V, dim]`` vectors are kept (a few KB); the fastText model itself is
    discarded. Its hash table keeps fastText's default size: measured here with fastText 0.9.3
    (and the numpy-2 fork), buckets of 2,000 to 100,000 made single-thread training erratic
    (vectors off by 0.1 to 27 between identical runs, or NaN); with 2,000,000 they differ by
    under 0.01 at most, and are identical on some corpora. The cause is fastText reading memory
    it has not written (small tables come from recycled heap memory, the large one from fresh
    pages), so it runs in a process of its own (:mod:`tpgnn._fasttext_worker`), where a
    training process's recycled heap cannot reach it. fastText is therefore not
    bit-reproducible: ``tpgnn train`` saves the vectors so a run can be repeated exactly. The
    vectors are scaled to unit standard deviation, the scale of a fresh ``nn.Embedding``.

    Returns
    -------
    torch.Tensor
        float32 ``[len(vocabulary), dim]``; zeros for types absent from the walks.
    """
    if not graphs:
        raise ValueError("train_type_vectors needs at least one graph")
    keys = node_type_vocabulary()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, keys_path, out = (Path(tmp) / n for n in ("walks.txt", "keys.txt", "v.npy"))
        lines = write_corpus(graphs, corpus, walks_per_graph, walk_length, seed)
        keys_path.write_text("\n".join(keys))
        logger.info("fastText on %d walks of %d node types", lines, walk_length)
        # In a process of its own: see tpgnn._fasttext_worker for why.
        worker = [sys.executable, "-m", "tpgnn._fasttext_worker", str(corpus), str(keys_path),
                  str(out), str(dim), str(epochs)]
        done = subprocess.run(worker, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"fastText failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}\n"
                "Train without it (`tpgnn train --no-fasttext`) or pass vectors saved by an "
                "earlier run (`--type-vectors`)."
            )
        vectors = np.load(out)
    matrix = torch.from_numpy(vectors)
    seen = matrix.norm(dim=1) > 0
    if bool(seen.any()):
        matrix[seen] /= matrix[seen].std().clamp(min=1e-12)
    return matrix


def save_type_vectors(vectors: torch.Tensor, path: str | Path) -> None:
    """Store vectors with the vocabulary they index, so a mismatch can be detected."""
    torch.save({"vocabulary": list(node_type_vocabulary()), "vectors": vectors}, path)


def load_type_vectors(path: str | Path) -> torch.Tensor:
    """Vectors saved by :func:`save_type_vectors`, checked against the running vocabulary."""
    data = torch.load(path, weights_only=True)
    if tuple(data["vocabulary"]) != node_type_vocabulary():
        raise ValueError(
            f"{path} was trained for another node-type vocabulary; retrain it with "
            "`tpgnn train` (which runs fastText on the training split)"
        )
    return data["vectors"]
