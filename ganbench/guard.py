"""Stores that stay true: a write to a store that vanished or failed stops the suite with one line, and no store
URL is ever shown with its password."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError, StoreError, disk_full, is_disk_full

_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*):[^@/\s]*@")


def mask_password(text: str) -> str:
    """Every ``scheme://user:password@host`` in ``text`` as ``scheme://user:***@host`` (a URL, or a message that
    quotes one); the rest unchanged."""
    return _CREDENTIALS.sub(r"\1:***@", text) if isinstance(text, str) else text


def file_identity(path: Path | None) -> tuple[int, int] | None:
    """(device, inode) of a store file, None for no file: a file deleted or replaced has another, or none."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st is not None else None


def check_same_file(path: Path | None, identity: tuple[int, int] | None) -> None:
    """Raise :class:`StoreError` when the SQLite file opened as ``identity`` was deleted or replaced: writes
    would go to a file nobody can read again (or to a new, empty one)."""
    if path is None or identity is None or file_identity(path) == identity:
        return
    raise StoreError(
        f"the MLflow store {path} was deleted or replaced while the suite ran; nothing more can be "
        "recorded: restore it, or rerun into a fresh --out"
    )


def writes(method: Any) -> Any:
    """A store write that cannot be lost silently: the SQLite file must still be the one opened (not deleted or
    replaced while the suite runs), and any failure becomes one line (:class:`StoreError`, or
    :class:`DiskFull` when the disk is full), which stops the suite with exit 2."""
    import functools

    @functools.wraps(method)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.check_file()
        try:
            return method(self, *args, **kwargs)
        except GanbenchError:
            raise
        except Exception as exc:
            if is_disk_full(exc):
                raise disk_full(self.path or self.safe_uri) from None
            self.check_file()  # a vanished file is the clearer message
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            first = mask_password(first)[:200]
            raise StoreError(f"cannot write to the MLflow store {self.safe_uri}: {first}") from None

    return write


def http_credentials(uri: str) -> str:
    """An HTTP(S) tracking URI without its ``user:password@``, which MLflow then reads from the environment
    (MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, set here; the workers and the UI inherit them), so
    the password is never part of a URL that is logged or shown. Any other URI is returned as it is."""
    import os
    from urllib.parse import unquote, urlsplit, urlunsplit

    if not uri.startswith(("http://", "https://")):
        return uri
    parts = urlsplit(uri)
    if parts.username is None:
        return uri
    os.environ["MLFLOW_TRACKING_USERNAME"] = unquote(parts.username)
    if parts.password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = unquote(parts.password)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
