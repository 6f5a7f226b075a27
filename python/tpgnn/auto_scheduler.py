"""An Ansor-style front door over MetaSchedule: ``TuningOptions``, ``extract_tasks``, ``tune``.

TPGNN was specified against TVM's ``auto_scheduler`` (Ansor) API, which TVM removed in 2025;
this module keeps that shape over MetaSchedule so a user script reads as it would have:

.. code-block:: python

    from tpgnn import auto_scheduler

    options = auto_scheduler.TuningOptions(num_measure_trials=200, cost_model="gnn")
    result = auto_scheduler.tune(mod, {"kind": "llvm", "num-cores": 2}, options)
    vm = tvm.relax.VirtualMachine(result.module, tvm.cpu())

``mod`` is a Relax ``IRModule`` (split into tasks by MetaSchedule, one per distinct fused
kernel, weighted by how often the network calls it) or one TIR ``PrimFunc`` (a single task).
The cost model is a name (:data:`COST_MODELS`) or any MetaSchedule ``CostModel``; ``"gnn"``
works whether or not ``tvm_patch/`` is applied, because it is constructed here.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._interrupts import stop_on_signals
from .tune.measure import (
    BUILDERS,
    COST_MODELS,
    RUNNERS,
    StopTuning,
    check_choice,
    close_log_files,
    history_callback,
    make_builder,
    make_cost_model,
    make_runner,
    skip_gpu_intrinsics,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BUILDERS",
    "COST_MODELS",
    "RUNNERS",
    "TuneResult",
    "TuningOptions",
    "extract_tasks",
    "make_builder",
    "make_cost_model",
    "make_runner",
    "tune",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class TuningOptions:
    """How to tune: the trial budget, the cost model, and where programs are built and timed.

    Parameters
    ----------
    num_measure_trials : int
        Programs measured in total, over all tasks (MetaSchedule's ``max_trials_global``).
    cost_model : str or tvm.s_tir.meta_schedule.cost_model.CostModel
        A name in :data:`COST_MODELS` or a cost-model object; names are instantiated afresh by
        every :func:`tune` call, so runs do not share what a model learned.
    num_measures_per_round : int
        Programs measured per search round (``num_trials_per_iter``); the cost model is
        updated after each round. Default 64, MetaSchedule's.
    builder : str or Builder
        A name in :data:`BUILDERS` or a MetaSchedule ``Builder``.
    runner : str or Runner
        A name in :data:`RUNNERS` or a MetaSchedule ``Runner``.
    work_dir : str or None
        Where the JSON database and logs go; a fresh temporary directory when None.
    max_trials_per_task : int or None
        Cap per task; None lets the task scheduler spend the whole budget where it helps.
    seed : int or None
        Seed of the search (None: nondeterministic).
    task_scheduler : str
        MetaSchedule's task scheduler, ``"gradient"`` (Ansor's) or ``"round-robin"``.
    """

    num_measure_trials: int = 64
    cost_model: Any = "gnn"
    num_measures_per_round: int = 64
    builder: Any = "local"
    runner: Any = "local"
    work_dir: str | None = None
    max_trials_per_task: int | None = None
    seed: int | None = 0
    task_scheduler: str = "gradient"

    def __post_init__(self) -> None:
        from tvm.s_tir import meta_schedule as ms

        for name in ("num_measure_trials", "num_measures_per_round"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.max_trials_per_task is not None and (
            not _is_int(self.max_trials_per_task) or self.max_trials_per_task < 1
        ):
            raise ValueError(
                f"max_trials_per_task must be None or an int >= 1, got {self.max_trials_per_task!r}"
            )
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"seed must be None or an int, got {self.seed!r}")
        check_choice("cost_model", self.cost_model, COST_MODELS, ms.cost_model.CostModel)
        check_choice("builder", self.builder, BUILDERS, ms.builder.Builder)
        check_choice("runner", self.runner, RUNNERS, ms.runner.Runner)
        if self.task_scheduler not in ("gradient", "round-robin"):
            raise ValueError(
                "task_scheduler must be 'gradient' or 'round-robin', "
                f"got {self.task_scheduler!r}"
            )
        if self.work_dir is not None and not isinstance(self.work_dir, (str, os.PathLike)):
            raise TypeError(f"work_dir must be a path or None, got {type(self.work_dir).__name__}")


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` returns.

    Attributes
    ----------
    database : tvm.s_tir.meta_schedule.database.Database
        Every measured record; ``compile_relax`` / ``compile_tir`` read the best ones.
    module : Any
        The compiled program: a ``relax.VMExecutable`` for a Relax input (run it with
        ``relax.VirtualMachine``), a runtime module for a TIR input, None without input.
    tasks : list of tvm.s_tir.meta_schedule.ExtractedTask
        The tuned tasks, in the order of ``history``.
    history : list of list of float
        For each task, the best latency in seconds after each of its measured trials
        (``inf`` until one succeeds), in the order the trials were measured.
    trials : list of (int, float)
        Every measured trial in order: (task index, its latency in seconds, ``inf`` if it
        failed to build or run); what a best-latency-against-trials plot needs.
    work_dir : str
        Where the database and logs are.
    """

    database: Any
    module: Any
    tasks: list[Any]
    history: list[list[float]] = field(default_factory=list)
    trials: list[tuple[int, float]] = field(default_factory=list)
    work_dir: str = ""

    def best_latencies(self) -> list[float]:
        """Best latency in seconds per task (``inf`` for a task without a valid program)."""
        return [h[-1] if h else float("inf") for h in self.history]


def _target(target: Any) -> Any:
    import tvm

    if isinstance(target, tvm.target.Target):
        return target
    if not isinstance(target, (dict, str)):
        raise TypeError(f"target must be a tvm.target.Target, a dict or a str, got {target!r}")
    return tvm.target.Target(target)


def _num_cores(target: Any) -> int:
    cores = target.attrs.get("num-cores")
    return int(cores) if cores else (os.cpu_count() or 1)


def _is_tir(mod: Any) -> bool:
    """True for a PrimFunc or an IRModule of PrimFuncs only; False for a Relax module."""
    import tvm
    from tvm import relax, tirx

    if isinstance(mod, tirx.PrimFunc):
        return True
    if isinstance(mod, relax.Function):
        return False
    if not isinstance(mod, tvm.IRModule):
        raise TypeError(
            f"mod must be a Relax IRModule, a relax.Function, a tirx.PrimFunc or an IRModule of "
            f"one PrimFunc, got {type(mod).__name__}"
        )
    funcs = [f for _, f in mod.functions_items()]
    if any(isinstance(f, relax.Function) for f in funcs):
        return False
    if len(funcs) != 1 or not isinstance(funcs[0], tirx.PrimFunc):
        raise ValueError(
            f"a TIR mod must hold exactly one PrimFunc (one task), got {len(funcs)} functions"
        )
    return True


def _relax_fused(mod: Any, target: Any, params: dict[str, Any] | None) -> Any:
    """Legalise and fuse a Relax module the way ``compile_relax`` will, so task keys match."""
    import tvm
    from tvm import relax
    from tvm.relax import pipeline

    if isinstance(mod, relax.Function):
        mod = tvm.IRModule({"main": mod})
    if params:
        mod = relax.transform.BindParams("main", params)(mod)
    try:
        dispatch = pipeline.library_dispatch_passes(target)
    except (ValueError, AttributeError):  # targets without a registered dispatcher
        dispatch = []
    passes = [
        *dispatch,
        relax.transform.LegalizeOps(),
        relax.transform.AnnotateTIROpPattern(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
    ]
    with target:
        return tvm.transform.Sequential(passes)(mod)


def extract_tasks(mod: Any, target: Any, params: dict[str, Any] | None = None) -> list[Any]:
    """The tuning tasks of a program.

    Parameters
    ----------
    mod : tvm.IRModule, relax.Function or tirx.PrimFunc
        A Relax program (high-level or already fused), or one TIR function.
    target : tvm.target.Target, dict or str
        E.g. ``{"kind": "llvm", "num-cores": 2}``.
    params : dict or None
        Relax parameters to bind into ``main`` first.

    Returns
    -------
    list of tvm.s_tir.meta_schedule.ExtractedTask
        One per distinct kernel, with its weight (uses per run); already-scheduled kernels
        are left out because there is nothing to tune. A TIR input gives one task, weight 1.
    """
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.tune_context import _normalize_mod

    target = _target(target)
    if _is_tir(mod):
        # Normalised exactly as tune_tir / compile_tir do, so the database keys agree.
        norm = _normalize_mod(mod)
        name = norm.get_global_vars()[0].name_hint
        return [ms.ExtractedTask(name, norm, target, [norm], 1)]
    fused = _relax_fused(mod, target, params)
    tasks = ms.relax_integration.extract_tasks(fused, target)
    return [t for t in tasks if not t.mod.attrs.get("tirx.is_scheduled", False)]


def tune(
    mod: Any,
    target: Any,
    options: TuningOptions | None = None,
    params: dict[str, Any] | None = None,
    *,
    tasks: Sequence[Any] | None = None,
    progress: bool = False,
) -> TuneResult:
    """Tune a program's tasks and compile it with the best programs found.

    Parameters
    ----------
    mod : tvm.IRModule, relax.Function, tirx.PrimFunc or None
        As for :func:`extract_tasks`; None (with ``tasks``) tunes without compiling, e.g.
        tasks of several networks, and ``TuneResult.module`` is None.
    target : tvm.target.Target, dict or str
        The target; its ``num-cores`` sets the tuning threads and build workers.
    options : TuningOptions or None
        Budget, cost model, builder, runner; ``TuningOptions()`` when None.
    params : dict or None
        Relax parameters bound into ``main``.
    tasks : sequence of ExtractedTask or None
        Tune only these (e.g. the heaviest of :func:`extract_tasks`); the others keep their
        default schedules in the compiled module. All tasks when None.
    progress : bool
        Show a tqdm bar over the trial budget with rate, ETA and weighted best latency.

    Returns
    -------
    TuneResult

    Raises
    ------
    KeyboardInterrupt
        At Ctrl-C (SIGINT, when called from the main thread), once the measurement round in
        progress is recorded; a second Ctrl-C stops at once. Either way the records measured
        so far stay in the work directory's database.
    """
    from tvm.s_tir import meta_schedule as ms

    options = options or TuningOptions()
    if not isinstance(options, TuningOptions):
        raise TypeError(f"options must be a TuningOptions, got {type(options).__name__}")
    target = _target(target)
    if mod is None and tasks is None:
        raise ValueError("mod may be None only when tasks are given")
    is_tir = mod is not None and _is_tir(mod)
    tasks = list(tasks) if tasks is not None else extract_tasks(mod, target, params)
    if not tasks:
        raise ValueError("mod has no tunable tasks (every kernel is already scheduled)")
    cores = _num_cores(target)
    skip_gpu_intrinsics(target)
    work_dir = str(options.work_dir or tempfile.mkdtemp(prefix="tpgnn-tune-"))
    os.makedirs(work_dir, exist_ok=True)
    contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
        tasks, work_dir, num_threads=cores, seed=options.seed
    )
    builder = make_builder(options.builder, cores)
    logger.info(
        "tuning %d task(s), %d trials, cost model %s, work dir %s",
        len(tasks), options.num_measure_trials, options.cost_model, work_dir,
    )
    with stop_on_signals(step="the measurement round in progress") as stop:
        history = history_callback(weights, options.num_measure_trials, progress, stop)
        try:
            database = ms.tune_tasks(
                tasks=contexts,
                task_weights=weights,
                work_dir=work_dir,
                max_trials_global=options.num_measure_trials,
                max_trials_per_task=options.max_trials_per_task,
                num_trials_per_iter=options.num_measures_per_round,
                builder=builder,
                runner=make_runner(options.runner),
                cost_model=make_cost_model(options.cost_model, cores),
                measure_callbacks=[*ms.MeasureCallback.create("default"), history],
                task_scheduler=options.task_scheduler,
            )
        except StopTuning as stopped:
            raise KeyboardInterrupt(
                f"{stopped}; the tuning records so far are in {work_dir}"
            ) from None
        finally:
            history.close()
            close_log_files(work_dir)
            if builder is not options.builder and hasattr(builder, "shutdown"):
                builder.shutdown()
    module = None if mod is None else _compile(database, mod, target, params, is_tir)
    return TuneResult(
        database, module, tasks, history.best_so_far(), history.measured(), work_dir
    )


def _compile(database: Any, mod: Any, target: Any, params: Any, is_tir: bool) -> Any:
    import tvm
    from tvm.s_tir import meta_schedule as ms

    if not is_tir:
        return ms.relax_integration.compile_relax(database, mod, target, params)
    sch = ms.tir_integration.compile_tir(database, mod, target)
    if sch is None:
        logger.warning("no valid program was measured; compiling the untuned function")
        from tvm.s_tir.meta_schedule.tune_context import _normalize_mod

        return tvm.compile(_normalize_mod(mod), target=target)
    return tvm.compile(sch.mod, target=target)
