"""The evaluator interface and its registry (one evaluator per dataset kind)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from ganbench.registry import Registry

EvaluatorFactory = Callable[..., "Evaluator"]
EVALUATORS: Registry[EvaluatorFactory] = Registry("evaluator")
REFERENCE_SEED = 1234  # real samples for evaluation come from a stream no training run uses
REAL_SEED = 5000  # first seed of the real draws scored as if generated (Evaluator.real_scores)
REAL_REPEATS = 10  # real draws scored per dataset: enough for a spread, cheap beside one training run


class Evaluator:
    """``evaluator(samples) -> {metric: value}``; ``primary`` names the metric tuning minimizes."""

    primary: str
    feature_space: str
    dataset: Any
    eval_samples: int

    def __call__(self, samples: Tensor) -> dict[str, float]:
        raise NotImplementedError

    def protocol(self) -> dict[str, Any]:
        """What must be logged for the numbers to be comparable (sample counts, feature space, weights)."""
        return {"feature_space": self.feature_space}

    def real_scores(self, repeats: int = REAL_REPEATS, seed: int = REAL_SEED) -> dict[str, list[float]]:
        """What real data scores: ``repeats`` independent real samples, each as many as a generator's evaluation
        (``eval_samples``), scored exactly as generated samples are. The ceiling of every metric, and the spread
        of a metric over these draws is its evaluation noise (the report's region of practical equivalence).

        The draws come from seeds ``seed, seed + 1, ...``, none of them the reference's."""
        out: dict[str, list[float]] = {}
        for k in range(repeats):
            values = self(self.dataset.reference(self.eval_samples, seed + k))
            for name, value in values.items():
                out.setdefault(name, []).append(float(value))
        return out
