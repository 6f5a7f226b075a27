"""What the collector knows about each workload, rebuilt from the shards on every start.

Nothing here is stored on its own: hashes, counts and sources come from the shards'
sidecars, and the fixed split and exhaustion flags from the manifest, so the files on disk
are the only state and a killed collector resumes exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .candidates import RANDOM
from .config import CollectConfig
from .shard import FAILURE_COST, SHARDS_DIR, Shard, workload_key
from .split import assign_split
from .workloads import Workload

__all__ = [
    "SHARDS_DIR",
    "WorkloadState",
    "goal",
    "measured_traces",
    "open_states",
    "pick",
    "round_robin",
    "wants_random",
    "wants_timing",
]


@dataclass
class WorkloadState:
    """What the collector knows about one workload, rebuilt from the shard on start."""

    workload: Workload
    shard: Shard
    index: int
    split: str
    shared_with_train: bool
    hashes: set[str] = field(default_factory=set)
    successes: int = 0
    failures: int = 0
    randoms: int = 0
    random_exhausted: bool = False
    fruitless: int = 0
    exhausted: bool = False
    sessions: set[str] = field(default_factory=set)
    """The sessions that timed its programs (keys of the manifest's ``sessions``)."""
    timed_elsewhere: bool = False
    """Another CPU timed it, so this run leaves it alone (never written to the manifest)."""

    @property
    def key(self) -> str:
        return workload_key(self.shard.name, self.index)


def open_states(
    config: CollectConfig, workloads: list[Workload], manifest: dict
) -> list[WorkloadState]:
    """Place every workload in its shard (existing or new) and count what it already has.

    A workload already in some shard (by MetaSchedule's workload hash) stays there; a new
    one goes to the shard of the first network that uses it. The split and the exhaustion
    flags come from the manifest when it has the workload, so they never change.
    """
    root = Path(config.data_dir) / SHARDS_DIR
    shards: dict[str, Shard] = {}
    for d in sorted(p for p in root.glob("*") if p.is_dir()):
        shards[d.name] = Shard(d)
    where: dict[str, tuple[str, int]] = {}
    for name, shard in shards.items():
        for i, h in enumerate(shard.workload_hashes):
            where.setdefault(h, (name, i))
    old = manifest.get("workloads", {})
    states = []
    for wl in workloads:
        if wl.shash in where:
            name, index = where[wl.shash]
        else:
            name = wl.uses[0].network
            shard = shards.setdefault(name, Shard(root / name))
            index = shard.add_workload(wl.mod)
            where[wl.shash] = (name, index)
        shard = shards[name]
        prev = old.get(workload_key(name, index))
        if prev is not None:  # the split is fixed once written
            split, shared = prev["split"], prev["shared_with_train"]
        else:
            split, shared = assign_split(wl.networks, config.test_networks, config.val_networks)
        st = WorkloadState(wl, shard, index, split, shared)
        if prev is not None:
            st.random_exhausted = prev.get("random_exhausted", False)
            st.exhausted = prev.get("exhausted", False)
        states.append(st)
    by_shard: dict[tuple[str, int], WorkloadState] = {(s.shard.name, s.index): s for s in states}
    for shard in shards.values():
        # The sidecar is written first, so it never has fewer lines than the records; a
        # foreign database without one contributes no hashes and no counts here.
        for (widx, secs), m in zip(shard.records, shard.measurements, strict=False):
            st = by_shard.get((shard.name, widx))
            if st is None:
                continue
            st.hashes.add(m.shash)
            st.sessions.add(m.session)
            st.randoms += m.source == RANDOM
            if secs and min(secs) < FAILURE_COST:
                st.successes += 1
            else:
                st.failures += 1
    return states


def round_robin(states: list[WorkloadState]) -> list[WorkloadState]:
    """Interleave workloads of different networks, so early data covers every network."""
    groups: dict[str, list[WorkloadState]] = {}
    for s in states:
        groups.setdefault(s.workload.uses[0].network, []).append(s)
    out, lists = [], list(groups.values())
    while any(lists):
        for lst in lists:
            if lst:
                out.append(lst.pop(0))
    return out


def pick(states: list[WorkloadState], config: CollectConfig) -> tuple[WorkloadState, str] | None:
    """The next workload and batch kind (``"random"`` / ``"evolutionary"``), or None: done.

    Random batches first, in ``states`` order, until every workload has its random
    programs; then the workload with the fewest successes, until each has
    ``samples_per_workload``; then the same until the dataset holds ``total``. Workloads
    another CPU timed are left alone.
    """
    here = [s for s in states if not s.timed_elsewhere]
    for st in here:
        if wants_random(st, config):
            return st, "random"
    live = [s for s in here if not s.exhausted]
    if not live:
        return None
    low = min(live, key=lambda s: s.successes)
    if low.successes < config.samples_per_workload:
        return low, "evolutionary"
    if config.total is not None and sum(s.successes for s in states) < config.total:
        return low, "evolutionary"
    return None


def measured_traces(st: WorkloadState) -> list[tuple[Any, list[float]]]:
    """``(trace, run_secs)`` of every sample of the workload, to seed an evolutionary search."""
    from tvm.s_tir import meta_schedule as ms

    wl = ms.database.Workload.from_json(json.loads(st.shard.workload_lines[st.index]))
    out = []
    for line, (widx, secs) in zip(st.shard.record_lines, st.shard.records, strict=True):
        if widx == st.index:
            rec = ms.database.TuningRecord.from_json(json.loads(line)[1], wl)
            out.append((rec.trace, [float(x) for x in secs or [FAILURE_COST]]))
    return out


def wants_random(st: WorkloadState, config: CollectConfig) -> bool:
    """Whether the workload still lacks random programs its design space can give."""
    return (
        not st.random_exhausted
        and not st.exhausted
        and st.randoms < config.search.random_per_workload
    )


def wants_timing(st: WorkloadState, config: CollectConfig) -> bool:
    """Whether :func:`pick` may still choose the workload (ignoring other CPUs)."""
    return not st.exhausted and (
        wants_random(st, config)
        or st.successes < config.samples_per_workload
        or config.total is not None
    )


def goal(states: list[WorkloadState], config: CollectConfig) -> int:
    """Successful samples the run is heading for, given what is known to be exhausted or
    left to another CPU."""
    per = sum(
        s.successes
        if s.exhausted or s.timed_elsewhere
        else max(s.successes, config.samples_per_workload)
        for s in states
    )
    return max(per, config.total or 0)
