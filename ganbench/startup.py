"""Everything a suite run checks before it writes anything: the suite and its plugins (``load``), the options,
where the work runs (``choose_executor`` resolves ``auto``), the stores and the data. ``check_startup`` is the one
function that runs them all and returns the suite with its resolved :class:`RunOptions`."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganbench.defaults import DEFAULT_WORKERS, EXECUTOR_CHOICES
from ganbench.disk import size as _size
from ganbench.errors import GanbenchError, InputError


def load(
    suite: str | Path | dict[str, Any],
    *,
    quick: bool = False,
    seeds: int | None = None,
    replicates: int | None = None,
    plugins: Sequence[str | Path] = (),
) -> Any:
    """Load plugins, then read and validate a suite (a bundled name, a path or a dict); ``seeds`` and
    ``replicates`` override the suite's."""
    from ganbench.plugins import load_plugins
    from ganbench.suite import load_suite

    load_plugins([str(p) for p in plugins], Path.cwd())
    overrides = {k: v for k, v in (("seeds", seeds), ("replicates", replicates)) if v is not None}
    return load_suite(suite, quick=quick, overrides=overrides or None)


def check_startup(
    suite,
    out,
    tune_only,
    *,
    quick,
    seeds,
    replicates,
    plugins,
    tracking_uri,
    optuna_storage,
    device,
    data_dir,
    download,
    inception_weights,
    population_size,
    progress,
    executor,
    workers,
    ray_address,
    gpus_per_job,
):
    """Every check before anything is written, in one place: the suite and its plugins, the options, where the
    work runs, the stores, the data, RAM and disk. Returns the suite, the resolved :class:`RunOptions` (``auto``
    executor decided) and the phases that run (:func:`decide_phases`); raises a one-line :class:`GanbenchError`
    on bad input."""
    from ganbench.data import DataOptions, check_datasets
    from ganbench.runner import RunOptions
    from ganbench.stores import check_stores, check_writable

    loaded = load(suite, quick=quick, seeds=seeds, replicates=replicates, plugins=plugins)
    phases = decide_phases(loaded, tune_only)
    _check_options(device, executor, inception_weights, gpus_per_job, population_size, workers)
    chosen, workers, threads = choose_executor(loaded, executor, workers, device)
    try:
        check_plugins_reach_workers(loaded, chosen)
    except GanbenchError:
        if executor != "auto":
            raise
        chosen, threads = "local", None  # a notebook's own loss: auto keeps the work in this process
    executor = chosen
    check_stores(tracking_uri, optuna_storage if loaded.tuning is not None else None)
    if inception_weights is not None:
        # read by the image evaluator in this process and in every worker (workers inherit the environment)
        os.environ["GANBENCH_INCEPTION_WEIGHTS"] = str(Path(inception_weights).resolve())
    data = DataOptions(data_dir=Path(data_dir) if data_dir else None, download=download, cache_dir=out / "cache")
    # a missing or malformed data file is exit 2 before the parent run is opened (the runs' own options)
    check_datasets(loaded.datasets, dataclasses.replace(data, image_size=loaded.image_size))
    sized = dataclasses.replace(data, image_size=loaded.image_size)
    check_host_memory(loaded, sized, device, workers if executor == "processes" else 1)
    disk_bytes = check_disk(loaded, sized, out)
    check_writable(out)  # the last check: it creates the output folder
    options = RunOptions(
        out_dir=out,
        tracking_uri=tracking_uri,
        optuna_storage=optuna_storage,
        device=device,
        data=data,
        population_size=population_size,
        show_progress=progress,
        executor=executor,
        workers=workers,
        worker_threads=threads,
        ray_address=ray_address,
        gpus_per_job=gpus_per_job,
        disk_bytes=disk_bytes,
    )
    return loaded, options, phases


def check_report_startup(suite, out, quick, seeds, replicates, plugins, tracking_uri) -> tuple[Any, str]:
    """``ganbench report``'s checks: the suite as it ran, a store that exists (never a new one), an output
    folder the report can be written to. Returns the suite and the store's URI."""
    from ganbench.stores import check_stores, check_writable, existing_store

    loaded = load(suite, quick=quick, seeds=seeds, replicates=replicates, plugins=plugins)
    check_stores(tracking_uri, None)
    uri = existing_store(out, tracking_uri)
    check_writable(out)
    return loaded, uri


def check_ui_startup(out: Path, tracking_uri: str | None, host: str, port: int) -> str:
    """``ganbench ui``'s checks: a store that exists (never a new one) and a free port. Returns the store's URI."""
    from ganbench.stores import check_stores, existing_store
    from ganbench.ui import check_port_free

    check_stores(tracking_uri, None)
    uri = existing_store(out, tracking_uri)
    check_port_free(host, port)
    return uri


def decide_phases(suite: Any, tune_only: bool) -> tuple[str, ...]:
    """The one decision of which phases run, in order: tuning when the suite has a tuning section, then the
    final phase unless only tuning was asked for (``ganbench tune``)."""
    if suite.tuning is None:
        if tune_only:
            raise InputError(f"suite {suite.name!r} has no 'tuning' section; add one (trials: N) to tune")
        return ("final",)
    return ("tune",) if tune_only else ("tune", "final")


MAX_POPULATION, MAX_WORKERS = 4096, 1024  # beyond these, a typo: refused up front
# `auto` uses worker processes only for work this large (generator steps summed over every planned run): below
# it, starting the workers (importing torch in each, ~5-10 s) costs more than the parallelism gains
AUTO_PROCESSES_MIN_STEPS = 1_000_000


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def planned_steps(suite: Any) -> int:
    """Generator steps of every run the suite plans: tuning trials (unpruned, each on its tuning seeds; a compute
    budget counted as two batches) and final seeds, in every replicate."""
    from ganbench.plan import contenders

    n = len(contenders(suite))
    tuning = suite.tuning
    trials = (
        (tuning.trials or 2 * tuning.batch) * tuning.seeds_per_trial * (tuning.steps or suite.steps) if tuning else 0
    )
    return n * suite.replicates * (trials + len(suite.seed_list) * suite.steps)


def choose_executor(suite: Any, executor: str, workers: int | None, device: str) -> tuple[str, int, int | None]:
    """``(executor, workers, torch threads per worker)`` for the options given.

    ``auto`` is ``processes`` on a CPU-only machine with several cores when the suite is large (measured on the
    2-core CPU: two single-threaded populations of 10 in two processes train 1.19x the model-steps/s of one
    population on two threads, whose small per-op work parallelizes poorly; for the tuning phase's smaller
    populations of 4 with 5 D steps, 488 model-steps/s on one thread against 494 on two), else ``local``.
    Worker processes on the CPU get ``cores // workers`` torch threads each, so they never oversubscribe the
    cores."""
    import torch

    cpus = usable_cpus()
    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    if executor == "auto":
        large = planned_steps(suite) >= AUTO_PROCESSES_MIN_STEPS
        executor = "processes" if on_cpu and cpus >= 2 and large else "local"
        workers = workers or cpus
    workers = workers or DEFAULT_WORKERS
    threads = max(1, cpus // workers) if executor == "processes" and on_cpu else None
    return executor, workers, threads


def _check_options(
    device: str, executor: str, inception_weights: Any, gpus_per_job: float, population_size: int, workers: int
) -> None:
    if device != "auto" and device != "cpu" and not device.startswith("cuda"):
        raise InputError(f"device {device!r}: valid: auto, cpu, cuda, cuda:N")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: no CUDA device here; valid: auto, cpu")
    if executor not in EXECUTOR_CHOICES:
        raise InputError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTOR_CHOICES)}")
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise InputError("--executor ray needs Ray: pip install 'ganbench[ray]'")
    if inception_weights is not None and not Path(inception_weights).is_file():
        raise InputError(f"--inception-weights: no file at {inception_weights}")
    if gpus_per_job < 0:
        raise InputError(f"--gpus-per-job must be >= 0, got {gpus_per_job}")
    if population_size < 1 or (workers is not None and workers < 1):
        raise InputError("--population-size and --workers must be positive integers")
    if population_size > MAX_POPULATION or (workers or 0) > MAX_WORKERS:
        raise InputError(f"--population-size is at most {MAX_POPULATION} and --workers at most {MAX_WORKERS}")


def check_host_memory(suite: Any, data: Any, device: str, parallel: int) -> None:
    """On a CPU: refuse a suite of which one run of some contender, ``parallel`` times over (one per worker
    process), does not fit in the RAM available (``memory.host_member_bytes``, one probe per contender: a few
    steps at batches of 8 and 16). Populations of more members are sized to the RAM when they run."""
    import types

    import torch

    from ganbench import memory
    from ganbench.config import Member
    from ganbench.data import load_dataset
    from ganbench.plan import contenders, run_config
    from ganbench.train import Trainer

    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return
    available = memory.host_available_bytes()
    if available is None:
        return
    member = Member(0, 1e-4, 1e-4)
    for contender in contenders(suite):
        config = dataclasses.replace(run_config(suite, contender), compile="none")
        probe = types.SimpleNamespace(dataset=load_dataset(contender.dataset, data))  # the evaluator unused
        try:
            need = memory.host_member_bytes(lambda c, p=probe: Trainer(c, [member], evaluator=p), config)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a loss that raises fails its own runs, recorded with their error
            continue
        if memory.fit_host(parallel, need, available) < parallel:
            workers = f" for each of {parallel} worker processes" if parallel > 1 else ""
            raise InputError(
                f"one run of {contender.name} needs about {_size(need)} of RAM{workers} (batch_size "
                f"{config.batch_size}, eval_samples {config.eval_samples}); {_size(available)} are available: "
                "lower batch_size, eval_samples or the model's width"
                + (", or use fewer --workers" if parallel > 1 else "")
            )


def check_disk(suite: Any, data: Any, out: Path) -> int:
    """Refuse a suite whose output does not fit in the free space of ``out``'s file system (what it holds
    already counts as written: a resumed suite); returns the bytes the whole suite writes, estimated
    (``ganbench.disk``: one fresh one-member trainer per contender gives its checkpoint's size)."""
    import types

    from ganbench import disk
    from ganbench.config import Member
    from ganbench.data import load_dataset
    from ganbench.plan import contenders, run_config
    from ganbench.train import Trainer

    checkpoints, shapes = {}, {}
    for contender in contenders(suite):
        config = dataclasses.replace(run_config(suite, contender), compile="none")
        dataset = load_dataset(contender.dataset, data)
        try:
            trainer = Trainer(config, [Member(0, 1e-4, 1e-4)], evaluator=types.SimpleNamespace(dataset=dataset))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a loss that raises fails its own runs, recorded with their error
            continue
        checkpoints[contender.name] = disk.checkpoint_bytes(trainer)
        shapes[contender.name] = tuple(dataset.sample_shape)
    total = disk.suite_bytes(suite, checkpoints, shapes)
    need, free = disk.still_needed(total, out), disk.free_bytes(out)
    if free is not None and need > free:
        raise InputError(
            f"the suite writes about {_size(total)} to {out}, {_size(need)} more than it holds; "
            f"{_size(free)} are free there: free space or give another --out"
        )
    return total


def check_plugins_reach_workers(suite: Any, executor: str) -> None:
    """Worker processes and Ray workers load plugins from files or modules; a loss, strategy or dataset
    registered only in a script or a notebook (``__main__``) cannot reach them, so it is refused up front."""
    if executor == "local":
        return
    from ganbench import plugins
    from ganbench.data import DATASETS
    from ganbench.losses import LOSSES
    from ganbench.strategies import STRATEGIES

    names = [("loss", LOSSES, e.name.split("+", 1)[0]) for e in suite.losses]  # type: ignore[union-attr]
    names += [("strategy", STRATEGIES, s.split("+", 1)[0]) for s in suite.strategies]
    names += [("dataset", DATASETS, d) for d in suite.datasets]
    shipped = {source.module for source in plugins.loaded()}
    for kind, registry, name in names:
        origin = registry.origin(name)
        if registry.is_plugin(name) and origin not in shipped and _not_importable(origin):
            raise plugins.PluginError(
                f"{kind} {name!r} was registered in {origin} (a script or notebook), which --executor {executor} "
                "workers cannot load; put it in a .py file and name it in the suite's plugins: or with --plugin"
            )


def _not_importable(module: str | None) -> bool:
    if module in (None, "__main__"):
        return True
    try:
        return importlib.util.find_spec(module) is None  # type: ignore[arg-type]
    except (ImportError, ValueError):
        return True
