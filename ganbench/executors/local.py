"""In this process, one job after another."""

from __future__ import annotations

from ganbench.executors.base import EXECUTORS, Executor
from ganbench.executors.job import run_job


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """In this process, one job after another; events are handled synchronously (so pruning can answer)."""

    def run(self, jobs, on_event):
        for job in jobs:
            try:
                yield job, run_job(job, on_event)
            except Exception as exc:  # a failing job is reported; KeyboardInterrupt goes up
                yield job, exc
