"""Every option of a suite run, with its default, its choices and its help, in one table.

The command line (``ganbench run --help``), the Python API (:func:`ganbench.run_suite`'s signature) and the
runner's :class:`~ganbench.plan.RunOptions` all read their defaults from here, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

EXECUTOR_CHOICES = ("auto", "local", "processes", "ray")


@dataclass(frozen=True)
class Option:
    default: Any
    help: str
    choices: tuple[str, ...] | None = None


OPTIONS: dict[str, Option] = {
    "out": Option(Path("ganbench_output"), "output folder (stores, checkpoints, report)"),
    "tracking_uri": Option(None, "MLflow tracking URI (default: sqlite file in the output folder)"),
    "optuna_storage": Option(None, "Optuna storage URL (default: sqlite file in the output folder)"),
    "device": Option("auto", "auto (CUDA when present), cpu, cuda, cuda:N"),
    "data_dir": Option(None, "folder holding external datasets (mnist, cifar10, ...)"),
    "download": Option(False, "download external datasets where a network exists"),
    "inception_weights": Option(
        None, "InceptionV3 weights file (torch-fidelity's pt_inception-2015-12-05) for *_inception metrics"
    ),
    "population_size": Option(16, "runs trained as one vectorized model"),
    "progress": Option(True, "a progress bar (--no-progress: none)"),
    "executor": Option(
        "auto",
        "where populations train: this process, N worker processes, or a Ray cluster; auto: worker processes "
        "for large suites on a multi-core CPU, else this process",
        EXECUTOR_CHOICES,
    ),
    "workers": Option(None, "worker processes (processes; default 2, auto: one per core) or CPUs (local Ray)"),
    "ray_address": Option(None, "Ray cluster address (default: start a local cluster)"),
    "gpus_per_job": Option(0.0, "Ray: GPUs per population; fractions share a GPU"),
    "host": Option("127.0.0.1", "address to bind; 0.0.0.0 exposes it to the network"),
    "port": Option(5000, "port to serve on"),
}

# the processes executor's worker count when neither the user nor ``auto`` chose one
DEFAULT_WORKERS = 2


# the defaults by attribute (``DEFAULTS.population_size``), for signatures and dataclass fields
DEFAULTS = SimpleNamespace(**{name: option.default for name, option in OPTIONS.items()})
