"""Tests of tpgnn.batch: vectorised collation equals PyG's own."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

import tpgnn


@pytest.fixture(scope="module")
def graphs(scheduled_programs):
    mods = scheduled_programs["conv2d"][:3] + scheduled_programs["softmax"][:2]
    return [tpgnn.extract_graph(mod) for mod in mods]


def _as_data(graph) -> Data:
    return Data(
        x=graph.node_features,
        node_type=graph.node_type.long(),
        edge_index=graph.edge_index(),
        edge_type=graph.edge_type,
    )


def test_equals_from_data_list(graphs):
    ours = tpgnn.batch_graphs(graphs)
    theirs = Batch.from_data_list([_as_data(g) for g in graphs])
    assert ours.num_graphs == theirs.num_graphs == len(graphs)
    for key in ["x", "node_type", "edge_index", "edge_type", "batch", "ptr"]:
        assert torch.equal(ours[key], theirs[key]), key


def test_to_data_list_round_trip(graphs):
    for original, back in zip(graphs, tpgnn.batch_graphs(graphs).to_data_list(), strict=True):
        assert torch.equal(back.x, original.node_features)
        assert torch.equal(back.edge_index, original.edge_index())
        assert torch.equal(back.edge_type, original.edge_type)


def test_edges_stay_inside_their_graph(graphs):
    batch = tpgnn.batch_graphs(graphs)
    src, dst = batch.edge_index
    assert torch.equal(batch.batch[src], batch.batch[dst])


def test_single_graph(graphs):
    batch = tpgnn.batch_graphs(graphs[:1])
    assert batch.num_graphs == 1 and batch.num_nodes == graphs[0].num_nodes


def test_empty_sequence_is_refused():
    with pytest.raises(ValueError, match="at least one graph"):
        tpgnn.batch_graphs([])
