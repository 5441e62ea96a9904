"""The plan of a suite: its contenders, the populations to train, what tuning chooses, and the run options.
Shared by the phases (:mod:`ganbench.runner`, :mod:`ganbench.tuning`), which import it and not each other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ganbench.config import Member, RunConfig
from ganbench.data import DataOptions, dataset_kind
from ganbench.defaults import DEFAULT_WORKERS, DEFAULTS
from ganbench.strategies import get_strategy
from ganbench.suite import LossEntry, Suite

if TYPE_CHECKING:  # a type only: the shared nouns import nothing of the recording layer at run time
    from ganbench.tracking import MLflowStore


@dataclass(frozen=True)
class Contender:
    loss: LossEntry
    strategy: str
    dataset: str

    @property
    def name(self) -> str:
        return f"{self.loss.display}|{self.strategy}|{self.dataset}"


@dataclass(frozen=True)
class Planned:
    """A population to train: its members, their contender, and where and how they are recorded."""

    config: RunConfig
    members: list[Member]
    contender: Contender
    tags: list[dict[str, str]] | None = None  # per member
    parents: list[str] | None = None  # per member: the run each member's run is a child of; default the suite's
    # what the members report to, made by the phase that planned them, given the members' MLflow runs by the
    # runner (``attach(store, run_ids, dataset)``); default: a plain MLflowTracker
    tracker: Any = None


@dataclass(frozen=True)
class Hyper:
    """What tuning chooses for a contender; None keeps the suite's or strategy's value."""

    lr_g: float
    lr_d: float
    beta1: float | None = None
    n_critic: int | None = None
    loss_params: dict[str, float] | None = None  # tuned values of the loss's searchable parameters

    def member(self, seed: int, phase: str = "final") -> Member:
        """A run of this setting on ``seed``."""
        return Member(seed, self.lr_g, self.lr_d, phase=phase, beta1=self.beta1, loss_params=self.loss_params)


@dataclass
class RunOptions:
    """The options of a suite run once checked and resolved (``ganbench.api.check_startup``): the executor is a
    decided one, never ``auto``. Defaults come from the one table in ``ganbench.defaults``."""

    out_dir: Path = DEFAULTS.out
    tracking_uri: str | None = DEFAULTS.tracking_uri
    optuna_storage: str | None = DEFAULTS.optuna_storage
    device: str = DEFAULTS.device
    data: DataOptions = field(default_factory=DataOptions)
    population_size: int = DEFAULTS.population_size  # members trained as one model at most; 1: one by one
    show_progress: bool = DEFAULTS.progress
    executor: str = "local"  # resolved: local | processes | ray (``auto`` is decided before a Runner exists)
    workers: int = DEFAULT_WORKERS  # processes executor; ray: CPUs of a local cluster
    ray_address: str | None = DEFAULTS.ray_address  # ray: a cluster's address; None starts a local one
    gpus_per_job: float = DEFAULTS.gpus_per_job  # ray: GPUs requested per population (fractions share a GPU)
    worker_threads: int | None = None  # torch threads per job in workers
    disk_bytes: int | None = None  # what the suite writes under out_dir, estimated at start-up (ganbench.disk)


def contenders(suite: Suite) -> list[Contender]:
    return [Contender(loss, s, d) for d in suite.datasets for loss in suite.losses for s in suite.strategies]  # type: ignore[union-attr]


def default_hyper(suite: Suite, contender: Contender) -> Hyper:
    strategy = get_strategy(contender.strategy)
    return Hyper(lr_g=suite.lr_g or strategy.lr_g, lr_d=suite.lr_d or strategy.lr_d)


def run_config(suite: Suite, contender: Contender, hyper: Hyper | None = None, steps: int | None = None) -> RunConfig:
    kind = dataset_kind(contender.dataset)
    steps = steps or suite.steps
    return RunConfig(
        loss=contender.loss.name,
        loss_params=dict(contender.loss.params),
        strategy=contender.strategy,
        dataset=contender.dataset,
        model=suite.model_for(kind),
        steps=steps,
        batch_size=suite.batch_size,
        eval_every=min(suite.eval_every, steps),
        eval_samples=suite.eval_samples,
        n_critic=hyper.n_critic if hyper else None,
        image_size=suite.image_size,
        lr_decay_from=suite.lr_decay_from,
        compile=suite.compile,
    )


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    size = max(size, 1)
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Session(Protocol):
    """What the phases need from a running suite (:class:`ganbench.runner.Runner` is one)."""

    suite: Suite
    options: RunOptions
    out_dir: Path
    store: MLflowStore
    parent: str
    progress: Any
    executor: Any  # where populations train
    local_executor: Any  # this process, synchronously (a tracker's answer reaches the trainer)

    def checkpoint_path(self, key: str) -> Path: ...

    def evaluator(self, config: RunConfig) -> Any: ...

    def execute(self, planned: list[Planned], executor: Any = None) -> list[list[Any]]: ...
