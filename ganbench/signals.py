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


def _on_stop_signal(signum: int, frame: object) -> None:
    from ganbench.train import STOP_REQUESTED

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
