"""Helpers for the collector tests: a tiny workload and a small, fast configuration."""

from __future__ import annotations

from pathlib import Path


def matmul_workload(n: int = 32) -> object:
    """A ``n x n x n`` float32 matmul as a collector workload (one network, ``tiny``)."""
    from tvm import te

    from tpgnn.collect.workloads import Use, Workload, merge_tasks
    from tpgnn.networks import NetworkTask

    a = te.placeholder((n, n), name="A")
    b = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    mod = __import__("tvm").IRModule({"main": te.create_prim_func([a, b, c])})
    (wl,) = merge_tasks([NetworkTask("tiny", "matmul", 1, mod)])
    assert isinstance(wl, Workload) and wl.uses == [Use("tiny", "matmul", 1)]
    return wl


def relu_workload(n: int = 32) -> object:
    """An element-wise ReLU: its CPU design space holds a single program."""
    import tvm
    from tvm import te

    from tpgnn.collect.workloads import merge_tasks
    from tpgnn.networks import NetworkTask

    a = te.placeholder((n, n), name="A")
    b = te.compute((n, n), lambda i, j: te.max(a[i, j], 0.0), name="B")
    mod = tvm.IRModule({"main": te.create_prim_func([a, b])})
    (wl,) = merge_tasks([NetworkTask("tiny", "relu", 1, mod)])
    return wl


def small_config(data_dir: Path, **overrides: object) -> object:
    from tpgnn.collect.config import CollectConfig, MeasureConfig, SearchConfig

    kwargs = dict(
        data_dir=str(data_dir),
        networks=("tiny",),
        samples_per_workload=10,
        num_build_workers=2,
        target={"kind": "llvm", "num-cores": 1},
        measure=MeasureConfig(number=1, repeat=3, min_repeat_ms=1),
        search=SearchConfig(
            random_per_workload=6, batch_size=4, population_size=16, genetic_num_iters=1
        ),
        test_networks=(),
        val_networks=(),
        progress=False,
    )
    kwargs.update(overrides)
    return CollectConfig(**kwargs)
