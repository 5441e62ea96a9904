"""Where populations train: in this process (``local``), in N worker processes (``processes``), or as Ray tasks
(``ray``). Workers never write to the stores: they send events (evaluations, results, progress) back to the
driver, which is the only MLflow and Optuna writer, so the default SQLite stores never see two writers.

Every executor yields ``(job, results or exception)`` as jobs end; the driver decides what a failure means.
"""

from __future__ import annotations

import os
import queue as queue_mod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ganbench.config import Member, RunConfig
from ganbench.data import DataOptions
from ganbench.events import EndEvent, EvalEvent, EventSink, NoteEvent, ProgressEvent, StopsEvent
from ganbench.plugins import PluginSource
from ganbench.registry import Registry
from ganbench.train import RunResult, Tracker, Trainer

PLOT_SAMPLES = {"image": 64}  # samples shipped back per evaluation for plots; points: all


@dataclass(frozen=True)
class Job:
    """One population to train: what a worker needs, nothing that holds a store or a model."""

    job_id: int
    config: RunConfig
    members: tuple[Member, ...]
    checkpoints: tuple[Path, ...]
    device: str
    data: DataOptions
    threads: int | None = None  # torch intra-op threads in a worker; None: torch's default
    gpu_share: float = 1.0  # share of its GPU's memory the job may plan for (set where workers share a GPU)
    plugins: tuple[
        PluginSource, ...
    ] = ()  # loaded in the worker before anything else (a no-op in the driver)


class EmitTracker(Tracker):
    """A worker-side tracker: turns the trainer's calls into events for the driver."""

    def __init__(self, job: Job, emit: EventSink, kind: str, index: list[int] | None = None) -> None:
        self.job, self.emit, self.keep = job, emit, PLOT_SAMPLES.get(kind)
        self.index = index or list(range(len(job.members)))  # the job's index of each trainer member

    def on_eval(self, member: int, step: int, metrics: dict[str, float], samples: Any) -> bool:
        shipped = samples[: self.keep] if self.keep else samples
        # numpy, not a tensor: torch would pass a tensor between processes as a shared-memory handle, which
        # dies with a worker that is killed before the driver reads it
        shipped = shipped.detach().float().cpu().numpy()
        return bool(self.emit(EvalEvent("eval", self.job.job_id, self.index[member], step, metrics, shipped)))

    def stops(self, step: int) -> list[int]:
        answer = self.emit(StopsEvent("stops", self.job.job_id, step, list(self.index)))
        back = {k: m for m, k in enumerate(self.index)}  # the job's index -> this trainer's member
        return [back[k] for k in answer or () if k in back]

    def on_end(self, member: int, result: RunResult) -> None:
        self.emit(EndEvent("end", self.job.job_id, self.index[member], result))


_EVALUATORS: dict[tuple[Any, ...], Any] = {}  # per process: real statistics are computed once


def evaluator_for(config: RunConfig, data: DataOptions) -> Any:
    """The evaluator of a run's dataset, built once per process (it holds the real-data statistics)."""
    from ganbench.data import load_dataset
    from ganbench.metrics.evaluate import create_evaluator

    key = (config.dataset, config.eval_samples, data)
    if key not in _EVALUATORS:
        _EVALUATORS[key] = create_evaluator(
            load_dataset(config.dataset, data), eval_samples=config.eval_samples
        )
    return _EVALUATORS[key]


def run_job(job: Job, emit: EventSink) -> list[RunResult]:
    """Train one job's population, reporting through ``emit``. Runs in the driver or in a worker.

    On a GPU the population is first sized to free memory: members that do not fit train afterwards as
    further populations, each member still reported under its index in the job."""
    import torch

    from ganbench.plugins import ensure_all

    ensure_all(job.plugins)
    if job.threads:
        torch.set_num_threads(job.threads)
    evaluator = evaluator_for(job.config, job.data)

    def build(part: list[int]) -> Trainer:
        return Trainer(
            job.config,
            [job.members[k] for k in part],
            device=job.device,
            data=job.data,
            checkpoints=[job.checkpoints[k] for k in part] if job.checkpoints else None,
            tracker=EmitTracker(job, emit, evaluator.dataset.kind, index=part),
            evaluator=evaluator,
            progress=lambda n: emit(ProgressEvent("progress", job.job_id, n)),
        )

    size = _fitting_size(job, evaluator)
    if size < len(job.members):
        emit(
            NoteEvent(
                "note", job.job_id, f"{len(job.members)} members do not fit in GPU memory: {size} at a time"
            )
        )
    results: dict[int, RunResult] = {}
    for part in _parts(job, size):
        results.update(zip(part, build(part).run(), strict=True))
    return [results[k] for k in range(len(job.members))]


def _parts(job: Job, size: int) -> list[list[int]]:
    """The job's members (indices) in populations of at most ``size``, each resuming from one step: a job that
    trained in parts before (and was retried) has members at different checkpoint steps."""
    from ganbench.population import checkpoint_step

    by_step: dict[int, list[int]] = {}
    for k in range(len(job.members)):
        by_step.setdefault(checkpoint_step(job.checkpoints[k] if job.checkpoints else None), []).append(k)
    return [group[i : i + size] for group in by_step.values() for i in range(0, len(group), size)]


def _fitting_size(job: Job, evaluator: Any) -> int:
    """How many of the job's members train at once: all, unless the device is a GPU that cannot hold them."""
    from ganbench import memory
    from ganbench.train import resolve_device

    device = resolve_device(job.device)
    if memory.free_gpu_bytes(device, job.gpu_share) is None or len(job.members) == 1:
        return len(job.members)

    def probe(n: int) -> Trainer:  # no checkpoints, no reports: a probe leaves nothing behind
        return Trainer(job.config, job.members[:1] * n, device=job.device, evaluator=evaluator)

    fixed, per_member = memory.member_bytes((repr(job.config), str(device)), probe, device)
    # read after the probe: what it left allocated for good (the dataset on the device) is not free
    free = memory.free_gpu_bytes(device, job.gpu_share)
    return memory.fit_population(len(job.members), fixed, per_member, free)


class Executor:
    def run(
        self, jobs: list[Job], on_event: EventSink
    ) -> Iterator[tuple[Job, list[RunResult] | BaseException]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """In this process, one job after another; events are handled synchronously (so pruning can answer)."""

    def run(self, jobs, on_event):
        for job in jobs:
            try:
                yield job, run_job(job, on_event)
            except Exception as exc:  # a failing job is reported; KeyboardInterrupt goes up
                yield job, exc


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


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Jobs as Ray tasks on a cluster (``address``; a local one when None). ``gpus_per_job`` may be a fraction
    so several small populations share one GPU. Ray retries tasks whose worker died (``retries``)."""

    def __init__(self, address: str | None = None, workers: int | None = None, gpus_per_job: float = 0.0,
                 retries: int = 1, **_: Any) -> None:  # fmt: skip
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
            ray.init(**kwargs)
        self.gpus_per_job, self.retries = gpus_per_job, retries

    def run(self, jobs, on_event):
        from ray.util.queue import Queue

        ray = self.ray
        events = Queue()

        @ray.remote(max_retries=self.retries)
        def remote_job(job: Job, events: Any) -> list[RunResult]:
            return run_job(job, events.put)

        # a fractional GPU per job: Ray puts several jobs on one GPU, each plans for its fraction of the memory
        share = self.gpus_per_job if 0 < self.gpus_per_job < 1 else 1.0
        refs = {
            remote_job.options(num_gpus=self.gpus_per_job, num_cpus=1).remote(
                replace(job, gpu_share=share), events
            ): job
            for job in jobs
        }
        try:
            while refs:
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


def create_executor(name: str, **options: Any) -> Executor:
    return EXECUTORS.get(name)(**options)
