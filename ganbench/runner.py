"""Phases of a suite: plan the jobs, skip what the store says is done, train the rest as populations.

A contender is (loss, strategy, dataset). The final phase trains every contender on every seed with its
learning rates (the strategy's, the suite's, or the tuned ones); seeds of one contender are trained together as
one population (``population_size`` members at most), each member still its own MLflow run and checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import torch

from ganbench import plugins
from ganbench.config import Member, RunConfig
from ganbench.data import DataOptions
from ganbench.errors import DiskFull, StoreError
from ganbench.events import EndEvent, EvalEvent, Event, NoteEvent, ProgressEvent, StopsEvent
from ganbench.executors import Executor, Job, LocalExecutor, create_executor, evaluator_for
from ganbench.final import final_phase, log_real_scores
from ganbench.memory import is_oom, release_after_oom
from ganbench.plan import Contender, Planned, RunOptions, contenders
from ganbench.progress import Progress
from ganbench.provenance import describe_parent
from ganbench.recording import MLflowTracker, run_params
from ganbench.signals import closing_records
from ganbench.status import Status
from ganbench.stores import sqlite_locks
from ganbench.suite import Suite
from ganbench.tracking import (
    TAG_CONTENDER,
    TAG_LOSS_LABEL,
    TAG_PHASE,
    TAG_REPLICATE,
    MLflowStore,
    default_tracking_uri,
    experiment_name,
    sqlite_url,
)
from ganbench.train import RunResult, Tracker


class Runner:
    """Holds the suite, the stores and the parent run; trains populations and records them."""

    def __init__(self, suite: Suite, options: RunOptions) -> None:
        self.suite, self.options = suite, options
        self.out_dir = options.out_dir
        self.out_dir.mkdir(parents=True, exist_ok=True)  # checked writable at start-up (startup.check_startup)
        uri = options.tracking_uri or default_tracking_uri(self.out_dir)
        optuna = options.optuna_storage or sqlite_url(self.out_dir / "optuna.db")
        if uri.startswith("sqlite:") or optuna.startswith("sqlite:"):
            self._lock = sqlite_locks(self.out_dir, [uri, optuna])
        self.store = MLflowStore(uri, experiment_name(suite.name), artifact_dir=self.out_dir / "mlartifacts")
        self.parent = self.store.parent_run(suite.name, suite.key(), {"ganbench.suite": suite.name})
        describe_parent(self.store, self.parent, suite)  # its settings, suite.yaml, version and commit
        self.progress = Progress(enabled=options.show_progress)
        self.local_executor = LocalExecutor()
        self.executor = (
            self.local_executor
            if options.executor == "local"
            else create_executor(
                options.executor,
                workers=options.workers,
                address=options.ray_address,
                gpus_per_job=options.gpus_per_job,
            )
        )

    # ------------------------------------------------------------------------------------ building blocks
    def checkpoint_path(self, key: str) -> Path:
        return self.out_dir / "checkpoints" / f"{key}.pt"

    def evaluator(self, config: RunConfig) -> Any:
        """The run's evaluator, shared with the jobs this process trains (one per dataset and sample count)."""
        return evaluator_for(config, self._data_options(config))

    def _data_options(self, config: RunConfig) -> DataOptions:
        return dataclasses.replace(self.options.data, image_size=config.image_size)

    def execute(self, planned: list[Planned], executor: Executor | None = None) -> list[list[RunResult]]:
        """Run populations on an executor; the driver (this process) alone writes to MLflow."""
        executor = executor or self.executor
        jobs, trackers, run_ids, names = [], {}, {}, {}
        for job_id, p in enumerate(planned):
            parents = p.parents or [self.parent] * len(p.members)
            tags = p.tags or [{} for _ in p.members]
            ids = [
                self._child(parent, p.config, m, p.contender, t)
                for m, t, parent in zip(p.members, tags, parents, strict=True)
            ]
            dataset = self.evaluator(p.config).dataset
            trackers[job_id] = (
                p.tracker.attach(self.store, ids, dataset)
                if p.tracker is not None
                else MLflowTracker(self.store, ids, dataset)
            )
            run_ids[job_id] = ids
            jobs.append(self._job(job_id, p.config, p.members))
            names[job_id] = f"{p.contender.name} ({len(p.members)} run{'s' * (len(p.members) > 1)})"
        results: dict[int, list[RunResult]] = {}
        open_jobs = set(run_ids)
        shown: list[int] = []
        # results already recorded, by (job, member): a job trained in parts (GPU memory) ends some members
        # before the others, and a failure or stop later in the job must leave those as they are
        ended: dict[tuple[int, int], RunResult] = {}
        try:
            for job, outcome in executor.run(jobs, lambda ev: self._on_event(ev, trackers, names, shown, ended)):
                open_jobs.discard(job.job_id)
                if isinstance(outcome, (StoreError, DiskFull)):  # nothing more can be recorded: stop the suite
                    open_jobs.add(job.job_id)
                    raise outcome
                if isinstance(outcome, BaseException):
                    outcome = self._recover(planned[job.job_id], job, outcome, run_ids[job.job_id], ended, executor)
                results[job.job_id] = outcome
        except BaseException:
            with closing_records():
                for job_id in open_jobs:
                    for member, run_id in enumerate(run_ids[job_id]):
                        if (job_id, member) not in ended:  # best effort: the store may be what failed
                            with contextlib.suppress(Exception):
                                self.store.finish(run_id, Status.KILLED)
            raise
        return [results[j.job_id] for j in jobs]

    def _recover(
        self,
        p: Planned,
        job: Job,
        exc: BaseException,
        run_ids: list[str],
        ended: dict[tuple[int, int], RunResult],
        executor: Executor,
    ) -> list[RunResult]:
        """A job raised: members that ended keep their results; out of memory retries the others as two
        smaller populations (each resumes its checkpoint); any other error marks the others failed."""
        todo = [k for k in range(len(p.members)) if (job.job_id, k) not in ended]
        out: dict[int, RunResult] = {k: ended[(job.job_id, k)] for k in range(len(p.members)) if k not in todo}
        if is_oom(exc) and len(todo) > 1:
            release_after_oom(exc)
            self.progress.note(f"out of memory with {len(todo)} members: retrying as two populations")
            halves = [todo[: len(todo) // 2], todo[len(todo) // 2 :]]
            parts = self.execute([_part(p, half) for half in halves], executor=executor)
            for half, part in zip(halves, parts, strict=True):
                out.update(zip(half, part, strict=True))
        else:
            failed = self._failed(job, exc, [run_ids[k] for k in todo])
            out.update(zip(todo, failed, strict=True))
        return [out[k] for k in range(len(p.members))]

    def _child(self, parent: str, config: RunConfig, m: Member, contender: Contender, tags: dict[str, str]) -> str:
        member_tags = {
            TAG_PHASE: m.phase,
            TAG_CONTENDER: contender.name,
            TAG_LOSS_LABEL: contender.loss.display,
            **tags,
        }
        label = f"seed={m.seed}" if m.phase == "final" else f"trial={tags.get('ganbench.trial', '?')} seed={m.seed}"
        if self.suite.replicates > 1:
            label = f"r{tags.get(TAG_REPLICATE, '0')} {label}"
        evaluator = self.evaluator(config)
        protocol = {f"eval.{k}": v for k, v in evaluator.protocol().items()}
        # where the data came from (source, split, seed, size): logged, so two stores can be compared
        protocol |= {f"data.{k}": v for k, v in (getattr(evaluator.dataset, "protocol", None) or {}).items()}
        params = {**run_params(config, m, contender.name), **protocol}
        return self.store.child_run(parent, m.key(config), f"{contender.name} {label}", params, member_tags)

    def _job(self, job_id: int, config: RunConfig, members: list[Member]) -> Job:
        checkpoints = tuple(self.checkpoint_path(m.key(config)) for m in members)
        data = self._data_options(config)
        return Job(
            job_id,
            config,
            tuple(members),
            checkpoints,
            self.options.device,
            data,
            self.options.worker_threads,
            plugins=plugins.loaded(),
        )

    def _on_event(
        self,
        event: Event,
        trackers: dict[int, Tracker],
        names: dict[int, str],
        shown: list[int],
        ended: dict[tuple[int, int], RunResult],
    ) -> Any:
        match event:
            case EvalEvent():
                return trackers[event.job_id].on_eval(
                    event.member, event.step, event.metrics, torch.tensor(event.samples)
                )
            case StopsEvent():
                return trackers[event.job_id].stops(event.step)  # the worker keeps the members of its part
            case EndEvent():
                ended[(event.job_id, event.member)] = event.result
                return trackers[event.job_id].on_end(event.member, event.result)
            case ProgressEvent():
                if shown[-1:] != [event.job_id]:  # which run is going
                    shown.append(event.job_id)
                    self.progress.describe(names[event.job_id])
                self.progress.advance(event.steps)
            case NoteEvent():
                self.progress.note(f"{names[event.job_id]}: {event.text}")
        return None

    def _failed(self, job: Job, exc: BaseException, run_ids: list[str]) -> list[RunResult]:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        for run_id in run_ids:
            self.store.log(run_id, tags={"ganbench.error": reason})
            self.store.finish(run_id, Status.FAILED)
        self.progress.note(f"[red]failed[/red] {job.config.loss}/{job.config.dataset}: {reason}")
        return [RunResult(Status.FAILED, 0, {}) for _ in run_ids]

    # ------------------------------------------------------------------------------------ phases
    def run(self, phases: tuple[str, ...]) -> None:
        """The phases decided at start-up (``startup.decide_phases``), in order: ``("tune", "final")``,
        ``("final",)`` (a suite without tuning) or ``("tune",)`` (``ganbench tune``)."""
        hypers = None
        if "final" in phases:
            log_real_scores(self)
            # the final phase's steps, for the suite's ETA while tuning runs (its own total replaces this)
            final_steps = len(contenders(self.suite)) * self.suite.replicates * len(self.suite.seed_list)
            self.progress.expect("final", final_steps * self.suite.steps)
        if "tune" in phases:
            from ganbench.tuning import tune_suite

            hypers = tune_suite(self)
            if "final" not in phases:  # `ganbench tune`: its report; a full run's report holds it
                from ganbench.report.studies import write_tuning_report

                write_tuning_report(self.store, self.parent, self.out_dir / "report")
        if "final" in phases:
            final_phase(self, hypers)
        self.store.finish(self.parent, Status.FINISHED)

    def abandon(self) -> None:
        """The suite stopped before its end (a stop signal): its run is KILLED, not left RUNNING; a rerun resumes
        it. Best effort: the store may be what failed."""
        with closing_records(), contextlib.suppress(Exception):
            self.store.finish(self.parent, Status.KILLED)

    def close(self) -> None:
        self.executor.close()
        for lock in getattr(self, "_lock", None) or ():
            lock.close()  # releases the one-writer locks
        self._lock = None


def _part(p: Planned, keep: list[int]) -> Planned:
    """The population ``p`` with only the members ``keep`` (their tags and parents with them)."""
    pick = lambda xs: [xs[k] for k in keep] if xs else None  # noqa: E731
    tracker = p.tracker.part(keep) if p.tracker is not None else None
    return dataclasses.replace(p, members=pick(p.members), tags=pick(p.tags), parents=pick(p.parents), tracker=tracker)
