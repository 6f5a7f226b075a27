"""Tests of tpgnn.typed_graph_conv: the same function as PyG's RGCNConv(aggr="mean")."""

from __future__ import annotations

import torch
from torch_geometric.nn import RGCNConv

from tpgnn.typed_graph_conv import TypedGraphConv


def _random_graph(num_nodes=30, num_edges=120, num_types=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    edge_type = torch.randint(0, num_types, (num_edges,), generator=g)
    x = torch.randn(num_nodes, 8, generator=g)
    return x, edge_index, edge_type


def test_equals_rgcn_mean():
    x, edge_index, edge_type = _random_graph()
    ours = TypedGraphConv(8, 5, 3)
    theirs = RGCNConv(8, 5, 3, aggr="mean")
    with torch.no_grad():
        for r in range(3):
            theirs.weight[r].copy_(ours.relations.weight[:, r * 8 : (r + 1) * 8].T)
        theirs.root.copy_(ours.root.weight.T)
        theirs.bias.copy_(ours.root.bias)
    torch.testing.assert_close(ours(x, edge_index, edge_type), theirs(x, edge_index, edge_type))


def test_isolated_nodes_keep_their_root_term():
    conv = TypedGraphConv(4, 2, 2)
    x = torch.randn(3, 4)
    out = conv(x, torch.tensor([[0], [1]]), torch.tensor([1]))
    torch.testing.assert_close(out[2], conv.root(x[2]))


def test_repr_and_shapes():
    conv = TypedGraphConv(16, 32, 3)
    assert repr(conv) == "TypedGraphConv(16, 32, num_edge_types=3)"
    x, edge_index, edge_type = _random_graph()
    assert TypedGraphConv(8, 32, 3)(x, edge_index, edge_type).shape == (30, 32)
