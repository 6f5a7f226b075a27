"""Program graphs of scheduled TensorIR functions, extracted by the C++ pass without a copy."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ._lib import global_func

if TYPE_CHECKING:
    from tvm.ir import IRModule
    from tvm.tirx import PrimFunc


@dataclass(frozen=True)
class ProgramGraph:
    """One program as a graph, in CSR form.

    Attributes
    ----------
    node_type : torch.Tensor
        int32 ``[N]``: ids into :func:`node_type_vocabulary` (0 is UNKNOWN).
    node_features : torch.Tensor
        float32 ``[N, F]``: columns named by :func:`node_feature_names`.
    row_ptr : torch.Tensor
        int64 ``[N + 1]``: edges of node ``i`` are ``col[row_ptr[i]:row_ptr[i + 1]]``.
    col : torch.Tensor
        int64 ``[E]``: destination of each edge.
    edge_type : torch.Tensor
        int64 ``[E]``: index into :func:`edge_type_names`.
    """

    node_type: torch.Tensor
    node_features: torch.Tensor
    row_ptr: torch.Tensor
    col: torch.Tensor
    edge_type: torch.Tensor

    @property
    def num_nodes(self) -> int:
        return self.node_type.shape[0]

    @property
    def num_edges(self) -> int:
        return self.col.shape[0]

    def edge_index(self) -> torch.Tensor:
        """COO ``[2, E]`` (source, destination), as PyTorch Geometric expects."""
        degree = self.row_ptr[1:] - self.row_ptr[:-1]
        src = torch.repeat_interleave(torch.arange(self.num_nodes), degree)
        return torch.stack([src, self.col])


def extract_graph(func: PrimFunc | IRModule | Any) -> ProgramGraph:
    """Extract the program graph of a scheduled TensorIR function.

    Parameters
    ----------
    func
        A ``tvm.tirx.PrimFunc``, or an ``IRModule`` holding exactly one PrimFunc (such as
        ``Schedule.mod`` of a MetaSchedule candidate).

    Returns
    -------
    ProgramGraph
        Tensors that share memory with the buffers the C++ pass filled.

    Raises
    ------
    TypeError, ValueError
        For ``None``, a non-IR object, or a module without exactly one PrimFunc.
    """
    arrays = global_func("tpgnn.extract_graph")(func)
    return ProgramGraph(*(torch.from_dlpack(a) for a in arrays))


@functools.cache
def node_type_vocabulary() -> tuple[str, ...]:
    """Type key of each node-type id; id 0 is ``"<unknown>"``."""
    return tuple(str(k) for k in global_func("tpgnn.node_type_vocabulary")())


@functools.cache
def node_feature_names() -> tuple[str, ...]:
    """Name of each column of ``node_features``."""
    return tuple(str(k) for k in global_func("tpgnn.node_feature_names")())


@functools.cache
def edge_type_names() -> tuple[str, ...]:
    """Name of each edge type, indexed by the values of ``edge_type``."""
    return tuple(str(k) for k in global_func("tpgnn.edge_type_names")())
