"""The probed evaluator: MetaSchedule's timing, with ``number`` started from an estimate."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from collect_helpers import matmul_workload

from tpgnn.collect import timing


def test_starting_number_aims_a_window_just_past_min_repeat_ms():
    assert timing.starting_number(1e-3, 25, margin=1.0) == 25
    assert timing.starting_number(1e-3, 25) == 27  # 26.25 ms, rounded up to whole runs
    assert timing.starting_number(0.3e-3, 25, margin=1.0) == 84
    assert timing.starting_number(0.1, 25) == 1  # one run already fills the window
    assert timing.starting_number(0.0, 25) == 1


@pytest.fixture(scope="module")
def built_matmul(tmp_path_factory):
    """A real 128^3 matmul, built and loaded the way the timing worker loads it."""
    import tvm

    n = 128
    target = tvm.target.Target({"kind": "llvm", "num-cores": 1})
    path = str(tmp_path_factory.mktemp("timing") / "program.so")
    tvm.tirx.build(matmul_workload(n).mod, target).export_library(path)
    rt_mod = tvm.runtime.load_module(path)
    rng = np.random.default_rng(0)
    args = [tvm.runtime.tensor(rng.standard_normal((n, n), dtype="float32")) for _ in range(2)]
    args.append(tvm.runtime.tensor(np.zeros((n, n), "float32")))
    rt_mod[rt_mod.entry_name](*args)  # so no estimate below sees the very first, cold run
    return rt_mod, tvm.cpu(), args


def _reference_seconds(rt_mod, dev, args) -> float:
    """One run's cost by TVM's own evaluator, 20 ms windows."""
    evaluator = rt_mod.time_evaluator(rt_mod.entry_name, dev, number=1, repeat=3,
                                      min_repeat_ms=20)
    return statistics.median(evaluator(*args).results)


@pytest.mark.parametrize("probe_ms", [0, 200])  # a single call; a window of many calls
def test_estimate_is_one_run_cost(built_matmul, probe_ms):
    rt_mod, dev, args = built_matmul
    estimate = timing.estimate_run_seconds(rt_mod, dev, args, probe_ms)
    reference = _reference_seconds(rt_mod, dev, args)
    assert 0.2 < estimate / reference < 5


def test_probed_evaluator_times_like_metaschedule(built_matmul):
    from tvm.s_tir import meta_schedule as ms

    rt_mod, dev, args = built_matmul
    config = ms.runner.EvaluatorConfig(number=1, repeat=3, min_repeat_ms=20)
    costs = timing.probed_run_evaluator(rt_mod, dev, config, [args], probe_ms=2)
    assert len(costs) == 3 and all(c > 0 for c in costs)
    reference = _reference_seconds(rt_mod, dev, args)
    assert 0.5 < statistics.median(costs) / reference < 2


def test_a_slow_estimate_still_fills_the_windows(built_matmul, monkeypatch):
    """``number`` too low (the estimate of a run over RPC, say): TVM raises it itself."""
    from tvm.s_tir import meta_schedule as ms

    rt_mod, dev, args = built_matmul
    monkeypatch.setattr(timing, "estimate_run_seconds", lambda *a: 10.0)
    config = ms.runner.EvaluatorConfig(number=1, repeat=3, min_repeat_ms=20)
    costs = timing.probed_run_evaluator(rt_mod, dev, config, [args], probe_ms=2)
    reference = _reference_seconds(rt_mod, dev, args)
    assert 0.5 < statistics.median(costs) / reference < 2


def test_runners_get_the_probe_unless_it_is_off(built_matmul):
    from tvm.s_tir import meta_schedule as ms

    from tpgnn.collect.config import MeasureConfig

    assert timing.run_evaluator(0) is None
    local, rpc = timing.run_evaluator(3), timing.run_evaluator(3, rpc=True)
    assert local.func is timing.probed_run_evaluator and local.keywords == {"probe_ms": 3}
    rt_mod, dev, args = built_matmul  # RPCRunner passes its session first
    config = ms.runner.EvaluatorConfig(number=1, repeat=2, min_repeat_ms=5)
    assert len(rpc(None, rt_mod, dev, config, [args])) == 2
    with pytest.raises(ValueError, match="number_probe_ms"):
        MeasureConfig(number_probe_ms=-1)
