"""Frechet distance between feature sets, through torch-fidelity's statistics functions (never re-implemented)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric


def fid_statistics(features: Tensor) -> dict:
    """Mean and covariance of ``[n, d]`` features (float64), as torch-fidelity computes them."""
    return fid_features_to_statistics(features.detach().to("cpu", torch.float64))


def fid_from_statistics(stats_a: dict, stats_b: dict) -> float:
    return float(fid_statistics_to_metric(stats_a, stats_b, verbose=False)[KEY_METRIC_FID])
