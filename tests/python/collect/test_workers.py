"""PersistentBuilder: warm workers that link each program into a library the runner loads."""

from __future__ import annotations

import os
import platform
import sys
import warnings

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


def test_build_workers_skip_the_tensor_intrinsics_and_build_the_same_libraries(tmp_path):
    import filecmp

    import tvm
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build

    from tpgnn.collect.candidates import random_candidates
    from tpgnn.collect.workers import PersistentBuilder, link_shared_library

    cpu = tvm.target.Target({"kind": "llvm", "num-cores": 1})
    candidates = random_candidates(matmul_workload(64).mod, cpu, 3, 0, set())
    assert len(candidates) == 3
    inputs = [ms.builder.BuilderInput(c.candidate.sch.mod, cpu) for c in candidates]
    builder = PersistentBuilder(max_workers=1, artifact_dir=str(tmp_path))
    try:
        results = builder.build(inputs)
        in_worker = builder.pool.submit(lambda: sorted(__import__("sys").modules)).result()
    finally:
        builder.shutdown()

    assert "tvm.s_tir.tensor_intrin" in in_worker  # the empty stand-in default_build imported
    assert not [m for m in in_worker if m.startswith("tvm.s_tir.tensor_intrin.")]
    for i, (candidate, result) in enumerate(zip(candidates, results, strict=True)):
        assert result.error_msg is None
        # This process has the real intrinsics (default_build imports them). default_build
        # calls the deprecated tvm.driver.build, as it does in the workers.
        here = str(tmp_path / f"here{i}.so")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            built_here = default_build(candidate.candidate.sch.mod, cpu, None)
        built_here.export_library(here, fcompile=link_shared_library)
        assert filecmp.cmp(here, result.artifact_path, shallow=False)
    assert "tvm.s_tir.tensor_intrin.x86" in sys.modules


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


def test_timing_worker_loads_no_tensor_intrinsics():
    from tpgnn.collect.config import MeasureConfig
    from tpgnn.collect.workers import make_runner, retire_runner

    runner = make_runner(MeasureConfig())
    try:
        in_worker = runner.pool.submit(lambda: sorted(__import__("sys").modules)).result()
    finally:
        retire_runner(runner)
    assert "tvm.s_tir.meta_schedule.runner.local_runner" in in_worker
    assert not [m for m in in_worker if m.startswith("tvm.s_tir.tensor_intrin")]
