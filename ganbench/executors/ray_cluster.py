"""Jobs as Ray tasks on a cluster (a local one by default)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from typing import Any

from ganbench.executors.base import EXECUTORS, Executor, _drain
from ganbench.executors.job import Job, job_cost, run_job
from ganbench.train import STOP_REQUESTED, Interrupted, RunResult


@contextlib.contextmanager
def _keeping_stop_handlers():
    """``ray.init`` installs Ray's own SIGTERM handler in the driver (it logs and aborts, exit -6): ganbench's
    stop handlers (finish the step, checkpoint, mark the runs KILLED, exit 130) are put back after it."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Jobs as Ray tasks on a cluster (``address``; a local one when None). ``gpus_per_job`` may be a fraction
    so several small populations share one GPU. Ray retries tasks whose worker died (``retries``)."""

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        gpus_per_job: float = 0.0,
        retries: int = 1,
        **_: Any,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ImportError("the ray executor needs Ray: pip install 'ganbench[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            else:  # a local cluster: its services listen on loopback only
                kwargs["num_cpus"] = workers or os.cpu_count()
                kwargs["_node_ip_address"] = "127.0.0.1"
            with _keeping_stop_handlers():
                ray.init(**kwargs)
        self.gpus_per_job, self.retries = gpus_per_job, retries

    def run(self, jobs, on_event):
        from ray.util.queue import Queue

        ray = self.ray
        events = Queue()

        @ray.remote(max_retries=self.retries)
        def remote_job(job: Job, events: Any) -> list[RunResult]:
            # Ray's Queue.put blocks until the queue's actor holds the event, so every event of a task is there
            # before its result: draining after ray.wait sees them all (no job-done marker needed, unlike
            # worker processes, whose queue is flushed by a thread)
            return run_job(job, events.put)

        # a fractional GPU per job: Ray puts several jobs on one GPU, each plans for its fraction of the memory
        share = self.gpus_per_job if 0 < self.gpus_per_job < 1 else 1.0
        refs = {
            remote_job.options(num_gpus=self.gpus_per_job, num_cpus=1).remote(
                replace(job, gpu_share=share), events
            ): job
            for job in sorted(jobs, key=job_cost, reverse=True)  # the costliest first
        }
        try:
            while refs:
                if STOP_REQUESTED.is_set():  # a stop signal: no task starts or goes on; checkpoints stay
                    for ref in refs:
                        ray.cancel(ref)
                    raise Interrupted("stopped on request")
                done, _ = ray.wait(list(refs), num_returns=1, timeout=0.05)
                _drain(events, on_event)
                for ref in done:
                    job = refs.pop(ref)
                    try:
                        result: Any = ray.get(ref)
                    except Exception as exc:  # RayTaskError wraps the job's own exception
                        result = getattr(exc, "cause", None) or exc
                    _drain(events, on_event)
                    yield job, result
        finally:
            events.shutdown()

    def close(self) -> None:
        self.ray.shutdown()
