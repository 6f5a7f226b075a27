"""PersistentBuilder: warm workers that link each program into a library the runner loads."""

from __future__ import annotations

import os
import platform

import numpy as np
from collect_helpers import matmul_workload


def test_builds_loadable_libraries_and_reports_failures(tmp_path):
    import tvm
    from tvm.s_tir import meta_schedule as ms

    from tpgnn.collect.workers import PersistentBuilder, remove_artifact

    cpu = tvm.target.Target({"kind": "llvm", "num-cores": 1})
    sizes = (16, 32)
    mods = [matmul_workload(n).mod for n in sizes]
    inputs = [ms.builder.BuilderInput(mod, cpu) for mod in mods]
    # An object for another architecture, which this machine's linker refuses: a failed
    # build, not a crash.
    host_is_arm = platform.machine() in ("aarch64", "arm64")
    foreign = "x86_64-linux-gnu" if host_is_arm else "aarch64-linux-gnu"
    elsewhere = tvm.target.Target({"kind": "llvm", "mtriple": foreign})
    inputs.append(ms.builder.BuilderInput(mods[0], elsewhere))
    builder = PersistentBuilder(max_workers=2, timeout_sec=60, artifact_dir=str(tmp_path))
    try:  # the first build waits for the workers the constructor started
        results = builder.build(inputs)
    finally:
        builder.shutdown()

    rng = np.random.default_rng(0)
    for n, result in zip(sizes, results, strict=False):
        assert result.error_msg is None
        lib = tvm.runtime.load_module(result.artifact_path)
        a, b = (rng.standard_normal((n, n), dtype="float32") for _ in range(2))
        c = tvm.runtime.tensor(np.zeros((n, n), "float32"))
        lib["main"](tvm.runtime.tensor(a), tvm.runtime.tensor(b), c)
        np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-4, atol=1e-4)
        remove_artifact(result.artifact_path)
        assert not os.path.exists(os.path.dirname(result.artifact_path))
    failed = results[-1]
    assert failed.artifact_path is None
    assert failed.error_msg.startswith("PersistentBuilder: an exception occurred")


def test_links_objects_with_ld_and_anything_else_as_stock_tvm(tmp_path, monkeypatch):
    import ctypes

    import tvm

    from tpgnn.collect import workers

    n = 8
    cpu = tvm.target.Target({"kind": "llvm", "num-cores": 1})
    obj = str(tmp_path / "program.o")
    tvm.tirx.build(matmul_workload(n).mod, cpu).write_to_file(obj)
    source = tmp_path / "plus_one.cc"
    source.write_text('extern "C" int plus_one(int x) { return x + 1; }\n')

    def stock_link(output, objects, options=None):
        linked.append(objects)
        return real_create_shared(output, objects, options)

    linked, real_create_shared = [], workers.cc.create_shared
    monkeypatch.setattr(workers.cc, "create_shared", stock_link)
    workers.link_shared_library(str(tmp_path / "program.so"), [obj])
    workers.link_shared_library(str(tmp_path / "plus_one.so"), [str(source)])
    assert linked == [[str(source)]]  # the object went through ld alone

    lib = tvm.runtime.load_module(str(tmp_path / "program.so"))
    a, b = (np.full((n, n), 2.0, "float32") for _ in range(2))
    c = tvm.runtime.tensor(np.zeros((n, n), "float32"))
    lib["main"](tvm.runtime.tensor(a), tvm.runtime.tensor(b), c)
    np.testing.assert_allclose(c.numpy(), a @ b)
    assert ctypes.CDLL(str(tmp_path / "plus_one.so")).plus_one(41) == 42
