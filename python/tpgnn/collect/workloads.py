"""The distinct workloads of a set of networks, with who uses each and how often."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import tvm_ffi

logger = logging.getLogger(__name__)

__all__ = ["Use", "Workload", "gather_workloads", "merge_tasks"]


@dataclass(frozen=True)
class Use:
    """One network's use of a workload: its task name there and its weight (call count)."""

    network: str
    task_name: str
    weight: int


@dataclass
class Workload:
    """A distinct workload (one TIR PrimFunc) and every network that uses it."""

    mod: Any
    shash: str
    uses: list[Use] = field(default_factory=list)

    @property
    def networks(self) -> list[str]:
        return [u.network for u in self.uses]

    @property
    def name(self) -> str:
        """The first user's task name, for logs."""
        return self.uses[0].task_name if self.uses else "main"


def merge_tasks(tasks: list[Any]) -> list[Workload]:
    """De-duplicate tasks structurally, as MetaSchedule does, keeping every use.

    Parameters
    ----------
    tasks : list of tpgnn.networks.NetworkTask
        In priority order; the result keeps the order of first appearance.
    """
    from tvm.s_tir import meta_schedule as ms

    by_hash: dict[str, list[Workload]] = {}
    out: list[Workload] = []
    for t in tasks:
        # MetaSchedule's workload hash, so it matches the workload table's first column.
        shash = str(ms.database.Workload(t.mod).as_json()[0])
        bucket = by_hash.setdefault(shash, [])
        match = next((w for w in bucket if tvm_ffi.structural_equal(w.mod, t.mod)), None)
        if match is None:
            match = Workload(t.mod, shash)
            bucket.append(match)
            out.append(match)
        if not any(u.network == t.network and u.task_name == t.task_name for u in match.uses):
            match.uses.append(Use(t.network, t.task_name, int(t.weight)))
    return out


def gather_workloads(
    networks: tuple[str, ...] | list[str], target: Any, cache_dir: str | None
) -> list[Workload]:
    """Extract (or load from cache) every network's tasks and merge them."""
    from ..networks import load_network_tasks

    tasks = []
    for name in networks:
        tasks += load_network_tasks(name, target, cache_dir)
    workloads = merge_tasks(tasks)
    logger.info(
        "%d networks, %d tasks, %d distinct workloads", len(networks), len(tasks), len(workloads)
    )
    return workloads
