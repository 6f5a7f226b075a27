"""The parts of a tuning run: cost model, builder and runner by name, and run bookkeeping.

Shared by :mod:`tpgnn.auto_scheduler` (the Ansor-style API) and the benchmarks, which pass
one warm builder and runner to many runs.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "BUILDERS",
    "COST_MODELS",
    "RUNNERS",
    "StopTuning",
    "check_choice",
    "close_log_files",
    "history_callback",
    "make_builder",
    "make_cost_model",
    "make_runner",
    "skip_gpu_intrinsics",
]

#: Cost-model names: TPGNN's GNN, then MetaSchedule's built-ins.
COST_MODELS = ("gnn", "xgb", "mlp", "random")
#: ``"local"`` is MetaSchedule's ``LocalBuilder`` (a fresh worker pool per batch);
#: ``"persistent"`` keeps one warm pool for the whole run (tpgnn.collect.workers), which is
#: about ten times faster per batch on a loaded 2-core machine.
BUILDERS = ("local", "persistent")
#: ``"local"`` is MetaSchedule's ``LocalRunner``.
RUNNERS = ("local",)


def check_choice(name: str, value: Any, names: Sequence[str], kind: type) -> None:
    """``value`` must be one of ``names`` or an instance of ``kind``."""
    if isinstance(value, kind):
        return
    if isinstance(value, str):
        if value not in names:
            raise ValueError(
                f"{name} must be one of {', '.join(map(repr, names))} or a "
                f"{kind.__name__} object, got {value!r}"
            )
        return
    raise TypeError(
        f"{name} must be a name ({', '.join(map(repr, names))}) or a {kind.__name__} object, "
        f"got {type(value).__name__}"
    )


def make_cost_model(cost_model: Any, num_tuning_cores: int) -> Any:
    """A fresh cost model for a name in :data:`COST_MODELS`; an object is returned as is."""
    from tvm.s_tir import meta_schedule as ms

    check_choice("cost_model", cost_model, COST_MODELS, ms.cost_model.CostModel)
    if not isinstance(cost_model, str):
        return cost_model
    if cost_model == "gnn":
        try:
            from ..cost_model import GNNModel
        except ModuleNotFoundError as err:
            if err.name != "tpgnn.cost_model":
                raise
            raise ModuleNotFoundError(
                "cost_model='gnn' needs tpgnn.cost_model (the trained GNN), which this tpgnn "
                "installation lacks; use cost_model='xgb' meanwhile"
            ) from err
        return GNNModel(num_tuning_cores=num_tuning_cores)
    return ms.cost_model.CostModel.create(
        cost_model, num_tuning_cores=num_tuning_cores, tree_method="auto"
    )


def make_builder(builder: Any, num_workers: int) -> Any:
    """A builder for a name in :data:`BUILDERS` whose workers skip the tensor intrinsics.

    Without that, each fresh worker spends tens of seconds importing CUDA/ROCm/Hexagon tensor
    intrinsics a build never uses, and builds time out under load
    (:func:`tpgnn.collect.workers.warm_build_worker`).
    """
    from tvm.s_tir import meta_schedule as ms

    check_choice("builder", builder, BUILDERS, ms.builder.Builder)
    if not isinstance(builder, str):
        return builder
    from ..collect.workers import PersistentBuilder, warm_build_worker

    if builder == "persistent":
        return PersistentBuilder(max_workers=num_workers)
    return ms.builder.LocalBuilder(
        max_workers=num_workers, timeout_sec=60.0, initializer=warm_build_worker
    )


def make_runner(runner: Any) -> Any:
    """A runner for a name in :data:`RUNNERS` whose worker skips the tensor intrinsics."""
    from tvm.s_tir import meta_schedule as ms

    check_choice("runner", runner, RUNNERS, ms.runner.Runner)
    if not isinstance(runner, str):
        return runner
    from ..collect.workers import warm_timing_worker

    return ms.runner.LocalRunner(timeout_sec=30.0, initializer=warm_timing_worker)


def skip_gpu_intrinsics(target: Any) -> None:
    """Keep a CPU tuning run from importing the CUDA/ROCm/Hexagon tensor intrinsics.

    ``TuneContext`` imports ``tvm.s_tir.tensor_intrin``, which parses hundreds of GPU
    intrinsics in TVMScript: 30 to 90 s on a loaded 2-core machine, for nothing on CPU. Only
    done for a CPU target before the first import; a process that later needs the GPU
    intrinsics must import ``tvm.s_tir.tensor_intrin`` before tuning for the CPU.
    """
    import sys

    if target.kind.name in ("llvm", "c") and "tvm.s_tir.tensor_intrin" not in sys.modules:
        from ..collect.workers import stub_gpu_intrinsics

        logger.debug("stubbing the GPU tensor intrinsics for a CPU target")
        stub_gpu_intrinsics()


def close_log_files(work_dir: str) -> None:
    """Close the log files MetaSchedule opened under ``work_dir``.

    Its loggers keep a ``FileHandler`` per task open for the life of the process, so a
    process that tunes many times (benchmarks, tests) would leak one file per task and run.
    """
    root = os.path.abspath(work_dir)
    for name in [*logging.root.manager.loggerDict, ""]:
        if name and not name.startswith("tvm.s_tir.meta_schedule"):
            continue
        log = logging.getLogger(name)
        for handler in list(log.handlers):
            path = getattr(handler, "baseFilename", None)
            if path is not None and os.path.abspath(path).startswith(root + os.sep):
                log.removeHandler(handler)
                handler.close()


class StopTuning(Exception):
    """Raised by the history callback to end a tuning run at a round boundary.

    An exception a measure callback raises unwinds MetaSchedule's task scheduler cleanly and
    comes back to Python as itself once tvm-ffi knows its name; ``tune`` turns it into a
    ``KeyboardInterrupt`` for its caller.
    """


def history_callback(
    weights: list[float], total: int, progress: bool, stop: threading.Event | None = None
) -> Any:
    """A measure callback recording each task's best latency after every trial; once ``stop``
    is set it ends the run (:class:`StopTuning`) after recording the round just measured."""
    import math

    from tvm.ir.utils import derived_object
    from tvm.s_tir import meta_schedule as ms
    from tvm_ffi.error import register_error

    @derived_object
    class TuningHistory(ms.measure_callback.PyMeasureCallback):
        def __init__(self) -> None:
            super().__init__()
            self.curves: list[list[float]] = [[] for _ in weights]
            self.trials: list[tuple[int, float]] = []
            self.bar = None
            if progress:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit="trial", desc="tuning", dynamic_ncols=True)

        def apply(self, task_scheduler, task_id, candidates, builder_results, runner_results):
            curve = self.curves[task_id]
            best = curve[-1] if curve else math.inf
            for built, ran in zip(builder_results, runner_results, strict=True):
                cost = math.inf
                if built.error_msg is None and ran.error_msg is None and ran.run_secs:
                    cost = sum(float(x) for x in ran.run_secs) / len(ran.run_secs)
                best = min(best, cost)
                curve.append(best)
                self.trials.append((int(task_id), cost))
            if self.bar is not None:
                weighted = sum(w * c[-1] for w, c in zip(weights, self.curves, strict=True) if c)
                self.bar.set_postfix_str(f"weighted best {weighted * 1e3:.3f} ms", refresh=False)
                self.bar.update(len(candidates))
            if stop is not None and stop.is_set():
                raise StopTuning(f"stopped after {len(self.trials)} measured trials")

        def best_so_far(self) -> list[list[float]]:
            return [list(c) for c in self.curves]

        def measured(self) -> list[tuple[int, float]]:
            return list(self.trials)

        def close(self) -> None:
            if self.bar is not None:
                self.bar.close()

    register_error("StopTuning", StopTuning)
    return TuningHistory()
