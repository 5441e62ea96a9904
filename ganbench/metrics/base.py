"""The evaluator interface and its registry (one evaluator per dataset kind)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

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
