"""Timing one built program: MetaSchedule's evaluator, started from a probed ``number``.

``time_evaluator`` raises ``number`` until one repeat lasts ``min_repeat_ms``: from
``number = 1`` it measures one run, sets ``number = min_repeat_ms / run + 1``, and if that
window still falls short it multiplies ``number`` by 1.618 and tries again. A single run is a
noisy estimate and the margin is one run, so that window often falls just short, and then
every repeat lasts up to 1.6 times ``min_repeat_ms``, besides the window thrown away. On 36
ResNet-18 programs of under 1 ms, in one process (2026-12-05), timing one with 25 ms
windows took 111 ms, where 75 ms of windows are asked for; from a probed ``number``, 86 ms.

:func:`probed_run_evaluator` first estimates a run's cost (one call for programs of
``probe_ms`` or more, otherwise a ``probe_ms`` window of TVM's own timer), then starts
``time_evaluator`` at ``number = margin * min_repeat_ms / estimate``. Nothing else
changes: TVM's evaluator still raises ``number`` if a window falls short, so every window
still lasts at least ``min_repeat_ms``, and the same warm-up, repeats and cache flush apply.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.runner.utils import run_evaluator_common

__all__ = [
    "NUMBER_MARGIN",
    "estimate_run_seconds",
    "probed_run_evaluator",
    "run_evaluator",
    "starting_number",
]

NUMBER_MARGIN = 1.05
"""How much longer than ``min_repeat_ms`` the probed ``number`` aims a window, so that a
slightly slow estimate does not leave it short (and TVM's 1.6x step with it)."""


def starting_number(run_seconds: float, min_repeat_ms: int, margin: float = NUMBER_MARGIN) -> int:
    """Runs per window that make it last ``margin * min_repeat_ms``, given one run's cost."""
    if run_seconds <= 0:
        return 1
    return max(1, math.ceil(margin * min_repeat_ms / (run_seconds * 1e3)))


def estimate_run_seconds(rt_mod: Any, device: Any, args: Any, probe_ms: int) -> float:
    """One run's cost: a single call, or the mean over a ``probe_ms`` window if it is faster.

    The single call also warms the program up; a slow program (the costly ones to time)
    pays only that call, a fast one a few milliseconds more.
    """
    func = rt_mod[rt_mod.entry_name]
    start = time.perf_counter()
    func(*args)
    device.sync()
    first = time.perf_counter() - start
    if first * 1e3 >= probe_ms:
        return first
    probe = rt_mod.time_evaluator(rt_mod.entry_name, device, number=1, repeat=1,
                                  min_repeat_ms=probe_ms)
    return float(probe(*args).mean)


def probed_run_evaluator(
    rt_mod: Any,
    device: Any,
    evaluator_config: ms.runner.EvaluatorConfig,
    repeated_args: list[Any],
    probe_ms: int = 2,
) -> list[float]:
    """``LocalRunner``'s ``f_run_evaluator``: MetaSchedule's own, from a probed ``number``."""
    config = evaluator_config
    if config.min_repeat_ms > 0 and probe_ms > 0 and repeated_args:
        estimate = estimate_run_seconds(rt_mod, device, repeated_args[0], probe_ms)
        number = starting_number(estimate, config.min_repeat_ms)
        config = config._replace(number=max(config.number, number))
    return run_evaluator_common(rt_mod, device, config, repeated_args)


def _probed_rpc_run_evaluator(session: Any, *args: Any, probe_ms: int = 2) -> list[float]:
    """``RPCRunner``'s form: the same, after the session it passes first."""
    del session
    return probed_run_evaluator(*args, probe_ms=probe_ms)


def run_evaluator(probe_ms: int, rpc: bool = False) -> Callable[..., list[float]] | None:
    """The ``f_run_evaluator`` for a runner; ``None`` (MetaSchedule's default) when
    ``probe_ms`` is 0.

    Over RPC the single call's time includes the network's round trip, so the estimate is
    high, ``number`` starts low and TVM raises it as without a probe: the windows are
    unchanged either way.
    """
    if probe_ms <= 0:
        return None
    fn = _probed_rpc_run_evaluator if rpc else probed_run_evaluator
    return functools.partial(fn, probe_ms=probe_ms)
