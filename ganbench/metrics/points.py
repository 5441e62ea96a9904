"""The 2-D mixtures' evaluator: mode coverage, ``w1_raw`` (primary) and ``fid_raw``."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ganbench.metrics import fid_key, w1_key
from ganbench.metrics.base import EVALUATORS, REFERENCE_SEED, Evaluator
from ganbench.metrics.coverage import mixture_coverage
from ganbench.metrics.fid import fid_from_statistics, fid_statistics
from ganbench.metrics.wasserstein import W1_SAMPLES, balanced_reference, wasserstein1


@EVALUATORS.register("points")
class PointsEvaluator(Evaluator):
    """2-D mixtures: PacGAN mode coverage, the exact Wasserstein-1 distance in data space (``w1_raw``, the
    primary metric: it sees coverage and sharpness) and FID in data space (``fid_raw``, a column only: it
    sees moments).

    ``w1_raw`` compares the first ``W1_SAMPLES`` samples with a fixed real reference of as many points,
    equally many per mode (:mod:`ganbench.metrics.wasserstein`). Non-finite samples score ``inf`` on both
    distances."""

    feature_space = "raw"
    primary = w1_key("raw")

    def __init__(self, dataset: Any, *, eval_samples: int = 2500, **_: Any) -> None:
        self.dataset = dataset
        self.eval_samples = eval_samples
        self.real_stats = fid_statistics(dataset.reference(eval_samples, REFERENCE_SEED))
        per_mode = W1_SAMPLES // dataset.means.shape[0]
        pool = dataset.reference(4 * W1_SAMPLES, REFERENCE_SEED)
        self.w1_reference = balanced_reference(pool, dataset.means, per_mode)

    def __call__(self, samples: Tensor) -> dict[str, float]:
        out = mixture_coverage(samples, self.dataset.means, self.dataset.sigma)
        if not bool(torch.isfinite(samples).all()):  # a diverged generator; torch-fidelity would raise on it
            out[self.primary] = out[fid_key("raw")] = math.inf
            return out
        out[self.primary] = wasserstein1(samples[:W1_SAMPLES], self.w1_reference)
        out[fid_key("raw")] = fid_from_statistics(fid_statistics(samples), self.real_stats)
        return out

    def protocol(self) -> dict[str, Any]:
        return {
            "feature_space": "raw",
            "primary": self.primary,
            "eval_samples": self.eval_samples,
            "reference_seed": REFERENCE_SEED,
            "modes": self.dataset.means.shape[0],
            "w1_samples": min(self.eval_samples, W1_SAMPLES),
            "w1_reference": f"{self.w1_reference.shape[0]} real points, equally many per mode",
            "high_quality_radius": "3 sigma",
            "sigma": self.dataset.sigma,
        }
