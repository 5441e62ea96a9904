"""The Python API: run a suite from a script or a notebook and get its table back.

    import ganbench

    result = ganbench.run_suite("losses", quick=True, out="ganbench_output")
    result                # a few lines: counts, the verdict, where the report is
    result.table          # pandas DataFrame, wide: one row per dataset and contender, one column per metric
    result.summary        # long: one row per dataset, contender and metric, every statistic (summary.csv)
    result.report_html    # Path of the HTML report

``ganbench run`` is a thin layer over :func:`run_suite`: the same options, the same checks, the same report.
Bad input raises a :class:`GanbenchError` subclass whose message is one line (the CLI prints it and exits 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.defaults import DEFAULTS
from ganbench.errors import DiskFull, GanbenchError
from ganbench.startup import check_startup, choose_executor, load
from ganbench.status import Status


@dataclass(repr=False)
class SuiteResult:
    """What a suite run produced: its tables and where everything was written.

    ``summary`` is long (one row per dataset, contender and metric, with every statistic: the report's
    summary.csv); ``table`` is wide (one row per dataset and contender, one column per metric, the mean over
    seeds), ready to sort or plot. ``repr(result)`` is a few lines: counts, the verdict and where the report is.
    """

    suite: str
    summary: pd.DataFrame  # statistics over seeds per dataset, contender and metric (summary.csv)
    runs: pd.DataFrame  # one row per final run (runs.csv)
    report_dir: Path | None  # None when the run was only tuning, or the report was not asked for
    files: dict[str, Path] = field(default_factory=dict)  # csv, runs_csv, markdown, latex, html, ...
    headline: list[str] = field(default_factory=list)  # the verdict lines that open the report
    warnings: list[str] = field(default_factory=list)  # validity findings: when the table cannot be trusted
    tracking_uri: str = ""
    parent_run_id: str = ""
    report: Any = None  # the full ``ReportResult`` (ranking, findings, figures), for the terminal view

    @property
    def failed_all(self) -> bool:
        """Every final run failed: there is no result, whatever the tables hold."""
        if self.runs.empty or "status" not in self.runs:
            return False
        return bool((self.runs["status"] == Status.FAILED).all())

    @property
    def report_html(self) -> Path | None:
        return self.files.get("html")

    @property
    def table(self) -> pd.DataFrame:
        """The summary wide: index (dataset, loss, strategy), one column per metric holding its mean over seeds.

        Each dataset's primary metric comes first and, within a dataset, rows go best first by it (its rank);
        the other metrics follow in the summary's order."""
        if self.summary.empty:
            return pd.DataFrame()
        keys = ["dataset", "loss", "strategy"]
        wide = self.summary.pivot_table(
            index=keys, columns="metric", values="mean", aggfunc="first", sort=True, observed=True
        )
        primary = dict(getattr(self.report, "primary", None) or {})
        first = [m for m in dict.fromkeys(primary[d] for d in sorted(primary)) if m in wide.columns]
        wide = wide[first + [m for m in wide.columns if m not in first]]
        wide.columns.name = None
        if "rank" in self.summary.columns and primary:
            ranks = self.summary[self.summary["metric"] == self.summary["dataset"].map(primary)]
            order = ranks.set_index(keys)["rank"].reindex(wide.index)
            wide = wide.assign(_rank=order.to_numpy()).sort_values(["dataset", "_rank"], kind="stable")
            wide = wide.drop(columns="_rank")
        return wide

    def __repr__(self) -> str:
        runs, summary = self.runs, self.summary
        if summary.empty:
            return f"SuiteResult({self.suite!r}: no report; MLflow run {self.parent_run_id} in {self.tracking_uri})"
        contenders = summary[["loss", "strategy"]].drop_duplicates()
        seeds = runs["seed"].nunique() if "seed" in runs else 0
        lines = [
            f"SuiteResult({self.suite!r}: {len(contenders)} contenders x {summary['dataset'].nunique()} "
            f"datasets, {seeds} seeds, {len(runs)} runs; {len(self.warnings)} validity warnings)"
        ]
        lines += [f"  {line}" for line in self.headline]
        lines.append(f"  report: {self.report_html or self.report_dir}")
        lines.append(
            f"  .table: {len(self.table)} rows x {len(self.table.columns)} metrics (wide); "
            f".summary: {len(summary)} rows (long); .runs; .headline; .warnings; .files"
        )
        return "\n".join(lines)


def run_suite(
    suite: str | Path | dict[str, Any],
    *,
    out: str | Path = DEFAULTS.out,
    quick: bool = False,
    seeds: int | None = None,
    replicates: int | None = None,
    plugins: Sequence[str | Path] = (),
    tune_only: bool = False,
    report: bool = True,
    tracking_uri: str | None = DEFAULTS.tracking_uri,
    optuna_storage: str | None = DEFAULTS.optuna_storage,
    device: str = DEFAULTS.device,
    data_dir: str | Path | None = DEFAULTS.data_dir,
    download: bool = DEFAULTS.download,
    inception_weights: str | Path | None = DEFAULTS.inception_weights,
    population_size: int = DEFAULTS.population_size,
    progress: bool = DEFAULTS.progress,
    executor: str = DEFAULTS.executor,
    workers: int | None = DEFAULTS.workers,
    ray_address: str | None = DEFAULTS.ray_address,
    gpus_per_job: float = DEFAULTS.gpus_per_job,
) -> SuiteResult:
    """Run a suite (a bundled name, a YAML path, or a dict with the YAML's keys): tune when the suite says so,
    train every contender on every seed, write the report, and return the summary table.

    The options are ``ganbench run``'s. ``plugins`` are loss/strategy/dataset files (or module names) loaded
    first, as ``--plugin`` does. Rerunning the same suite into the same ``out`` resumes it: finished runs are
    not trained again. A first SIGINT/SIGTERM finishes the current step, checkpoints and raises
    ``KeyboardInterrupt`` (a second stops at once); rerun to resume.
    """
    from ganbench.runner import Runner
    from ganbench.signals import stop_signals

    with stop_signals():
        loaded, options, phases = check_startup(  # and the one decision of which phases run
            suite,
            Path(out),
            tune_only,
            quick=quick,
            seeds=seeds,
            replicates=replicates,
            plugins=plugins,
            tracking_uri=tracking_uri,
            optuna_storage=optuna_storage,
            device=device,
            data_dir=data_dir,
            download=download,
            inception_weights=inception_weights,
            population_size=population_size,
            progress=progress,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            gpus_per_job=gpus_per_job,
        )
        runner = Runner(loaded, options)  # opens the stores and the suite's run: after every check passed
        try:
            runner.run(phases)
        except KeyboardInterrupt:
            runner.abandon()
            raise
        except DiskFull as exc:
            runner.abandon()
            raise DiskFull(exc.where, _space_needed(options)) from None
        finally:
            runner.close()
        if tune_only or not report:
            return SuiteResult(
                loaded.name,
                pd.DataFrame(),
                pd.DataFrame(),
                None,
                tracking_uri=runner.store.safe_uri,
                parent_run_id=runner.parent,
            )
        return build_result(loaded.name, runner.store, runner.parent, Path(out))


def _space_needed(options: Any) -> str | None:
    """The space a suite stopped by a full disk still needs in its output folder, as said in its one line."""
    from ganbench import disk

    if options.disk_bytes is None:
        return None
    need, free = disk.still_needed(options.disk_bytes, options.out_dir), disk.free_bytes(options.out_dir)
    where = f"{disk.size(free)} free" if free is not None else "free space unknown"
    return f"the suite needs about {disk.size(need)} more in {options.out_dir} ({where})"


def build_result(name: str, store: Any, parent: str, out: Path, publish: bool = True) -> SuiteResult:
    """Write the report of a suite run (and its tuning report) and wrap it as a :class:`SuiteResult`;
    ``publish`` also puts it on the suite's MLflow run (not for ``ganbench report``, which only reads the store)."""
    from ganbench.recording import publish_parent
    from ganbench.report import build_report

    result = build_report(store, parent, out)  # with the tuning report, when the suite tuned
    if publish:
        publish_parent(store, parent, result)
    return SuiteResult(
        name,
        result.summary,
        result.runs,
        result.report_dir,
        dict(result.files),
        list(result.headline),
        [f.text() for f in result.findings],
        store.safe_uri,
        parent,
        result,
    )


def report_suite(
    suite: str | Path | dict[str, Any],
    *,
    out: str | Path = DEFAULTS.out,
    quick: bool = False,
    seeds: int | None = None,
    replicates: int | None = None,
    plugins: Sequence[str | Path] = (),
    tracking_uri: str | None = DEFAULTS.tracking_uri,
) -> SuiteResult:
    """Rebuild the report of a suite that ran (the same suite and options as its run) from its MLflow store. The
    store is only read: one that is not there is an error, never a new empty store."""
    from ganbench.startup import check_report_startup
    from ganbench.tracking import MLflowStore, StoreError, experiment_name

    loaded, uri = check_report_startup(suite, Path(out), quick, seeds, replicates, plugins, tracking_uri)
    store = MLflowStore(uri, experiment_name(loaded.name), read_only=True)  # reads, never creates or writes
    parent = store.find_parent(loaded.key())
    if parent is None:
        raise StoreError(f"the store {store.safe_uri} holds no run of suite {loaded.name!r} with these settings")
    return build_result(loaded.name, store, parent, Path(out), publish=False)


def serve_ui(
    *,
    out: str | Path = DEFAULTS.out,
    tracking_uri: str | None = DEFAULTS.tracking_uri,
    host: str = DEFAULTS.host,
    port: int = DEFAULTS.port,
) -> None:
    """The MLflow UI on a suite's store (``ganbench ui``); returns when the server stops."""
    from ganbench.startup import check_ui_startup
    from ganbench.ui import serve

    uri = check_ui_startup(Path(out), tracking_uri, host, port)
    serve(Path(out), host, port, uri)


__all__ = [
    "GanbenchError",
    "SuiteResult",
    "build_result",
    "check_startup",
    "choose_executor",
    "load",
    "report_suite",
    "run_suite",
    "serve_ui",
]
