"""Tests of tpgnn.auto_scheduler: option validation, task extraction, tuning and compiling.

Tuning tests build and time real programs with the session's warm builder and runner
(``real_measurement`` in conftest.py), so they take seconds; one slow test goes through the
default builder and runner, which start fresh workers.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import tvm
from tvm import relax, te
from tvm.s_tir import meta_schedule as ms
from tvm.script import ir as I
from tvm.script import relax as R

from tpgnn import auto_scheduler as A

TARGET = {"kind": "llvm", "num-cores": 2}
HAS_GNN = importlib.util.find_spec("tpgnn.cost_model") is not None


@I.ir_module
class MatmulRelu:
    @R.function
    def main(x: R.Tensor((32, 32), "float32"), w: R.Tensor((32, 32), "float32")):
        with R.dataflow():
            y = R.matmul(x, w)
            z = R.nn.relu(y)
            R.output(z)
        return z


def _matmul() -> tvm.tirx.PrimFunc:
    a = te.placeholder((32, 32), name="A")
    b = te.placeholder((32, 32), name="B")
    k = te.reduce_axis((0, 32), name="k")
    c = te.compute((32, 32), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    return te.create_prim_func([a, b, c])


matmul = _matmul()


@pytest.fixture(autouse=True)
def fresh_meta_schedule_logger(monkeypatch):
    """Each tuning run configures MetaSchedule's logger from its handlers' names, and pytest
    attaches unnamed capture handlers to every non-propagating logger, which makes the next
    run fail; start each test with a bare, propagating logger so pytest leaves it alone."""
    import logging

    log = logging.getLogger("tvm.s_tir.meta_schedule")
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "propagate", True)


def fast_options(tmp_path, measurement, **kwargs) -> A.TuningOptions:
    """Options that tune in seconds: one round of 8 real programs on the warm ``measurement``
    (the ``real_measurement`` fixture)."""
    builder, runner = measurement
    defaults = dict(num_measure_trials=8, num_measures_per_round=8, cost_model="random",
                    builder=builder, runner=runner, work_dir=str(tmp_path))
    return A.TuningOptions(**{**defaults, **kwargs})


# -- TuningOptions ---------------------------------------------------------------------------


def test_defaults_are_valid():
    options = A.TuningOptions()
    assert options.cost_model == "gnn"
    assert options.num_measures_per_round == 64
    with pytest.raises(AttributeError):
        options.num_measure_trials = 3  # frozen


@pytest.mark.parametrize("name", A.COST_MODELS)
def test_every_cost_model_name_is_accepted(name):
    assert A.TuningOptions(cost_model=name).cost_model == name


def test_unknown_cost_model_lists_valid_names():
    with pytest.raises(ValueError, match="cost_model must be one of 'gnn', 'xgb', 'mlp', 'random'"):
        A.TuningOptions(cost_model="lightgbm")


def test_cost_model_object_is_accepted():
    model = ms.cost_model.RandomModel()
    assert A.TuningOptions(cost_model=model).cost_model is model


def test_cost_model_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="cost_model must be a name"):
        A.TuningOptions(cost_model=3)


@pytest.mark.parametrize("field", ["num_measure_trials", "num_measures_per_round"])
@pytest.mark.parametrize("value", [0, -4, 2.5, True, "8"])
def test_bad_trial_counts_are_refused(field, value):
    with pytest.raises(ValueError, match=f"{field} must be an int >= 1"):
        A.TuningOptions(**{field: value})


def test_unknown_builder_and_runner_list_valid_names():
    with pytest.raises(ValueError, match="builder must be one of 'local', 'persistent'"):
        A.TuningOptions(builder="rpc")
    with pytest.raises(ValueError, match="runner must be one of 'local'"):
        A.TuningOptions(runner="remote")


def test_builder_and_runner_objects_are_accepted(real_measurement):
    builder, runner = real_measurement
    options = A.TuningOptions(builder=builder, runner=runner)
    assert options.builder is builder and options.runner is runner


def test_bad_task_scheduler_and_max_trials_per_task():
    with pytest.raises(ValueError, match="task_scheduler must be 'gradient' or 'round-robin'"):
        A.TuningOptions(task_scheduler="fifo")
    with pytest.raises(ValueError, match="max_trials_per_task must be None or an int >= 1"):
        A.TuningOptions(max_trials_per_task=0)


# -- factories -------------------------------------------------------------------------------


def test_default_builder_uses_the_warm_initializer():
    from tpgnn.collect.workers import warm_build_worker

    builder = A.make_builder("local", 2)  # the runner starts its worker at once: slow test
    assert isinstance(builder, ms.builder.LocalBuilder)
    assert builder.initializer is warm_build_worker


@pytest.mark.parametrize("name", ["xgb", "random"])
def test_make_cost_model_builds_a_fresh_model(name):
    first, second = A.make_cost_model(name, 2), A.make_cost_model(name, 2)
    assert isinstance(first, ms.cost_model.CostModel)
    assert first is not second


@pytest.mark.skipif(not HAS_GNN, reason="tpgnn.cost_model (the GNN) is not in this tree yet")
def test_make_cost_model_gnn_is_tpgnn_model():
    from tpgnn.cost_model import GNNModel

    assert isinstance(A.make_cost_model("gnn", 2), GNNModel)


# -- extract_tasks ---------------------------------------------------------------------------


def test_extract_tasks_of_a_relax_module_fuses_first():
    tasks = A.extract_tasks(MatmulRelu, TARGET)
    assert [(t.task_name, t.weight) for t in tasks] == [("fused_matmul_relu", 1)]


def test_extract_tasks_of_a_prim_func_is_one_task():
    (task,) = A.extract_tasks(matmul, TARGET)
    assert task.weight == 1
    assert [gv.name_hint for gv in task.dispatched[0].get_global_vars()] == ["main"]


def test_extract_tasks_refuses_other_objects():
    with pytest.raises(TypeError, match="mod must be a Relax IRModule"):
        A.extract_tasks("matmul", TARGET)
    with pytest.raises(TypeError, match="target must be"):
        A.extract_tasks(matmul, 3)


def test_tir_module_with_two_functions_is_refused():
    mod = tvm.IRModule({"a": matmul, "b": matmul.with_attr("global_symbol", "b")})
    with pytest.raises(ValueError, match="exactly one PrimFunc"):
        A.extract_tasks(mod, TARGET)


# -- tune ------------------------------------------------------------------------------------


def test_tune_relax_returns_database_and_runnable_module(tmp_path, real_measurement):
    result = A.tune(MatmulRelu, TARGET, fast_options(tmp_path, real_measurement))
    assert isinstance(result.database, ms.database.Database)
    assert [t.task_name for t in result.tasks] == ["fused_matmul_relu"]
    assert len(result.history) == 1 and len(result.history[0]) == 8
    assert all(a >= b for a, b in zip(result.history[0], result.history[0][1:], strict=False))
    assert 0 < result.best_latencies()[0] < 1e-2  # measured: a 32x32 matmul takes microseconds
    assert len(result.database.get_all_tuning_records()) == 8
    vm = relax.VirtualMachine(result.module, tvm.cpu())
    x, w = np.random.rand(32, 32).astype("float32"), np.random.rand(32, 32).astype("float32")
    out = vm["main"](tvm.runtime.tensor(x), tvm.runtime.tensor(w)).numpy()
    np.testing.assert_allclose(out, np.maximum(x @ w, 0), rtol=1e-5)


def test_tune_prim_func_returns_runtime_module(tmp_path, real_measurement):
    result = A.tune(matmul, TARGET, fast_options(tmp_path, real_measurement))
    a, b = np.random.rand(32, 32).astype("float32"), np.random.rand(32, 32).astype("float32")
    c = tvm.runtime.tensor(np.zeros((32, 32), "float32"))
    result.module["main"](tvm.runtime.tensor(a), tvm.runtime.tensor(b), c)
    np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-5)
    assert math.isfinite(result.best_latencies()[0])


def test_tune_with_xgb_and_two_rounds(tmp_path, real_measurement):
    result = A.tune(matmul, TARGET, fast_options(tmp_path, real_measurement, cost_model="xgb",
                                                 num_measure_trials=16))
    assert len(result.history[0]) == 16


def test_tune_refuses_bad_options(tmp_path):
    with pytest.raises(TypeError, match="options must be a TuningOptions"):
        A.tune(matmul, TARGET, {"num_measure_trials": 8})


@pytest.mark.slow
def test_tune_with_default_builder_and_runner_measures_for_real(tmp_path):
    options = A.TuningOptions(num_measure_trials=4, num_measures_per_round=4, cost_model="xgb",
                              work_dir=str(tmp_path))
    result = A.tune(MatmulRelu, TARGET, options)
    best = result.best_latencies()[0]
    assert 0 < best < 1e-2  # a 32x32 matmul takes microseconds; failures would be inf


@pytest.mark.skipif(not HAS_GNN, reason="tpgnn.cost_model (the GNN) is not in this tree yet")
def test_tune_with_gnn(tmp_path, real_measurement):
    result = A.tune(MatmulRelu, TARGET, fast_options(tmp_path, real_measurement, cost_model="gnn"))
    assert len(result.history[0]) == 8
