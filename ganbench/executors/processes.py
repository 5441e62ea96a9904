"""N worker processes on this machine, one GPU each where GPUs exist."""

from __future__ import annotations

import contextlib
import os
import queue as queue_mod
import time
from dataclasses import replace
from typing import Any, NamedTuple

from ganbench.defaults import DEFAULT_WORKERS
from ganbench.events import Event, StopsEvent
from ganbench.executors.base import EXECUTORS, Executor, _drain
from ganbench.executors.job import Job, job_cost, run_job
from ganbench.signals import blocked_for_children
from ganbench.train import STOP_REQUESTED, Interrupted, RunResult

_WORKER_QUEUE: Any = None
_WORKER_REPLIES: Any = None  # this worker's queue for the driver's answers (which members the pruner stops)
_WORKER_ID: int | None = None
_WORKER_PARENT = 0  # the driver's pid: a worker waiting for an answer gives up when the driver is gone
_WORKER_GPU_SHARE = 1.0  # 1 / the number of workers given the same GPU
REPLY_POLL_S = 1.0  # how often a waiting worker checks that the driver still lives
# how long the driver waits for a finished job's last events (a worker that died sends none)
JOB_DONE_WAIT_S = 10.0


class _JobDone(NamedTuple):
    """The last thing a worker puts on the events queue for a job, after all of the job's events. The job's
    result travels through another pipe (the pool's), so without it a job's last events (its EndEvents) could
    reach the driver after the result: the driver waits for this marker before it hands the result on. Internal
    to this executor: never passed to ``on_event``."""

    kind: str
    job_id: int


def _init_worker(events: Any, gpus: Any, ids: Any, replies: list[Any], stop: Any = None) -> None:
    global _WORKER_QUEUE, _WORKER_REPLIES, _WORKER_ID, _WORKER_PARENT, _WORKER_GPU_SHARE
    _WORKER_QUEUE, _WORKER_PARENT = events, os.getppid()
    _leave_stopping_to_the_driver(stop)
    # a worker leaving (the pool shut down) does not wait for its unsent events to be read: a driver that stopped
    # reading (it raised) would otherwise wait forever for the worker, which waits for a full pipe to drain
    events.cancel_join_thread()
    # more workers than reply queues is never expected; such a worker would train pruned trials on
    try:
        _WORKER_ID = ids.get(timeout=10)
        _WORKER_REPLIES = replies[_WORKER_ID]
    except queue_mod.Empty:
        _WORKER_ID = _WORKER_REPLIES = None
    try:
        gpu, sharers = gpus.get_nowait()
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)  # one GPU per worker, before torch touches CUDA
        _WORKER_GPU_SHARE = 1 / sharers
    except queue_mod.Empty:
        pass


def _leave_stopping_to_the_driver(stop: Any) -> None:
    """A worker stops when its driver says so (``stop``, set on the driver's first stop signal): it finishes its
    step, checkpoints and raises :class:`Interrupted`, as the driver's own jobs do. Signals meant for the suite
    (Ctrl-C or SIGTERM to the process group) therefore reach the driver alone: the worker leaves the group and
    ignores SIGINT, so it never dies mid-step with a KeyboardInterrupt traceback (it started with both signals
    blocked: :func:`blocked_for_children`). SIGTERM sent to the worker itself, once it left the group, ends it
    (the pool ends its workers so). It dies with the driver, even a SIGKILLed one."""
    from ganbench.signals import die_with_parent, leave_the_group, watch_parent

    leave_the_group()
    die_with_parent()
    if os.getppid() != _WORKER_PARENT:  # the driver died before the line above took effect
        os._exit(1)
    watch_parent(_WORKER_PARENT, stop)


def _worker_emit(event: Event) -> Any:
    """Send an event to the driver; a :class:`StopsEvent` waits for the answer, so that members the pruner
    stops are dropped here as in the driver's own jobs (and the population's decisions are the same)."""
    if not isinstance(event, StopsEvent) or _WORKER_ID is None:
        _WORKER_QUEUE.put(event)
        return None
    _WORKER_QUEUE.put(event._replace(reply_to=_WORKER_ID))
    while True:
        try:
            answer = _WORKER_REPLIES.get(timeout=REPLY_POLL_S)
        except queue_mod.Empty:
            if os.getppid() != _WORKER_PARENT:  # the driver died: nobody will answer
                raise SystemExit("the driver process is gone") from None
            continue
        if answer is None:  # the driver is leaving this round (it raised): stop here
            raise SystemExit("the driver stopped this round")
        return answer


def _worker_run(job: Job, runner: Any = run_job) -> list[RunResult]:
    try:
        if STOP_REQUESTED.is_set():  # queued before the driver asked to stop: it does not start
            raise Interrupted("stopped before the job started")
        return runner(replace(job, gpu_share=job.gpu_share * _WORKER_GPU_SHARE), _worker_emit)
    finally:  # after every event of the job, on the same queue: the driver knows it has them all
        _WORKER_QUEUE.put(_JobDone("job_done", job.job_id))


class _Events:
    """The driver's side of the events queue: handles events, and notes the jobs whose last event came."""

    def __init__(self, events: Any, on_event: Any, replies: list[Any]) -> None:
        self.events, self.on_event, self.replies = events, on_event, replies
        self.done: set[int] = set()

    def _handle(self, event: Any) -> Any:
        if isinstance(event, _JobDone):
            self.done.add(event.job_id)
            return None
        return self.on_event(event)

    def drain(self) -> None:
        _drain(self.events, self._handle, self.replies)

    def await_job(self, job_id: int, timeout: float = JOB_DONE_WAIT_S) -> None:
        """Handle events until the job's marker came (bounded: a worker that died never sends it)."""
        deadline = time.monotonic() + timeout
        self.drain()
        while job_id not in self.done and time.monotonic() < deadline:
            time.sleep(0.005)
            self.drain()
        self.done.discard(job_id)


def gpu_assignment(workers: int, n_gpus: int) -> list[tuple[int, int]]:
    """``(gpu, workers on that gpu)`` for each worker: GPUs dealt round-robin."""
    if n_gpus == 0:
        return []
    gpus = [w % n_gpus for w in range(workers)]
    return [(g, gpus.count(g)) for g in gpus]


@EXECUTORS.register("processes")
class ProcessExecutor(Executor):
    """N worker processes on this machine (spawned: no state shared with the driver), one GPU each where
    GPUs exist. A worker that dies takes its job with it: the job is retried (from its checkpoint) up to
    ``retries`` times, then reported failed."""

    def __init__(self, workers: int = DEFAULT_WORKERS, retries: int = 2, job_runner: Any = run_job, **_: Any) -> None:
        # job_runner: a module-level function (a worker imports it by name); tests give a lighter one
        self.workers, self.retries, self.job_runner = workers, retries, job_runner

    def run(self, jobs, on_event):
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        import torch

        ctx = mp.get_context("spawn")
        attempts = {job.job_id: 0 for job in jobs}
        pending = sorted(jobs, key=job_cost, reverse=True)  # the costliest first
        n_gpus = torch.cuda.device_count()
        stopped = False  # some job did not run to its end because a stop was asked
        while pending and not (stopped := stopped or STOP_REQUESTED.is_set()):
            # a fresh pool and queue per round: a worker killed mid-write may leave the old queue locked
            events, gpus, ids, stop = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Event()
            replies = [ctx.Queue() for _ in range(self.workers)]  # one per worker: answers to its StopsEvents
            for assignment in gpu_assignment(self.workers, n_gpus):
                gpus.put(assignment)
            for worker in range(self.workers):
                ids.put(worker)
            pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=(events, gpus, ids, replies, stop)
            )
            with blocked_for_children():  # submit starts the workers
                futures = {pool.submit(_worker_run, job, self.job_runner): job for job in pending}
            pending = []
            inbox = _Events(events, on_event, replies)
            ended = False
            try:
                while futures:
                    if STOP_REQUESTED.is_set() and not stop.is_set():
                        stop.set()  # each worker finishes its step, checkpoints and stops
                        # nothing new starts (a job already handed to a worker stops at once); the pool cancels
                        # them itself (a future cancelled here breaks the pool's own clean-up if a worker dies)
                        pool.shutdown(wait=False, cancel_futures=True)
                    done, _ = wait(list(futures), timeout=0.05, return_when=FIRST_COMPLETED)
                    done |= {fut for fut in futures if fut.cancelled()}  # wait() never counts them done
                    inbox.drain()
                    for fut in done:
                        job = futures.pop(fut)
                        exc = None if fut.cancelled() else fut.exception()
                        broken = isinstance(exc, BrokenProcessPool)
                        halted = isinstance(exc, KeyboardInterrupt) or (broken and stop.is_set())
                        if fut.cancelled() or halted:
                            stopped = True  # its runs stay open: the driver marks them killed
                            if isinstance(exc, KeyboardInterrupt):
                                inbox.await_job(job.job_id)
                        elif broken and attempts[job.job_id] < self.retries:
                            attempts[job.job_id] += 1
                            pending.append(job)  # resubmitted to a new pool; it resumes from its checkpoint
                        else:
                            if not broken:  # a dead worker sends no marker
                                inbox.await_job(job.job_id)
                            yield job, (exc if exc is not None else fut.result())
                ended = True
            finally:
                for reply in replies:  # a worker still waiting for an answer must not hold up the shutdown
                    reply.put(None)
                # the driver is leaving now (a second stop signal, an error): so are the workers
                if not ended:
                    stop.set()
                    _kill_workers(pool)
                pool.shutdown(wait=True, cancel_futures=True)
        if stopped:
            raise Interrupted("stopped on request")


def _kill_workers(pool: Any) -> None:
    """SIGKILL a pool's workers: ``shutdown`` would wait for their jobs to end. Their checkpoints are whole
    (written to a temporary file, then renamed), so a rerun resumes them."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.kill()
