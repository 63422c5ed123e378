"""Ctrl-C in a worker: acted on between units of work, once."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["interrupt_once", "interrupted", "interrupts_deferred", "interrupts_noticed"]

_received = threading.Event()


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """SIGINT inside the block is acted on when the block ends (by the handler that was in
    place), so the block is never cut in half. Only where signals can be handled: the main
    thread, with a Python-level handler."""
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        previous(signal.SIGINT, None)


def interrupt_once() -> None:
    """The first SIGINT raises KeyboardInterrupt; later ones (the terminal's and the parent's
    forwarded copy) are ignored so the clean-up is not interrupted."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _received.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def interrupts_noticed() -> Iterator[None]:
    """In this block (a study run in this very process), SIGINT raises KeyboardInterrupt as usual
    and is also remembered for :func:`interrupted`, so a KeyboardInterrupt that a destructor
    swallowed still stops the loop before its next unit of work."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        _received.set()
        raise KeyboardInterrupt

    _received.clear()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _received.clear()


def interrupted() -> bool:
    """Whether the SIGINT of :func:`interrupt_once` or :func:`interrupts_noticed` arrived. Its
    KeyboardInterrupt can be lost: raised inside a destructor (XGBoost's ``DMatrix.__del__``),
    Python prints "Exception ignored" and carries on; a loop over units of work checks this
    before taking the next one."""
    return _received.is_set()
