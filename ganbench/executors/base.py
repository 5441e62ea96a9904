"""The executor interface and registry; draining a queue of worker events."""

from __future__ import annotations

import queue as queue_mod
from collections.abc import Callable, Iterator
from typing import Any

from ganbench.events import EventSink
from ganbench.executors.job import Job
from ganbench.registry import Registry
from ganbench.train import RunResult


class Executor:
    def run(
        self, jobs: list[Job], on_event: EventSink
    ) -> Iterator[tuple[Job, list[RunResult] | BaseException]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")


def _drain(events: Any, on_event: EventSink) -> None:
    """Handle every event waiting in ``events`` (a multiprocessing or Ray queue), without blocking."""
    while True:
        try:
            event = events.get_nowait()
        except queue_mod.Empty:  # Ray's Empty derives from it too
            return
        except (OSError, EOFError):  # half an event from a worker that died: its job reruns from a checkpoint
            continue
        on_event(event)
