"""The collection loop: pick a workload, generate candidates, measure, save, repeat.

Order keeps a partial dataset balanced: every workload first gets its random programs
(round robin over networks), then the workload with the fewest successful samples gets an
evolutionary batch, until each has ``samples_per_workload``; then, if ``total`` asks for
more, the same rule continues. After every batch the shard and the manifest are rewritten
atomically, so the collector can be killed at any moment and rerun: it rebuilds its state
from the files and never measures a program (by structural hash) twice.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from .candidates import RANDOM, evolutionary_candidates, random_candidates
from .config import CollectConfig
from .io import exclusive_directory, remove_stale_temporaries
from .manifest import (
    build_manifest,
    load_manifest,
    provenance,
    refuse_other_cpu,
    timing_changes,
    utc_now,
    write_manifest,
)
from .measure import Measurer
from .progress import progress_bar
from .shard import SHARDS_DIR
from .state import (
    WorkloadState,
    goal,
    measured_traces,
    open_states,
    pick,
    round_robin,
    wants_timing,
)
from .workers import stub_gpu_intrinsics, target_of
from .workloads import Workload, gather_workloads

logger = logging.getLogger(__name__)

__all__ = ["CollectStats", "WorkloadState", "collect"]


@dataclass
class CollectStats:
    """What one :func:`collect` call did.

    ``search_seconds`` and ``measure_seconds`` split the measured batches' time between
    generating candidates and building, timing and saving them; ``seconds`` is the whole
    call, starting workers and fruitless searches included.
    """

    workloads: int = 0
    measured: int = 0
    successes: int = 0
    failures: int = 0
    seconds: float = 0.0
    search_seconds: float = 0.0
    measure_seconds: float = 0.0
    total_successes: int = 0
    stopped_by: str = "done"

    @property
    def samples_per_hour(self) -> float:
        return 3600.0 * self.successes / self.seconds if self.seconds > 0 else 0.0


def _seed(base: int, shash: str, round_index: int) -> int:
    return (base * 1_000_003 + int(shash) % 1_000_000_007 + round_index * 7919) % (2**31 - 1)


def _candidates(st: WorkloadState, kind: str, config: CollectConfig, target: Any) -> list:
    seed = _seed(config.seed, st.workload.shash, len(st.hashes))
    mod, name = st.workload.mod, st.workload.name
    if kind == "random":
        n = config.search.random_per_workload - st.randoms
        cands = random_candidates(mod, target, n, seed, st.hashes, task_name=name)
        if len(cands) < n:
            # Several draws found fewer than n distinct programs: the design space is (nearly)
            # enumerated, and an evolutionary search cannot find what is not there.
            st.random_exhausted = st.exhausted = True
        return cands
    n = config.search.batch_size
    cands = evolutionary_candidates(
        mod, target, n, seed, st.hashes, measured_traces(st), config.search, task_name=name
    )
    if len(cands) < n:  # small spaces: top up with random programs
        seen = st.hashes | {c.shash for c in cands}
        cands += random_candidates(mod, target, n - len(cands), seed + 1, seen, task_name=name)
    return cands


def collect(
    config: CollectConfig,
    workloads: list[Workload] | None = None,
    stop: threading.Event | None = None,
) -> CollectStats:
    """Measure until the configured goal, the time budget, or an interrupt.

    Parameters
    ----------
    config : CollectConfig
        What to collect and where.
    workloads : list of Workload, optional
        Measure these instead of the networks' workloads (tests, custom sets).
    stop : threading.Event, optional
        Set it (from a signal handler, say) to stop after the batch in progress.

    Raises
    ------
    DataDirBusyError
        When another collector is writing ``config.data_dir``.
    """
    with exclusive_directory(config.data_dir) as root:
        for d in [root, *sorted(p for p in (root / SHARDS_DIR).glob("*") if p.is_dir())]:
            remove_stale_temporaries(d)  # left by a kill in the middle of a write
        return _collect_locked(config, workloads, stop)


def _collect_locked(
    config: CollectConfig, workloads: list[Workload] | None, stop: threading.Event | None
) -> CollectStats:
    stub_gpu_intrinsics()
    start = time.monotonic()
    target = target_of(config.target)
    manifest = load_manifest(config.data_dir)
    if workloads is None:
        workloads = gather_workloads(config.networks, config.target, config.cache_dir)
    changed = timing_changes(manifest, config.measure)
    if changed:
        logger.warning(
            "%s holds programs timed with other settings (%s) than this session's (%s); "
            "each record names its session and the manifest keeps every session's settings. "
            "Pass the earlier values (e.g. --min-repeat-ms) to keep one protocol.",
            config.data_dir,
            ", ".join(f"{k}={v}" for k, v in changed.items()),
            ", ".join(f"{k}={getattr(config.measure, k)}" for k in changed),
        )
    states = round_robin(open_states(config, workloads, manifest))
    if config.rpc is None:  # over RPC another machine times the programs
        elsewhere = refuse_other_cpu(
            manifest,
            {st.key: st.sessions for st in states if wants_timing(st, config)},
            config.data_dir,
            config.allow_other_cpu,
        )
        for st in states:
            st.timed_elsewhere = st.key in elsewhere
    session = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"
    session_info = {
        **provenance(config.rpc.key if config.rpc else None),
        "started": utc_now(),
        "target": dict(config.target),
        "measurement": asdict(config.measure),
        "search": asdict(config.search),
        "seed": config.seed,
        "builder": "tpgnn.collect.workers.PersistentBuilder",
        "runner": "RPCRunner" if config.rpc else "LocalRunner",
        "rpc": asdict(config.rpc) if config.rpc else None,
        "records_added": 0,
    }
    stats = CollectStats(workloads=len(states))
    target_total = goal(states, config)
    have = sum(s.successes for s in states)
    logger.info("%d workloads, %d samples already, goal %d", len(states), have, target_total)
    for shard in {id(s.shard): s.shard for s in states}.values():
        shard.save()  # new workloads (and new uses) are on disk even if nothing is measured
    manifest = _save_manifest(config, states, manifest, session, session_info)
    measurer = None
    bar = progress_bar(target_total, "sample", "collect", have) if config.progress else None
    search_errors = 0
    try:
        while True:
            if config.time_budget_s is not None and time.monotonic() - start > config.time_budget_s:
                stats.stopped_by = "time budget"
                break
            if stop is not None and stop.is_set():
                stats.stopped_by = "stop requested"
                break
            picked = pick(states, config)
            if picked is None:
                break
            st, kind = picked
            if measurer is None:  # a finished dataset starts nothing
                measurer = Measurer(config.measure, config.rpc, config.num_build_workers)
            t0 = time.monotonic()
            try:
                cands = _candidates(st, kind, config, target)
                search_errors = 0
            except Exception:  # noqa: BLE001 -- one workload's search must not stop the run
                # MetaSchedule raises TVMError (a RuntimeError) from deep inside its search
                # on rare workloads; log it loudly, count it as a fruitless round (three
                # make the workload exhausted), and stop only if every search keeps failing.
                logger.exception("%s search failed on %s (%s)", kind, st.key, st.workload.name)
                cands = []
                search_errors += 1
                if search_errors > 10:
                    raise
            t1 = time.monotonic()
            if not cands:
                st.fruitless += 1
                st.exhausted = (
                    st.fruitless >= config.search.max_fruitless_rounds or kind == "random"
                )
                if st.exhausted:  # on disk too: a rerun must not search it again
                    manifest = _save_manifest(config, states, manifest, session, session_info)
                continue
            only_ever_failed = st.successes == 0 and st.failures > 0
            results = measurer.run(cands, target, only_ever_failed, f"a batch of {st.key}")
            ok = 0
            for r in results:
                c = r.candidate
                st.shard.add_record(
                    st.index,
                    c.candidate.sch.trace,
                    r.run_secs,
                    target,
                    c.candidate.args_info,
                    c.shash,
                    c.source,
                    r.error,
                    session,
                    r.load,
                )
                st.hashes.add(c.shash)
                st.randoms += c.source == RANDOM
                ok += r.error is None
            st.successes += ok
            st.failures += len(results) - ok
            st.fruitless = 0
            if st.failures > 4 * config.samples_per_workload and st.successes == 0:
                st.exhausted = True
            stats.measured += len(results)
            stats.successes += ok
            stats.failures += len(results) - ok
            session_info["records_added"] = stats.measured
            session_info["updated"] = utc_now()
            st.shard.save()
            manifest = _save_manifest(config, states, manifest, session, session_info)
            t2 = time.monotonic()
            stats.search_seconds += t1 - t0
            stats.measure_seconds += t2 - t1
            if bar is not None:
                bar.total = goal(states, config)  # exhausted workloads lower the goal
                bar.update(ok)
            logger.info(
                "%s %s (%s): %d ok, %d failed; search %.1fs, measure %.1fs; now %d",
                kind,
                st.key,
                st.workload.name,
                ok,
                len(results) - ok,
                t1 - t0,
                t2 - t1,
                st.successes,
            )
    except KeyboardInterrupt:
        stats.stopped_by = "interrupt"
        logger.info("interrupted; every finished batch is saved")
    finally:
        if bar is not None:
            bar.close()
        if measurer is not None:
            measurer.close()
    stats.seconds = time.monotonic() - start
    stats.total_successes = sum(s.successes for s in states)
    return stats


def _save_manifest(
    config: CollectConfig, states: list, previous: dict, session: str, session_info: dict
) -> dict:
    """Rebuild the manifest from the workload states and write it atomically; returns it."""
    manifest = build_manifest(config, states, previous, session, session_info)
    write_manifest(config.data_dir, manifest)
    return manifest
