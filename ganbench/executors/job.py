"""A job: one population to train, as a worker receives it; running it and reporting through events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.config import Member, RunConfig
from ganbench.data import DataOptions
from ganbench.events import EndEvent, EvalEvent, EventSink, NoteEvent, ProgressEvent, StopsEvent
from ganbench.plugins import PluginSource
from ganbench.strategies import d_steps
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
    plugins: tuple[PluginSource, ...] = ()  # loaded in the worker before anything else (a no-op in the driver)


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


def job_cost(job: Job) -> int:
    """A job's work in network passes, roughly: members x steps x (D steps + the G step). Parallel executors
    start the costliest jobs first (longest processing time first), so no worker is left with a long job at
    the end while the others idle: in the ``losses`` suite a population with 5 D steps costs 3-7x one with 1."""
    return len(job.members) * job.config.steps * (d_steps(job.config) + 1)


_EVALUATORS: dict[tuple[Any, ...], Any] = {}  # per process: real statistics are computed once


def evaluator_for(config: RunConfig, data: DataOptions) -> Any:
    """The evaluator of a run's dataset, built once per process (it holds the real-data statistics)."""
    from ganbench.data import load_dataset
    from ganbench.metrics.evaluate import create_evaluator

    key = (config.dataset, config.eval_samples, data)
    if key not in _EVALUATORS:
        _EVALUATORS[key] = create_evaluator(load_dataset(config.dataset, data), eval_samples=config.eval_samples)
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
        emit(NoteEvent("note", job.job_id, f"{len(job.members)} members do not fit in memory: {size} at a time"))
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
    """How many of the job's members train at once: all, unless the memory they train in (the GPU's, or the
    host's RAM on a CPU) cannot hold them."""
    from ganbench import memory
    from ganbench.train import resolve_device

    device = resolve_device(job.device)
    if len(job.members) == 1:
        return 1
    # no checkpoints, no reports: a probe leaves nothing behind. It runs eager: compiling a probe of each size would
    # cost more than it saves. What a compiled step holds beyond eager (CUDA graphs' own pool) is not measured;
    # the fit leaves 20 % of the free memory unplanned (memory.GPU_HEADROOM), and an OOM still splits the job
    eager = dataclasses.replace(job.config, compile="none")
    if memory.free_gpu_bytes(device, job.gpu_share) is None:
        if device.type != "cpu":
            return len(job.members)
        try:
            per_member = host_bytes(eager, job.members[0], evaluator)
        except Exception:  # noqa: BLE001 - the population itself then raises it, and its runs record it
            return len(job.members)
        fits = memory.fit_host(len(job.members), per_member, memory.host_available_bytes())
        return max(fits, 1)  # the start-up refused a run of which no member fits; an OOM still splits the job

    def probe(n: int) -> Trainer:
        return Trainer(eager, job.members[:1] * n, device=job.device, evaluator=evaluator)

    fixed, per_member = memory.member_bytes((repr(job.config), str(device)), probe, device)
    # read after the probe: what it left allocated for good (the dataset on the device) is not free
    free = memory.free_gpu_bytes(device, job.gpu_share)
    return memory.fit_population(len(job.members), fixed, per_member, free)


_HOST_BYTES: dict[str, int] = {}


def host_bytes(config: RunConfig, member: Member, evaluator: Any) -> int:
    """RAM one member of ``config`` needs on the CPU (``memory.host_member_bytes``), measured once per config
    and process. The probe trains on copies of ``member`` at small batches and records nothing."""
    from ganbench import memory
    from ganbench.train import Trainer as Probe  # not this module's name, which tests spy on for real jobs

    key = repr(config)
    if key not in _HOST_BYTES:
        probe_member = dataclasses.replace(member, config=None)
        _HOST_BYTES[key] = memory.host_member_bytes(
            lambda c: Probe(c, [probe_member], device="cpu", evaluator=evaluator), member.run_config(config)
        )
    return _HOST_BYTES[key]
