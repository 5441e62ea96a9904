"""MLflow: one parent run per suite, one child run per job (loss, strategy, dataset, seed | trial).

The store is the source of truth for what is done: a child is *done* when MLflow marks it FINISHED, which
happens only after its last metrics are logged; a rerun skips done keys and reopens unfinished ones.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from ganbench.errors import StoreError, disk_full, is_disk_full
from ganbench.guard import check_same_file, file_identity, http_credentials, mask_password, writes
from ganbench.status import DONE, Status

TAG_KEY = "ganbench.key"  # the run key (hash of config, seed, learning rates)
TAG_SUITE_KEY = "ganbench.suite_key"
TAG_STATUS = "ganbench.status"  # running | finished | diverged | pruned | failed | killed
TAG_PHASE = "ganbench.phase"  # suite | tune | final | study
TAG_CONTENDER = "ganbench.contender"  # "loss|strategy|dataset", for people browsing the UI
TAG_REPLICATE = "ganbench.replicate"  # the replicate (0, 1, ...) a study, trial or final run belongs to
TAG_REPLICATES = "ganbench.replicates"  # on the suite run: how many replicates its report holds
REAL_PREFIX = "real."  # the suite run's metrics real.<dataset>.<metric>: real data's scores, one step per draw


def real_key(dataset: str, metric: str) -> str:
    """The suite run's metric holding what real data scores on ``metric`` of ``dataset``."""
    return f"{REAL_PREFIX}{dataset}.{metric}"


TAG_LOSS_LABEL = "ganbench.loss_label"  # the loss as tables name it (with its params); strategy, dataset: params


def loss_label(tags: dict[str, str], params: dict[str, str]) -> str:
    """How the report names a run's loss: its label tag; stores from before that tag: the contender tag's first
    part; else the loss param."""
    return tags.get(TAG_LOSS_LABEL) or (tags.get(TAG_CONTENDER) or params.get("loss", "")).split("|")[0]


PARENT_TAG = "mlflow.parentRunId"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file (both default stores live in the output folder as such files)."""
    return f"sqlite:///{path.resolve()}"


def default_tracking_uri(out_dir: Path) -> str:
    return sqlite_url(out_dir / "mlflow.db")


def experiment_name(suite_name: str) -> str:
    """The MLflow experiment that holds a suite's runs (every replicate and setting of it)."""
    return f"ganbench/{suite_name}"


def _quiet_mlflow() -> None:
    """MLflow's own logging at warnings: in this process, and (through the environment, which MLflow reads when
    imported) in the processes it starts, such as the UI server of ``ganbench ui``."""
    for name in ("alembic", "mlflow", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # it logs every failed write with a traceback before raising it; ganbench turns the error into one line
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def sqlite_fast(engine: Any) -> None:
    """WAL journal, fsync at checkpoints only, on a SQLite SQLAlchemy engine (MLflow's and Optuna's stores).

    A write then costs ~1-3 ms instead of a disk flush (~35 ms). A killed process loses nothing committed (the
    WAL is in the file); a power cut may lose the last transactions, which a rerun redoes. WAL also lets a
    reader (the MLflow UI, a test) watch a running suite."""
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened before the listener reconnect with it


EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
NOTE_TAG = "mlflow.note.content"  # a run's description in the MLflow UI (Markdown)


def quiet_client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    _quiet_mlflow()
    return MlflowClient(tracking_uri)


class MLflowStore:
    """Thin layer over ``MlflowClient`` holding the suite's experiment."""

    def __init__(
        self, tracking_uri: str, experiment: str, artifact_dir: Path | None = None, read_only: bool = False
    ) -> None:
        from mlflow import MlflowClient

        _quiet_mlflow()  # after the import: mlflow sets its own log levels when imported

        tracking_uri = http_credentials(tracking_uri)
        self.tracking_uri = tracking_uri
        self.safe_uri = mask_password(tracking_uri)
        self.path = Path(tracking_uri.removeprefix("sqlite:///")) if tracking_uri.startswith("sqlite:///") else None
        try:
            self.client = MlflowClient(tracking_uri)
            # MLflow keeps its SQLAlchemy engine in its store; if that ever moves, the defaults stay (slower)
            engine = getattr(getattr(self.client._tracking_client, "store", None), "engine", None)
            if tracking_uri.startswith("sqlite:") and engine is not None and not read_only:
                sqlite_fast(engine)
            exp = self.client.get_experiment_by_name(experiment)
            if read_only:  # ganbench report: reads what is there, creates nothing
                if exp is None:
                    raise StoreError(f"the MLflow store {self.safe_uri} holds no experiment {experiment!r}")
                self.experiment_id = exp.experiment_id
            elif exp is None:
                location = artifact_dir.resolve().as_uri() if artifact_dir else None
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
            else:
                self.experiment_id = exp.experiment_id
            # MLflow 3 opens an experiment without a kind in its GenAI view; these are model-training runs
            if not read_only and (exp is None or exp.tags.get(EXPERIMENT_KIND_TAG) is None):
                self.client.set_experiment_tag(self.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        except StoreError:
            raise
        except Exception as exc:  # mlflow raises many types; all mean the same here
            if is_disk_full(exc):
                raise disk_full(self.path or self.safe_uri) from None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot open the MLflow store {self.safe_uri}: {mask_password(first)[:200]}") from None
        self._identity = file_identity(self.path)

    def check_file(self) -> None:
        """Raise :class:`StoreError` when the SQLite file was deleted or replaced since it was opened."""
        check_same_file(self.path, getattr(self, "_identity", None))

    # ------------------------------------------------------------------------------------ runs
    def find_runs(self, filter_string: str) -> list[Any]:
        """Every run of the experiment that matches, page after page. ``mlflow.search_runs`` pages the same way
        but through the process-wide tracking URI (this store is one of several a process may open) and stops at
        100,000 runs; the client's ``search_runs`` returns one page."""
        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string=filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def find_parent(self, suite_key: str) -> str | None:
        """The parent run of the suite with this key, if the store holds one."""
        found = self.find_runs(f"tags.`{TAG_SUITE_KEY}` = '{suite_key}' and tags.`{TAG_PHASE}` = 'suite'")
        return found[0].info.run_id if found else None

    @writes
    def parent_run(self, name: str, suite_key: str, tags: dict[str, str] | None = None) -> str:
        """The suite's parent run: reopened when the same suite ran before, else created."""
        run_id = self.find_parent(suite_key)
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        all_tags = {TAG_SUITE_KEY: suite_key, TAG_PHASE: "suite", **(tags or {})}
        return self.client.create_run(self.experiment_id, tags=all_tags, run_name=name).info.run_id

    def children(self, parent_id: str, phase: str | None = None) -> list[Any]:
        filt = f"tags.`{PARENT_TAG}` = '{parent_id}'"
        if phase:
            filt += f" and tags.`{TAG_PHASE}` = '{phase}'"
        return self.find_runs(filt)

    def done_keys(self, parent_id: str) -> set[str]:
        return {
            r.data.tags[TAG_KEY]
            for r in self.children(parent_id)
            if r.info.status == "FINISHED" and r.data.tags.get(TAG_STATUS) in DONE and TAG_KEY in r.data.tags
        }

    @writes
    def child_run(self, parent_id: str, key: str, name: str, params: dict[str, Any], tags: dict[str, str]) -> str:
        """The child run for ``key``: an unfinished one is reopened (resume), otherwise one is created."""
        found = [r for r in self.children(parent_id) if r.data.tags.get(TAG_KEY) == key]
        if found:
            run_id = found[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            # the run now belongs to whoever reopened it (a trial retried after a fault has a new number)
            self.log(run_id, tags={**tags, TAG_STATUS: Status.RUNNING})
            return run_id
        all_tags = {PARENT_TAG: parent_id, TAG_KEY: key, TAG_STATUS: Status.RUNNING, **tags}
        run_id = self.client.create_run(self.experiment_id, tags=all_tags, run_name=name).info.run_id
        self.log(run_id, params=params)
        return run_id

    # ------------------------------------------------------------------------------------ logging
    @writes
    def log(
        self,
        run_id: str,
        metrics: dict[str, float] | None = None,
        step: int = 0,
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, step) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)[:6000]) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
        )

    @writes
    def log_figure(self, run_id: str, figure: Any, path: str) -> None:
        self.client.log_figure(run_id, figure, path)

    @writes
    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def read_text(self, run_id: str, artifact_file: str) -> str | None:
        """An artifact's text, None when the run has none by that name."""
        import mlflow

        try:
            return mlflow.artifacts.load_text(f"{self.client.get_run(run_id).info.artifact_uri}/{artifact_file}")
        except Exception:  # missing artifact: MLflow raises several types
            return None

    @writes
    def log_artifact(self, run_id: str, local_path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(local_path), artifact_path)

    @writes
    def finish(self, run_id: str, status: str) -> None:
        """Mark a run ended; FINISHED in MLflow only for results (finished, diverged, pruned)."""
        self.client.set_tag(run_id, TAG_STATUS, status)
        mlflow_status = "FINISHED" if status in DONE else ("KILLED" if status == Status.KILLED else "FAILED")
        self.client.set_terminated(run_id, mlflow_status)

    def history(self, run_id: str, metric: str) -> list[tuple[int, float]]:
        """A metric's curve, one value per step (the last logged wins, so a resumed run has no duplicates)."""
        by_step = {
            m.step: m.value for m in sorted(self.client.get_metric_history(run_id, metric), key=lambda m: m.timestamp)
        }
        return sorted(by_step.items())
