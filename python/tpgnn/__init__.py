"""TPGNN: a graph-neural-network cost model for TVM MetaSchedule.

Heavy dependencies (TVM, torch, the compiled extension) are imported lazily by the
submodules that need them, so ``import tpgnn`` stays cheap and the data collector can
run without the graph extension.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "GNNModel",
    "ProgramGraph",
    "__version__",
    "batch_graphs",
    "extract_graph",
    "node_type_vocabulary",
]


def __getattr__(name: str):
    # Lazy re-exports: keep `import tpgnn` free of torch/TVM import cost.
    if name in ("ProgramGraph", "extract_graph", "node_type_vocabulary"):
        from . import graph

        return getattr(graph, name)
    if name == "batch_graphs":
        from .batch import batch_graphs

        return batch_graphs
    if name == "GNNModel":
        from .cost_model import GNNModel

        return GNNModel
    raise AttributeError(f"module 'tpgnn' has no attribute {name!r}")
