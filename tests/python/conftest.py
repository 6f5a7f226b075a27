"""Shared fixtures: real scheduled programs sampled by MetaSchedule."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The reference walker is a test helper, not part of the package.
sys.path.insert(0, str(Path(__file__).parent))

#: Schedules sampled per workload; enough to cover tiling, parallel, vectorize and unroll.
SCHEDULES_PER_WORKLOAD = 6


@pytest.fixture(scope="session")
def scheduled_programs() -> dict:
    """Workload name -> list of scheduled IRModules (``candidate.sch.mod``)."""
    from tpgnn.operators import OPERATORS
    from tpgnn.sampling import sample_candidates

    return {
        name: [c.sch.mod for c in sample_candidates(build(), SCHEDULES_PER_WORKLOAD, seed=7)]
        for name, build in OPERATORS.items()
    }


@pytest.fixture(scope="session")
def measured_dataset(tmp_path_factory: pytest.TempPathFactory):
    """A small real dataset: the collector measures a few schedules of two tiny workloads.

    Returns the dataset directory (manifest + shards); every workload is in the train split.
    """
    import tvm
    from tvm import te

    from tpgnn.collect.collector import collect
    from tpgnn.collect.workloads import merge_tasks
    from tpgnn.networks import NetworkTask
    from tpgnn.operators import softmax

    sys.path.insert(0, str(Path(__file__).parent / "collect"))
    from collect_helpers import small_config

    a = te.placeholder((32, 32), name="A")
    b = te.placeholder((32, 32), name="B")
    k = te.reduce_axis((0, 32), name="k")
    c = te.compute((32, 32), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    matmul = tvm.IRModule({"main": te.create_prim_func([a, b, c])})
    workloads = merge_tasks(
        [
            NetworkTask("tiny", "matmul", 2, matmul),
            NetworkTask("tiny", "softmax", 1, softmax(32, 32)),
        ]
    )
    data_dir = tmp_path_factory.mktemp("dataset")
    config = small_config(data_dir, samples_per_workload=12)
    collect(config, workloads)
    return data_dir


@pytest.fixture(scope="session")
def real_measurement():
    """A real builder and runner shared by the session's tuning tests: programs are compiled
    by a warm ``PersistentBuilder`` and timed by MetaSchedule's ``LocalRunner`` (one run, no
    minimum window: real latencies, noisy but cheap), so a tuning round takes about a second
    once their workers have started. Returns ``(builder, runner)``."""
    from tpgnn.collect.config import MeasureConfig
    from tpgnn.collect.workers import PersistentBuilder, make_runner, retire_runner

    builder = PersistentBuilder(max_workers=2)
    runner = make_runner(MeasureConfig(number=1, repeat=1, min_repeat_ms=0))
    yield builder, runner
    builder.shutdown()
    retire_runner(runner)
