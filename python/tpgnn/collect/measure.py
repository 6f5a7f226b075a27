"""Measure a batch of candidates: build all in parallel, then time one at a time."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from tvm.s_tir import meta_schedule as ms

from .candidates import Candidate
from .workers import remove_artifact

logger = logging.getLogger(__name__)

__all__ = ["Measured", "measure_batch", "run_seconds"]


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
