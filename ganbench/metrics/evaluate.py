"""Evaluators: one per dataset kind, built once per dataset (real statistics cached), called on samples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from ganbench.metrics import fid_key
from ganbench.metrics.coverage import mixture_coverage
from ganbench.metrics.fid import fid_from_statistics, fid_statistics
from ganbench.registry import Registry

EvaluatorFactory = Callable[..., "Evaluator"]
EVALUATORS: Registry[EvaluatorFactory] = Registry("evaluator")
REFERENCE_SEED = 1234  # real samples for evaluation come from a stream no training run uses


class Evaluator:
    """``evaluator(samples) -> {metric: value}``; ``primary`` names the metric tuning minimizes."""

    primary: str
    feature_space: str

    def __call__(self, samples: Tensor) -> dict[str, float]:
        raise NotImplementedError

    def protocol(self) -> dict[str, Any]:
        """What must be logged for the numbers to be comparable (sample counts, feature space, weights)."""
        return {"feature_space": self.feature_space}


@EVALUATORS.register("points")
class PointsEvaluator(Evaluator):
    """2-D mixtures: PacGAN mode coverage and FID in raw data space (``fid_raw``)."""

    feature_space = "raw"
    primary = fid_key("raw")

    def __init__(self, dataset: Any, *, eval_samples: int = 2500, **_: Any) -> None:
        self.dataset = dataset
        self.eval_samples = eval_samples
        self.real_stats = fid_statistics(dataset.reference(eval_samples, REFERENCE_SEED))

    def __call__(self, samples: Tensor) -> dict[str, float]:
        out = mixture_coverage(samples, self.dataset.means, self.dataset.sigma)
        out[self.primary] = fid_from_statistics(fid_statistics(samples), self.real_stats)
        return out

    def protocol(self) -> dict[str, Any]:
        return {
            "feature_space": "raw",
            "eval_samples": self.eval_samples,
            "high_quality_radius": "3 sigma",
            "sigma": self.dataset.sigma,
        }


@EVALUATORS.register("image")
def image_evaluator(dataset: Any, **options: Any) -> Evaluator:
    """Images: FID/KID/precision-recall in the domain (and inception) feature spaces, mode coverage; see
    :class:`ganbench.metrics.images.ImageEvaluator` for the options."""
    # imported late: the classifier and torch-fidelity's extractors load only when images are evaluated
    from ganbench.metrics.images import ImageEvaluator

    return ImageEvaluator(dataset, **options)


def create_evaluator(dataset: Any, **options: Any) -> Evaluator:
    return EVALUATORS.get(dataset.kind)(dataset, **options)
