"""One shard of the dataset: a MetaSchedule JSON database plus a measurement sidecar.

A shard is a directory ``<data_dir>/shards/<name>/`` holding

``database_workload.json.gz``
    MetaSchedule's workload table, one ``[shash, base64 IRModule]`` line per workload.
``database_tuning_record.json.gz``
    MetaSchedule's tuning-record table, one ``[workload_index, [trace, run_secs, target,
    args_info]]`` line per measured program. ``run_secs`` lists the mean cost of every
    repeat; a failed build or run stores ``[1e10]`` as MetaSchedule's tuner does.
``measurements.jsonl.gz``
    One line per tuning record, same order: ``record`` (its 0-based line index),
    ``workload``, ``shash`` (structural hash of the scheduled module), ``source``
    (``random`` / ``evolutionary``), ``error`` (the builder or runner message, or null),
    ``session`` (a key of the manifest's ``sessions``), ``load`` (the machine's 1-minute
    load average when the batch was timed; absent in the earliest records).
``remeasurements.jsonl.gz`` (only once ``tpgnn remeasure`` has run on the shard)
    One line per program measured again: ``record`` (the tuning record's index),
    ``run_secs`` (the new repeats; ``null`` for a failure), ``error``, ``session``, ``load``.
    The tuning records keep the first measurement; readers take a program's latest
    successful re-measurement instead (:mod:`tpgnn.collect.remeasure`).

Both database files are exactly what ``ms.database.JSONDatabase`` writes, gzipped;
:func:`tpgnn.collect.loader.open_json_database` opens a shard as a ``JSONDatabase``.
The files are rewritten whole after every batch (temporary file, then rename); the sidecar
is written first, so after a kill between the two renames the sidecar's extra lines refer
to records that do not exist and are dropped on the next load.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .io import atomic_write_lines, iter_json_lines, resolve

logger = logging.getLogger(__name__)

__all__ = [
    "FAILURE_COST",
    "RECORD_FILE",
    "REMEASURE_FILE",
    "SHARDS_DIR",
    "SIDECAR_FILE",
    "WORKLOAD_FILE",
    "Shard",
    "parse_record",
    "parse_workload",
    "workload_key",
]

WORKLOAD_FILE = "database_workload.json.gz"
RECORD_FILE = "database_tuning_record.json.gz"
SIDECAR_FILE = "measurements.jsonl.gz"
REMEASURE_FILE = "remeasurements.jsonl.gz"
SHARDS_DIR = "shards"
"""Shards live in ``<data_dir>/shards/<name>/``."""


def workload_key(shard: str, workload: int) -> str:
    """``SHARD/INDEX``: how the manifest's ``workloads`` name a workload of a shard (its line
    in the shard's workload table), the one key splits and network weights are looked up by."""
    return f"{shard}/{workload}"

FAILURE_COST = 1e10
"""The cost MetaSchedule records for a program that failed to build or run."""


def parse_workload(value: Any) -> tuple[str, str]:
    """``[shash, base64 IRModule]`` -> the pair; ValueError if it is not that shape."""
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("a workload line must be [shash, base64 module]")
    return value[0], value[1]


def parse_record(value: Any) -> tuple[int, Any, list[float] | None, Any, Any]:
    """``[workload, [trace, run_secs, target, args_info]]`` -> its five parts."""
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise ValueError("a tuning-record line must be [workload_index, [...]]")
    body = value[1]
    if not (isinstance(body, list) and len(body) == 4):
        raise ValueError("a tuning record must be [trace, run_secs, target, args_info]")
    trace, run_secs, target, args_info = body
    if run_secs is not None and not (
        isinstance(run_secs, list) and all(isinstance(x, (int, float)) for x in run_secs)
    ):
        raise ValueError("run_secs must be a list of numbers or null")
    return (
        value[0],
        trace,
        None if run_secs is None else [float(x) for x in run_secs],
        target,
        args_info,
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class Measurement:
    """The sidecar line of one record."""

    record: int
    workload: int
    shash: str
    source: str
    error: str | None
    session: str
    load: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "workload": self.workload,
            "shash": self.shash,
            "source": self.source,
            "error": self.error,
            "session": self.session,
            "load": self.load,
        }


class Shard:
    """In-memory copy of one shard's files, with atomic save.

    Parameters
    ----------
    root : path
        The shard directory; created on the first :meth:`save`.
    on_error : {"raise", "skip"}
        What to do with corrupt lines when loading (see :func:`iter_json_lines`).
    """

    def __init__(self, root: str | Path, on_error: str = "raise") -> None:
        self.root = Path(root)
        self.name = self.root.name
        self.workload_lines: list[str] = []
        self.workload_hashes: list[str] = []
        self.record_lines: list[str] = []
        self.records: list[tuple[int, list[float] | None]] = []  # (workload, run_secs)
        self.measurements: list[Measurement] = []
        self._workload_objects: dict[int, Any] = {}
        self._load(on_error)

    # -- reading -----------------------------------------------------------------------
    def _load(self, on_error: str) -> None:
        path = resolve(self.root / WORKLOAD_FILE)
        if path is None:
            return
        for line in iter_json_lines(path, on_error, validate=parse_workload):
            self.workload_lines.append(_dumps(line.value))
            self.workload_hashes.append(str(line.value[0]))
        path = resolve(self.root / RECORD_FILE)
        if path is not None:
            for line in iter_json_lines(path, on_error, validate=parse_record):
                widx, _trace, run_secs, _target, _args = parse_record(line.value)
                self.record_lines.append(_dumps(line.value))
                self.records.append((widx, run_secs))
        path = resolve(self.root / SIDECAR_FILE)
        if path is not None:
            for line in iter_json_lines(path, on_error):
                m = Measurement(**line.value)
                if m.record < len(self.records):
                    self.measurements.append(m)
        if len(self.measurements) != len(self.records):
            logger.warning(
                "%s: %d records but %d sidecar lines; records without one are kept, "
                "their hash recomputed on demand",
                self.root,
                len(self.records),
                len(self.measurements),
            )

    # -- writing -----------------------------------------------------------------------
    def add_workload(self, mod: Any) -> int:
        """Append a workload (MetaSchedule's own JSON form) and return its index."""
        from tvm.s_tir import meta_schedule as ms

        value = ms.database.Workload(mod).as_json()
        self.workload_lines.append(_dumps([str(value[0]), value[1]]))
        self.workload_hashes.append(str(value[0]))
        return len(self.workload_lines) - 1

    def add_record(
        self,
        workload: int,
        trace: Any,
        run_secs: list[float] | None,
        target: Any,
        args_info: Any,
        shash: str,
        source: str,
        error: str | None,
        session: str,
        load: float | None = None,
    ) -> None:
        """Append one measured program (``run_secs=None`` for a failure).

        ``load`` is the 1-minute load average when its batch was timed, so that samples
        measured on a busy machine can be found (or dropped) later.
        """
        from tvm.s_tir import meta_schedule as ms

        if not 0 <= workload < len(self.workload_lines):
            raise ValueError(f"workload must index this shard's workloads, got {workload}")
        costs = [FAILURE_COST] if run_secs is None else [float(x) for x in run_secs]
        # Round-trip through MetaSchedule's TuningRecord so the line is exactly its format.
        wl = self._workload_objects.get(workload)
        if wl is None:
            wl = ms.database.Workload.from_json(json.loads(self.workload_lines[workload]))
            self._workload_objects[workload] = wl
        rec = ms.database.TuningRecord(trace, wl, costs, target, args_info)
        self.record_lines.append(_dumps([workload, rec.as_json()]))
        self.records.append((workload, costs))
        self.measurements.append(
            Measurement(len(self.records) - 1, workload, shash, source, error, session, load)
        )

    def save(self) -> None:
        """Write the three files atomically (sidecar first; see the module docstring)."""
        atomic_write_lines(self.root / WORKLOAD_FILE, self.workload_lines)
        atomic_write_lines(
            self.root / SIDECAR_FILE, [_dumps(m.as_json()) for m in self.measurements]
        )
        atomic_write_lines(self.root / RECORD_FILE, self.record_lines)

    # -- summaries ---------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        ok = sum(1 for _, secs in self.records if secs and min(secs) < FAILURE_COST)
        return {
            "workloads": len(self.workload_lines),
            "records": len(self.records),
            "successes": ok,
            "failures": len(self.records) - ok,
        }
