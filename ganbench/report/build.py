"""Building the report: read the store, summarize, rank, diagnose, write every format, publish the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import ganbench.report.headline as H
import ganbench.report.mode_checks  # noqa: F401 - registers the check on mode coverage
import ganbench.report.tuning_checks  # noqa: F401 - registers the checks on the tuning studies
import ganbench.report.validity as validity
from ganbench import metrics as M
from ganbench.report.budget import pruning_check
from ganbench.report.checks import Evidence, Finding, run_checks
from ganbench.report.figures import make_figures
from ganbench.report.frame import (
    ReportError,
    check_feature_spaces,
    dataset_modes,
    evaluation_notes,
    primary_metrics,
    real_frame,
    ropes_from,
    runs_frame,
)
from ganbench.report.questions import strategy_section
from ganbench.report.ranking import Ranking, namer, overall_ranking
from ganbench.report.stats import describe, pairwise
from ganbench.report.studies import StudySummary, study_summaries, tuning_section, write_tuning_report
from ganbench.report.tables import Section
from ganbench.report.writers import write_all
from ganbench.status import DONE_VALUES, Status
from ganbench.tracking import TAG_REPLICATES, MLflowStore


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
    findings: list[Finding] = field(default_factory=list)  # validity warnings
    headline: list[str] = field(default_factory=list)  # the verdict lines that open the report
    sections: list[Section] = field(default_factory=list)  # strategy questions, tuning
    real: pd.DataFrame = field(default_factory=pd.DataFrame)  # what real data scores (dataset, metric, mean, std)
    decisions: dict[str, pd.DataFrame] = field(default_factory=dict)  # per dataset: the primary's pairwise table

    @property
    def paths(self) -> list[Path]:
        return [*self.files.values(), *self.figures]


# ---------------------------------------------------------------------------------------------- the report
def left_out(runs: pd.DataFrame) -> dict[str, list[str]]:
    """Per dataset, the runs that are not results (failed, killed, still running), counted by status."""
    out = runs[~runs["status"].isin(DONE_VALUES)]
    return {
        str(dataset): [
            f"{n} run{'s' * (n > 1)} left out of the statistics: {status}"
            for status, n in part["status"].fillna("unknown").value_counts().sort_index().items()
        ]
        for dataset, part in out.groupby("dataset", sort=True)
    }


def diagnose(
    store: MLflowStore,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    primary: dict[str, str],
    modes: dict[str, int],
    studies: list[StudySummary],
    real: pd.DataFrame,
) -> list[Finding]:
    """Every registered validity check (``checks.CHECKS``: those of ``validity`` and ``tuning_checks``) on the
    suite's runs and studies; the first says when the tuning's variance is unmeasured."""
    finished = runs[runs["status"] == Status.FINISHED]
    histories = {
        r: store.history(r, primary[d]) for d, r in zip(finished["dataset"], finished["run_id"]) if d in primary
    }
    mode_histories = {
        r: store.history(r, M.MODES_COVERED) for d, r in zip(finished["dataset"], finished["run_id"]) if modes.get(d)
    }
    studies = [s for s in studies if s.dataset in primary]
    return run_checks(
        Evidence(
            runs=runs,
            summary=summary,
            primary=primary,
            modes=modes,
            histories=histories,
            mode_histories=mode_histories,
            studies=studies,
            pruning_check=pruning_check(studies),
            real=real,
            name=namer(runs["strategy"]),
        )
    )


def build_report(store: MLflowStore, parent_id: str, out_dir: Path) -> ReportResult:
    """Read the suite run's final runs from the store and write the report under ``out_dir/report``: CSV
    (statistics and per-run values), Markdown, LaTeX (booktabs), a self-contained HTML page, and PNG figures.
    The validity verdict is also written back to the suite run as tags (``validity.validity_tags``)."""
    runs = runs_frame(store, parent_id)
    if runs.empty:
        raise ReportError(f"the suite run {parent_id} holds no final runs yet: nothing to report")
    check_feature_spaces(runs)
    real = real_frame(store, parent_id)
    ropes = ropes_from(real)
    summary = describe(runs, ropes)
    primary, modes, name = primary_metrics(runs), dataset_modes(runs), namer(runs["strategy"])
    decisions = {d: pairwise(runs, d, m, ropes.get((d, m), 0.0)) for d, m in primary.items()}
    overall = overall_ranking(runs, primary, name, decisions) if primary else None
    studies = study_summaries(store, parent_id)
    findings = diagnose(store, runs, summary, primary, modes, studies, real)
    verdict = H.headline(summary, primary, overall, findings, name)
    replicates = int(runs["replicate"].nunique()) if "replicate" in runs else 1
    store.log(parent_id, tags={**validity.validity_tags(findings), TAG_REPLICATES: str(replicates)})
    report_dir = out_dir / "report"
    budget = write_tuning_report(store, parent_id, report_dir, studies)  # also the tuning budget figures
    figures = make_figures(store, parent_id, runs, report_dir / "figures", primary, overall, budget)
    parent = store.client.get_run(parent_id)
    title = parent.data.tags.get("ganbench.suite") or parent.info.run_name or parent_id
    evaluation, left = evaluation_notes(runs), left_out(runs)  # per dataset: how it was scored, runs left out
    notes = {d: [*evaluation.get(d, []), *left.get(d, [])] for d in sorted({*evaluation, *left})}
    made = [strategy_section(runs, summary, primary, ropes), tuning_section(studies, runs, primary, name)]
    sections = [s for s in made if s is not None]
    files = write_all(
        report_dir,
        title=title,
        parent_id=parent_id,
        runs=runs,
        summary=summary,
        figures=figures,
        notes=notes,
        verdict=verdict,
        findings=findings,
        ranking=overall,
        sections=sections,
        primary=primary,
        real=real,
    )
    return ReportResult(
        report_dir,
        files,
        [p for ps in figures.values() for p in ps],
        runs,
        summary,
        notes,
        primary,
        modes,
        overall,
        findings,
        verdict,
        sections,
        real,
        decisions,
    )
