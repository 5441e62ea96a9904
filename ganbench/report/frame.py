"""The store as a table: one row per final run (identity columns, then final metric values), and what the
runs say about their datasets (primary metric, modes, feature spaces)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ganbench import metrics as M
from ganbench.errors import GanbenchError
from ganbench.status import DONE_VALUES, Status
from ganbench.tracking import REAL_PREFIX, TAG_CONTENDER, TAG_REPLICATE, TAG_STATUS, MLflowStore, loss_label

ID_COLUMNS = [
    "dataset",
    "loss",
    "strategy",
    "contender",
    "replicate",
    "seed",
    "status",
    "feature_space",
    "primary",
    "modes",
    "mode_label_accuracy",
    "run_id",
    "error",
    "lr_decay_from",
    "eval_samples",
    "image_size",
    "classifier_accuracy",
    "classifier_test_size",
]
KEYS = ["dataset", "loss", "strategy"]
# logged per evaluation for diagnosis; M.DIVERGED is summarized as the fraction of seeds that diverged
TABLE_EXCLUDE = M.names_of_kind("record")
# summarized, never ranked: no "better" (a run's compute is its cost, shown beside the table)
DIAGNOSTICS = M.names_of_kind("diagnostic")
FEATURE_SPACE_KEYS = ("eval.feature_space", "feature_space", "ganbench.feature_space")  # params, then tags
PRIMARY_KEYS = ("eval.primary", "primary_metric")  # params naming the evaluator's primary metric, if logged
MODES_KEYS = ("eval.modes", "eval.num_modes")  # params giving the number of modes (image evaluators log it)


class ReportError(GanbenchError, ValueError):
    """The store's runs cannot be reported as asked; the message is one line."""


# ---------------------------------------------------------------------------------------------- reading the store
def runs_frame(store: MLflowStore, parent_id: str, phase: str = "final") -> pd.DataFrame:
    """One row per child run of ``phase``: identity columns, then the run's final metric values.

    A diverged run's final quality metrics are NaN (its last evaluation predates the divergence); its
    ``best_*`` values and the ``diverged`` flag remain.
    """
    rows = []
    for run in store.children(parent_id, phase):
        p, tags = run.data.params, run.data.tags
        row = {
            "dataset": p.get("dataset"),
            # the contender tag carries the loss's display name, which tells lsgan variants apart
            "loss": loss_label(tags, p),
            "strategy": p.get("strategy"),
            "contender": tags.get(TAG_CONTENDER),
            "replicate": int(tags.get(TAG_REPLICATE, 0)),
            "seed": int(p["seed"]) if "seed" in p else None,
            "status": tags.get(TAG_STATUS),
            "feature_space": next((d[k] for k in FEATURE_SPACE_KEYS for d in (p, tags) if k in d), None),
            "primary": _primary_of(p, run.data.metrics),
            "modes": next((int(float(p[k])) for k in MODES_KEYS if k in p), None),
            # how often the image evaluator's classifier reads a real sample's mode right (held out)
            "mode_label_accuracy": _float_or_nan(p.get("eval.mode_label_accuracy")),
            "run_id": run.info.run_id,
            "error": tags.get("ganbench.error"),
            # where the learning rates began to decay (a share of the steps); NaN: constant rates
            "lr_decay_from": _float_or_nan(p.get("lr_decay_from")),
            # how the run was evaluated: samples per evaluation, image side (NaN: 2-D points), and the held-out
            # accuracy (and test size) of the domain feature space's digit classifier, where one is used
            "eval_samples": _float_or_nan(p.get("eval_samples")),
            "image_size": _float_or_nan(p.get("image_size")),
            "classifier_accuracy": _float_or_nan(p.get("eval.domain_classifier_test_accuracy")),
            "classifier_test_size": _float_or_nan(p.get("eval.domain_classifier_test_size")),
            **run.data.metrics,
        }
        if row["status"] == Status.DIVERGED:
            for k in run.data.metrics:
                if not k.startswith(("best_", M.DIVERGED, "grad_norm", "loss_")):
                    row[k] = np.nan
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else ID_COLUMNS)
    return frame.sort_values(["dataset", "loss", "strategy", "replicate", "seed"], ignore_index=True) if rows else frame


def real_frame(store: MLflowStore, parent_id: str) -> pd.DataFrame:
    """What real data scores, per dataset and metric (mean, std and number of real draws), as the run logged it
    on the suite run (``Runner`` logs it before training); empty when it did not."""
    run = store.client.get_run(parent_id)
    rows = []
    for key in run.data.metrics:
        if not key.startswith(REAL_PREFIX):
            continue
        dataset, metric = key.removeprefix(REAL_PREFIX).rsplit(".", 1)
        values = np.array([v for _, v in store.history(parent_id, key)], dtype=float)
        rows.append(
            {
                "dataset": dataset,
                "metric": metric,
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                "draws": len(values),
            }
        )
    return pd.DataFrame(rows, columns=["dataset", "metric", "mean", "std", "draws"])


def ropes_from(real: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Each (dataset, metric)'s region of practical equivalence: the spread of real data's scores over
    independent draws of the evaluation's size (0 where real data always scores the same)."""
    return {(r.dataset, r.metric): (0.0 if pd.isna(r.std) else float(r.std)) for r in real.itertuples()}


def evaluation_notes(runs: pd.DataFrame) -> dict[str, list[str]]:
    """Per dataset, one line on how its runs were evaluated: the sample count, the resolution, the feature space
    of FID and its kin (a domain space's scores are not comparable with papers), and how modes were read."""
    out = {}
    for dataset, part in runs.groupby("dataset", sort=True):
        first = part.iloc[0]
        known = functools.partial(_first_number, part)
        parts = []
        samples, side = known("eval_samples"), known("image_size")
        if samples is not None:
            parts.append(f"{samples:,.0f} samples per evaluation")
        if side is not None:
            parts.append(f"images at {side:.0f}×{side:.0f}")
        space = first.get("feature_space")
        if space == "domain":
            accuracy, size = known("classifier_accuracy"), known("classifier_test_size")
            held_out = f", {accuracy:.1%} accurate on {size:.0f} held-out images" if accuracy and size else ""
            parts.append(
                f"FID, KID, precision and recall in a domain feature space (ganbench's own digit "
                f"classifier{held_out}), not Inception's: not comparable with published values"
            )
        elif space == "inception":
            parts.append("FID, KID, precision and recall in Inception-v3's feature space (torch-fidelity)")
        elif space == "raw":
            parts.append("metrics on the raw 2-D coordinates")
        modes, label = known("modes"), known("mode_label_accuracy")
        if modes is not None:
            read = f", read by that classifier ({label:.1%} of held-out real samples read right)" if label else ""
            parts.append(f"{modes:,.0f} modes{read}")
        if parts:
            out[str(dataset)] = ["Evaluation: " + "; ".join(parts) + "."]
    return out


def _first_number(part: pd.DataFrame, column: str) -> float | None:
    value = pd.to_numeric(part[column], errors="coerce").dropna() if column in part else pd.Series()
    return float(value.iloc[0]) if len(value) else None


def _float_or_nan(value: str | None) -> float:
    return np.nan if value in (None, "None") else float(value)


def _primary_of(params: dict[str, str], metrics: dict[str, float]) -> str | None:
    """The evaluator's primary metric of a run: a logged param if any, else the metric whose ``gap_`` the
    trainer logs (it does so for the primary metric only; a diverged run has none)."""
    named = next((params[k] for k in PRIMARY_KEYS if k in params), None)
    gaps = [k.removeprefix("gap_") for k in metrics if k.startswith("gap_")]
    return named or (gaps[0] if len(gaps) == 1 else None)


def primary_metrics(runs: pd.DataFrame) -> dict[str, str]:
    """Per dataset, the metric it is ranked by: the evaluator's primary as its runs record it; for runs that
    record none, the first ranked metric of the table (FID/KID first)."""
    out = {}
    for dataset, part in runs[runs["status"].isin(DONE_VALUES)].groupby("dataset", sort=True):
        named = part["primary"].dropna() if "primary" in part else pd.Series(dtype=object)
        ranked = [c for c in metric_columns(part) if c not in DIAGNOSTICS and part[c].notna().any()]
        ranked = [c for c in ranked if not c.startswith(("best_", "gap_"))]
        choice = named.mode().iloc[0] if not named.empty else (ranked[0] if ranked else None)
        if choice is not None and choice in part:
            out[str(dataset)] = str(choice)
    return out


def dataset_modes(runs: pd.DataFrame) -> dict[str, int]:
    """Per dataset, its number of modes: as the runs' evaluator logged it, else a 2-D mixture's mode count."""
    from ganbench.data import GaussianMixture, dataset_kind, load_dataset

    out = {}
    for dataset, part in runs.groupby("dataset", sort=True):
        logged = part["modes"].dropna() if "modes" in part else pd.Series(dtype=float)
        if not logged.empty:
            out[str(dataset)] = int(logged.iloc[0])
            continue
        try:  # the embedded mixtures are built in microseconds and need no files
            data = load_dataset(str(dataset)) if dataset_kind(str(dataset)) == "points" else None
        except Exception:  # an unknown or unloadable dataset: its mode count stays unknown
            data = None
        if isinstance(data, GaussianMixture):
            out[str(dataset)] = data.num_modes
    return out


def metric_columns(frame: pd.DataFrame) -> list[str]:
    cols = [c for c in frame.columns if c not in ID_COLUMNS and c not in TABLE_EXCLUDE]
    return sorted(cols, key=_metric_order)


def _metric_order(metric: str) -> tuple[int, str, int]:
    """fid/kid first, then coverage (PacGAN's order), then the rest; a metric's best_ and gap_ variants after it."""
    base = metric.removeprefix("best_").removeprefix("gap_")
    spec = M.spec_of(base)
    kind = spec.kind if spec else "quality"
    group = 0 if spec is not None and spec.first else 1 if kind == "coverage" else 3 if kind == "diagnostic" else 2
    key = str(spec.position) if spec is not None and spec.position is not None else base
    return group, key, 0 if metric == base else 1 if metric.startswith("best_") else 2


def _family(metric: str) -> str:
    space = M.feature_space_of(metric)
    return metric.removeprefix("best_").removeprefix("gap_").removesuffix(f"_{space}")


def check_feature_spaces(frame: pd.DataFrame) -> None:
    """Refuse (ReportError) when runs of one dataset measured a metric in different feature spaces, or declare
    different feature spaces, or declare one their metric names do not carry."""
    spaced = [c for c in metric_columns(frame) if M.feature_space_of(c)]
    for dataset, part in frame.groupby("dataset", sort=True):
        declared = part["feature_space"].dropna()
        for family in sorted({_family(c) for c in spaced}):
            cols = [c for c in spaced if _family(c) == family]
            logged = part[cols].notna()
            per_run = logged.apply(lambda r, cols=cols: frozenset(M.feature_space_of(c) for c in cols if r[c]), axis=1)
            kinds = {s for s in per_run if s}
            if len(kinds) > 1:
                spaces = " vs ".join("+".join(sorted(s)) for s in sorted(kinds, key=sorted))
                raise ReportError(
                    f"{family} on {dataset} comes from different feature spaces ({spaces}); "
                    "numbers from different feature spaces never share a column: report them apart"
                )
            names = ", ".join(sorted(c for c in cols if logged[c].any()))
            if declared.nunique() > 1:
                raise ReportError(
                    f"{names} on {dataset}: the runs declare different feature spaces "
                    f"({', '.join(sorted(declared.unique()))}); report them apart"
                )
            wrong = {d for d, s in zip(part["feature_space"], per_run) if s and pd.notna(d) and d not in s}
            if wrong:
                raise ReportError(
                    f"{names} on {dataset}: the runs declare feature space {', '.join(sorted(wrong))} "
                    f"but log {'+'.join(sorted(kinds.pop()))}"
                )
