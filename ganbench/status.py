"""The one set of run statuses: what a run's ``ganbench.status`` tag, a ``RunResult`` and an Optuna trial's
``ganbench.status`` attribute say. A ``Status`` is a ``str``, so tags written before it existed still compare."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    RUNNING = "running"
    FINISHED = "finished"  # trained to the end
    DIVERGED = "diverged"  # NaN/inf or an exploding loss: a result, counted in the table
    PRUNED = "pruned"  # a tuning trial stopped early by the pruner: a result for the study
    FAILED = "failed"  # raised: not a result
    KILLED = "killed"  # stopped (a signal, a crash): not a result, resumed by a rerun

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __hash__(self) -> int:  # as the plain string: "finished" in DONE holds on every Python version
        return str.__hash__(self.value)


DONE = frozenset({Status.FINISHED, Status.DIVERGED, Status.PRUNED})  # runs that are results
DONE_VALUES = tuple(sorted(s.value for s in DONE))  # the same, as the plain strings tags and frames hold
