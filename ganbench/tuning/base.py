"""Tuning's names and stores: the tags and attributes it writes, the Optuna storage, study names, and a trial as
a study hands it out (:class:`Asked`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench.config import Member, RunConfig
from ganbench.plan import Contender, Hyper, Session
from ganbench.status import DONE
from ganbench.strategies import BETA1_MAX as BETA1_MAX  # beta1 = 1 would never update
from ganbench.tracking import TAG_STATUS, StoreError, sqlite_fast, sqlite_url

if TYPE_CHECKING:
    import optuna


TAG_STUDY = "ganbench.study"  # the Optuna study name, on the study run and on every trial run
TAG_TRIAL = "ganbench.trial"  # the Optuna trial number, on trial runs
ATTR_STATUS = "ganbench.status"  # Optuna user attribute: finished | pruned | diverged | failed | killed
ATTR_COMPUTE = "ganbench.compute_gflop"  # Optuna user attribute: the trial's training compute, all its seeds
EVALS_PER_TRIAL = 4  # at least this many evaluations per trial, so the median rule can stop one early


def default_storage_url(out_dir: Path) -> str:
    return sqlite_url(out_dir / "optuna.db")


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage (SQLite file by default, PostgreSQL to scale out); StoreError with one line if it fails."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # SQLite: wait for a writer instead of failing with "database is locked"; servers: drop dead connections
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except Exception as exc:  # sqlalchemy, alembic and driver errors all mean "cannot open"
        missing_driver = isinstance(exc, ImportError) or "DB access module" in str(exc)
        hint = " (for PostgreSQL: pip install ganbench[postgres])" if missing_driver else ""
        raise StoreError(f"cannot open the Optuna storage {_safe_url(url)}: {_first_line(exc)}{hint}") from None
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        sqlite_fast(storage.engine)
    return storage


def study_name(runner: Session, contender: Contender, replicate: int = 0) -> str:
    """Suite name, contender, suite key and replicate: a changed suite is a new study, as it is a new MLflow
    parent; each replicate tunes in a study of its own."""
    return f"{runner.suite.name}/{contender.name}/{runner.suite.key()}/r{replicate}"


def _has_result(run: Any) -> bool:
    """An MLflow run that finished with a result (finished, pruned, diverged), not killed or failed."""
    return run.info.status == "FINISHED" and run.data.tags.get(TAG_STATUS) in DONE


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


STRATEGY_PARAMS = ("lr", "lr_g", "lr_d", "beta1", "n_critic")  # what a trial's params hold besides loss params


@dataclass(frozen=True)
class Asked:
    """A trial asked from a study: its Optuna trial, what it drew, and its members (one per tuning seed)."""

    study: Any  # the ContenderStudy that asked it
    trial: optuna.trial.Trial
    params: dict[str, Any]  # as drawn, with a tied ``lr`` spelled out as lr_g = lr_d
    members: tuple[Member, ...]

    @property
    def n_critic(self) -> int | None:
        return self.params.get("n_critic")

    @property
    def config(self) -> RunConfig:
        """The run config its members train with (shared by every trial of the contender with its D steps)."""
        return self.study.config(Hyper(self.params["lr_g"], self.params["lr_d"], n_critic=self.n_critic))
