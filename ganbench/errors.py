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
