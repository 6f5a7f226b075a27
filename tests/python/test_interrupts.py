"""Tests of tpgnn._interrupts: real signals to this process, real tvm-ffi crossings."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from tpgnn._interrupts import keep_keyboard_interrupts_across_ffi, stop_on_signals


def test_first_signal_sets_the_event_second_raises_and_handlers_come_back():
    before = signal.getsignal(signal.SIGINT)
    with stop_on_signals((signal.SIGINT,), "the test") as stop:
        assert signal.getsignal(signal.SIGINT) is not before
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5.0)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            threading.Event().wait(5.0)  # the handler runs in the main thread, here
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_nothing_is_installed():
    seen = {}

    def worker() -> None:
        with stop_on_signals((signal.SIGINT,)) as stop:
            seen["handler"] = signal.getsignal(signal.SIGINT)
            seen["set"] = stop.is_set()

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"handler": before, "set": False}


def test_keyboard_interrupt_crosses_a_tvm_ffi_callback_as_itself():
    import tvm_ffi

    def interrupted() -> None:
        raise KeyboardInterrupt

    keep_keyboard_interrupts_across_ffi()
    callback = tvm_ffi.convert(interrupted)  # a C++ function object calling back into Python
    with pytest.raises(KeyboardInterrupt):
        callback()
