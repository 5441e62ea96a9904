"""Mode coverage (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganbench.metrics import HIGH_QUALITY, KL_UNIFORM, MODES_COVERED


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p || uniform) of the histogram ``counts`` over its bins; log(bins) when the histogram is empty."""
    counts = counts.to(torch.float64)
    bins = counts.numel()
    total = counts.sum()
    if total == 0:
        return math.log(bins)
    p = counts / total
    nz = p > 0
    return float((p[nz] * (p[nz] * bins).log()).sum())


def mixture_coverage(samples: Tensor, means: Tensor, sigma: float) -> dict[str, float]:
    """Modes covered, % high-quality samples, and KL of the high-quality mode histogram to uniform.

    A sample is high quality within 3 sigma of its nearest mean; a mode is covered when it is the nearest mean
    of at least one high-quality sample (the PacGAN protocol, Lin et al. 2018).
    """
    samples = samples.detach().to("cpu", torch.float64)
    means = means.to(torch.float64)
    finite = torch.isfinite(samples).all(dim=1)
    dist = torch.cdist(samples[finite], means)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= 3 * sigma
    counts = torch.bincount(nearest[hq], minlength=means.shape[0])
    return {
        MODES_COVERED: float((counts > 0).sum()),
        HIGH_QUALITY: 100.0 * float(hq.sum()) / samples.shape[0],
        KL_UNIFORM: kl_to_uniform(counts),
    }


def label_coverage(labels: Tensor, num_classes: int) -> dict[str, float]:
    """Classes (modes) that received at least one sample, and KL(label histogram || uniform)."""
    counts = torch.bincount(labels.reshape(-1).cpu(), minlength=num_classes)
    return {MODES_COVERED: float((counts > 0).sum()), KL_UNIFORM: kl_to_uniform(counts)}
