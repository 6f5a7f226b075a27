"""Read the dataset back: shards as samples, or as MetaSchedule ``JSONDatabase`` objects.

Any MetaSchedule JSON database (``database_workload.json`` + ``database_tuning_record.json``,
plain or gzipped) loads the same way, so tuning logs from any TVM user are training data too;
the sidecar and manifest only add what they know (error messages, splits, networks).
A program measured again (``tpgnn remeasure``) reads back with its latest successful
re-measurement; the tuning record, and so the ``JSONDatabase`` view, keeps the first.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .io import CorruptLineError, iter_json_lines, resolve
from .manifest import load_manifest
from .shard import (
    FAILURE_COST,
    RECORD_FILE,
    REMEASURE_FILE,
    SHARDS_DIR,
    SIDECAR_FILE,
    WORKLOAD_FILE,
    parse_record,
    parse_workload,
    workload_key,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CorruptLineError",
    "Sample",
    "ShardData",
    "load_dataset",
    "load_shard",
    "open_json_database",
    "parse_record",
    "parse_workload",
]


@dataclass(frozen=True)
class Sample:
    """One measured program.

    ``run_secs`` holds the mean cost of every repeat (seconds); a failure stores ``[1e10]``
    (or ``None``) and its message, when the collector wrote one, in ``error``. For a program
    measured again, ``run_secs`` is the latest successful re-measurement and ``remeasured``
    its line (``session``, ``load``, ...) plus ``original_run_secs``, the tuning record's.
    """

    shard: str
    workload: int
    record: int
    trace: Any
    run_secs: list[float] | None
    target: Any
    args_info: Any
    meta: dict[str, Any] | None = None
    remeasured: dict[str, Any] | None = None

    @property
    def measured_by(self) -> dict[str, Any]:
        """``session`` and ``load`` of the measurement ``run_secs`` holds (may be empty)."""
        return self.remeasured or self.meta or {}

    @property
    def ok(self) -> bool:
        return bool(self.run_secs) and min(self.run_secs) < FAILURE_COST

    @property
    def median(self) -> float:
        """Median cost over repeats (seconds); ``inf`` for a failure."""
        return statistics.median(self.run_secs) if self.ok else float("inf")

    @property
    def spread(self) -> float:
        """(max - min) / median over repeats: 0 for a quiet measurement, NaN for a failure."""
        if not self.ok:
            return float("nan")
        return (max(self.run_secs) - min(self.run_secs)) / self.median

    @property
    def error(self) -> str | None:
        return (self.meta or {}).get("error")


@dataclass
class ShardData:
    """A shard's workloads (``(shash, base64 module)``) and samples."""

    name: str
    workloads: list[tuple[str, str]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    _workload_objects: dict[int, Any] = field(default_factory=dict, repr=False, compare=False)

    def workload_mod(self, index: int) -> Any:
        """Decode workload ``index`` into an IRModule (MetaSchedule's own decoder)."""
        return self._workload(index).mod

    def measure_candidate(self, sample: Sample) -> Any:
        """A sample's program rebuilt as MetaSchedule rebuilds a record: its trace replayed
        on the workload, postprocessors included (``ms.MeasureCandidate``)."""
        from tvm.s_tir import meta_schedule as ms

        record = ms.database.TuningRecord.from_json(
            [sample.trace, sample.run_secs, sample.target, sample.args_info],
            self._workload(sample.workload),
        )
        return record.as_measure_candidate()

    def _workload(self, index: int) -> Any:
        from tvm.s_tir import meta_schedule as ms

        if index not in self._workload_objects:
            self._workload_objects[index] = ms.database.Workload.from_json(
                list(self.workloads[index])
            )
        return self._workload_objects[index]


def load_shard(path: str | Path, on_error: str = "raise") -> ShardData:
    """Read one shard directory (our gzipped files or a plain MetaSchedule database).

    Parameters
    ----------
    on_error : {"raise", "skip"}
        A corrupt line (bad JSON, wrong shape, unknown workload index) raises
        :class:`CorruptLineError` naming file and line, or is logged and skipped; every
        valid record is kept either way.
    """
    root = Path(path)
    wl_path = resolve(root / WORKLOAD_FILE)
    if wl_path is None:
        raise FileNotFoundError(f"{root}: no {WORKLOAD_FILE} (or its plain form)")
    data = ShardData(root.name)
    # Workload indices are line positions in MetaSchedule's format, so a skipped workload
    # line leaves a hole: records pointing at it are then reported, not misattributed.
    positions: dict[int, int] = {}
    raw_index = 0
    for line in iter_json_lines(wl_path, on_error, validate=parse_workload):
        raw_index = line.position
        positions[raw_index] = len(data.workloads)
        data.workloads.append(parse_workload(line.value))
    meta: dict[int, dict[str, Any]] = {}
    side = resolve(root / SIDECAR_FILE)
    if side is not None:
        for line in iter_json_lines(side, on_error, validate=_check_meta):
            meta[line.value["record"]] = line.value
    rec_path = resolve(root / RECORD_FILE)
    if rec_path is None:
        return data

    def check(value: Any) -> None:
        widx = parse_record(value)[0]
        if widx not in positions:
            raise ValueError(f"workload index {widx} is not in {wl_path.name}")

    for line in iter_json_lines(rec_path, on_error, validate=check):
        widx, trace, run_secs, target, args_info = parse_record(line.value)
        data.samples.append(
            Sample(
                root.name,
                positions[widx],
                line.position,
                trace,
                run_secs,
                target,
                args_info,
                meta.get(line.position),
            )
        )
    _apply_remeasurements(data, root, on_error)
    return data


def _apply_remeasurements(data: ShardData, root: Path, on_error: str) -> None:
    """Give each re-measured sample its latest successful re-measurement (in file order)."""
    path = resolve(root / REMEASURE_FILE)
    if path is None:
        return

    position = {sample.record: i for i, sample in enumerate(data.samples)}

    def check(value: Any) -> None:
        check_remeasurement(value)
        if value["record"] not in position:
            raise ValueError(f"record {value['record']} is not in {RECORD_FILE}")

    latest: dict[int, dict[str, Any]] = {}
    for line in iter_json_lines(path, on_error, validate=check):
        secs = line.value.get("run_secs")
        if secs and min(secs) < FAILURE_COST:
            latest[line.value["record"]] = line.value
    for record, line in latest.items():
        index = position[record]
        sample = data.samples[index]
        data.samples[index] = replace(
            sample,
            run_secs=[float(x) for x in line["run_secs"]],
            remeasured={**line, "original_run_secs": sample.run_secs},
        )


def check_remeasurement(value: Any) -> None:
    """ValueError unless ``value`` is a re-measurement line: an integer ``record`` and
    ``run_secs``, a non-empty list of numbers or null."""
    _check_meta(value)
    secs = value.get("run_secs")
    if secs is not None and not (
        isinstance(secs, list) and secs and all(isinstance(x, int | float) for x in secs)
    ):
        raise ValueError("run_secs must be a non-empty list of numbers or null")


def _check_meta(value: Any) -> None:
    if not (isinstance(value, dict) and isinstance(value.get("record"), int)):
        raise ValueError("a measurement line must be an object with an integer 'record'")


def shard_dirs(data_dir: str | Path) -> list[Path]:
    """Shard directories under ``data_dir/shards``, sorted by name."""
    return sorted(p for p in (Path(data_dir) / SHARDS_DIR).glob("*") if p.is_dir())


def load_dataset(
    data_dir: str | Path, split: str | None = None, on_error: str = "raise"
) -> Iterator[tuple[dict[str, Any], Sample]]:
    """Yield ``(workload_info, sample)`` over every shard, optionally one split only.

    ``workload_info`` is the manifest's entry for the sample's workload (``split``,
    ``networks`` with task name and weight in each, ``shared_with_train``, ...).
    """
    if split is not None and split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val', 'test' or None, got {split!r}")
    workloads = load_manifest(data_dir).get("workloads", {})
    for d in shard_dirs(data_dir):
        shard = load_shard(d, on_error)
        for s in shard.samples:
            info = workloads.get(workload_key(d.name, s.workload), {})
            if split is None or info.get("split") == split:
                yield info, s


def open_json_database(path: str | Path, work_dir: str | Path) -> Any:
    """Open a shard as ``ms.database.JSONDatabase`` (gzipped files are unpacked to work_dir)."""
    from tvm.s_tir import meta_schedule as ms

    root, out = Path(path), Path(work_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in (WORKLOAD_FILE, RECORD_FILE):
        src = resolve(root / name)
        if src is None:
            raise FileNotFoundError(f"{root}: no {name} (or its plain form)")
        dst = out / name.removesuffix(".gz")
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as fi, open(dst, "wb") as fo:
            shutil.copyfileobj(fi, fo)
        paths.append(str(dst))
    return ms.database.JSONDatabase(paths[0], paths[1], allow_missing=False)


def dumps_sample(sample: Sample) -> str:
    """A sample's tuning-record line (without the workload index), for debugging."""
    return json.dumps([sample.trace, sample.run_secs, sample.target, sample.args_info])
