"""The collection loop on a tiny matmul: counts, format, resume without re-measuring."""

from __future__ import annotations

import collections
import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from collect_helpers import matmul_workload, relu_workload, small_config

from tpgnn.collect.collector import collect
from tpgnn.collect.loader import load_shard, open_json_database
from tpgnn.collect.shard import RECORD_FILE, SIDECAR_FILE, WORKLOAD_FILE


def _lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def test_collect_measures_random_then_evolutionary(collected):
    data_dir, stats = collected
    assert stats.successes >= 10 and stats.failures == 0
    shard = load_shard(data_dir / "shards" / "tiny")
    sources = collections.Counter(s.meta["source"] for s in shard.samples)
    assert sources["random"] >= 6 and sources["evolutionary"] >= 1
    for s in shard.samples:
        assert s.ok and len(s.run_secs) == 3  # one cost per repeat
        assert s.median > 0 and s.spread >= 0
        assert s.meta["load"] >= 0  # load average while timing, to find noisy samples


def test_shard_is_a_metaschedule_json_database(collected, tmp_path):
    data_dir, stats = collected
    db = open_json_database(data_dir / "shards" / "tiny", tmp_path)
    assert len(db) == stats.measured
    (wl,) = {r.workload.mod for r in db.get_all_tuning_records()}
    assert wl is not None


def test_no_program_measured_twice(collected):
    data_dir, _ = collected
    shard = load_shard(data_dir / "shards" / "tiny")
    hashes = [s.meta["shash"] for s in shard.samples]
    assert len(hashes) == len(set(hashes))


@pytest.mark.slow
def test_rerun_resumes_without_remeasuring(tmp_path):
    wl = matmul_workload()
    first = collect(small_config(tmp_path, samples_per_workload=6), [wl])
    root = tmp_path / "shards" / "tiny"
    before = _lines(root / RECORD_FILE)
    again = collect(small_config(tmp_path, samples_per_workload=6), [wl])
    assert again.measured == 0  # goal already met: nothing measured twice
    more = collect(small_config(tmp_path, samples_per_workload=10), [wl])
    after = _lines(root / RECORD_FILE)
    assert after[: len(before)] == before  # earlier records untouched
    assert len(after) == first.measured + more.measured
    hashes = [json.loads(x)["shash"] for x in _lines(root / SIDECAR_FILE)]
    assert len(hashes) == len(set(hashes)) == len(after)


@pytest.mark.slow
def test_timing_worker_is_replaced_and_the_fresh_one_measures(tmp_path, caplog):
    # A worker keeps every library it loads; a long run must hand timing to fresh ones.
    from tpgnn.collect.config import MeasureConfig

    measure = MeasureConfig(number=1, repeat=3, min_repeat_ms=1, programs_per_timing_worker=4)
    with caplog.at_level(logging.INFO, logger="tpgnn.collect.collector"), \
            caplog.at_level(logging.INFO, logger="tpgnn.collect.measure"):
        config = small_config(tmp_path, samples_per_workload=14, measure=measure)
        stats = collect(config, [matmul_workload()])
    messages = [r.getMessage() for r in caplog.records]
    batches = [m for m in messages if " ok, " in m]
    replaced = [m for m in messages if m.startswith("replacing the timing worker")]
    assert len(batches) >= 3 and len(replaced) == len(batches) - 1
    assert stats.failures == 0 and stats.successes == stats.measured >= 14
    with pytest.raises(ValueError, match="programs_per_timing_worker must be >= 1"):
        MeasureConfig(programs_per_timing_worker=0)


def test_timing_worker_is_suspected_only_when_nothing_ran():
    from tpgnn.collect.measure import Measured, timing_worker_suspect

    def batch(*errors):
        return [Measured(None, [1e-3] if e is None else None, e) for e in errors]

    assert timing_worker_suspect(batch("run: ENOMEM", "run: ENOMEM"))
    assert timing_worker_suspect(batch("build: x", "run: ENOMEM"))
    assert not timing_worker_suspect(batch("run: ENOMEM", "run: ENOMEM"), only_ever_failed=True)
    assert not timing_worker_suspect(batch("run: ENOMEM", None))
    assert not timing_worker_suspect(batch("build: x", "build: y"))
    assert not timing_worker_suspect([])


@pytest.mark.slow
def test_a_batch_that_a_broken_timing_worker_failed_is_measured_again(
    tmp_path, monkeypatch, caplog
):
    # Break the first timing worker for real: with no file descriptors left it cannot open
    # (dlopen) any program, as a worker out of memory maps could not map one.
    import resource

    from tpgnn.collect import measure as measure_module

    made = []

    def make_runner(measure, rpc=None):
        runner = real_make_runner(measure, rpc)
        if not made:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            runner.pool.submit(resource.setrlimit, resource.RLIMIT_NOFILE, (0, hard)).result()
        made.append(runner)
        return runner

    real_make_runner = measure_module.make_runner
    monkeypatch.setattr(measure_module, "make_runner", make_runner)
    with caplog.at_level(logging.WARNING, logger="tpgnn.collect.measure"):
        stats = collect(small_config(tmp_path, samples_per_workload=4), [matmul_workload()])
    messages = [r.getMessage() for r in caplog.records]
    retried = [m for m in messages if "measuring the batch again" in m]
    assert len(retried) == 1 and "run: " in retried[0] and len(made) == 2
    assert stats.failures == 0 and stats.successes == stats.measured >= 4
    shard = load_shard(tmp_path / "shards" / "tiny")
    assert all(s.ok for s in shard.samples)


@pytest.mark.slow
def test_kill_between_sidecar_and_records_is_repaired(tmp_path):
    wl = matmul_workload()
    collect(small_config(tmp_path, samples_per_workload=4), [wl])
    root = tmp_path / "shards" / "tiny"
    records = _lines(root / RECORD_FILE)
    # As if killed after the sidecar rename but before the record rename: drop 2 records.
    (root / RECORD_FILE).write_bytes(
        gzip.compress("".join(x + "\n" for x in records[:-2]).encode())
    )
    stats = collect(small_config(tmp_path, samples_per_workload=6), [wl])
    shard = load_shard(root)
    assert stats.measured >= 2
    assert all(s.meta is not None and s.meta["record"] == s.record for s in shard.samples)
    assert len(_lines(root / SIDECAR_FILE)) == len(shard.samples)


@pytest.mark.slow
def test_failures_are_recorded_with_their_message(tmp_path):
    from tpgnn.collect.config import MeasureConfig, SearchConfig

    config = small_config(
        tmp_path,
        samples_per_workload=1,
        measure=MeasureConfig(number=1, repeat=3, min_repeat_ms=1, build_timeout_s=1e-3),
        search=SearchConfig(random_per_workload=2, batch_size=2, population_size=4),
        time_budget_s=5.0,  # the budget is checked between batches: one batch of timeouts
    )
    stats = collect(config, [matmul_workload()])
    shard = load_shard(tmp_path / "shards" / "tiny")
    assert stats.failures == len(shard.samples) >= 2
    for s in shard.samples:
        assert not s.ok and s.run_secs == [1e10]
        assert "timeout" in s.error


@pytest.mark.slow
def test_a_design_space_that_runs_dry_is_marked_exhausted_on_disk(tmp_path):
    from tpgnn.collect.config import SearchConfig

    search = SearchConfig(random_per_workload=1, batch_size=4, population_size=16)
    config = small_config(tmp_path, search=search)  # wants 10 samples of a 1-program space
    stats = collect(config, [relu_workload()])
    assert stats.successes == 1 and stats.stopped_by == "done"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (entry,) = manifest["workloads"].values()
    assert entry["exhausted"] and entry["successes"] == 1
    assert manifest["shards"]["tiny"]["complete"]


def test_workload_file_has_one_line_per_workload(collected):
    data_dir, _ = collected
    assert len(_lines(data_dir / "shards" / "tiny" / WORKLOAD_FILE)) == 1


def _collector_after_first_batch(
    data_dir: Path, samples_per_workload: int, **popen_kwargs: object
) -> subprocess.Popen:
    """A collector in a child process, returned once its first batch is on disk.

    Its signal handling is ``tpgnn collect``'s: the first SIGINT asks it to stop after the
    batch in progress, a second one stops it at once.
    """
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2])\n"
        "from collect_helpers import matmul_workload, small_config\n"
        "from tpgnn._interrupts import stop_on_signals\n"
        "from tpgnn.collect.cli import COLLECTOR_STOP_SIGNALS\n"
        "from tpgnn.collect.collector import collect\n"
        "with stop_on_signals(COLLECTOR_STOP_SIGNALS) as stop:\n"
        "    config = small_config(Path(sys.argv[1]), samples_per_workload=int(sys.argv[3]))\n"
        "    stats = collect(config, [matmul_workload()], stop=stop)\n"
        "    print('stopped by', stats.stopped_by, flush=True)"
    )
    args = [sys.executable, "-c", script, str(data_dir), str(Path(__file__).parent),
            str(samples_per_workload)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(args, env=env, **popen_kwargs)
    sidecar = data_dir / "shards" / "tiny" / SIDECAR_FILE
    deadline = time.monotonic() + 120
    while not (sidecar.exists() and _lines(sidecar)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return proc


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(tmp_path):
    """A real ``kill -9`` at an arbitrary moment: files stay loadable, nothing is re-measured."""
    proc = _collector_after_first_batch(tmp_path, 40)
    time.sleep(1.5)  # land somewhere inside a later batch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = load_shard(tmp_path / "shards" / "tiny")
    assert killed.samples, "the first batch should have been saved before the kill"
    stats = collect(small_config(tmp_path, samples_per_workload=12), [matmul_workload()])
    shard = load_shard(tmp_path / "shards" / "tiny")
    hashes = [s.meta["shash"] for s in shard.samples]
    assert len(hashes) == len(set(hashes)) == len(killed.samples) + stats.measured
    assert not list((tmp_path / "shards" / "tiny").glob(".*.tmp"))  # stale temporaries removed


@pytest.mark.slow
def test_ctrl_c_to_the_process_group_stops_after_the_batch_and_fails_nothing(tmp_path):
    """Ctrl-C in a terminal reaches the workers too; they must leave the stop to the collector."""
    proc = _collector_after_first_batch(
        tmp_path, 60, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    time.sleep(0.5)  # into the next batch's search or build
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "stopped by stop requested" in out
    shard = load_shard(tmp_path / "shards" / "tiny")
    assert shard.samples
    assert [s.error for s in shard.samples if not s.ok] == []


def test_second_collector_on_the_same_directory_fails_fast(tmp_path):
    from tpgnn.collect.io import DataDirBusyError, exclusive_directory

    with exclusive_directory(tmp_path):
        with pytest.raises(DataDirBusyError, match="another collector"):
            collect(small_config(tmp_path), [matmul_workload()])


def test_rerun_removes_stale_temporaries(collected, tmp_path):
    import shutil

    data_dir, stats = collected
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    stale = copy / "shards" / "tiny" / f".{RECORD_FILE}.x1y2.tmp"
    stale.write_bytes(b"half a write")
    again = collect(small_config(copy), [matmul_workload()])
    assert again.measured == 0 and not stale.exists()
    assert len(load_shard(copy / "shards" / "tiny").samples) == stats.measured


def test_rerun_with_other_timing_settings_warns(collected, tmp_path, caplog):
    import shutil

    from tpgnn.collect.config import MeasureConfig

    data_dir, _ = collected
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    other = MeasureConfig(number=1, repeat=3, min_repeat_ms=2)
    with caplog.at_level(logging.WARNING, logger="tpgnn.collect.collector"):
        again = collect(small_config(copy, measure=other), [matmul_workload()])
    assert again.measured == 0
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "min_repeat_ms=[1]" in warning and "min_repeat_ms=2" in warning


def test_another_cpus_workload_is_left_alone_and_a_new_one_timed(collected, tmp_path, caplog):
    import shutil

    from tpgnn.collect.manifest import cpu_info, load_manifest, timing_cpus, write_manifest

    data_dir, _ = collected
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    manifest = load_manifest(copy)
    for info in manifest["sessions"].values():
        info["cpu_model"] = "Other CPU 9000"
    write_manifest(copy, manifest)
    records = _lines(copy / "shards" / "tiny" / RECORD_FILE)
    more = small_config(copy, samples_per_workload=20)
    with pytest.raises(ValueError, match="timed on Other CPU 9000, and this machine is"):
        collect(more, [matmul_workload()])
    assert _lines(copy / "shards" / "tiny" / RECORD_FILE) == records
    assert load_manifest(copy) == manifest  # no session was opened

    with caplog.at_level(logging.WARNING, logger="tpgnn.collect.manifest"):
        stats = collect(more, [matmul_workload(), relu_workload()])
    assert any("leaving 1 of the 2 workloads left to time to Other CPU 9000" in r.getMessage()
               and "tiny/0" in r.getMessage() for r in caplog.records)
    after = _lines(copy / "shards" / "tiny" / RECORD_FILE)
    assert after[: len(records)] == records and len(after) == len(records) + stats.measured
    assert stats.measured == 1  # the ReLU's one program; the matmul stays at its count
    widx = [json.loads(x)["workload"] for x in _lines(copy / "shards" / "tiny" / SIDECAR_FILE)]
    assert widx[len(records):] == [1]
    assert load_manifest(copy)["workloads"]["tiny/0"]["successes"] < 20

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tpgnn.collect.manifest"):
        again = collect(small_config(copy, samples_per_workload=12, allow_other_cpu=True),
                        [matmul_workload()])
    assert again.measured >= 1  # the other CPU's workload, on request
    assert any("(--allow-other-cpu)" in r.getMessage() for r in caplog.records)
    assert timing_cpus(load_manifest(copy)) == sorted(["Other CPU 9000", cpu_info()["cpu_model"]])
