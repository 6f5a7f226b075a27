"""Ctrl-C in the long jobs: stop at the next safe point, and stay a Ctrl-C through TVM's C++."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)


def keep_keyboard_interrupts_across_ffi() -> None:
    """Make tvm-ffi carry ``KeyboardInterrupt`` through C++ frames as itself.

    A signal handler runs in Python code, and during tuning or collection that code is
    usually a callback TVM's C++ made (the builder, the runner, a cost model). tvm-ffi turns an
    exception it has no name for into a ``RuntimeError`` on the way back, so an interrupt
    came out as a ``RuntimeError`` traceback that ``except KeyboardInterrupt`` never sees.
    Registering the name is global and idempotent.
    """
    from tvm_ffi.error import register_error

    register_error("KeyboardInterrupt", KeyboardInterrupt)


@contextmanager
def stop_on_signals(
    signals: Sequence[signal.Signals] = (signal.SIGINT,), step: str = "the step in progress"
) -> Iterator[threading.Event]:
    """Within the block, the first of ``signals`` sets the yielded event; a second one raises
    ``KeyboardInterrupt`` at once. The previous handlers come back on exit.

    A ``KeyboardInterrupt`` raised wherever the main thread happens to be can land inside
    TVM's C++ tuning loop, which then dies in ``std::terminate`` (a segfault, measured on
    ``tpgnn tune``). The long jobs instead poll the event at a point of their own (after a
    batch, after a measurement round) and stop there cleanly. Outside the main thread, where
    Python allows no handlers, the event is yielded and never set.
    """
    keep_keyboard_interrupts_across_ffi()
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logger.warning(
            "%s: stopping after %s (send it again to stop at once)",
            signal.Signals(signum).name, step,
        )
        stop.set()

    previous = {s: signal.getsignal(s) for s in signals}
    for s in signals:
        signal.signal(s, request_stop)
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
