"""The comparison report, built only from what the MLflow store holds (so it can be rebuilt after a crash or on
another machine). pandas appears here and in ``report_html`` (which writes the files), nowhere else.

Per dataset and contender (loss x strategy), every metric is summarized over seeds (mean, std, median, range,
95 % bootstrap CI); contenders are ranked per metric, and the best one is marked together with every contender
that a test over seeds cannot tell apart from it (Wilcoxon signed-rank paired by seed when all contenders share
their seeds, Mann-Whitney U otherwise; Holm correction over the comparisons against the best).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ganbench import headline as H
from ganbench import metrics as M
from ganbench import validity
from ganbench.errors import GanbenchError
from ganbench.ranking import ALPHA, Ranking, namer, overall_ranking
from ganbench.tracking import TAG_CONTENDER, TAG_STATUS, MLflowStore

ID_COLUMNS = ["dataset", "loss", "strategy", "contender", "seed", "status", "feature_space", "primary", "modes",
              "run_id", "error"]  # fmt: skip
KEYS = ["dataset", "loss", "strategy"]
DONE_STATUSES = ("finished", "diverged", "pruned")
# logged per evaluation for diagnosis; M.DIVERGED is summarized as the fraction of seeds that diverged
TABLE_EXCLUDE = {M.LOSS_D, M.LOSS_G, M.DIVERGED_STEP, M.DIVERGED}
DIAGNOSTICS = {M.GRAD_NORM_G, M.GRAD_NORM_D, M.LOSS_OSCILLATION}  # summarized, never ranked: no "better"
FEATURE_SPACE_KEYS = ("eval.feature_space", "feature_space", "ganbench.feature_space")  # params, then tags
PRIMARY_KEYS = ("eval.primary", "primary_metric")  # params naming the evaluator's primary metric, if logged
MODES_KEYS = ("eval.modes", "eval.num_modes")  # params giving the number of modes (image evaluators log it)
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # the same resamples every time: a rebuilt report has the same intervals


class ReportError(GanbenchError, ValueError):
    """The store's runs cannot be reported as asked; the message is one line."""


@dataclass
class ReportResult:
    """What ``build_report`` wrote, and the tables it wrote them from."""

    report_dir: Path
    files: dict[str, Path]  # csv, runs_csv, markdown, latex, html
    figures: list[Path]
    runs: pd.DataFrame  # one row per final run: identity columns, then its final metric values
    summary: pd.DataFrame  # one row per dataset, contender and metric: statistics over seeds, rank, marks
    notes: dict[str, list[str]] = field(default_factory=dict)  # per dataset: runs left out
    primary: dict[str, str] = field(default_factory=dict)  # per dataset: the metric it is ranked by
    modes: dict[str, int] = field(default_factory=dict)  # per dataset with known modes: how many
    ranking: Ranking | None = None  # over (dataset, seed) blocks
    findings: list[validity.Finding] = field(default_factory=list)  # validity warnings
    headline: list[str] = field(default_factory=list)  # the verdict lines that open the report

    @property
    def paths(self) -> list[Path]:
        return [*self.files.values(), *self.figures]


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
            "loss": (tags.get(TAG_CONTENDER) or p.get("loss", "")).split("|")[0],
            "strategy": p.get("strategy"),
            "contender": tags.get(TAG_CONTENDER),
            "seed": int(p["seed"]) if "seed" in p else None,
            "status": tags.get(TAG_STATUS),
            "feature_space": next((d[k] for k in FEATURE_SPACE_KEYS for d in (p, tags) if k in d), None),
            "primary": _primary_of(p, run.data.metrics),
            "modes": next((int(float(p[k])) for k in MODES_KEYS if k in p), None),
            "run_id": run.info.run_id,
            "error": tags.get("ganbench.error"),
            **run.data.metrics,
        }
        if row["status"] == "diverged":
            for k in run.data.metrics:
                if not k.startswith(("best_", M.DIVERGED, "grad_norm", "loss_")):
                    row[k] = np.nan
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else ID_COLUMNS)
    return frame.sort_values(["dataset", "loss", "strategy", "seed"], ignore_index=True) if rows else frame


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
    for dataset, part in runs[runs["status"].isin(DONE_STATUSES)].groupby("dataset", sort=True):
        named = part["primary"].dropna() if "primary" in part else pd.Series(dtype=object)
        ranked = [c for c in metric_columns(part) if c not in DIAGNOSTICS and part[c].notna().any()]
        ranked = [c for c in ranked if not c.startswith(("best_", "gap_"))]
        choice = named.mode().iloc[0] if not named.empty else (ranked[0] if ranked else None)
        if choice is not None and choice in part:
            out[str(dataset)] = str(choice)
    return out


def dataset_modes(runs: pd.DataFrame) -> dict[str, int]:
    """Per dataset, its number of modes: as the runs' evaluator logged it, else a 2-D mixture's mode count."""
    from ganbench.datasets import GaussianMixture, dataset_kind, load_dataset

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
    coverage = (M.MODES_COVERED, M.HIGH_QUALITY, M.KL_UNIFORM)
    group = 0 if base.startswith(("fid", "kid")) else 1 if base in coverage else 2
    group = 3 if base in DIAGNOSTICS else group
    key = str(coverage.index(base)) if base in coverage else base
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
            per_run = logged.apply(
                lambda r, cols=cols: frozenset(M.feature_space_of(c) for c in cols if r[c]), axis=1
            )
            kinds = {s for s in per_run if s}
            if len(kinds) > 1:
                spaces = " vs ".join("+".join(sorted(s)) for s in sorted(kinds, key=sorted))
                raise ReportError(f"{family} on {dataset} comes from different feature spaces ({spaces}); "
                                  "numbers from different feature spaces never share a column: report them apart")  # fmt: skip
            names = ", ".join(sorted(c for c in cols if logged[c].any()))
            if declared.nunique() > 1:
                raise ReportError(f"{names} on {dataset}: the runs declare different feature spaces "
                                  f"({', '.join(sorted(declared.unique()))}); report them apart")  # fmt: skip
            wrong = {d for d, s in zip(part["feature_space"], per_run) if s and pd.notna(d) and d not in s}
            if wrong:
                raise ReportError(f"{names} on {dataset}: the runs declare feature space {', '.join(sorted(wrong))} "
                                  f"but log {'+'.join(sorted(kinds.pop()))}")  # fmt: skip


# ---------------------------------------------------------------------------------------------- statistics
def bootstrap_ci(values: np.ndarray) -> tuple[float, float]:
    """95 % BCa bootstrap interval of the mean (scipy, fixed seed); NaN below two values."""
    x = values[~np.isnan(values)]
    if len(x) < 2:
        return np.nan, np.nan
    if np.ptp(x) == 0:  # every seed the same: the interval is that value (BCa would divide by zero)
        return float(x[0]), float(x[0])
    res = stats.bootstrap((x,), np.mean, confidence_level=CONFIDENCE, n_resamples=BOOTSTRAP_RESAMPLES,
                          method="BCa", rng=np.random.default_rng(BOOTSTRAP_SEED))  # fmt: skip
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def describe(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset, contender and metric: seeds, fraction diverged, n (seeds with a value), mean, std,
    median, min, max and the bootstrap CI of the mean."""
    done = frame[frame["status"].isin(DONE_STATUSES)]
    metrics = metric_columns(done)
    if done.empty or not metrics:
        return pd.DataFrame()
    long = done.melt(id_vars=[*KEYS, "seed"], value_vars=metrics, var_name="metric")
    grouped = long.groupby([*KEYS, "metric"], sort=False)["value"]
    table = grouped.agg(["count", "mean", "std", "median", "min", "max"]).rename(columns={"count": "n"})
    ci = grouped.agg(lambda s: bootstrap_ci(s.to_numpy(dtype=float)))
    table[["ci_low", "ci_high"]] = pd.DataFrame(ci.tolist(), index=ci.index)
    per_contender = done.groupby(KEYS).agg(
        seeds=("run_id", "count"), diverged=("status", lambda s: float((s == "diverged").mean()))
    )
    table = table.reset_index().join(per_contender, on=KEYS)
    table["metric"] = pd.Categorical(table["metric"], categories=metrics, ordered=True)
    return table.sort_values(["dataset", "metric", "loss", "strategy"], ignore_index=True)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values for a family of tests; NaN entries are left out of the family."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    order = np.argsort(p[ok])
    m = int(ok.sum())
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[ok][order]))
    out[np.flatnonzero(ok)[order]] = adjusted
    return out


def two_sample_p(best: pd.Series, other: pd.Series, paired: bool) -> float:
    """Two-sided p-value that ``other`` differs from ``best`` (values indexed by seed; NaN seeds dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        if paired:
            both = pd.concat([best, other], axis=1, join="inner").dropna()
            if both.empty:
                return np.nan
            diff = both.iloc[:, 0] - both.iloc[:, 1]
            return 1.0 if (diff == 0).all() else float(stats.wilcoxon(diff).pvalue)
        x, y = best.dropna(), other.dropna()
        if x.empty or y.empty:
            return np.nan
        return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def compare(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Add rank (ties share the lowest rank), the test used, raw and Holm-adjusted p against the best
    contender, and the marks: ``best`` and ``tied`` (not distinguishable from the best: p_holm >= ALPHA)."""
    done = frame[frame["status"].isin(DONE_STATUSES)]
    out = summary.assign(rank=np.nan, test="", p_value=np.nan, p_holm=np.nan, best=False, tied=False)
    for (dataset, metric), part in out.groupby(["dataset", "metric"], sort=False, observed=True):
        if metric in DIAGNOSTICS or part["mean"].isna().all():
            continue
        ds = done[done["dataset"] == dataset]
        seeds = ds.groupby(["loss", "strategy"])["seed"].agg(frozenset)
        paired = seeds.nunique() == 1
        values = {k: g.set_index("seed")[metric] for k, g in ds.groupby(["loss", "strategy"])}
        rank = part["mean"].rank(method="min", ascending=not M.is_higher_better(str(metric)))
        ref = rank.idxmin()
        best_values = values[(part.at[ref, "loss"], part.at[ref, "strategy"])]
        others = [i for i in part.index if i != ref]
        p = np.array([two_sample_p(best_values, values[(part.at[i, "loss"], part.at[i, "strategy"])], paired)
                      for i in others])  # fmt: skip
        out.loc[part.index, "rank"] = rank
        out.loc[part.index, "test"] = "wilcoxon" if paired else "mannwhitneyu"
        out.loc[others, "p_value"] = p
        out.loc[others, "p_holm"] = holm(p)
        out.loc[part.index, "best"] = rank == 1
    out["tied"] = out["best"] | (out["p_holm"] >= ALPHA)
    return out


# ---------------------------------------------------------------------------------------------- tables
def cell_text(mean: float, std: float, pm: str = " ± ") -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.4g}" if pd.isna(std) else f"{mean:.4g}{pm}{std:.2g}"


def wide_table(summary: pd.DataFrame, dataset: str, pm: str = " ± ") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The headline table of one dataset: a row per contender, ``mean ± std`` per ranked metric, and the marks
    (``"best"``, ``"tied"`` or ``""``) in a frame of the same shape."""
    part = summary[(summary["dataset"] == dataset) & ~summary["metric"].isin(DIAGNOSTICS)]
    part = part.assign(cell=[cell_text(m, s, pm) for m, s in zip(part["mean"], part["std"])],
                       mark=np.where(part["best"], "best", np.where(part["tied"], "tied", "")))  # fmt: skip
    index = ["loss", "strategy"]
    cells = part.pivot(index=index, columns="metric", values="cell")
    marks = part.pivot(index=index, columns="metric", values="mark")
    lead = part.drop_duplicates(index).set_index(index)[["seeds", "diverged"]]
    lead = lead.assign(
        seeds=lead["seeds"].astype(int).astype(str), diverged=lead["diverged"].map("{:.0%}".format)
    )
    cells.columns = marks.columns = [str(c) for c in cells.columns]
    return lead.join(cells), lead.map(lambda _: "").join(marks)


def detail_table(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Every statistic of one dataset: a row per metric and contender (seeds and diverged are in the wide
    table; the marks become one ``mark`` column)."""
    part = summary[summary["dataset"] == dataset]
    mark = np.where(part["best"], "best", np.where(part["tied"], "tied", ""))
    part = part.drop(columns=["dataset", "seeds", "diverged", "best", "tied"]).assign(mark=mark)
    return part.set_index(["metric", "loss", "strategy"])


# ---------------------------------------------------------------------------------------------- the report
def left_out(runs: pd.DataFrame) -> dict[str, list[str]]:
    """Per dataset, the runs that are not results (failed, killed, still running), counted by status."""
    out = runs[~runs["status"].isin(DONE_STATUSES)]
    return {
        str(dataset): [f"{n} run{'s' * (n > 1)} left out of the statistics: {status}"
                       for status, n in part["status"].fillna("unknown").value_counts().sort_index().items()]
        for dataset, part in out.groupby("dataset", sort=True)
    }  # fmt: skip


def diagnose(store: MLflowStore, parent_id: str, runs: pd.DataFrame, summary: pd.DataFrame,
             primary: dict[str, str], modes: dict[str, int]) -> list[validity.Finding]:  # fmt: skip
    """Every validity diagnostic on the suite's runs and studies (see ``validity``)."""
    from ganbench.tuning_report import study_summaries

    name = namer(runs["strategy"])
    finished = runs[runs["status"] == "finished"]
    histories = {
        r: store.history(r, primary[d])
        for d, r in zip(finished["dataset"], finished["run_id"])
        if d in primary
    }
    studies = [s for s in study_summaries(store, parent_id) if s.dataset in primary]
    return [*validity.failed_runs(runs, name), *validity.undertrained(runs, primary, histories, name), *validity.search_edge(studies, name),
            *validity.tuning_budget(studies, name), *validity.mode_collapse(summary, modes, name),
            *validity.too_few_seeds(summary)]  # fmt: skip


def build_report(store: MLflowStore, parent_id: str, out_dir: Path) -> ReportResult:
    """Read the suite run's final runs from the store and write the report under ``out_dir/report``: CSV
    (statistics and per-run values), Markdown, LaTeX (booktabs), a self-contained HTML page, and PNG figures.
    The validity verdict is also written back to the suite run as tags (``validity.validity_tags``)."""
    from ganbench import report_html

    runs = runs_frame(store, parent_id)
    if runs.empty:
        raise ReportError(f"the suite run {parent_id} holds no final runs yet: nothing to report")
    check_feature_spaces(runs)
    summary = describe(runs)
    summary = compare(runs, summary) if not summary.empty else summary
    primary, modes, name = primary_metrics(runs), dataset_modes(runs), namer(runs["strategy"])
    overall = overall_ranking(runs, primary, name) if primary else None
    findings = diagnose(store, parent_id, runs, summary, primary, modes)
    verdict = H.headline(summary, primary, overall, findings, name)
    store.log(parent_id, tags=validity.validity_tags(findings))
    report_dir = out_dir / "report"
    figures = report_html.make_figures(store, parent_id, runs, report_dir / "figures", primary, overall)
    parent = store.client.get_run(parent_id)
    title = parent.data.tags.get("ganbench.suite") or parent.info.run_name or parent_id
    notes = left_out(runs)
    files = report_html.write_all(report_dir, title=title, parent_id=parent_id, runs=runs, summary=summary,
                                  figures=figures, notes=notes, verdict=verdict, findings=findings,
                                  ranking=overall)  # fmt: skip
    return ReportResult(report_dir, files, [p for ps in figures.values() for p in ps], runs, summary, notes,
                        primary, modes, overall, findings, verdict)  # fmt: skip
