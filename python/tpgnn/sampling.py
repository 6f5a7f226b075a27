"""Sampling scheduled programs from MetaSchedule's design space of a workload."""

from __future__ import annotations

import logging
from typing import Any

import tvm
from tvm.s_tir import meta_schedule as ms

logger = logging.getLogger(__name__)


def llvm_target(num_cores: int = 2) -> tvm.target.Target:
    """The CPU target MetaSchedule tunes for (targets are JSON dicts in TVM 0.27)."""
    return tvm.target.Target({"kind": "llvm", "num-cores": num_cores})


def sample_candidates(
    mod: tvm.IRModule,
    num: int,
    *,
    target: tvm.target.Target | None = None,
    seed: int = 0,
) -> list[Any]:
    """Draw ``num`` random schedules of ``mod`` as MetaSchedule measure candidates.

    Uses MetaSchedule's own replay-trace strategy: each candidate replays a design-space trace
    with freshly sampled decisions and passes the postprocessors, exactly the programs the
    tuner would hand to a cost model. For a CPU target, the GPU tensor intrinsics are skipped
    as in a CPU tuning run (:func:`tpgnn.tune.measure.skip_gpu_intrinsics`).

    Parameters
    ----------
    mod
        An IRModule with one PrimFunc.
    num
        How many candidates; at least 1.
    target
        Defaults to :func:`llvm_target`.
    seed
        Seeds MetaSchedule's random state, so the same call returns the same programs.

    Returns
    -------
    list of ``ms.MeasureCandidate``
        ``candidate.sch.mod`` is the scheduled program; may hold fewer than ``num`` when the
        design space has fewer distinct programs.
    """
    if num < 1:
        raise ValueError(f"num must be at least 1, got {num}")
    from .tune.measure import skip_gpu_intrinsics

    target = target or llvm_target()
    skip_gpu_intrinsics(target)  # the TuneContext below would spend 15-25 s importing them
    context = ms.TuneContext(
        mod=mod,
        target=target,
        space_generator="post-order-apply",
        search_strategy=ms.search_strategy.ReplayTrace(),
        task_name="sample",
        rand_state=seed,
        num_threads=int(target.attrs.get("num-cores", 1)),
    )
    candidates = search_round(context, num, database=ms.database.MemoryDatabase())
    logger.debug("sampled %d candidates (asked for %d)", len(candidates), num)
    return candidates


def search_round(
    context: ms.TuneContext,
    num: int,
    *,
    database: ms.database.Database | None = None,
    cost_model: ms.cost_model.CostModel | None = None,
) -> list[Any]:
    """One round of ``context``'s search strategy over its design space: up to ``num``
    measure candidates, the strategy's state cleared again afterwards."""
    context.pre_tuning(
        max_trials=num,
        num_trials_per_iter=num,
        design_spaces=context.generate_design_space(),
        database=database,
        cost_model=cost_model,
    )
    try:
        return list(context.generate_measure_candidates() or [])
    finally:
        context.post_tuning()
