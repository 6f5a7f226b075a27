"""``tpgnn graph``: sample schedules of a real layer, extract their graphs, summarise them.

The smallest end-to-end run of the project's core: MetaSchedule proposes programs, the C++
pass turns each into a graph, and the graphs collate into one PyG batch.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphSummary:
    """Figures over the graphs of one set of sampled schedules."""

    workload: str
    num_graphs: int
    nodes_mean: float
    nodes_min: int
    nodes_max: int
    edges_mean: float
    edges_by_type: dict[str, float]
    node_type_histogram: dict[str, int]
    extract_graphs_per_second: float
    extract_us_per_graph: float
    collate_seconds: float


def summarize(workload: str, graphs: list, extract_seconds: float, collate_seconds: float):
    """Build a :class:`GraphSummary` from extracted graphs and the time they took."""
    import torch

    from .graph import edge_type_names, node_type_vocabulary

    vocab = node_type_vocabulary()
    nodes = [g.num_nodes for g in graphs]
    types: Counter[str] = Counter()
    for g in graphs:
        ids, counts = torch.unique(g.node_type, return_counts=True)
        types.update({vocab[i]: c for i, c in zip(ids.tolist(), counts.tolist(), strict=True)})
    edge_types = torch.cat([g.edge_type for g in graphs])
    return GraphSummary(
        workload=workload,
        num_graphs=len(graphs),
        nodes_mean=sum(nodes) / len(nodes),
        nodes_min=min(nodes),
        nodes_max=max(nodes),
        edges_mean=edge_types.numel() / len(graphs),
        edges_by_type={
            name: int((edge_types == i).sum()) / len(graphs)
            for i, name in enumerate(edge_type_names())
        },
        node_type_histogram=dict(types.most_common()),
        extract_graphs_per_second=len(graphs) / extract_seconds,
        extract_us_per_graph=extract_seconds / len(graphs) * 1e6,
        collate_seconds=collate_seconds,
    )


def format_summary(s: GraphSummary, top: int = 12) -> str:
    """Human-readable report."""
    lines = [
        f"workload            {s.workload}",
        f"graphs              {s.num_graphs}",
        f"nodes per graph     mean {s.nodes_mean:.0f}  min {s.nodes_min}  max {s.nodes_max}",
        f"edges per graph     mean {s.edges_mean:.0f}  "
        + "  ".join(f"{k} {v:.0f}" for k, v in s.edges_by_type.items()),
        f"extraction          {s.extract_graphs_per_second:,.0f} graphs/s "
        f"({s.extract_us_per_graph:.1f} us/graph)",
        f"collate into Batch  {s.collate_seconds * 1e3:.1f} ms",
        f"node types (top {top} of {len(s.node_type_histogram)}):",
    ]
    total = sum(s.node_type_histogram.values())
    for key, count in list(s.node_type_histogram.items())[:top]:
        lines.append(f"  {key:28s} {count / s.num_graphs:8.1f} per graph  {count / total:6.1%}")
    return "\n".join(lines)


def plot_histogram(s: GraphSummary, path: Path) -> None:
    """Bar chart of node types per graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(s.node_type_histogram)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(keys) + 1.2))
    ax.barh(keys, [s.node_type_histogram[k] / s.num_graphs for k in keys])
    ax.set_xlabel("nodes per graph")
    ax.set_title(f"Node types of {s.num_graphs} sampled {s.workload} schedules")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    """Handler of ``tpgnn graph``."""
    from tqdm import tqdm

    from .batch import batch_graphs
    from .graph import extract_graph
    from .operators import OPERATORS
    from .sampling import sample_candidates

    logger.info("sampling %d schedules of %s", args.num, args.workload)
    candidates = sample_candidates(OPERATORS[args.workload](), args.num, seed=args.seed)
    graphs = []
    start = time.perf_counter()
    for candidate in tqdm(candidates, desc="extract graphs", unit="graph"):
        graphs.append(extract_graph(candidate.sch.mod))
    extract_seconds = time.perf_counter() - start
    start = time.perf_counter()
    batch_graphs(graphs)
    collate_seconds = time.perf_counter() - start

    summary = summarize(args.workload, graphs, extract_seconds, collate_seconds)
    print(format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(summary), indent=2) + "\n")
    if args.plot:
        plot_histogram(summary, Path(args.plot))
        print(f"plot written to {args.plot}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``graph`` subcommand."""
    from .operators import OPERATORS

    p = subparsers.add_parser(
        "graph",
        help="sample schedules of a real layer and summarise their program graphs",
        description=__doc__,
    )
    p.add_argument("--workload", choices=sorted(OPERATORS), default="conv2d",
                   help="operator with a real network's layer shape (default: ResNet-18 conv2d)")
    p.add_argument("--num", type=int, default=256, help="schedules to sample (default: 256)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    p.add_argument("--json", metavar="PATH", help="also write the summary as JSON")
    p.add_argument("--plot", metavar="PATH", help="also plot the node-type histogram (PNG)")
    p.set_defaults(func=run)
