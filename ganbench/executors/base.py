"""The executor interface and registry; draining a queue of worker events."""

from __future__ import annotations

import queue as queue_mod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ganbench.events import EventSink, StopsEvent
from ganbench.executors.job import Job
from ganbench.registry import Registry
from ganbench.train import RunResult


class Executor:
    def run(self, jobs: list[Job], on_event: EventSink) -> Iterator[tuple[Job, list[RunResult] | BaseException]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")


def _drain(events: Any, on_event: EventSink, replies: Sequence[Any] = ()) -> None:
    """Handle every event waiting in ``events`` (a multiprocessing or Ray queue), without blocking. The answer
    to an event that names a reply queue (a worker waiting for the pruner, :class:`StopsEvent`) is put on
    ``replies[reply_to]``."""
    while True:
        try:
            event = events.get_nowait()
        except queue_mod.Empty:  # Ray's Empty derives from it too
            return
        except (OSError, EOFError):  # half an event from a worker that died: its job reruns from a checkpoint
            continue
        answer = on_event(event)
        if isinstance(event, StopsEvent) and event.reply_to is not None:
            replies[event.reply_to].put(list(answer or ()))
