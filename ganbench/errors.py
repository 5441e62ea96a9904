"""The error every bad input raises: one line naming what was wrong and what is valid.

The command line prints it and exits 2; the Python API lets it through. Each module's own error (``SuiteError``,
``RegistryError``, ``DataError``, ``StoreError``, ``ReportError``, ``PluginError``, ``ContractError``) derives
from :class:`GanbenchError`, so ``except GanbenchError`` catches every one.
"""

from __future__ import annotations


class GanbenchError(Exception):
    """Bad input or an unusable store; ``str()`` is one line."""


class InputError(GanbenchError, ValueError):
    """An option with an impossible value (a device that is not here, an unknown executor, ...)."""


class StoreError(GanbenchError, RuntimeError):
    """The tracking store cannot be opened or written; the message is one line."""


class DiskFull(GanbenchError, OSError):
    """A write failed for want of space (ENOSPC, or SQLite's "database or disk is full"): the suite stops, its
    runs KILLED; a rerun after freeing space resumes it. ``where``: the path whose write failed; ``need``: the
    space the suite still needs, where known (said in the message)."""

    def __init__(self, where: object, need: str | None = None) -> None:
        super().__init__(where, need)
        self.where, self.need = where, need

    def __str__(self) -> str:
        need = f"{self.need}; " if self.need else ""
        return f"no space left on the device of {self.where}: {need}free space there, then rerun the same command to resume"


def is_disk_full(exc: BaseException) -> bool:
    import errno

    if isinstance(exc, DiskFull) or getattr(exc, "errno", None) == errno.ENOSPC:
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "database or disk is full" in text


def disk_full(where: object) -> DiskFull:
    return DiskFull(where)
