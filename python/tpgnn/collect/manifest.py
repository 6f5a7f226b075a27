"""``data/manifest.json``: what each shard holds and how it was measured.

The manifest is derived data: the collector rewrites it (atomically) after every batch
from the shards and the run's settings, so it always agrees with the files beside it.
Measurement sessions are kept forever under ``sessions`` (a shard's records name the
session that measured them), so a dataset grown over many runs and machines keeps the
provenance of every sample.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import atomic_write_bytes
from .shard import RECORD_FILE, SHARDS_DIR, SIDECAR_FILE, WORKLOAD_FILE

if TYPE_CHECKING:
    from .config import CollectConfig, MeasureConfig
    from .state import WorkloadState

logger = logging.getLogger(__name__)

__all__ = [
    "FORMAT",
    "MANIFEST_FILE",
    "build_manifest",
    "cpu_info",
    "dataset_totals",
    "load_manifest",
    "provenance",
    "refuse_other_cpu",
    "timing_changes",
    "timing_cpus",
    "write_manifest",
]


FORMAT = "tpgnn-collect/1"
MANIFEST_FILE = "manifest.json"
TIMING_SETTINGS = ("number", "repeat", "min_repeat_ms", "enable_cpu_cache_flush")
"""The ``MeasureConfig`` fields that decide what a stored cost means (not the time limits)."""


def cpu_info() -> dict[str, Any]:
    """CPU model, flags and core count, from ``/proc/cpuinfo`` where there is one."""
    model, flags = platform.processor() or "unknown", []
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model in ("unknown", "x86_64", ""):
            model = value.strip()
        elif key == "flags" and not flags:
            flags = sorted(value.split())
    return {"cpu_model": model, "cpu_flags": flags, "num_cores": os.cpu_count()}


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def provenance(rpc_key: str | None = None) -> dict[str, Any]:
    """The machine and software that measure, for a new session entry.

    Over RPC (``rpc_key``, the tracker's device key) another machine times the programs, and
    TVM's RPC protocol does not say what CPU it has. Its CPU fields then say that they are
    unknown (``cpu_model`` names the device key; no flags, no core count) rather than describe
    this machine, which only built the programs and is recorded as ``build_host``.
    """
    import tvm
    import tvm_ffi

    software = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tvm_version": tvm.__version__,
        "tvm_ffi_version": tvm_ffi.__version__,
    }
    if rpc_key is None:
        return {**cpu_info(), **software}
    return {"cpu_model": f"unknown (RPC device {rpc_key!r})", "cpu_flags": [], "num_cores": None,
            "build_host": {**cpu_info(), "platform": software["platform"]}, **software}


def load_manifest(data_dir: str | Path) -> dict[str, Any]:
    """The manifest as a dict, or an empty skeleton when there is none yet."""
    path = Path(data_dir) / MANIFEST_FILE
    if not path.exists():
        return {"format": FORMAT, "sessions": {}, "shards": {}, "workloads": {}}
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format must be {FORMAT!r}, got {manifest.get('format')!r}")
    return manifest


def write_manifest(data_dir: str | Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically, keys in a stable order (small diffs in git)."""
    text = json.dumps(manifest, indent=1, sort_keys=False) + "\n"
    atomic_write_bytes(Path(data_dir) / MANIFEST_FILE, text.encode())


def build_manifest(
    config: CollectConfig,
    states: list[WorkloadState],
    manifest: dict,
    session: str,
    session_info: dict,
) -> dict:
    """The manifest after a batch: this run's session, every shard's counts, every workload.

    Entries of workloads this run does not cover (other networks, earlier runs) are kept.
    """
    manifest = dict(manifest)
    manifest["format"] = FORMAT
    manifest["description"] = (
        "Measured tensor programs (MetaSchedule JSON databases) for training TPGNN; "
        "see README, section 'Dataset'."
    )
    manifest.setdefault("sessions", {})[session] = session_info
    workloads = dict(manifest.get("workloads", {}))
    for st in states:
        workloads[st.key] = {
            "shard": st.shard.name,
            "index": st.index,
            "shash": st.workload.shash,
            "split": st.split,
            "shared_with_train": st.shared_with_train,
            # Keep the uses recorded by earlier runs over other networks.
            "networks": {
                **workloads.get(st.key, {}).get("networks", {}),
                **{
                    u.network: {"task_name": u.task_name, "weight": u.weight}
                    for u in st.workload.uses
                },
            },
            "successes": st.successes,
            "failures": st.failures,
            "random_exhausted": st.random_exhausted,
            "exhausted": st.exhausted,
        }
    manifest["workloads"] = dict(
        sorted(workloads.items(), key=lambda kv: (kv[1]["shard"], kv[1]["index"]))
    )
    shards = {}
    for st in states:
        shards[st.shard.name] = st.shard
    shard_info = dict(manifest.get("shards", {}))
    for name, shard in sorted(shards.items()):
        sessions = sorted({m.session for m in shard.measurements})
        shard_info[name] = {
            "files": {
                "workload": WORKLOAD_FILE,
                "tuning_record": RECORD_FILE,
                "measurements": SIDECAR_FILE,
            },
            "path": f"{SHARDS_DIR}/{name}",
            **shard.counts(),
            # Every workload has its samples (or an exhausted design space): commit it.
            "complete": all(
                s.exhausted or s.successes >= config.samples_per_workload
                for s in states
                if s.shard is shard
            ),
            "sessions": sessions,
        }
    manifest["shards"] = dict(sorted(shard_info.items()))
    manifest["totals"] = dataset_totals(workloads, manifest.get("remeasurements"))
    manifest["split"] = {
        "rule": "test: used only by test networks; val: used only by val (and test) networks; "
        "train: everything else. A held-out network's workload that a training network also "
        "uses stays in train, marked shared_with_train. A workload's split never changes "
        "once written.",
        "test_networks": sorted(
            set(manifest.get("split", {}).get("test_networks", [])) | set(config.test_networks)
        ),
        "val_networks": sorted(
            set(manifest.get("split", {}).get("val_networks", [])) | set(config.val_networks)
        ),
    }
    return manifest


def dataset_totals(workloads: dict[str, dict], remeasurements: dict | None) -> dict[str, Any]:
    """The manifest's ``totals``: workloads and samples, overall and by split.

    ``successes`` counts the tuning records' first measurements, as the shards and workloads
    do. A program whose first measurement failed and whose re-measurement succeeded reads
    back as a success (:func:`tpgnn.collect.loader.load_shard`); ``successes_read_back``
    adds those (``remeasurements``' ``recovered``), so it is the count a loader returns.
    """
    rows = list(workloads.values())
    recovered: dict[str, int] = {}
    for info in ((remeasurements or {}).get("shards") or {}).values():
        for split, n in (info.get("recovered") or {}).items():
            recovered[split] = recovered.get(split, 0) + n
    by_split = {}
    for split in ("train", "val", "test"):
        successes = sum(r["successes"] for r in rows if r["split"] == split)
        by_split[split] = {
            "workloads": sum(r["split"] == split for r in rows),
            "successes": successes,
            "successes_read_back": successes + recovered.get(split, 0),
        }
    successes = sum(r["successes"] for r in rows)
    return {
        "workloads": len(rows),
        "successes": successes,
        "successes_read_back": successes + sum(recovered.values()),
        "failures": sum(r["failures"] for r in rows),
        "by_split": by_split,
        "workloads_with_100_samples": sum(r["successes"] >= 100 for r in rows),
    }


def timing_changes(manifest: dict[str, Any], measure: MeasureConfig) -> dict[str, list[Any]]:
    """Timing settings of earlier sessions that differ from ``measure``'s.

    Returns each differing setting's earlier values, sorted; empty when every earlier
    session timed programs the same way (or there is none). A dataset may mix protocols,
    as each record names its session, but whoever grows it should know.
    """
    changed: dict[str, set[Any]] = {}
    for info in manifest.get("sessions", {}).values():
        earlier = info.get("measurement") or {}
        for key in TIMING_SETTINGS:
            if key in earlier and earlier[key] != getattr(measure, key):
                changed.setdefault(key, set()).add(earlier[key])
    return {key: sorted(values) for key, values in changed.items()}


def timing_cpus(manifest: dict[str, Any], sessions: Iterable[str] | None = None) -> list[str]:
    """CPU models of the sessions (default: all of them) that timed programs on their own
    machine, sorted. Sessions that timed over RPC are left out: the CPU they record is the
    machine that drove the search, not the one that ran the programs; so are sessions the
    manifest does not know (records of a foreign database)."""
    known = manifest.get("sessions", {})
    picked = known.values() if sessions is None else [known[s] for s in sessions if s in known]
    return sorted({
        info.get("cpu_model", "unknown") for info in picked if info.get("runner") != "RPCRunner"
    })


def refuse_other_cpu(
    manifest: dict[str, Any],
    sessions_of: dict[str, set[str]],
    data_dir: str | Path,
    allow: bool,
) -> set[str]:
    """The workloads to leave alone because another CPU timed them; ``ValueError`` when
    that is every one of them.

    ``sessions_of`` maps each workload this run would time (``shard/index``) to the
    sessions that timed it so far. Labels are relative within a task, and the target has no
    ``-mcpu``, so every x86-64 machine runs the same code; but another CPU runs it at other
    relative speeds. Timed on an Intel Xeon, programs of the dataset's AMD EPYC ordered 90%
    of a task's pairs as stored, where timing them twice there agreed on 95 to 97%, and ran
    1.4x slower (``benchmarks/bench_cross_cpu.py``, README). So a workload stays on the CPU
    that first timed it: programs of two CPUs in one task would be labelled against each
    other's best. New workloads (another network's) can be timed on any CPU; the dataset
    then mixes CPUs by whole workloads, each session recording its CPU. ``allow``
    (``--allow-other-cpu``) times the others' workloads too.
    """
    here = cpu_info()["cpu_model"]
    elsewhere = {
        key: others
        for key, sessions in sessions_of.items()
        if (others := [cpu for cpu in timing_cpus(manifest, sessions) if cpu != here])
    }
    if not elsewhere:
        return set()
    cpus = ", ".join(sorted({cpu for others in elsewhere.values() for cpu in others}))
    if allow:
        logger.warning("timing on %s %d workloads of %s that %s timed (--allow-other-cpu)",
                       here, len(elsewhere), data_dir, cpus)
        return set()
    if len(elsewhere) == len(sessions_of):
        raise ValueError(
            f"the {len(elsewhere)} workloads of {data_dir} left to time were timed on "
            f"{cpus}, and this machine is {here}: programs run at other relative speeds on "
            f"another CPU (benchmarks/bench_cross_cpu.py measures how much), so one task "
            f"would hold timings of two CPUs. Measure on {cpus}, add new workloads here "
            f"(another network's), measure into another --data-dir, or pass "
            f"--allow-other-cpu to mix them."
        )
    logger.warning(
        "leaving %d of the %d workloads left to time to %s, which timed them (this machine "
        "is %s): %s. Measure them there, or pass --allow-other-cpu to mix CPUs in a task.",
        len(elsewhere), len(sessions_of), cpus, here, ", ".join(sorted(elsewhere)),
    )
    return set(elsewhere)
