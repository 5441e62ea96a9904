"""The stores' reachability (server URLs, checked before anything runs) and the output folder (writable, one
writer at a time).

MLflow's HTTP client retries an unreachable server for minutes before it gives up, and the Optuna storage's
driver may wait as long on a host that drops packets. A suite that cannot record anything should say so at once:
each server store is probed with a short timeout (``PROBE_TIMEOUT_S``), and a stop signal ends the probe at
once (:func:`ganbench.signals.waiting`). Local files (SQLite, the default) need no probe.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ganbench.guard import http_credentials, mask_password
from ganbench.signals import waiting
from ganbench.tracking import StoreError

PROBE_TIMEOUT_S = 10.0  # per probe; a check of both stores ends within 2 x this, well inside 30 s
SERVER_DATABASES = ("postgresql", "mysql", "mssql", "oracle")


def check_stores(tracking_uri: str | None, optuna_storage: str | None) -> None:
    """Raise :class:`StoreError` (one line) when a store named by URL cannot be reached."""
    with waiting():
        if tracking_uri:
            check_mlflow(tracking_uri)
        if optuna_storage:
            check_database(optuna_storage, "Optuna storage")


def check_mlflow(uri: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    if uri.startswith(("http://", "https://")):
        _check_http(uri, timeout)
    elif uri.split(":", 1)[0].split("+", 1)[0] in SERVER_DATABASES:
        check_database(uri, "MLflow tracking store", timeout)


def _check_http(uri: str, timeout: float) -> None:
    """An MLflow server answers ``/health``; any HTTP answer means it is there (a proxy may hide the path)."""
    import base64
    import os

    request = urllib.request.Request(http_credentials(uri).rstrip("/") + "/health")
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's own URL
            response.read(64)
    except urllib.error.HTTPError:
        return  # the server answered, with an error status: reachable
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            why = f"no answer within {timeout:g} s"
        else:
            why = str(reason).strip() or type(reason).__name__
        raise StoreError(
            f"cannot reach the MLflow tracking server {mask_password(uri)}: {mask_password(why)}; start it, check "
            "the URL, or leave out "
            "--tracking-uri for a local store in the output folder"
        ) from None


def check_database(url: str, what: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Connect once to a server database (PostgreSQL, MySQL) with a connect timeout."""
    scheme = url.split(":", 1)[0]
    if scheme.split("+", 1)[0] not in SERVER_DATABASES:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        safe = make_url(url).render_as_string(hide_password=True)
    except Exception:
        raise StoreError(f"{what} URL {url.split('@')[-1]!r} is malformed") from None
    try:
        engine = create_engine(url, connect_args={"connect_timeout": int(timeout)}, poolclass=_null_pool())
    except Exception as exc:  # a missing driver module
        raise StoreError(
            f"cannot open the {what} {safe}: {_first_line(exc)} (for PostgreSQL: pip install ganbench[postgres])"
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise StoreError(f"cannot reach the {what} {safe}: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _null_pool() -> type:
    from sqlalchemy.pool import NullPool

    return NullPool


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def one_writer_lock(out_dir: Path, lock_file: Path | None = None) -> Any:
    """SQLite stores take one writer: a second ganbench on the same output folder (or the same SQLite file,
    wherever its path came from: ``lock_file`` beside it) is refused, not corrupted.

    The lock is held as long as the returned file object lives (the process, for a Runner)."""
    import fcntl

    path = lock_file or out_dir / ".ganbench.lock"
    handle = open(path, "w")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        what = out_dir if lock_file is None else path.with_suffix("")
        raise StoreError(
            f"another ganbench process is writing to {what} (a SQLite store takes one writer); wait for it, "
            "or give --tracking-uri and --optuna-storage server URLs (PostgreSQL) for several writers"
        ) from None
    return handle


def sqlite_locks(out_dir: Path, urls: list[str]) -> list[Any]:
    """One writer per SQLite store: the output folder's lock, and one beside each SQLite file named by URL
    (``<file>.lock``), so two suites writing one store through different output folders are refused too."""
    locks = [one_writer_lock(out_dir)]
    seen = set()
    for url in urls:
        if not url.startswith("sqlite:///"):
            continue
        db = Path(url.removeprefix("sqlite:///").split("?", 1)[0]).resolve()
        if db in seen:
            continue
        seen.add(db)
        if not db.parent.is_dir():  # never created here: opening the store then fails with one line (exit 2)
            continue
        try:
            locks.append(one_writer_lock(out_dir, db.with_name(db.name + ".lock")))
        except BaseException:
            for lock in locks:
                lock.close()
            raise
    return locks


def existing_store(out_dir: Path, tracking_uri: str | None) -> str:
    """The MLflow URI to read (``report``, ``ui``); a default SQLite file that is not there is bad input, not a
    new empty store."""
    from ganbench.tracking import default_tracking_uri

    uri = tracking_uri or default_tracking_uri(out_dir)
    path = uri.removeprefix("sqlite:///")
    if uri.startswith("sqlite:///") and not Path(path.split("?", 1)[0]).exists():
        raise StoreError(f"no MLflow store at {path}; run a suite first (ganbench run) or pass --tracking-uri")
    return uri


def check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".ganbench-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"output folder {out_dir} is not writable ({exc.strerror or exc})") from None
