"""Metrics: FID/KID/precision-recall through torch-fidelity, mode coverage, stability.

Metric names are the constants below, used everywhere: tables, MLflow keys, the Optuna objective. A metric
computed in a feature space carries the space in its name (``fid_raw``, ``fid_domain``, ``fid_inception``),
so numbers from different feature spaces never share a column. The 2-D mixtures' primary metric is ``w1_raw``:
the exact Wasserstein-1 distance in data space (:mod:`ganbench.metrics.wasserstein`).
"""

from __future__ import annotations

from dataclasses import dataclass

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


# ---------------------------------------------------------------------------------------------- the metrics
@dataclass(frozen=True)
class MetricSpec:
    """One metric (a family, when it is computed in feature spaces: ``fid`` is ``fid_raw``, ``fid_domain`` ...).

    Everything else is derived from these: which way is better, the tuning objectives a suite may name, the
    report's column order and number format, which columns are ranked, summarized as diagnostics or as a run's
    cost, drawn as curves, kept to the detail table, or kept out of the tables, and ``ganbench list metrics``.
    """

    name: str
    label: str
    higher_is_better: bool = False
    spaces: tuple[str, ...] = ()  # the feature spaces it is computed in; () = none (the name as it is)
    # "quality" (ranked), "coverage" (ranked, PacGAN's order: ``position``), "diagnostic" (summarized, never
    # ranked) or "record" (logged for a run, kept out of the tables)
    kind: str = "quality"
    objective: bool = False  # tuning may optimize it (``tuning.objective``)
    position: int | None = None  # its place among the coverage metrics
    # the values it can take (None: unbounded); an interval for its mean is clipped to them
    bounds: tuple[float | None, float | None] = (0.0, None)
    first: bool = False  # ordered before every other metric in the tables (the distances: FID, KID)
    curve: bool = False  # drawn in the report's curves figure (the primary metric always is)
    detail_only: tuple[str, ...] = ()  # feature spaces whose column only the detail table shows
    resource: bool = False  # what a run cost: summarized per contender, never ranked
    # decimals of its cells in every table; None: chosen per dataset from the contenders' means, so that a
    # typical value shows three significant digits
    decimals: int | None = None

    def names(self) -> list[str]:
        return [f"{self.name}_{s}" for s in self.spaces] if self.spaces else [self.name]


METRICS: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Declare a metric; a plugin's evaluator declares the metrics it logs the same way."""
    METRICS[spec.name] = spec
    return spec


for _spec in (
    # FID in pixels (fid_raw) is a column of the detail table only: it compares means and covariances
    MetricSpec(
        "fid",
        "Fréchet distance of features",
        spaces=FEATURE_SPACES,
        objective=True,
        first=True,
        curve=True,
        detail_only=("raw",),
    ),
    MetricSpec(
        "kid",
        "kernel inception distance",
        spaces=FEATURE_SPACES,
        objective=True,
        bounds=(None, None),
        first=True,
        curve=True,
    ),  # unbiased: small negative values occur
    MetricSpec("w1", "exact Wasserstein-1 distance", spaces=("raw",), objective=True),
    MetricSpec(
        "precision",
        "precision (Kynkäänniemi et al. 2019)",
        True,
        FEATURE_SPACES,
        objective=True,
        bounds=(0.0, 1.0),
        curve=True,
    ),
    MetricSpec(
        "recall",
        "recall (Kynkäänniemi et al. 2019)",
        True,
        FEATURE_SPACES,
        objective=True,
        bounds=(0.0, 1.0),
        curve=True,
    ),
    MetricSpec("is", "Inception Score", True, ("inception",), bounds=(1.0, None)),
    MetricSpec(MODES_COVERED, "modes covered", True, kind="coverage", objective=True, position=0, curve=True),
    MetricSpec(
        HIGH_QUALITY,
        "high-quality samples, %",
        True,
        kind="coverage",
        objective=True,
        position=1,
        bounds=(0.0, 100.0),
        curve=True,
    ),
    MetricSpec(KL_UNIFORM, "KL(mode histogram || uniform)", kind="coverage", objective=True, position=2, curve=True),
    MetricSpec(GRAD_NORM_G, "G gradient norm", kind="diagnostic"),
    MetricSpec(GRAD_NORM_D, "D gradient norm", kind="diagnostic"),
    MetricSpec(LOSS_OSCILLATION, "D loss oscillation", kind="diagnostic"),
    MetricSpec(COMPUTE, "a run's model compute, GFLOP", kind="diagnostic", resource=True),
    MetricSpec(LOSS_D, "D loss", kind="record"),
    MetricSpec(LOSS_G, "G loss", kind="record"),
    MetricSpec(DIVERGED, "diverged (0/1)", kind="record"),
    MetricSpec(DIVERGED_STEP, "step of divergence", kind="record"),
    MetricSpec(WALL, "wall seconds", kind="record", resource=True),
):
    register_metric(_spec)


def spec_of(metric: str) -> MetricSpec | None:
    """The spec of a metric name, its ``best_``/``gap_`` variants included; None for a metric nobody declared."""
    base = metric.removeprefix("best_").removeprefix("gap_")
    for spec in METRICS.values():
        if base in spec.names():
            return spec
    return None


def decimals_of(metric: str) -> int | None:
    """The decimals a metric's spec fixes for the tables; None: chosen from the values (a ``gap_`` too)."""
    spec = spec_of(metric)
    return None if spec is None or metric.startswith("gap_") else spec.decimals


def bounds_of(metric: str) -> tuple[float | None, float | None]:
    """The range a metric's values lie in; unbounded for an undeclared metric and for a ``gap_`` (a difference)."""
    spec = spec_of(metric)
    if spec is None or metric.startswith("gap_"):
        return (None, None)
    return spec.bounds


def in_curves(metric: str) -> bool:
    """A metric the curves figure draws (its ``best_``/``gap_`` variants never)."""
    spec = spec_of(metric)
    return spec is not None and spec.curve and not metric.startswith(("best_", "gap_"))


def detail_only(metric: str) -> bool:
    """A column only the detail table shows: the ``best_``/``gap_`` variants, and a spec's ``detail_only`` spaces."""
    spec = spec_of(metric)
    in_detail = spec is not None and feature_space_of(metric) in spec.detail_only
    return metric.startswith(("best_", "gap_")) or in_detail


def resources() -> set[str]:
    """The metrics that say what a run cost (summarized, never ranked)."""
    return {n for spec in METRICS.values() if spec.resource for n in spec.names()}


def objectives() -> list[str]:
    """Every metric name tuning may optimize."""
    return [n for spec in METRICS.values() if spec.objective for n in spec.names()]


def names_of_kind(kind: str) -> set[str]:
    return {n for spec in METRICS.values() if spec.kind == kind for n in spec.names()}


def is_higher_better(metric: str) -> bool:
    spec = spec_of(metric)
    return spec is not None and spec.higher_is_better
