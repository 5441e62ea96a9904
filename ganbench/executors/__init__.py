"""Where populations train: in this process (``local``), in N worker processes (``processes``), or as Ray tasks
(``ray``). Workers never write to the stores: they send events (evaluations, results, progress) back to the
driver, which is the only MLflow and Optuna writer, so the default SQLite stores never see two writers.

Every executor yields ``(job, results or exception)`` as jobs end; the driver decides what a failure means.
"""

from __future__ import annotations

from typing import Any

from ganbench.executors import job, local, processes  # submodules, for tests that patch them
from ganbench.executors.base import EXECUTORS, Executor
from ganbench.executors.job import PLOT_SAMPLES, EmitTracker, Job, evaluator_for, run_job
from ganbench.executors.local import LocalExecutor
from ganbench.executors.processes import ProcessExecutor, gpu_assignment
from ganbench.executors.ray_cluster import RayExecutor

__all__ = [
    "EXECUTORS",
    "PLOT_SAMPLES",
    "EmitTracker",
    "Executor",
    "Job",
    "LocalExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "create_executor",
    "evaluator_for",
    "gpu_assignment",
    "job",
    "local",
    "processes",
    "run_job",
]


def create_executor(name: str, **options: Any) -> Executor:
    return EXECUTORS.get(name)(**options)
