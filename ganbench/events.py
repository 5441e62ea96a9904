"""What a population's job reports to the driver while it trains (through the executor's queue).

Each event is a typed, picklable named tuple whose first field is its kind, so the driver dispatches on the
type (``match``) and a log or a test can still read it as a plain tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple


class EvalEvent(NamedTuple):
    """A member's evaluation; the driver's answer (True) stops that member (a pruned trial)."""

    kind: Literal["eval"]
    job_id: int
    member: int  # the member's index in its job
    step: int
    metrics: dict[str, float]
    samples: Any  # numpy array of samples for plots


class StopsEvent(NamedTuple):
    """After a population's evaluation at ``step``: the driver answers which of ``members`` stop.

    A worker process that waits for the answer names its reply queue (``reply_to``); the driver puts the answer
    there. Without one (the driver's own jobs get the answer as the sink's return value; Ray workers get none)
    the members train on and the driver ignores their later evaluations."""

    kind: Literal["stops"]
    job_id: int
    step: int
    members: list[int]
    reply_to: int | None = None


class EndEvent(NamedTuple):
    kind: Literal["end"]
    job_id: int
    member: int
    result: Any  # RunResult


class ProgressEvent(NamedTuple):
    kind: Literal["progress"]
    job_id: int
    steps: int  # model steps done since the last progress event


class NoteEvent(NamedTuple):
    kind: Literal["note"]
    job_id: int
    text: str


Event = EvalEvent | StopsEvent | EndEvent | ProgressEvent | NoteEvent
EventSink = Callable[[Event], Any]
