"""Metrics between feature sets, through torch-fidelity's own functions (never re-implemented): FID (Heusel et al.
2017), KID (Binkowski et al. 2018) and precision/recall (Kynkaanniemi et al. 2019)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

from ganbench.metrics import fid_key, kid_key, precision_key, recall_key

METRICS = ("fid", "kid", "prc", "is")  # "is": the Inception Score, computed in the inception space only
# precision/recall compare k-nearest-neighbour balls of every pair of samples: 18 s for 10,000 against 10,000
# (192-d) on one core of the 2-core CPU, 2.1 s for 5,000, 0.6 s for 2,500; so they use the first PRC_SAMPLES
PRC_SAMPLES = 2500
PRC_FULL_LIMIT = 5000  # above this many samples, torch-fidelity's memory-saving precision/recall path


def fid_statistics(features: Tensor) -> dict:
    """Mean and covariance of ``[n, d]`` features (float64), as torch-fidelity computes them."""
    return fid_features_to_statistics(features.detach().to("cpu", torch.float64))


def fid_from_statistics(stats_a: dict, stats_b: dict) -> float:
    return float(fid_statistics_to_metric(stats_a, stats_b, verbose=False)[KEY_METRIC_FID])


def feature_metrics(
    fake: Tensor,
    real: Tensor,
    space: str,
    *,
    real_stats: dict | None = None,
    metrics: tuple[str, ...] = METRICS,
    kid_subsets: int = 10,
    kid_subset_size: int = 1000,
    prc_neighborhood: int = 3,
    prc_samples: int | None = None,
    seed: int = 2020,
) -> dict[str, float]:
    """FID (Heusel et al. 2017), KID (Binkowski et al. 2018) and precision/recall (Kynkaanniemi et al. 2019)
    between ``[n, d]`` feature sets, computed by torch-fidelity; keys carry ``space``.

    FID uses ``real_stats`` when given (the training set's), else ``real``'s. KID averages ``kid_subsets``
    subsets of ``min(kid_subset_size, n)`` samples (cubic polynomial kernel); precision/recall use the first
    ``prc_samples`` of each set (all when None) and the ``prc_neighborhood``-th nearest neighbour radius.
    """
    fake, real = fake.detach().cpu().float(), real.detach().cpu().float()
    out: dict[str, float] = {}
    if "fid" in metrics:
        out[fid_key(space)] = fid_from_statistics(fid_statistics(fake), real_stats or fid_statistics(real))
    if "kid" in metrics:
        size = min(kid_subset_size, len(fake), len(real))
        kid = kid_features_to_metric(
            fake, real, kid_subsets=kid_subsets, kid_subset_size=size, rng_seed=seed, verbose=False
        )
        out[kid_key(space)] = kid[KEY_METRIC_KID_MEAN]
    if "prc" in metrics:
        fake_p, real_p = (fake, real) if prc_samples is None else (fake[:prc_samples], real[:prc_samples])
        prc = prc_features_to_metric(
            fake_p,
            real_p,
            prc_neighborhood=prc_neighborhood,
            save_cpu_ram=max(len(fake_p), len(real_p)) > PRC_FULL_LIMIT,
            verbose=False,
        )
        out[precision_key(space)], out[recall_key(space)] = prc[KEY_METRIC_PRECISION], prc[KEY_METRIC_RECALL]
    return out
