from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GANBENCH = [sys.executable, "-m", "ganbench.cli"]


def _share_of_the_cores() -> int | None:
    """Under pytest-xdist (README's test command runs the suite on several workers), each worker's torch gets
    its share of the cores: workers with torch's default threads would oversubscribe them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    return max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None


def pytest_configure(config):
    threads = _share_of_the_cores()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # the ganbench processes tests start


def _cache_dir(tmp_path_factory) -> Path:
    """One cache for the whole test session, shared by the xdist workers (the classifiers it holds are trained
    once, under a file lock), never the user's own."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "cache"


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("GIT_PYTHON_REFRESH", "quiet")
    monkeypatch.setenv("GANBENCH_CACHE", str(_cache_dir(tmp_path_factory)))


@pytest.fixture
def clean_registries(monkeypatch):
    """Plugins registered by a test leave the registries (and the loaded-plugin list) as they were."""
    from ganbench import plugins
    from ganbench.data import DATASETS
    from ganbench.losses import LOSSES
    from ganbench.strategies import STRATEGIES

    for reg in (LOSSES, STRATEGIES, DATASETS):
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
        monkeypatch.setattr(reg, "_origins", dict(reg._origins))
    monkeypatch.setattr(plugins, "_LOADED", dict(plugins._LOADED))


def run_argv(suite: Path, out: Path, *options: str) -> list[str]:
    """``ganbench run``'s arguments for a suite file into ``out``, without a progress bar, then ``options``."""
    return ["run", "--suite", str(suite), "--out", str(out), "--no-progress", *options]


def write_suite(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


TINY_SUITE = """
name: tiny
losses: [non_saturating, hinge]
strategies: [adam_dcgan]
datasets: [ring8]
seeds: 2
steps: 30
batch_size: 32
eval_every: 10
eval_samples: 200
models:
  points: {name: mlp, width: 16, depth: 2, latent_dim: 2}
"""


def env_for_subprocess() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def record_population_sizes(monkeypatch) -> list[int]:
    """Spy on the executors' trainer: the sizes of the populations jobs are trained as, in order."""
    from ganbench import executors

    sizes: list[int] = []
    original = executors.job.Trainer

    def spy(config, members, **kwargs):
        sizes.append(len(members))
        return original(config, members, **kwargs)

    monkeypatch.setattr(executors.job, "Trainer", spy)
    return sizes


EVENTS_PER_JOB = 200


def emit_then_return(job, emit):
    """A job runner for worker processes that sends many events and returns at once: its last events are still
    in the worker's queue buffer when its result is sent (the race the executor's job-done marker closes)."""
    from ganbench.events import EndEvent, ProgressEvent

    for _ in range(EVENTS_PER_JOB - 1):
        emit(ProgressEvent("progress", job.job_id, 1))
    emit(EndEvent("end", job.job_id, 0, None))
    return [job.job_id]
