"""Measuring recorded programs again (``tpgnn remeasure``): whole workloads, each program
once, the first measurement kept in the tuning records."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from pathlib import Path

import pytest

from tpgnn.collect.config import MeasureConfig
from tpgnn.collect.io import CorruptLineError, atomic_write_lines
from tpgnn.collect.loader import Sample, ShardData, load_dataset, load_shard
from tpgnn.collect.manifest import dataset_totals
from tpgnn.collect.quality import dataset_quality, remeasure_shifts
from tpgnn.collect.quality import main as quality_main
from tpgnn.collect.remeasure import (
    noisy_sessions,
    pending_workloads,
    recovered_by_split,
    remeasure,
)
from tpgnn.collect.shard import RECORD_FILE, REMEASURE_FILE, SIDECAR_FILE

FAST = MeasureConfig(number=1, repeat=3, min_repeat_ms=1)


def _copy(collected, tmp_path: Path) -> tuple[Path, Path, str]:
    """A writable copy of the small collection: data dir, shard dir, its only session."""
    data_dir = tmp_path / "data"
    shutil.copytree(collected[0], data_dir)
    (session,) = json.loads((data_dir / "manifest.json").read_text())["sessions"]
    return data_dir, data_dir / "shards" / "tiny", session


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]


def _sample(record: int, session: str, run_secs: list[float], workload: int = 0,
            remeasured: dict | None = None) -> Sample:
    return Sample("s", workload, record, None, run_secs, None, None, {"session": session},
                  remeasured)


@pytest.mark.slow
def test_every_program_is_timed_again_and_the_records_are_kept(collected, tmp_path, capsys):
    data_dir, shard_dir, session = _copy(collected, tmp_path)
    before = {f.name: f.read_bytes() for f in shard_dir.iterdir()}
    first = load_shard(shard_dir)

    stats = remeasure(data_dir, [session], ("train",), FAST, progress=False)

    assert (stats.workloads, stats.programs, stats.pending) == (1, len(first.samples), 0)
    assert stats.successes == sum(s.ok for s in first.samples) > 0
    for name, content in before.items():  # records and sidecar untouched
        assert (shard_dir / name).read_bytes() == content
    lines = {line["record"]: line for line in _lines(shard_dir / REMEASURE_FILE)}
    assert sorted(lines) == [s.record for s in first.samples]
    (new_session,) = {line["session"] for line in lines.values()}
    after = load_shard(shard_dir)
    for old, new in zip(first.samples, after.samples, strict=True):
        line = lines[old.record]
        if line["run_secs"] is None:
            assert new == old and line["error"]
        else:
            assert new.run_secs == line["run_secs"] != old.run_secs
            assert new.remeasured["original_run_secs"] == old.run_secs
            assert new.measured_by["session"] == new_session and new.trace == old.trace
    manifest = json.loads((data_dir / "manifest.json").read_text())
    info = manifest["sessions"][new_session]
    assert info["kind"] == "remeasure" and info["remeasures_sessions"] == [session]
    assert info["records_remeasured"] == len(lines) and info["measurement"]["min_repeat_ms"] == 1
    assert manifest["remeasurements"]["shards"] == {"tiny": {"records": len(lines),
                                                             "recovered": {}}}
    read_back = sum(sample.ok for _, sample in load_dataset(data_dir))
    assert manifest["totals"]["successes_read_back"] == read_back
    by_session = {row.session: row.samples for row in dataset_quality(data_dir)}
    assert by_session == {new_session: stats.successes}
    (shift,) = remeasure_shifts(after.samples)
    pairs = zip(first.samples, after.samples, strict=True)
    ratios = [new.median / old.median for old, new in pairs if old.ok and new.remeasured]
    assert shift.session == session and shift.samples == len(ratios)
    assert min(ratios) <= shift.quartiles[1] <= max(ratios)
    assert quality_main([str(data_dir)]) == 0
    assert "re-measured programs" in capsys.readouterr().out

    again = remeasure(data_dir, [session], ("train",), FAST, progress=False)
    assert (again.workloads, again.programs, again.pending) == (0, 0, 0)
    assert {line["record"]: line for line in _lines(shard_dir / REMEASURE_FILE)} == lines
    assert json.loads((data_dir / "manifest.json").read_text()) == manifest
    # A manifest written before the recovered counts existed gets them from a rerun with
    # nothing to measure, and no session.
    older = json.loads(json.dumps(manifest))
    del older["remeasurements"]["shards"]["tiny"]["recovered"]
    del older["totals"]["successes_read_back"]
    (data_dir / "manifest.json").write_text(json.dumps(older))
    remeasure(data_dir, [session], ("train",), FAST, progress=False)
    assert json.loads((data_dir / "manifest.json").read_text()) == manifest


@pytest.mark.slow
def test_a_program_that_rebuilds_differently_is_recorded_not_timed(collected, tmp_path):
    data_dir, shard_dir, session = _copy(collected, tmp_path)
    sidecar = _lines(shard_dir / SIDECAR_FILE)
    sidecar[0]["shash"] = "123"
    atomic_write_lines(shard_dir / SIDECAR_FILE, [json.dumps(x) for x in sidecar])
    first = load_shard(shard_dir)

    remeasure(data_dir, [session], ("train",), FAST, progress=False)

    line = _lines(shard_dir / REMEASURE_FILE)[0]
    assert line["record"] == 0 and line["run_secs"] is None
    assert line["error"].startswith("rebuild: the program's hash") and "123" in line["error"]
    assert load_shard(shard_dir).samples[0] == first.samples[0]


def test_a_requested_stop_measures_nothing(collected, tmp_path):
    data_dir, shard_dir, session = _copy(collected, tmp_path)
    stop = threading.Event()
    stop.set()
    stats = remeasure(data_dir, [session], ("train",), FAST, stop=stop, progress=False)
    assert (stats.stopped_by, stats.workloads, stats.pending) == ("stop requested", 0, 1)
    assert not (shard_dir / REMEASURE_FILE).exists()


def test_unknown_sessions_and_splits_are_refused(collected, tmp_path, capsys):
    from tpgnn.cli import main

    data_dir, _, _ = _copy(collected, tmp_path)
    assert main(["remeasure", "--data-dir", str(data_dir), "--sessions", "nope"]) == 1
    assert "['nope'] are not in" in capsys.readouterr().err
    assert main(["remeasure", "--data-dir", str(data_dir), "--splits", "val,dev"]) == 1
    assert "choose among train, val, test" in capsys.readouterr().err


def test_remeasuring_on_another_cpu_is_refused(collected, tmp_path, capsys):
    from tpgnn.cli import main
    from tpgnn.collect.manifest import load_manifest, write_manifest

    data_dir, shard_dir, session = _copy(collected, tmp_path)
    manifest = load_manifest(data_dir)
    manifest["sessions"][session]["cpu_model"] = "Other CPU 9000"
    write_manifest(data_dir, manifest)
    argv = ["remeasure", "--data-dir", str(data_dir), "--sessions", session, "--splits", "train"]
    assert main(argv) == 1
    assert "timed on Other CPU 9000" in capsys.readouterr().err
    assert not (shard_dir / REMEASURE_FILE).exists()


@pytest.mark.slow
def test_only_this_cpus_workloads_are_measured_again(collected, tmp_path, caplog):
    import logging

    from collect_helpers import relu_workload, small_config

    from tpgnn.collect.collector import collect
    from tpgnn.collect.manifest import load_manifest, write_manifest

    data_dir, shard_dir, session = _copy(collected, tmp_path)
    manifest = load_manifest(data_dir)
    manifest["sessions"][session]["cpu_model"] = "Other CPU 9000"
    write_manifest(data_dir, manifest)
    collect(small_config(data_dir), [relu_workload()])  # a new workload, timed here
    sessions = sorted(load_manifest(data_dir)["sessions"])

    with caplog.at_level(logging.WARNING, logger="tpgnn.collect.manifest"):
        stats = remeasure(data_dir, sessions, ("train",), FAST, progress=False)

    assert (stats.workloads, stats.programs, stats.pending) == (1, 1, 0)
    relu = [m["record"] for m in _lines(shard_dir / SIDECAR_FILE) if m["workload"] == 1]
    assert [line["record"] for line in _lines(shard_dir / REMEASURE_FILE)] == relu
    assert any("tiny/0" in r.getMessage() and "Other CPU 9000" in r.getMessage()
               for r in caplog.records)


def test_noisy_sessions_are_judged_on_first_measurements():
    quiet, noisy = [1.0, 1.0, 1.0], [1.0, 1.5, 2.0]
    remeasured = {"session": "new", "original_run_secs": noisy}
    shard = ShardData("s", samples=[
        _sample(0, "a", quiet), _sample(1, "a", noisy),            # half noisy
        _sample(2, "b", quiet), _sample(3, "b", quiet),            # quiet
        _sample(4, "c", quiet, remeasured=remeasured),             # noisy before re-measuring
        _sample(5, "d", [1e10]),                                   # failures do not count
    ])
    assert noisy_sessions([shard]) == ["a", "c"]
    assert noisy_sessions([shard], noisy_share=0.6) == ["c"]


def test_pending_workloads_are_whole_in_split_order_without_done_programs():
    shard = ShardData("s", samples=[
        _sample(0, "quiet", [1.0], workload=0), _sample(1, "noisy", [1.0], workload=0),
        _sample(2, "noisy", [1.0], workload=1), _sample(3, "quiet", [1.0], workload=1),
        _sample(4, "quiet", [1.0], workload=2),
        _sample(5, "noisy", [1.0], workload=3),
    ])
    splits = {"s/0": "train", "s/1": "val", "s/2": "val", "s/3": "test"}
    todo = pending_workloads([shard], {"s": {3, 5}}, ["noisy"], splits, ("val", "train"))
    assert [(w, [s.record for s in left]) for _, w, left in todo] == [(1, [2]), (0, [0, 1])]


def test_programs_that_failed_first_and_succeeded_again_are_counted_by_split():
    failed = [1e10]
    shard = ShardData("s", samples=[
        _sample(0, "a", failed, workload=0),         # recovered below (train)
        _sample(1, "a", failed, workload=1),         # recovered below (test)
        _sample(2, "a", failed, workload=1),         # failed again
        _sample(3, "a", [1.0], workload=1),          # a success measured again
        _sample(4, "a", [2.0], workload=0,           # read back with its re-measurement
                remeasured={"session": "b", "original_run_secs": failed}),
    ])
    lines = [json.dumps(x) for x in [
        {"record": 0, "run_secs": [1.0]}, {"record": 1, "run_secs": [1.0]},
        {"record": 2, "run_secs": None}, {"record": 3, "run_secs": [1.0]},
        {"record": 4, "run_secs": [2.0]}, {"record": 0, "run_secs": None},
    ]]
    splits = {"s/0": "train", "s/1": "test"}
    assert recovered_by_split(shard, lines, splits) == {"test": 1, "train": 2}
    workloads = {"s/0": {"split": "train", "successes": 5, "failures": 2},
                 "s/1": {"split": "test", "successes": 1, "failures": 2}}
    totals = dataset_totals(workloads, {"shards": {"s": {"recovered": {"test": 1, "train": 2}}}})
    assert (totals["successes"], totals["successes_read_back"]) == (6, 9)
    assert totals["by_split"]["train"] == {"workloads": 1, "successes": 5,
                                           "successes_read_back": 7}
    assert dataset_totals(workloads, None)["successes_read_back"] == 6


def test_reading_back_takes_the_latest_successful_remeasurement(collected, tmp_path, caplog):
    _, shard_dir, _ = _copy(collected, tmp_path)
    first = load_shard(shard_dir)
    ok = next(s for s in first.samples if s.ok)
    lines = [
        {"record": ok.record, "run_secs": [1.0, 1.0, 1.0], "session": "x", "load": 0.1},
        {"record": ok.record, "run_secs": [2.0, 2.0, 2.0], "session": "y", "load": 0.1},
        {"record": ok.record, "run_secs": None, "error": "run: gone", "session": "z"},
    ]
    path = shard_dir / REMEASURE_FILE
    atomic_write_lines(path, [json.dumps(x) for x in lines])
    sample = load_shard(shard_dir).samples[first.samples.index(ok)]
    assert sample.run_secs == [2.0, 2.0, 2.0] and sample.measured_by["session"] == "y"

    atomic_write_lines(path, [json.dumps(lines[0]), '{"record": 99999, "run_secs": null}', "{"])
    with pytest.raises(CorruptLineError, match=rf"{REMEASURE_FILE}:2: corrupt line"):
        load_shard(shard_dir)
    kept = load_shard(shard_dir, on_error="skip")
    assert kept.samples[first.samples.index(ok)].run_secs == [1.0, 1.0, 1.0]
    assert sum("corrupt line" in r.getMessage() for r in caplog.records) == 2
    assert (shard_dir / RECORD_FILE).exists()
