"""Builder and runner processes that start once and stay warm.

Stock ``LocalBuilder`` starts fresh worker processes for every batch, and each of them
imports ``tvm.s_tir.tensor_intrin``, which registers CUDA, ROCm and Hexagon intrinsics and
takes about 50 s on this machine, so every build times out at the default 30 s under load.
Raising the timeout hides that; the root fixes here are

* the workers' initializers, :func:`warm_build_worker` and :func:`warm_timing_worker`, skip
  ``tvm.s_tir.tensor_intrin`` altogether: its intrinsics describe what ``tensorize`` may
  rewrite during the search, in the main process, and building or timing a scheduled program
  never looks them up. Stock ``LocalBuilder`` imports the package in ``default_build``; even
  with the GPU intrinsics stubbed (:func:`stub_gpu_intrinsics`, the notes' fix) the CPU ones
  cost each worker 1.3 s of its start here;
* :class:`PersistentBuilder` keeps one pool for its whole life, so workers are paid for once,
  not once per batch, and links each program into a shared library in the parallel build
  step (with ``ld`` itself, :func:`link_shared_library`), so the serial timing step only has
  to ``dlopen`` it (stock ``LocalBuilder`` exports a tar that the runner must link, one
  program at a time).

Timing stays MetaSchedule's own: ``LocalRunner`` (one persistent worker, one program at a
time) or ``RPCRunner`` through a tracker, with ``number`` started from a probe
(:mod:`.timing`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import tvm
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.support import cc
from tvm.support.popen_pool import PopenPoolExecutor, StatusKind

from .config import MeasureConfig, RPCSettings
from .timing import run_evaluator

logger = logging.getLogger(__name__)

__all__ = [
    "PersistentBuilder",
    "link_shared_library",
    "make_runner",
    "remove_artifact",
    "stub_gpu_intrinsics",
    "warm_build_worker",
    "warm_timing_worker",
]

_INTRIN_PACKAGE = "tvm.s_tir.tensor_intrin"
_GPU_INTRIN_MODULES = ("cuda", "rocm", "hexagon")


def stub_gpu_intrinsics() -> None:
    """Register empty ``tvm.s_tir.tensor_intrin.{cuda,rocm,hexagon}`` modules.

    Must run before ``tvm.s_tir.tensor_intrin`` is first imported in the process.
    """
    for name in _GPU_INTRIN_MODULES:
        full = f"{_INTRIN_PACKAGE}.{name}"
        sys.modules.setdefault(full, types.ModuleType(full))


def _ignore_interrupts() -> None:
    # Ctrl-C in a terminal signals the whole process group. The main process answers it by
    # stopping after the batch in progress; workers that died of it instead made that batch's
    # good programs fail ("Subprocess terminated"), and those failures were recorded. The
    # pools still end their workers on shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def warm_build_worker() -> None:
    """Initializer of build workers: ignore Ctrl-C, skip the tensor intrinsics, import.

    ``default_build`` imports ``tvm.s_tir.tensor_intrin`` before lowering. An empty module
    in its place makes that import free: the intrinsics are schedule-time descriptions
    (``tensorize`` and the schedule rules look them up, in the main process), and a scheduled
    program is lowered and compiled without them. The libraries built either way are
    byte-identical (``tests/python/collect/test_workers.py``).
    """
    _ignore_interrupts()
    sys.modules.setdefault(_INTRIN_PACKAGE, types.ModuleType(_INTRIN_PACKAGE))
    from tvm.s_tir.meta_schedule.builder import local_builder  # noqa: F401


def warm_timing_worker() -> None:
    """Initializer of timing workers: ignore Ctrl-C and import the runner's module.

    Loading and timing a built library needs nothing of the tensor intrinsics.
    """
    _ignore_interrupts()
    from tvm.s_tir.meta_schedule.runner import local_runner  # noqa: F401


def _ensure_importable() -> None:
    # Worker processes unpickle this module's functions by reference; make sure they can
    # import tpgnn even when the parent found it through sys.path edits (pytest, notebooks).
    root = str(Path(__file__).resolve().parents[2])
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *[p for p in paths if p]])


def link_shared_library(
    output: str, objects: str | list[str], options: list[str] | None = None
) -> None:
    """``export_library``'s linker: ``ld`` itself, where stock TVM runs the ``g++`` driver.

    The driver starts ``collect2``, which starts ``ld``: 19 ms a program here, against 4 to
    7 ms for ``ld`` alone on the same object. A kernel library needs nothing from the C runtime's
    start files; ``libm`` is named for the few math calls LLVM leaves (``erff``), and the
    FFI's symbols resolve when the library is loaded, as with ``g++``. Anything other than
    plain objects (C sources of imported modules, extra options), or a link ``ld`` refuses,
    goes through ``tvm.support.cc.create_shared`` as in stock TVM, whose error is raised.
    """
    objects = [objects] if isinstance(objects, str) else list(objects)
    ld = shutil.which("ld") if sys.platform.startswith("linux") else None
    if ld and not options and all(o.endswith(".o") for o in objects):
        cmd = [ld, "-shared", "--eh-frame-hdr", "-o", output, *objects, "-lm"]
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            return
    cc.create_shared(output, objects, options)


def _build_to_shared_library(mod: Any, target: Any, artifact_root: str) -> str:
    """Worker side: compile one scheduled module and link it into ``<tmp>/program.so``."""
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build

    rt_mod = default_build(mod, target, None)
    out_dir = tempfile.mkdtemp(prefix="build-", dir=artifact_root)
    path = os.path.join(out_dir, "program.so")
    rt_mod.export_library(path, fcompile=link_shared_library)
    return path


def remove_artifact(path: str | None) -> None:
    """Delete a built program's directory; safe on ``None`` and on paths already gone."""
    if path:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


@derived_object
class PersistentBuilder(ms.builder.PyBuilder):
    """A MetaSchedule builder whose warm worker pool lives as long as the builder.

    Parameters
    ----------
    max_workers : int or None
        Parallel build processes; ``None`` uses every core.
    timeout_sec : float
        Per-program build limit. A timed-out worker is killed and restarted warm.
    artifact_dir : str or None
        Where built libraries go until they are timed; a fresh temporary directory if None.
    maximum_process_uses : int
        Restart a worker after this many builds, bounding the slow memory growth that made
        stock ``LocalBuilder`` restart its pool every batch.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        timeout_sec: float = 60.0,
        artifact_dir: str | None = None,
        maximum_process_uses: int = 500,
    ) -> None:
        super().__init__()
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        if timeout_sec <= 0:
            raise ValueError(f"timeout_sec must be positive, got {timeout_sec}")
        _ensure_importable()
        self.max_workers = max_workers or os.cpu_count() or 1
        self.timeout_sec = timeout_sec
        self.artifact_dir = artifact_dir or tempfile.mkdtemp(prefix="tpgnn-build-")
        os.makedirs(self.artifact_dir, exist_ok=True)
        self.pool = PopenPoolExecutor(
            max_workers=self.max_workers,
            timeout=timeout_sec,
            initializer=warm_build_worker,
            maximum_process_uses=maximum_process_uses,
        )
        # Start every worker now, in parallel, without waiting: they warm up (seconds of
        # imports each) while the caller searches for its first candidates; the first build
        # waits for them.
        self._starting = [self.pool.submit(os.getpid) for _ in range(self.max_workers)]

    def wait_until_started(self) -> None:
        """Block until every worker has started (raises what a failed start raised).

        The start probe runs under the per-build limit. A probe that overran it (a tiny limit,
        or a loaded machine) leaves a killed worker that the pool restarts for the next build,
        which then times out or not on its own: it is no reason to stop the caller.
        """
        starting, self._starting = self._starting, []
        for f in starting:
            try:
                f.result()
            except TimeoutError:
                logger.debug("a build worker's start probe overran %.3g s", self.timeout_sec)

    def build(self, build_inputs: list[ms.builder.BuilderInput]) -> list[ms.builder.BuilderResult]:
        """Build every input in parallel; failures come back with their message."""
        self.wait_until_started()
        results = []
        jobs = [(b.mod, b.target, self.artifact_dir) for b in build_inputs]
        for res in self.pool.map_with_error_catching(
            lambda job: _build_to_shared_library(*job), jobs
        ):
            if res.status == StatusKind.COMPLETE:
                results.append(ms.builder.BuilderResult(res.value, None))
            elif res.status == StatusKind.TIMEOUT:
                results.append(
                    ms.builder.BuilderResult(
                        None, f"PersistentBuilder: timeout, killed after {self.timeout_sec} s"
                    )
                )
            else:
                results.append(
                    ms.builder.BuilderResult(
                        None, f"PersistentBuilder: an exception occurred\n{res.value}"
                    )
                )
        return results

    def shutdown(self) -> None:
        """Stop the worker processes."""
        self.pool.shutdown(wait=True)


def evaluator_config(measure: MeasureConfig) -> ms.runner.EvaluatorConfig:
    """MetaSchedule's evaluator settings from ours."""
    return ms.runner.EvaluatorConfig(
        number=measure.number,
        repeat=measure.repeat,
        min_repeat_ms=measure.min_repeat_ms,
        enable_cpu_cache_flush=measure.enable_cpu_cache_flush,
    )


def retire_runner(runner: ms.runner.Runner) -> None:
    """Stop a local runner's worker process (its programs are all timed by now)."""
    pool = getattr(runner, "pool", None)
    if pool is not None:
        pool.shutdown(wait=False)


def make_runner(measure: MeasureConfig, rpc: RPCSettings | None = None) -> ms.runner.Runner:
    """A runner that times one program at a time, locally or through an RPC tracker."""
    _ensure_importable()
    if rpc is None:
        return ms.runner.LocalRunner(
            timeout_sec=measure.run_timeout_s,
            evaluator_config=evaluator_config(measure),
            initializer=warm_timing_worker,
            f_run_evaluator=run_evaluator(measure.number_probe_ms),
        )
    return ms.runner.RPCRunner(
        rpc_config=ms.runner.RPCConfig(
            tracker_host=rpc.tracker_host,
            tracker_port=rpc.tracker_port,
            tracker_key=rpc.key,
            session_timeout_sec=int(max(measure.run_timeout_s, rpc.session_timeout_s)),
        ),
        evaluator_config=evaluator_config(measure),
        max_workers=1,
        initializer=warm_timing_worker,
        f_run_evaluator=run_evaluator(measure.number_probe_ms, rpc=True),
    )


def target_of(target: Any) -> tvm.target.Target:
    """A ``tvm.target.Target`` from a dict, or the target itself."""
    return target if isinstance(target, tvm.target.Target) else tvm.target.Target(target)
