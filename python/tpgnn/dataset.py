"""Measured programs as labelled program graphs: extraction in parallel, cached on disk.

A sample's program is rebuilt the way MetaSchedule rebuilds it (its trace replayed on the
workload, postprocessors included), so the graph is exactly what the cost model sees during
tuning. Labels follow MetaSchedule's XGBModel: throughput relative to the best measured
program of the same task (``min_cost / cost``), failures 0.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from .graph import ProgramGraph, edge_type_names, node_feature_names, node_type_vocabulary

logger = logging.getLogger(__name__)

#: Bump when the cache layout changes.
CACHE_FORMAT = "tpgnn-graphs/2"  # 2: infinite constants give finite features
_ARRAYS = ("node_type", "node_features", "row_ptr", "col", "edge_type")


@dataclass
class GraphSet:
    """Labelled graphs of measured programs, grouped by task.

    Attributes
    ----------
    graphs
        One graph per successfully rebuilt sample.
    costs
        float64 ``[n]``: median measured seconds; ``inf`` for a failed build or run.
    labels
        float32 ``[n]``: ``min cost in task / cost``; 0 for failures.
    task_index
        int64 ``[n]``: index into ``tasks``.
    tasks
        Task keys (``"shard/workload"``).
    task_info
        Per task, the manifest's entry (split, networks with task name and weight).
    keys
        ``(shard, record)`` of each sample, to align other per-sample data with it.
    """

    graphs: list[ProgramGraph] = field(default_factory=list)
    costs: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.float64))
    labels: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    task_index: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    tasks: list[str] = field(default_factory=list)
    task_info: dict[str, dict] = field(default_factory=dict)
    keys: list[tuple[str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.graphs)

    def task_members(self) -> list[torch.Tensor]:
        """For each task, the indices of its samples."""
        order = torch.argsort(self.task_index, stable=True)
        counts = torch.bincount(self.task_index, minlength=len(self.tasks))
        return list(torch.split(order, counts.tolist()))

    def subset(self, indices: Sequence[int]) -> GraphSet:
        """The samples at ``indices``, in that order, with only the tasks they belong to.

        Labels are kept as they are (relative to each task's best in the full set), so a
        subset of whole tasks is labelled exactly as if it had been loaded on its own.
        """
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        kept = torch.unique(self.task_index[idx]).tolist() if len(idx) else []
        renumber = {old: new for new, old in enumerate(kept)}
        tasks = [self.tasks[t] for t in kept]
        return GraphSet(
            graphs=[self.graphs[i] for i in idx.tolist()],
            costs=self.costs[idx],
            labels=self.labels[idx],
            task_index=torch.tensor([renumber[t] for t in self.task_index[idx].tolist()],
                                    dtype=torch.long),
            tasks=tasks,
            task_info={key: self.task_info[key] for key in tasks},
            keys=[self.keys[i] for i in idx.tolist()],
        )


def relative_throughput(costs: torch.Tensor, task_index: torch.Tensor, num_tasks: int):
    """``min cost of the task / cost`` per sample (0 where the cost is infinite)."""
    best = torch.full((num_tasks,), math.inf, dtype=torch.float64)
    best = best.scatter_reduce(0, task_index, costs, reduce="amin")
    labels = best[task_index] / costs
    return torch.nan_to_num(labels, nan=0.0, posinf=0.0).float()


def layout_signature() -> str:
    """What a cached graph depends on: the graph pass's vocabulary and feature layout."""
    text = "|".join(
        [CACHE_FORMAT, *node_type_vocabulary(), *node_feature_names(), *edge_type_names()]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _shard_digest(shard_dir: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(shard_dir.iterdir()):
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def measured_candidates(shard_dir: str) -> Iterator[tuple[Any, Any, str | None]]:
    """Each sample of a shard with its program rebuilt as MetaSchedule rebuilds a record.

    Yields
    ------
    (sample, candidate, error)
        ``candidate`` is a ``MeasureCandidate`` (trace replayed on the workload, postprocessors
        included), or ``None`` with ``error`` saying why the record could not be rebuilt.
    """
    from .collect.loader import load_shard

    shard = load_shard(shard_dir, on_error="skip")
    for s in shard.samples:
        try:
            yield s, shard.measure_candidate(s), None
        except Exception as err:  # noqa: BLE001 (a bad record is reported, not fatal)
            yield s, None, f"{type(err).__name__}: {err}"


def extract_shard(shard_dir: str) -> dict:
    """Rebuild every sample of one shard and extract its graph (runs in a worker process).

    Returns packed arrays: the graphs concatenated, with per-graph node and edge counts, the
    record index and median cost of each sample, and the records that could not be rebuilt.
    """
    from .graph import extract_graph

    parts: dict[str, list[torch.Tensor]] = {name: [] for name in _ARRAYS}
    records, workload_ids, costs, num_nodes, num_edges, failed = [], [], [], [], [], []
    for s, candidate, error in measured_candidates(shard_dir):
        if candidate is not None:
            try:
                graph = extract_graph(candidate.sch.mod)
            except Exception as err:  # noqa: BLE001 (reported, not fatal)
                error = f"{type(err).__name__}: {err}"
        if error is not None:
            failed.append((s.record, error))
            continue
        for name in _ARRAYS:
            parts[name].append(getattr(graph, name))
        records.append(s.record)
        workload_ids.append(s.workload)
        costs.append(s.median)
        num_nodes.append(graph.num_nodes)
        num_edges.append(graph.num_edges)
    packed = {
        name: torch.cat(parts[name]) if parts[name] else torch.zeros(0) for name in _ARRAYS
    }
    packed.update(
        record=torch.tensor(records, dtype=torch.long),
        workload=torch.tensor(workload_ids, dtype=torch.long),
        cost=torch.tensor(costs, dtype=torch.float64),
        num_nodes=torch.tensor(num_nodes, dtype=torch.long),
        num_edges=torch.tensor(num_edges, dtype=torch.long),
        failed=failed,
    )
    return packed


def unpack_graphs(packed: dict) -> list[ProgramGraph]:
    """Views (no copies) of each graph in a packed shard."""
    nodes, edges = packed["num_nodes"].tolist(), packed["num_edges"].tolist()
    graphs, n0, e0, r0 = [], 0, 0, 0
    for n, e in zip(nodes, edges, strict=True):
        graphs.append(
            ProgramGraph(
                node_type=packed["node_type"][n0 : n0 + n],
                node_features=packed["node_features"][n0 : n0 + n],
                row_ptr=packed["row_ptr"][r0 : r0 + n + 1],
                col=packed["col"][e0 : e0 + e],
                edge_type=packed["edge_type"][e0 : e0 + e],
            )
        )
        n0, e0, r0 = n0 + n, e0 + e, r0 + n + 1
    return graphs


def load_packed_shards(
    shard_dirs: Sequence[Path],
    cache_dir: Path | None,
    workers: int = 2,
    extract: Callable[[str], dict] = extract_shard,
    signature: str | None = None,
) -> dict[str, dict]:
    """Packed per-shard arrays made by ``extract`` (graphs by default): from the cache when
    the shard and ``signature`` are unchanged, else extracted in ``workers`` processes and
    cached. ``extract`` must be a module-level function (it runs in spawned processes)."""
    from tqdm import tqdm

    signature = signature or layout_signature()
    out: dict[str, dict] = {}
    todo: dict[str, Path] = {}
    for d in shard_dirs:
        path = cache_dir / f"{d.name}.{_shard_digest(d)}.{signature}.pt" if cache_dir else None
        if path is not None and path.exists():
            out[d.name] = torch.load(path, weights_only=True)
        else:
            todo[d.name] = d
    if todo:
        context = get_context("spawn")  # TVM and torch state must not be forked
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
            futures = {pool.submit(extract, str(d)): name for name, d in todo.items()}
            bar = tqdm(as_completed(futures), total=len(futures), desc="extract shards",
                       unit="shard")
            for future in bar:
                name = futures[future]
                packed = future.result()
                bar.set_postfix(graphs=len(packed["record"]))
                for record, message in packed.get("failed", []):
                    logger.warning("%s record %d could not be rebuilt: %s", name, record, message)
                out[name] = packed
                if cache_dir is not None:
                    cache_dir.mkdir(parents=True, exist_ok=True)
                    final = cache_dir / f"{name}.{_shard_digest(todo[name])}.{signature}.pt"
                    tmp = final.with_suffix(f".{os.getpid()}.tmp")  # processes may race
                    torch.save({k: v for k, v in packed.items() if k != "failed"}, tmp)
                    tmp.replace(final)
    return out


def dataset_layout(data_dir: str | Path) -> tuple[list[Path], dict[str, dict]]:
    """Shard directories and per-workload info of a dataset directory.

    A TPGNN dataset has ``manifest.json`` and ``shards/``; any other directory holding a
    MetaSchedule JSON database (a user's tuning logs) is read as one shard whose workloads
    belong to no split and to a network named after the directory, each with weight 1.
    """
    from .collect.loader import shard_dirs
    from .collect.manifest import load_manifest
    from .collect.shard import WORKLOAD_FILE

    root = Path(data_dir)
    if (root / "manifest.json").exists():
        return shard_dirs(root), load_manifest(root).get("workloads", {})
    if (root / WORKLOAD_FILE).exists() or (root / WORKLOAD_FILE.removesuffix(".gz")).exists():
        return [root], {}
    raise FileNotFoundError(
        f"{root} holds neither a TPGNN dataset (manifest.json) nor a MetaSchedule database "
        f"({WORKLOAD_FILE.removesuffix('.gz')} and its tuning-record file)"
    )


def load_graph_set(
    data_dir: str | Path,
    splits: Iterable[str] | None,
    *,
    cache_dir: str | Path | None = "cache/graphs",
    workers: int = 2,
    networks: Iterable[str] | None = None,
    snapshot: dict[str, int] | None = None,
) -> GraphSet:
    """The labelled graphs of the given splits of a dataset directory.

    Parameters
    ----------
    data_dir
        A TPGNN dataset (``manifest.json`` and ``shards/``) or a MetaSchedule database
        directory (see :func:`dataset_layout`).
    splits
        Any of ``"train"``, ``"val"``, ``"test"``; ``None`` keeps every sample.
    cache_dir
        Where extracted graphs are cached (keyed by shard content and graph layout);
        ``None`` disables the cache.
    workers
        Extraction processes.
    networks
        Keep only tasks used by one of these networks.
    snapshot
        Keep only records below ``snapshot[shard]`` (shards only grow by appending), so a
        dataset that has grown since can be read as it was: see :func:`data_snapshot`.
    """
    if splits is not None:
        splits = set(splits)
        unknown = splits - {"train", "val", "test"}
        if unknown:
            raise ValueError(f"splits must be among 'train', 'val', 'test', got {sorted(unknown)}")
    from .collect.shard import workload_key

    wanted_networks = set(networks) if networks is not None else None
    dirs, workload_info = dataset_layout(data_dir)
    packed = load_packed_shards(dirs, Path(cache_dir) if cache_dir else None, workers)

    result = GraphSet()
    task_ids: dict[str, int] = {}
    costs, task_index = [], []
    for d in dirs:
        shard = packed[d.name]
        keep = []
        limit = snapshot.get(d.name, 0) if snapshot is not None else None
        for i, workload in enumerate(shard["workload"].tolist()):
            if limit is not None and int(shard["record"][i]) >= limit:
                continue
            key = workload_key(d.name, workload)
            info = workload_info.get(key) or {"networks": {d.name: {"weight": 1}}}
            if splits is not None and info.get("split") not in splits:
                continue
            if wanted_networks is not None and not wanted_networks & set(info.get("networks", {})):
                continue
            if key not in task_ids:
                task_ids[key] = len(result.tasks)
                result.tasks.append(key)
                result.task_info[key] = info
            keep.append(i)
            task_index.append(task_ids[key])
            costs.append(float(shard["cost"][i]))
            result.keys.append((d.name, int(shard["record"][i])))
        graphs = unpack_graphs(shard)
        result.graphs.extend(graphs[i] for i in keep)
    result.costs = torch.tensor(costs, dtype=torch.float64)
    result.task_index = torch.tensor(task_index, dtype=torch.long)
    result.labels = relative_throughput(result.costs, result.task_index, len(result.tasks))
    logger.info("%s: %d graphs of %d tasks", "+".join(sorted(splits or ["all"])), len(result),
                len(result.tasks))
    return result


def data_snapshot(*sets: GraphSet) -> dict[str, int]:
    """Per shard, one past the highest record the sets hold: how much of each shard was read."""
    out: dict[str, int] = {}
    for data in sets:
        for shard, record in data.keys:
            out[shard] = max(out.get(shard, 0), record + 1)
    return out
