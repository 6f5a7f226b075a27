"""Measure a batch of candidates: build all in parallel, then time one at a time."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tvm.s_tir import meta_schedule as ms

from .candidates import Candidate
from .config import MeasureConfig, RPCSettings
from .workers import PersistentBuilder, make_runner, remove_artifact, retire_runner

logger = logging.getLogger(__name__)

__all__ = ["Measured", "Measurer", "measure_batch", "run_seconds", "timing_worker_suspect"]


@dataclass(frozen=True)
class Measured:
    """Outcome of one candidate: per-repeat costs in seconds, or the error message."""

    candidate: Candidate
    run_secs: list[float] | None
    error: str | None
    load: float | None = None


def run_seconds(values: Any) -> list[float]:
    """A runner result's ``run_secs`` (FFI floats) as Python floats."""
    return [float(getattr(v, "value", v)) for v in values]


def measure_batch(
    candidates: list[Candidate], target: Any, builder: Any, runner: Any
) -> list[Measured]:
    """Build every candidate (in parallel, by ``builder``), then time the built ones.

    Building and timing are separate phases, so no compiler runs on a core while a
    program is being timed. Every candidate comes back, failed ones with their message.
    """
    if not candidates:
        return []
    builds = builder.build(
        [ms.builder.BuilderInput(c.candidate.sch.mod, target) for c in candidates]
    )
    out: dict[int, Measured] = {}
    to_run: list[int] = []
    for i, (cand, built) in enumerate(zip(candidates, builds, strict=True)):
        if built.error_msg is not None:
            out[i] = Measured(cand, None, "build: " + str(built.error_msg))
        else:
            to_run.append(i)
    try:
        inputs = [
            ms.runner.RunnerInput(builds[i].artifact_path, "cpu", candidates[i].candidate.args_info)
            for i in to_run
        ]
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        futures = runner.run(inputs)
        for i, fut in zip(to_run, futures, strict=True):
            res = fut.result()
            if res.error_msg is not None:
                out[i] = Measured(candidates[i], None, "run: " + str(res.error_msg), load)
            else:
                out[i] = Measured(candidates[i], run_seconds(res.run_secs), None, load)
    finally:
        for i in to_run:
            remove_artifact(builds[i].artifact_path)
    return [out[i] for i in range(len(candidates))]


def timing_worker_suspect(results: list[Measured], only_ever_failed: bool = False) -> bool:
    """Whether a batch's failures point at the timing worker rather than at the programs.

    A worker that breaks stays broken: one that had loaded some 13,000 libraries failed
    every later load with ENOMEM (out of memory maps), and the run went on recording good
    programs as failures. The sign is a batch in which nothing ran and something failed at run
    time, unless the programs' workload has only ever failed (``only_ever_failed``).
    """
    nothing_ran = all(r.error is not None for r in results)
    run_failed = any(r.error is not None and r.error.startswith("run: ") for r in results)
    return bool(results) and nothing_ran and run_failed and not only_ever_failed


class Measurer:
    """The build pool and the timing worker of a long measuring run, kept healthy.

    Both start at once and warm up (seconds of imports each) in parallel with whatever the
    caller does first. A local timing worker is replaced every
    ``measure.programs_per_timing_worker`` programs, and a batch that :func:`timing_worker_suspect`
    blames on the worker is measured again on a fresh one, so good programs are not recorded
    as failures.
    """

    def __init__(
        self,
        measure: MeasureConfig,
        rpc: RPCSettings | None = None,
        num_build_workers: int | None = None,
    ) -> None:
        self.measure = measure
        self.rpc = rpc
        self.builder = PersistentBuilder(num_build_workers, measure.build_timeout_s)
        starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tpgnn-runner-start")
        self._runner_started = starter.submit(make_runner, measure, rpc)
        starter.shutdown(wait=False)  # the start already submitted still runs to its end
        self._runner: Any = None
        self._timed_by_runner = 0  # programs the current local timing worker has loaded

    def run(
        self,
        candidates: list[Candidate],
        target: Any,
        only_ever_failed: bool = False,
        what: str = "a batch",
    ) -> list[Measured]:
        """:func:`measure_batch` on this run's workers (see the class docstring); ``what``
        names the batch in the log."""
        if self._runner is None:
            self._runner = self._runner_started.result()
        elif (self.rpc is None
              and self._timed_by_runner >= self.measure.programs_per_timing_worker):
            logger.info("replacing the timing worker after %d programs", self._timed_by_runner)
            self._replace_runner()
        results = measure_batch(candidates, target, self.builder, self._runner)
        if self.rpc is None and timing_worker_suspect(results, only_ever_failed):
            logger.warning(
                "every program of %s failed in the timing worker (first: %s); "
                "measuring the batch again on a fresh worker",
                what,
                results[0].error.splitlines()[0][:200],
            )
            self._replace_runner()
            results = measure_batch(candidates, target, self.builder, self._runner)
        self._timed_by_runner += len(candidates)
        return results

    def _replace_runner(self) -> None:
        retire_runner(self._runner)
        self._runner, self._timed_by_runner = make_runner(self.measure), 0

    def close(self) -> None:
        """Stop the build workers and the timing worker."""
        self.builder.shutdown()
        runner = self._runner
        if runner is None and self._runner_started.done() and not self._runner_started.exception():
            runner = self._runner_started.result()
        if runner is not None:
            retire_runner(runner)
