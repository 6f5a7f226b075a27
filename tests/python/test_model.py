"""Tests of tpgnn.model on a hand-built 4-node graph and on real program graphs."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

import tpgnn
from tpgnn.graph import edge_type_names, node_feature_names, node_type_vocabulary
from tpgnn.model import TPGNN, ModelConfig, global_logsumexp_pool


def _config(**kw) -> ModelConfig:
    return ModelConfig(len(node_type_vocabulary()), len(node_feature_names()),
                       len(edge_type_names()), **kw)


def _four_node_graph() -> Data:
    edge_index = torch.tensor([[0, 1, 0, 2, 2, 3], [1, 0, 2, 0, 3, 2]])
    return Data(x=torch.randn(4, len(node_feature_names())), node_type=torch.tensor([1, 2, 3, 4]),
                edge_index=edge_index, edge_type=torch.tensor([0, 1, 0, 1, 0, 1]))


def test_repr():
    assert repr(TPGNN(_config())) == (
        f"TPGNN(types={len(node_type_vocabulary())}x32, features={len(node_feature_names())}, "
        "hidden=64, layers=3, edge_types=3, pool_ratio=0.5, layer_norm=False, residual=False, "
        "cost_readout=0)"
    )


def test_output_is_one_score_per_graph():
    torch.manual_seed(0)
    batch = Batch.from_data_list([_four_node_graph(), _four_node_graph(), _four_node_graph()])
    assert TPGNN(_config())(batch).shape == (3,)


def test_the_score_is_the_head_of_the_embedding(scheduled_programs):
    torch.manual_seed(0)
    model = TPGNN(_config(hidden_dim=16)).eval()
    batch = tpgnn.batch_graphs([tpgnn.extract_graph(m) for m in scheduled_programs["conv2d"]])
    with torch.no_grad():
        embedding = model.embed(batch)
        assert embedding.shape == (batch.num_graphs, 32)
        torch.testing.assert_close(model.head(embedding).squeeze(-1), model(batch))


VARIANTS = [{}, {"layer_norm": True}, {"layer_norm": True, "residual": True},
            {"gate_temperature": False}, {"negative_slope": 0.01}, {"cost_readout": 4}]


@pytest.mark.parametrize("options", VARIANTS)
def test_scores_real_program_graphs(scheduled_programs, options):
    graphs = [tpgnn.extract_graph(m) for m in scheduled_programs["conv2d"]]
    scores = TPGNN(_config(**options))(tpgnn.batch_graphs(graphs))
    assert scores.shape == (len(graphs),) and bool(torch.isfinite(scores).all())
    assert len(set(scores.tolist())) > 1


@pytest.mark.parametrize("options", VARIANTS)
def test_a_graph_scores_the_same_alone_and_in_a_batch(scheduled_programs, options):
    torch.manual_seed(0)
    model = TPGNN(_config(**options)).eval()
    graphs = [tpgnn.extract_graph(m) for m in scheduled_programs["softmax"][:3]]
    with torch.no_grad():
        together = model(tpgnn.batch_graphs(graphs))
        alone = torch.cat([model(tpgnn.batch_graphs([g])) for g in graphs])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_type_vectors_initialise_the_embedding():
    vectors = torch.randn(len(node_type_vocabulary()), 32)
    model = TPGNN(_config(), vectors)
    torch.testing.assert_close(model.type_embedding.weight.detach(), vectors)
    with pytest.raises(ValueError, match="type_vectors must have shape"):
        TPGNN(_config(), torch.zeros(3, 32))


def test_feature_statistics_are_buffers_and_guard_constant_columns():
    model = TPGNN(_config())
    f = len(node_feature_names())
    model.set_feature_statistics(torch.ones(f), torch.zeros(f))
    assert torch.equal(model.feature_std, torch.ones(f))
    assert "feature_mean" in model.state_dict() and "feature_std" in model.state_dict()


def test_layer_norm_adds_parameters_only_when_asked():
    """Without the option the state dict keeps its keys, so earlier checkpoints still load."""
    plain = set(TPGNN(_config()).state_dict())
    normed = set(TPGNN(_config(layer_norm=True)).state_dict())
    assert not any("norm" in key for key in plain)
    assert normed - plain == {"input_norm.weight", "input_norm.bias",
                              *(f"norms.{i}.{p}" for i in range(3) for p in ("weight", "bias"))}


def test_layer_norm_makes_the_scores_independent_of_the_input_scale():
    """A LayerNorm after the input projection removes a common scale of its input: with the
    feature statistics and type embedding scaled together, the scores stay the same."""
    torch.manual_seed(0)
    model = TPGNN(_config(layer_norm=True)).eval()
    batch = Batch.from_data_list([_four_node_graph(), _four_node_graph()])
    with torch.no_grad():
        model.input.bias.zero_()
        before = model(batch)
        model.type_embedding.weight.mul_(10.0)
        model.feature_std.div_(10.0)
        after = model(batch)
    torch.testing.assert_close(before, after, rtol=1e-4, atol=1e-4)


def test_gate_temperature_starts_as_the_plain_gate_and_is_learned(scheduled_programs):
    """At a = 0 the gate is tanh itself: the same seed scores the same. The one parameter per
    pooling level is new in the state dict (earlier checkpoints keep their keys) and gets a
    gradient."""
    graphs = tpgnn.batch_graphs([tpgnn.extract_graph(m) for m in scheduled_programs["conv2d"]])
    torch.manual_seed(0)
    plain = TPGNN(_config(gate_temperature=False))
    torch.manual_seed(0)
    gated = TPGNN(_config(gate_temperature=True))
    assert set(gated.state_dict()) - set(plain.state_dict()) == {
        f"pools.{i}.select.act.log_scale" for i in range(3)}
    scores = gated(graphs)
    torch.testing.assert_close(scores, plain(graphs))
    scores.sum().backward()
    assert all(float(gated.pools[i].select.act.log_scale.grad.abs()) > 0 for i in range(3))
    with torch.no_grad():
        gated.pools[0].select.act.log_scale.fill_(1.0)
    assert not torch.allclose(gated(graphs), scores)
    gated.reset_parameters()
    assert float(gated.pools[0].select.act.log_scale.detach()) == 0.0


def test_a_negative_slope_lets_a_unit_that_never_fires_learn(scheduled_programs):
    """A convolution unit driven below zero for every node gets no gradient under ReLU and so
    stays dead; leaky ReLU passes it one. Zero slope is exactly the ReLU model (same keys, same
    scores), so checkpoints made before the option score as they did."""
    graphs = tpgnn.batch_graphs([tpgnn.extract_graph(m) for m in scheduled_programs["conv2d"]])
    grads = {}
    for slope in (0.0, 0.01):
        torch.manual_seed(0)
        model = TPGNN(_config(negative_slope=slope))
        with torch.no_grad():
            model.convs[1].root.bias[0] = -1e4  # unit 0 of the second level never fires
        model(graphs).sum().backward()
        grads[slope] = model.convs[1].root.weight.grad[0].abs().sum().item()
    assert grads[0.0] == 0.0 and grads[0.01] > 0.0
    stored = {k: v for k, v in _config().to_dict().items() if k != "negative_slope"}
    old = TPGNN(ModelConfig.from_dict(stored))  # a checkpoint from before the option
    assert isinstance(old.activation, torch.nn.ReLU)
    torch.manual_seed(0)
    leaky = TPGNN(_config(negative_slope=0.5))
    old.load_state_dict(leaky.state_dict())  # the same keys
    assert not torch.allclose(old(graphs), leaky(graphs))


def test_logsumexp_pool_is_the_log_of_a_sum_per_graph():
    u = torch.tensor([[1.0, -2.0], [3.0, 500.0], [0.5, 0.0], [-1.0, 1.0]], requires_grad=True)
    index = torch.tensor([0, 0, 1, 1])
    pooled = global_logsumexp_pool(u, index, 2)
    expected = torch.stack([torch.logsumexp(u[:2], 0), torch.logsumexp(u[2:], 0)])
    torch.testing.assert_close(pooled, expected)
    assert bool(torch.isfinite(pooled).all())  # 500 would overflow a plain exp
    pooled.sum().backward()
    torch.testing.assert_close(u.grad[:2], torch.softmax(u[:2].detach(), 0))


def test_the_cost_readout_widens_the_embedding_and_old_checkpoints_lack_it(scheduled_programs):
    torch.manual_seed(0)
    model = TPGNN(_config(hidden_dim=16, cost_readout=4)).eval()
    batch = tpgnn.batch_graphs([tpgnn.extract_graph(m) for m in scheduled_programs["conv2d"]])
    with torch.no_grad():
        assert model.embed(batch).shape == (batch.num_graphs, 2 * 16 + 4)
    assert any(k.startswith("costs.") for k in model.state_dict())
    stored = {k: v for k, v in _config().to_dict().items() if k != "cost_readout"}
    old = TPGNN(ModelConfig.from_dict(stored))
    assert old.config.cost_readout == 0
    assert not any(k.startswith("costs.") for k in old.state_dict())
