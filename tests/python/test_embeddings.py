"""Tests of tpgnn.embeddings: random walks and fastText type vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tpgnn
from tpgnn.embeddings import load_type_vectors, random_walks, save_type_vectors, train_type_vectors
from tpgnn.graph import node_type_vocabulary


@pytest.fixture(scope="module")
def graphs(scheduled_programs):
    return [tpgnn.extract_graph(m) for mods in scheduled_programs.values() for m in mods]


def test_walks_follow_edges(graphs):
    g = graphs[0]
    walks = random_walks(g, 5, 10, np.random.default_rng(0))
    assert walks.shape == (5, 10)
    assert set(np.unique(walks)) <= set(g.node_type.tolist())


def test_vectors_cover_the_types_of_the_walks(graphs):
    # fastText 0.9.3 is not bit-reproducible here (see train_type_vectors), so no equality.
    a = train_type_vectors(graphs, 16, walks_per_graph=4, walk_length=16, seed=1)
    assert a.shape == (len(node_type_vocabulary()), 16)
    assert bool(torch.isfinite(a).all())
    vocab = node_type_vocabulary()
    for common in ("ir.IntImm", "ir.Var", "tirx.For", "prim.Add"):
        assert float(a[vocab.index(common)].norm()) > 0
    assert float(a[0].norm()) == 0.0  # <unknown> never occurs in real programs


def test_save_load_checks_the_vocabulary(graphs, tmp_path):
    vectors = train_type_vectors(graphs[:2], 8, walks_per_graph=2, walk_length=8)
    path = tmp_path / "v.pt"
    save_type_vectors(vectors, path)
    torch.testing.assert_close(load_type_vectors(path), vectors)
    torch.save({"vocabulary": ["x"], "vectors": vectors}, path)
    with pytest.raises(ValueError, match="another node-type vocabulary"):
        load_type_vectors(path)


def test_vectors_do_not_depend_on_recycled_memory(graphs):
    # fastText reads memory it has not written: run in this process after a training process
    # freed a block of garbage (here 320 MB of 1e30), its vectors carried values near 1e30.
    from tpgnn._memory import reuse_freed_memory

    clean = train_type_vectors(graphs, 16, walks_per_graph=4, walk_length=16, seed=1)
    reuse_freed_memory()
    junk = np.full(80_000_000, 1e30, dtype=np.float32)
    junk += 1
    del junk
    again = train_type_vectors(graphs, 16, walks_per_graph=4, walk_length=16, seed=1)
    torch.testing.assert_close(again, clean, atol=0.05, rtol=0)
