"""Metrics: FID/KID/precision-recall through torch-fidelity, mode coverage, stability.

Metric names are the constants below, used everywhere: tables, MLflow keys, the Optuna objective. A metric
computed in a feature space carries the space in its name (``fid_raw``, ``fid_domain``, ``fid_inception``),
so numbers from different feature spaces never share a column. The 2-D mixtures' primary metric is ``w1_raw``:
the exact Wasserstein-1 distance in data space (:mod:`ganbench.metrics.wasserstein`).
"""

from __future__ import annotations

MODES_COVERED = "modes_covered"
HIGH_QUALITY = "high_quality_pct"
KL_UNIFORM = "kl_uniform"
DIVERGED = "diverged"
DIVERGED_STEP = "diverged_step"
GRAD_NORM_G = "grad_norm_g"
GRAD_NORM_D = "grad_norm_d"
LOSS_D = "loss_d"
LOSS_G = "loss_g"
LOSS_OSCILLATION = "loss_d_oscillation"
COMPUTE = "compute_gflop"  # a run's model FLOPs (ganbench.compute), in GFLOP
WALL = "wall_seconds"  # a run's share of its population's wall time
FEATURE_SPACES = ("raw", "domain", "inception")

# lower is better unless listed here
HIGHER_IS_BETTER = {MODES_COVERED, HIGH_QUALITY}


def fid_key(space: str) -> str:
    return f"fid_{space}"


def w1_key(space: str) -> str:
    """Wasserstein-1 (earth mover's) distance in ``space``; lower is better."""
    return f"w1_{space}"


def kid_key(space: str) -> str:
    return f"kid_{space}"


def precision_key(space: str) -> str:
    return f"precision_{space}"


def recall_key(space: str) -> str:
    return f"recall_{space}"


def is_key(space: str) -> str:
    """The Inception Score (Salimans et al. 2016); only in the ``inception`` space; higher is better."""
    return f"is_{space}"


def best_key(metric: str) -> str:
    """The best value a metric reached over a run's evaluations (StudioGAN's best checkpoint)."""
    return f"best_{metric}"


def gap_key(metric: str) -> str:
    """final - best: how much a run lost after its best evaluation."""
    return f"gap_{metric}"


def feature_space_of(metric: str) -> str | None:
    """The feature space a metric name belongs to, or None for space-free metrics."""
    for space in FEATURE_SPACES:
        if metric.endswith(f"_{space}"):
            return space
    return None


def is_higher_better(metric: str) -> bool:
    base = metric.removeprefix("best_")
    return base in HIGHER_IS_BETTER or base.startswith(("precision_", "recall_", "is_"))
