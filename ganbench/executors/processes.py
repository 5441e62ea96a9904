"""N worker processes on this machine, one GPU each where GPUs exist."""

from __future__ import annotations

import os
import queue as queue_mod
from dataclasses import replace
from typing import Any

from ganbench.executors.base import EXECUTORS, Executor, _drain
from ganbench.executors.job import Job, run_job
from ganbench.train import RunResult

_WORKER_QUEUE: Any = None
_WORKER_GPU_SHARE = 1.0  # 1 / the number of workers given the same GPU


def _init_worker(events: Any, gpus: Any) -> None:
    global _WORKER_QUEUE, _WORKER_GPU_SHARE
    _WORKER_QUEUE = events
    try:
        gpu, sharers = gpus.get_nowait()
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)  # one GPU per worker, before torch touches CUDA
        _WORKER_GPU_SHARE = 1 / sharers
    except queue_mod.Empty:
        pass


def _worker_run(job: Job) -> list[RunResult]:
    return run_job(replace(job, gpu_share=job.gpu_share * _WORKER_GPU_SHARE), _WORKER_QUEUE.put)


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

    def __init__(self, workers: int = 2, retries: int = 2, **_: Any) -> None:
        self.workers, self.retries = workers, retries

    def run(self, jobs, on_event):
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        import torch

        ctx = mp.get_context("spawn")
        attempts = {job.job_id: 0 for job in jobs}
        pending = list(jobs)
        n_gpus = torch.cuda.device_count()
        while pending:
            # a fresh pool and queue per round: a worker killed mid-write may leave the old queue locked
            events, gpus = ctx.Queue(), ctx.Queue()
            for assignment in gpu_assignment(self.workers, n_gpus):
                gpus.put(assignment)
            pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=(events, gpus)
            )
            futures = {pool.submit(_worker_run, job): job for job in pending}
            pending = []
            try:
                while futures:
                    done, _ = wait(list(futures), timeout=0.05, return_when=FIRST_COMPLETED)
                    _drain(events, on_event)
                    for fut in done:
                        job = futures.pop(fut)
                        exc = fut.exception()
                        if isinstance(exc, BrokenProcessPool) and attempts[job.job_id] < self.retries:
                            attempts[job.job_id] += 1
                            pending.append(job)  # resubmitted to a new pool; it resumes from its checkpoint
                        else:
                            _drain(events, on_event)
                            yield job, (exc if exc is not None else fut.result())
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
