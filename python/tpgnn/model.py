"""The TPGNN network: typed message passing with hierarchical TopK pooling over program graphs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.nn import TopKPooling, global_add_pool, global_max_pool, global_mean_pool

from .typed_graph_conv import TypedGraphConv


@dataclass(frozen=True)
class ModelConfig:
    r"""Hyper-parameters of :class:`TPGNN`; stored with every checkpoint.

    Attributes
    ----------
    num_node_types
        Size of the node-type vocabulary (``len(tpgnn.node_type_vocabulary())``).
    num_node_features
        Numeric features per node (``F`` of the graph pass).
    num_edge_types
        Edge kinds of the graph pass (parent-to-child, child-to-parent, def-use).
    type_embedding_dim
        Width of the node-type embedding (initialised from fastText when vectors are given).
    hidden_dim
        Width of every message-passing layer.
    num_layers
        Message-passing layers, each followed by a TopK pooling.
    pool_ratio
        Fraction of nodes each TopK pooling keeps.
    head_hidden_dim
        Width of the MLP head's hidden layer.
    dropout
        Dropout before the head's output layer.
    layer_norm
        LayerNorm on the input projection and on each convolution's output, before the ReLU.
        Node features reach z-scores of 40 on sparse columns, and without it one initial draw
        trains much slower than another; with it (and ``residual``) two seeds landed 10x
        closer on validation, at no better mean (README), so the shipped model is without.
    residual
        Add each convolution's activation to its input instead of replacing it, so a level
        refines the one below rather than relearning it.
    gate_temperature
        Each TopK pooling gates its kept nodes by ``tanh(score * e^a)`` with a learnable ``a``
        (:class:`GateTemperature`, 0 at start) instead of ``tanh(score)``. PyG divides the
        score by its weight's norm, so without ``a`` only the scale of the node features sets
        how hard the gate saturates. On by default: five seeds with it spread 0.021 in
        validation pairwise accuracy, four without it 0.053, and the shipped model uses it
        (README). Checkpoints written before the option existed load with it off
        (:meth:`from_dict`).
    negative_slope
        Slope of every activation below zero: 0 is ReLU (the default, and every shipped
        model's), a small positive value leaky ReLU, which keeps a gradient for a unit that
        never fires. In the seed that validated worst on the re-measured labels, 56% of the
        second convolution's units never fired on 1,024 validation programs. At 0.01, four
        seeds spread 0.028 in validation pairwise accuracy instead of 0.071, at a lower mean
        and best seed (README), so ReLU stays the default.
    cost_readout
        Channels of a log-sum-exp readout beside max and mean (0, the default and every
        shipped model's, leaves it out). At each level a linear map gives every node ``K``
        values before pooling, and each graph reads out :math:`\log \sum_v e^{u_v}` per channel.
        A program's run time is a sum over its statements of what each costs, which max and
        mean cannot express; if ``u_v`` is the log of what node ``v`` costs, the readout is the
        log of the sum. Nodes the map drives far below the others drop out of the sum, so it
        reads all nodes of a level without the few informative ones drowning in the rest
        (a mean over all nodes did: a TopK ratio of 1 did not learn, README).
    """

    num_node_types: int
    num_node_features: int
    num_edge_types: int = 3
    type_embedding_dim: int = 32
    hidden_dim: int = 64
    num_layers: int = 3
    pool_ratio: float = 0.5
    head_hidden_dim: int = 64
    dropout: float = 0.0
    layer_norm: bool = False
    residual: bool = False
    gate_temperature: bool = True
    negative_slope: float = 0.0
    cost_readout: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict) -> ModelConfig:
        """A config as a checkpoint stored it. An option added since the checkpoint was
        written takes the value that checkpoint was trained with (:data:`ADDED_OPTIONS`)."""
        return cls(**{**ADDED_OPTIONS, **stored})


ADDED_OPTIONS = {"gate_temperature": False, "negative_slope": 0.0, "cost_readout": 0}
"""Options added to :class:`ModelConfig` after checkpoints were shipped, with the value those
checkpoints were trained with (the option's absence)."""


class GateTemperature(nn.Module):
    """``tanh(score * e^a)``, ``a`` learned: a TopK pooling gate that can sharpen or soften."""

    def __init__(self) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.log_scale)

    def forward(self, score: torch.Tensor) -> torch.Tensor:
        return torch.tanh(score * self.log_scale.exp())


def global_logsumexp_pool(u: torch.Tensor, index: torch.Tensor, num_graphs: int) -> torch.Tensor:
    r"""``[num_graphs, K]``: :math:`\log \sum_{v \in g} e^{u_v}` per graph ``g`` and channel.

    Each graph's maximum is taken out before the exponential (and detached: it cancels in the
    value and in the gradient), so large values do not overflow.
    """
    peak = global_max_pool(u, index, num_graphs).detach()
    summed = global_add_pool((u - peak[index]).exp(), index, num_graphs)
    return summed.log() + peak


class TPGNN(nn.Module):
    r"""Scores program graphs; higher means faster.

    Per node, :math:`h^0 = \mathrm{ReLU}(W [E_{type} \,\|\, (x - \mu) / \sigma])`, then for each
    level :math:`l`: :math:`h^l = \mathrm{ReLU}(\mathrm{conv}(h^{l-1}))`, an edge-type-aware
    convolution (:class:`TypedGraphConv`; every ReLU leaky with ``negative_slope``; with
    ``layer_norm`` a LayerNorm before each ReLU, with ``residual`` :math:`h^{l-1}` added to
    each level), TopK pooling keeps ``pool_ratio`` of the nodes (gated by ``tanh`` of their
    score, with ``gate_temperature`` of a learned multiple of it), and the readout
    :math:`r^l = [\max_v h^l_v \,\|\, \mathrm{mean}_v h^l_v]` (with ``cost_readout``
    :math:`\|\, \log \sum_v e^{C^l h_v}` over the level's nodes before pooling) is summed over
    levels. An MLP maps :math:`\sum_l r^l` to one score per graph.

    The feature normalisation statistics are buffers, so a checkpoint carries the training
    split's statistics with the weights.

    Parameters
    ----------
    config
        Hyper-parameters.
    type_vectors
        Optional ``[num_node_types, type_embedding_dim]`` initial type embedding (fastText).
    """

    def __init__(self, config: ModelConfig, type_vectors: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        c = config
        self.type_embedding = nn.Embedding(c.num_node_types, c.type_embedding_dim)
        self.register_buffer("feature_mean", torch.zeros(c.num_node_features))
        self.register_buffer("feature_std", torch.ones(c.num_node_features))
        self.input = nn.Linear(c.type_embedding_dim + c.num_node_features, c.hidden_dim)
        self.input_norm = nn.LayerNorm(c.hidden_dim) if c.layer_norm else nn.Identity()
        # One activation everywhere; no parameters, so the state dict's keys stay the same.
        self.activation = nn.LeakyReLU(c.negative_slope) if c.negative_slope else nn.ReLU()
        self.convs = nn.ModuleList(
            TypedGraphConv(c.hidden_dim, c.hidden_dim, c.num_edge_types)
            for _ in range(c.num_layers)
        )
        self.norms = nn.ModuleList(
            nn.LayerNorm(c.hidden_dim) if c.layer_norm else nn.Identity()
            for _ in range(c.num_layers)
        )
        self.pools = nn.ModuleList(
            TopKPooling(c.hidden_dim, ratio=c.pool_ratio,
                        nonlinearity=GateTemperature() if c.gate_temperature else "tanh")
            for _ in range(c.num_layers)
        )
        cost_levels = c.num_layers if c.cost_readout else 0
        self.costs = nn.ModuleList(
            nn.Linear(c.hidden_dim, c.cost_readout) for _ in range(cost_levels)
        )
        self.head = nn.Sequential(
            nn.Linear(self.readout_dim, c.head_hidden_dim),
            self.activation,
            nn.Dropout(c.dropout),
            nn.Linear(c.head_hidden_dim, 1),
        )
        self.reset_parameters(type_vectors)

    def reset_parameters(self, type_vectors: torch.Tensor | None = None) -> None:
        """Re-initialise every weight; the type embedding from ``type_vectors`` when given."""
        self.type_embedding.reset_parameters()
        if type_vectors is not None:
            expected = (self.config.num_node_types, self.config.type_embedding_dim)
            if tuple(type_vectors.shape) != expected:
                raise ValueError(
                    f"type_vectors must have shape {expected}, got {tuple(type_vectors.shape)}"
                )
            with torch.no_grad():
                self.type_embedding.weight.copy_(type_vectors)
        self.input.reset_parameters()
        for module in (self.input_norm, *self.norms):
            if isinstance(module, nn.LayerNorm):
                module.reset_parameters()
        for conv, pool in zip(self.convs, self.pools, strict=True):
            conv.reset_parameters()
            pool.reset_parameters()
        for cost in self.costs:
            cost.reset_parameters()
        for gate in self.modules():
            if isinstance(gate, GateTemperature):
                gate.reset_parameters()
        for layer in self.head:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    @property
    def readout_dim(self) -> int:
        """Width of :meth:`embed`'s readout, which the head reads."""
        return 2 * self.config.hidden_dim + self.config.cost_readout

    def set_feature_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store the z-score statistics (from the training split only)."""
        self.feature_mean.copy_(mean)
        # Constant columns would divide by zero; they carry no information anyway.
        self.feature_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, batch: Batch) -> torch.Tensor:
        """Score each graph of ``batch``.

        Returns
        -------
        torch.Tensor
            float32 ``[num_graphs]``.
        """
        return self.head(self.embed(batch)).squeeze(-1)

    def embed(self, batch: Batch) -> torch.Tensor:
        """The pooled readout the head scores: float32 ``[num_graphs, readout_dim]``.

        Separate from :meth:`forward` so a tuning run can cache the embeddings of the
        programs it has measured and refit only the head on them.
        """
        x = (batch.x - self.feature_mean) / self.feature_std
        h = torch.cat([self.type_embedding(batch.node_type), x], dim=-1)
        h = self.activation(self.input_norm(self.input(h)))
        edge_index, edge_type, index = batch.edge_index, batch.edge_type, batch.batch
        num_graphs = batch.num_graphs
        readout = h.new_zeros(num_graphs, self.readout_dim)
        costs = self.costs if self.config.cost_readout else [None] * len(self.convs)
        for conv, norm, pool, cost in zip(self.convs, self.norms, self.pools, costs, strict=True):
            update = self.activation(norm(conv(h, edge_index, edge_type)))
            h = h + update if self.config.residual else update
            parts = [] if cost is None else [global_logsumexp_pool(cost(h), index, num_graphs)]
            h, edge_index, edge_type, index, _, _ = pool(h, edge_index, edge_type, index)
            parts = [global_max_pool(h, index, num_graphs),
                     global_mean_pool(h, index, num_graphs), *parts]
            readout = readout + torch.cat(parts, dim=-1)
        return readout

    def __repr__(self) -> str:
        c = self.config
        return (
            f"{self.__class__.__name__}(types={c.num_node_types}x{c.type_embedding_dim}, "
            f"features={c.num_node_features}, hidden={c.hidden_dim}, layers={c.num_layers}, "
            f"edge_types={c.num_edge_types}, pool_ratio={c.pool_ratio}, "
            f"layer_norm={c.layer_norm}, residual={c.residual}, cost_readout={c.cost_readout})"
        )
