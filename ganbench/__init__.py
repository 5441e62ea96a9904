"""ganbench: fair, multi-seed, equally tuned comparisons of GAN losses and optimizer strategies.

The public API, importable from the package root (loaded on first use, so ``import ganbench`` stays light):

- :func:`run_suite` runs a suite and returns its summary table (:class:`SuiteResult`); :func:`load` reads
  and validates one;
- :func:`register_loss` and :class:`LossTerms` add a loss, :func:`register_strategy` and :class:`Strategy` an
  optimizer recipe, :func:`register_dataset` a dataset; a suite names plugin files with ``plugins:``.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

# MLflow's usage telemetry stays off unless the user turns it on (MLFLOW_DISABLE_TELEMETRY=false); set before
# MLflow is imported here, and inherited by the processes ganbench starts (workers, the UI server)
if "MLFLOW_DISABLE_TELEMETRY" not in os.environ and "DO_NOT_TRACK" not in os.environ:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

__version__ = "0.1.0"

_PUBLIC = {
    "run_suite": "ganbench.api",
    "SuiteResult": "ganbench.api",
    "load": "ganbench.api",
    "GanbenchError": "ganbench.errors",
    "register_loss": "ganbench.losses",
    "LossTerms": "ganbench.losses",
    "register_strategy": "ganbench.strategies",
    "Strategy": "ganbench.strategies",
    "register_dataset": "ganbench.data",
    "GaussianMixture": "ganbench.data",
    "DataOptions": "ganbench.data",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ganbench' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
