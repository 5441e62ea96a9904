"""Evaluators: one per dataset kind, built once per dataset (real statistics cached), called on samples."""

from __future__ import annotations

from typing import Any

from ganbench.metrics import points  # noqa: F401 - registers the points evaluator
from ganbench.metrics.base import EVALUATORS, REFERENCE_SEED, Evaluator

__all__ = ["EVALUATORS", "REFERENCE_SEED", "Evaluator", "create_evaluator"]


@EVALUATORS.register("image")
def image_evaluator(dataset: Any, **options: Any) -> Evaluator:
    """Images: FID/KID/precision-recall in the domain (and inception) feature spaces, mode coverage; see
    :class:`ganbench.metrics.images.ImageEvaluator` for the options."""
    # imported late: the classifier and torch-fidelity's extractors load only when images are evaluated
    from ganbench.metrics.images import ImageEvaluator

    return ImageEvaluator(dataset, **options)


def create_evaluator(dataset: Any, **options: Any) -> Evaluator:
    return EVALUATORS.get(dataset.kind)(dataset, **options)
