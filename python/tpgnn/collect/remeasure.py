"""Measure recorded programs again, a whole workload at a time: ``tpgnn remeasure``.

The first ten collector sessions (2026-11-26) timed programs beside other work (load average
4 to 7 on 2 cores). Timed again on a quiet machine (2026-12-05, 40 programs each of ResNet-18
and SqueezeNet), those programs ran at a median 0.61 to 0.63 of their recorded cost, with
quartiles 0.47 to 0.89: the load slowed every repeat, by a different amount each time, so the
labels carry that noise even where the three repeats agree. Programs from quiet sessions,
timed the same way, came out at 0.91 to 0.94 of theirs: today's machine is a little faster.

Labels are relative within a task (throughput over the task's best), so a workload is
measured again whole, in one session, and its programs never mix two machines' timings. A
workload is chosen when any of its programs comes from one of the given sessions (by default
the sessions whose share of noisy samples exceeds ``noisy_share``). The new timings go to the
shard's ``remeasurements.jsonl.gz``, written atomically after each workload; the tuning
records keep the first measurement, and :func:`tpgnn.collect.loader.load_shard` reads a
program back with its latest successful re-measurement. Rerunning continues with the
workloads not yet done; nothing is measured twice.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .candidates import Candidate, program_hash
from .config import MeasureConfig
from .io import atomic_write_lines, exclusive_directory, iter_json_lines, remove_stale_temporaries
from .loader import Sample, ShardData, check_remeasurement, load_shard, shard_dirs
from .manifest import (
    dataset_totals,
    load_manifest,
    provenance,
    refuse_other_cpu,
    utc_now,
    write_manifest,
)
from .measure import Measured, Measurer
from .progress import progress_bar
from .quality import session_quality
from .shard import FAILURE_COST, REMEASURE_FILE, SHARDS_DIR, workload_key
from .workers import stub_gpu_intrinsics, target_of

logger = logging.getLogger(__name__)

__all__ = [
    "NOISY_SHARE",
    "RemeasureStats",
    "noisy_sessions",
    "pending_workloads",
    "recovered_by_split",
    "remeasure",
]

#: A session counts as noisy when more than this share of its samples have a spread above
#: :data:`tpgnn.collect.quality.NOISY_SPREAD`. The 2026-11-26 sessions had 10 to 52%, the
#: quiet sessions since 0.5 to 3.3%.
NOISY_SHARE = 0.05

SOURCE = "remeasure"


@dataclass
class RemeasureStats:
    """What one :func:`remeasure` call did; ``pending`` workloads remain for a later run."""

    workloads: int = 0
    successes: int = 0
    failures: int = 0
    pending: int = 0
    seconds: float = 0.0
    stopped_by: str = "done"

    @property
    def programs(self) -> int:
        """Programs measured again, successfully or not."""
        return self.successes + self.failures


def first_measurement(sample: Sample) -> Sample:
    """The sample as its tuning record has it, before any re-measurement."""
    if sample.remeasured is None:
        return sample
    return replace(sample, run_secs=sample.remeasured["original_run_secs"], remeasured=None)


def noisy_sessions(shards: Iterable[ShardData], noisy_share: float = NOISY_SHARE) -> list[str]:
    """Sessions whose first measurements are noisy in more than ``noisy_share`` of samples.

    Judged on the first measurements, so the choice does not change as re-measurements land.
    """
    samples = (first_measurement(s) for shard in shards for s in shard.samples)
    return [
        row.session
        for row in session_quality(samples)
        if row.noisy_fraction > noisy_share and row.session != "unknown"
    ]


def remeasured_records(shard_dir: Path) -> tuple[list[str], set[int]]:
    """A shard's re-measurement lines and the records they cover.

    These lines are written back with the next workload's, so a corrupt one raises
    :class:`~tpgnn.collect.io.CorruptLineError` (file and line) rather than being dropped.
    """
    path = shard_dir / REMEASURE_FILE
    if not path.exists():
        return [], set()
    lines, records = [], set()
    for line in iter_json_lines(path, "raise", validate=check_remeasurement):
        lines.append(_dumps(line.value))
        records.add(line.value["record"])
    return lines, records


def recovered_by_split(
    shard: ShardData, lines: Iterable[str], workload_splits: dict[str, str | None]
) -> dict[str, int]:
    """Per split, the shard's programs whose first measurement failed and a re-measurement
    (one of ``lines``) succeeded: they read back as successes, though the tuning records,
    and so the shard's and workloads' counts, hold them as failures."""
    succeeded = set()
    for text in lines:
        line = json.loads(text)
        secs = line.get("run_secs")
        if secs and min(secs) < FAILURE_COST:
            succeeded.add(line["record"])
    out: dict[str, int] = {}
    for sample in shard.samples:
        if sample.record in succeeded and not first_measurement(sample).ok:
            split = workload_splits.get(workload_key(shard.name, sample.workload)) or "unknown"
            out[split] = out.get(split, 0) + 1
    return dict(sorted(out.items()))


def pending_workloads(
    shards: Sequence[ShardData],
    done: dict[str, set[int]],
    sessions: Iterable[str],
    workload_splits: dict[str, str | None],
    splits: Sequence[str],
) -> list[tuple[ShardData, int, list[Sample]]]:
    """Workloads to measure again, in ``splits`` order: each with a program first measured
    in one of ``sessions``, with its programs no re-measurement covers yet."""
    sessions = set(sessions)
    order = {split: i for i, split in enumerate(splits)}
    todo = []
    for shard in shards:
        by_workload: dict[int, list[Sample]] = defaultdict(list)
        for sample in shard.samples:
            by_workload[sample.workload].append(sample)
        for workload, samples in sorted(by_workload.items()):
            split = workload_splits.get(workload_key(shard.name, workload))
            if split not in order:
                continue
            if not any((s.meta or {}).get("session") in sessions for s in samples):
                continue
            left = [s for s in samples if s.record not in done.get(shard.name, set())]
            if left:
                todo.append((order[split], shard, workload, left))
    todo.sort(key=lambda item: item[0])  # stable: shards and workloads keep their order
    return [(shard, workload, left) for _, shard, workload, left in todo]


def remeasure(
    data_dir: str | Path,
    sessions: Sequence[str] | None = None,
    splits: Sequence[str] = ("val", "test", "train"),
    measure: MeasureConfig | None = None,
    num_build_workers: int | None = None,
    noisy_share: float = NOISY_SHARE,
    time_budget_s: float | None = None,
    stop: threading.Event | None = None,
    progress: bool = True,
    batch_size: int = 64,
    allow_other_cpu: bool = False,
) -> RemeasureStats:
    """Measure again every workload with a program from ``sessions`` (default: the noisy
    ones, :func:`noisy_sessions`), ``splits`` in that order, until done, the time budget or
    ``stop``; each stops after the workload in progress.

    Raises
    ------
    DataDirBusyError
        When a collector or another re-measurement is writing ``data_dir``.
    ValueError
        When another CPU timed every workload to measure again and ``allow_other_cpu`` is
        not set (:func:`~tpgnn.collect.manifest.refuse_other_cpu`): this machine's timings
        would replace that CPU's. Workloads of this CPU are measured; the others are left,
        with a warning.
    """
    with exclusive_directory(data_dir) as root:
        for d in [root, *shard_dirs(root)]:
            remove_stale_temporaries(d)
        return _remeasure_locked(
            root, sessions, splits, measure or MeasureConfig(), num_build_workers, noisy_share,
            time_budget_s, stop, progress, batch_size, allow_other_cpu,
        )


def _remeasure_locked(
    root: Path,
    sessions: Sequence[str] | None,
    splits: Sequence[str],
    measure: MeasureConfig,
    num_build_workers: int | None,
    noisy_share: float,
    time_budget_s: float | None,
    stop: threading.Event | None,
    progress: bool,
    batch_size: int,
    allow_other_cpu: bool,
) -> RemeasureStats:
    start = time.monotonic()
    stub_gpu_intrinsics()
    manifest = load_manifest(root)
    shards = [load_shard(d, on_error="skip") for d in shard_dirs(root)]
    if sessions is None:
        sessions = noisy_sessions(shards, noisy_share)
        logger.info("noisy sessions: %s", ", ".join(sessions) or "none")
    unknown = set(sessions) - set(manifest.get("sessions", {}))
    if unknown:
        raise ValueError(f"sessions {sorted(unknown)} are not in {root}/manifest.json; "
                         f"known: {sorted(manifest.get('sessions', {}))}")
    existing = {shard.name: remeasured_records(root / SHARDS_DIR / shard.name) for shard in shards}
    done = {name: records for name, (_, records) in existing.items()}
    splits_of = {key: info.get("split") for key, info in manifest.get("workloads", {}).items()}
    todo = pending_workloads(shards, done, sessions, splits_of, splits)
    stats = RemeasureStats(pending=len(todo))
    if not todo:
        # Nothing to measure; bring the counts up to date if they were written by an older
        # version (no new session: nothing was measured).
        refreshed = _with_remeasurements(manifest, existing, shards, splits_of)
        if refreshed != manifest:
            write_manifest(root, refreshed)
        return stats
    elsewhere = refuse_other_cpu(
        manifest,
        {
            workload_key(shard.name, workload): {(s.meta or {}).get("session") for s in samples}
            for shard, workload, samples in todo
        },
        root,
        allow_other_cpu,
    )
    todo = [item for item in todo if workload_key(item[0].name, item[1]) not in elsewhere]
    stats.pending = len(todo)
    session = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"
    session_info = {
        **provenance(),
        "kind": "remeasure",
        "started": utc_now(),
        "remeasures_sessions": sorted(sessions),
        "measurement": asdict(measure),
        "builder": "tpgnn.collect.workers.PersistentBuilder",
        "runner": "LocalRunner",
        "records_added": 0,
        "records_remeasured": 0,
    }
    total = sum(len(left) for _, _, left in todo)
    bar = progress_bar(total, "program", "remeasure") if progress else None
    measurer = None
    try:
        for shard, workload, samples in todo:
            if time_budget_s is not None and time.monotonic() - start > time_budget_s:
                stats.stopped_by = "time budget"
                break
            if stop is not None and stop.is_set():
                stats.stopped_by = "stop requested"
                break
            if measurer is None:
                measurer = Measurer(measure, None, num_build_workers)
            lines = _remeasure_workload(shard, samples, measurer, session, batch_size, bar)
            old_lines, records = existing[shard.name]
            old_lines.extend(_dumps(line) for line in lines)
            records.update(s.record for s in samples)
            atomic_write_lines(root / SHARDS_DIR / shard.name / REMEASURE_FILE, old_lines)
            ok = sum(line["run_secs"] is not None for line in lines)
            stats.workloads += 1
            stats.pending -= 1
            stats.successes += ok
            stats.failures += len(lines) - ok
            session_info["records_remeasured"] = stats.programs
            session_info["updated"] = utc_now()
            manifest = _with_remeasurements(manifest, existing, shards, splits_of)
            manifest["sessions"][session] = session_info
            write_manifest(root, manifest)
            logger.info("%s/%d: %d of %d measured again", shard.name, workload, ok, len(lines))
    except KeyboardInterrupt:
        stats.stopped_by = "interrupt"
        logger.info("interrupted; every finished workload is saved")
    finally:
        if bar is not None:
            bar.close()
        if measurer is not None:
            measurer.close()
    stats.seconds = time.monotonic() - start
    return stats


def _remeasure_workload(
    shard: ShardData,
    samples: list[Sample],
    measurer: Measurer,
    session: str,
    batch_size: int,
    bar: Any,
) -> list[dict[str, Any]]:
    """One re-measurement line per sample: rebuilt from its record, checked to be the program
    measured first (structural hash), then built and timed in batches."""
    lines: dict[int, dict[str, Any]] = {}
    batches: dict[str, list[tuple[Sample, Candidate]]] = defaultdict(list)
    for sample in samples:
        try:
            candidate = shard.measure_candidate(sample)
            shash = program_hash(candidate.sch)
        except Exception as err:  # noqa: BLE001 (recorded, not fatal)
            lines[sample.record] = _line(sample, None, f"rebuild: {type(err).__name__}: {err}",
                                         session, None)
            continue
        recorded = (sample.meta or {}).get("shash")
        if recorded is not None and recorded != shash:
            lines[sample.record] = _line(
                sample, None, f"rebuild: the program's hash {shash} is not the recorded "
                f"{recorded}", session, None)
            continue
        batches[_dumps(sample.target)].append((sample, Candidate(candidate, shash, SOURCE)))
    for members in batches.values():
        target = target_of(members[0][0].target)  # the target the program was built for
        for i in range(0, len(members), batch_size):
            chunk = members[i : i + batch_size]
            only_ever_failed = not any(s.ok for s, _ in chunk)
            results: list[Measured] = measurer.run(
                [c for _, c in chunk], target, only_ever_failed,
                workload_key(shard.name, chunk[0][0].workload))
            for (sample, _), result in zip(chunk, results, strict=True):
                lines[sample.record] = _line(sample, result.run_secs, result.error, session,
                                             result.load)
            if bar is not None:
                bar.update(len(chunk))
    return [lines[s.record] for s in samples]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _line(sample: Sample, run_secs: list[float] | None, error: str | None, session: str,
          load: float | None) -> dict[str, Any]:
    return {"record": sample.record, "run_secs": run_secs, "error": error, "session": session,
            "load": load}


def _with_remeasurements(
    manifest: dict,
    existing: dict[str, tuple[list[str], set[int]]],
    shards: Sequence[ShardData],
    workload_splits: dict[str, str | None],
) -> dict:
    """The manifest with each shard's re-measurement counts and the totals they change."""
    manifest = dict(manifest)
    manifest["sessions"] = dict(manifest.get("sessions", {}))
    by_name = {shard.name: shard for shard in shards}
    section = {
        "file": REMEASURE_FILE,
        "rule": "a program reads back with its latest successful re-measurement; the tuning "
        "record keeps the first measurement. Workloads are measured again whole. recovered: "
        "programs whose first measurement failed and a re-measurement succeeded, by split.",
        "shards": {
            name: {"records": len(records),
                   "recovered": recovered_by_split(by_name[name], lines, workload_splits)}
            for name, (lines, records) in sorted(existing.items()) if records
        },
    }
    if not section["shards"] and "remeasurements" not in manifest:
        return manifest
    manifest["remeasurements"] = section
    manifest["totals"] = dataset_totals(manifest.get("workloads", {}), section)
    return manifest
