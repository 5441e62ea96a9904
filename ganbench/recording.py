"""What the runs record in MLflow beyond the store's own calls: the tracker that reports a population's members
to their child runs, the params each child run gets, and the report published on the suite run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganbench import metrics as M
from ganbench.config import Member, RunConfig
from ganbench.tracking import NOTE_TAG, MLflowStore
from ganbench.train import RunResult, Tracker


def publish_parent(store: MLflowStore, parent_id: str, report: Any) -> None:
    """Make the suite run's page useful on its own: the verdict and warnings as its description, the primary
    metric's mean per contender and the overall mean ranks as metrics, the summary tables and the report as
    artifacts (``report/`` in the run's artifacts)."""
    lines = [f"**ganbench suite** - report: `{report.report_dir}`", "", *[f"- {x}" for x in report.headline]]
    if report.findings:
        lines += ["", "**Validity**", "", *[f"- {f.text()}" for f in report.findings]]
    metrics: dict[str, float] = {}
    summary = report.summary
    for dataset, metric in report.primary.items():
        rows = summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)] if not summary.empty else []
        for loss, strategy, mean in zip(rows["loss"], rows["strategy"], rows["mean"]) if len(rows) else []:
            metrics[_metric_name(f"{metric}.{dataset}.{loss}.{strategy}")] = float(mean)
    if report.ranking is not None:
        for contender, rank in report.ranking.mean_ranks.items():
            metrics[_metric_name(f"mean_rank.{contender}")] = float(rank)
    store.log(parent_id, metrics={k: v for k, v in metrics.items() if v == v}, tags={NOTE_TAG: "\n".join(lines)})
    for key in ("csv", "markdown", "html", "latex", "runs_csv"):
        path = report.files.get(key)
        if path is not None and Path(path).exists():
            store.log_artifact(parent_id, Path(path), "report")
    for figure in report.figures:
        if Path(figure).exists():
            store.log_artifact(parent_id, Path(figure), "report/figures")


def _metric_name(name: str) -> str:
    """MLflow metric names allow letters, digits and ``_-. /``; anything else becomes ``_``."""
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in name)[:250]


class MLflowTracker(Tracker):
    """Reports a population's members to their child runs."""

    def __init__(self, store: MLflowStore, run_ids: list[str], dataset: Any, plot_every_eval: bool = False) -> None:
        self.store, self.run_ids, self.dataset = store, run_ids, dataset
        self.plot_every_eval = plot_every_eval or getattr(dataset, "kind", "") == "image"
        self._samples: dict[int, tuple[int, Any]] = {}
        self._logged: dict[int, tuple[int, set[str]]] = {}

    def repeated(self, member: int, step: int) -> bool:
        """Whether ``member`` already reported an evaluation at ``step`` or later: a job retried after its worker
        died resumes from the last checkpoint and repeats the evaluations made after it (same state, same
        values), which are logged once."""
        return self._logged.get(member, (-1, set()))[0] >= step

    def on_eval(self, member: int, step: int, metrics: dict[str, float], samples: Any) -> bool:
        if self.repeated(member, step):
            return False
        self.store.log(self.run_ids[member], metrics=metrics, step=step)
        self._samples[member] = (step, samples)
        self._logged[member] = (step, set(metrics))
        if self.plot_every_eval:
            self._plot(member)
        return False

    def on_end(self, member: int, result: RunResult) -> None:
        run_id = self.run_ids[member]
        if member in self._samples and not self.plot_every_eval:
            self._plot(member)
        step, logged = self._logged.get(member, (-1, set()))
        summary = {k: v for k, v in result.metrics.items() if not (step == result.step and k in logged)}
        if result.wall_seconds:
            summary[M.WALL] = result.wall_seconds
        self.store.log(run_id, metrics=summary, step=result.step)
        self.store.finish(run_id, result.status)

    def _plot(self, member: int) -> None:
        from ganbench.sample_figures import samples_figure

        step, samples = self._samples[member]
        fig = samples_figure(self.dataset, samples)
        if fig is not None:
            self.store.log_figure(self.run_ids[member], fig, f"samples/step_{step:07d}.png")


def run_params(config: RunConfig, member: Member, contender: str) -> dict[str, Any]:
    beta1 = member.beta1 if member.beta1 is not None else config.beta1  # None: the strategy's
    own = {f"loss_params.{k}": v for k, v in (member.loss_params or {}).items()}  # tuned: over the config's
    return {
        **config.flat(),
        **own,
        "seed": member.seed,
        "lr_g": member.lr_g,
        "lr_d": member.lr_d,
        "beta1": beta1,
        "phase": member.phase,
        "contender": contender,
    }
