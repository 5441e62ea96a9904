"""Stop signals while a suite runs: the first SIGINT/SIGTERM finishes the current step, checkpoints and marks
the open runs KILLED; a second stops at once. While ganbench waits on something that is not training (a store
that does not answer), the first signal stops at once: there is nothing to checkpoint."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_WAITING = threading.Event()
_CLOSING = threading.Event()  # the runs of a stopping suite are being marked KILLED (a few store writes)
_ABSORBED = threading.Event()  # a stop signal came while closing, and was let pass


def _on_stop_signal(signum: int, frame: object) -> None:
    from ganbench.train import STOP_REQUESTED

    if _CLOSING.is_set() and not _ABSORBED.is_set():  # the second Ctrl-C came while the stop closes its runs
        _ABSORBED.set()
        print("ganbench: closing the open runs (again to leave them open)", file=sys.stderr)
        return
    if STOP_REQUESTED.is_set() or _WAITING.is_set():
        raise KeyboardInterrupt
    STOP_REQUESTED.set()
    print("ganbench: stopping after the current step (again to stop at once)", file=sys.stderr)


@contextmanager
def stop_signals() -> Iterator[None]:
    """Install the handlers for the block (main thread only; elsewhere signals stay as they are), clearing any
    stop request left from an earlier run in this process, and restore the previous handlers after."""
    from ganbench.train import STOP_REQUESTED

    STOP_REQUESTED.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _on_stop_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def waiting() -> Iterator[None]:
    """A wait (a network probe) that the first stop signal ends at once with KeyboardInterrupt."""
    _WAITING.set()
    try:
        yield
    finally:
        _WAITING.clear()


@contextmanager
def closing_records() -> Iterator[None]:
    """Marking the runs of a stopping suite KILLED: one stop signal in the block does not interrupt it (a second
    Ctrl-C right after the first would otherwise leave runs RUNNING); another one does (a store that hangs)."""
    nested = _CLOSING.is_set()
    _CLOSING.set()
    try:
        yield
    finally:
        if not nested:
            _CLOSING.clear()
            _ABSORBED.clear()


def exit_on_stop_signal(code: int) -> None:
    """The process is ending (its stop was handled): a further SIGINT/SIGTERM, while Python joins the worker
    pool's threads at exit, ends it at once with ``code`` instead of a KeyboardInterrupt traceback."""
    import os

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: os._exit(code))


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def blocked_for_children() -> Iterator[None]:
    """Processes started in the block begin with SIGINT and SIGTERM blocked (a signal mask survives fork and
    exec): a Ctrl-C to the group while a worker still imports torch waits in it, and the worker discards it when
    it leaves the group (:func:`leave_the_group`). This process keeps its handlers: a stop signal that comes
    while workers start waits until the block ends, or is taken by another of its threads and handled all the
    same; it is not lost, as it was while the driver ignored signals for that moment (main thread only;
    elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def leave_the_group() -> None:
    """In a worker started by :func:`blocked_for_children`: ignore SIGINT (stopping is the driver's), leave the
    driver's process group, let a SIGTERM sent to this process itself end it, and only then unblock the stop
    signals. A signal sent to the group while the worker started was meant for the driver: setting a signal to
    SIG_IGN discards it even while it is blocked and pending."""
    import contextlib
    import os

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setpgrp()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # discards a pending group SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


PARENT_POLL_S = 0.5  # how often a worker checks that its driver still lives (and whether it asked to stop)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``), so a driver killed with
    SIGKILL leaves no worker behind; elsewhere a no-op (:func:`watch_parent` covers it)."""
    import ctypes
    import signal as sig
    import sys as _sys

    if not _sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def watch_parent(parent: int, stop: Any = None) -> None:
    """In a daemon thread: exit at once when the parent (the driver) is gone, and set this process's stop
    request (the trainer's, checked between steps) when the driver sets ``stop`` (a multiprocessing Event)."""
    import os
    import time

    from ganbench.train import STOP_REQUESTED

    def watch() -> None:
        while True:
            if os.getppid() != parent:  # reparented: the driver died without telling us
                os._exit(1)
            if stop is not None and stop.is_set():
                STOP_REQUESTED.set()
            if stop is not None and not STOP_REQUESTED.is_set():
                stop.wait(PARENT_POLL_S)  # wakes at once when the driver asks
            else:
                time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="ganbench-parent-watch", daemon=True).start()
