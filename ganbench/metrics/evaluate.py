"""Evaluators: one per dataset kind, built once per dataset (real statistics cached), called on samples.

Each evaluator class is registered with ``@EVALUATORS.register(kind)`` in the module that defines it (a plugin's
too). The bundled ones are imported when a dataset of their kind is first evaluated: the image evaluator's module
loads torch-fidelity (about 1.3 s), which a 2-D suite never needs.
"""

from __future__ import annotations

import importlib
from typing import Any

from ganbench.metrics.base import EVALUATORS, REFERENCE_SEED, Evaluator

__all__ = ["EVALUATORS", "REFERENCE_SEED", "Evaluator", "create_evaluator"]

BUNDLED = {"points": "ganbench.metrics.points", "image": "ganbench.metrics.images"}  # kind -> defining module


def create_evaluator(dataset: Any, **options: Any) -> Evaluator:
    if dataset.kind not in EVALUATORS and dataset.kind in BUNDLED:
        importlib.import_module(BUNDLED[dataset.kind])  # registers it
    return EVALUATORS.get(dataset.kind)(dataset, **options)
