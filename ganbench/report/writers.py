"""Writing the report: its figures (read from the store, drawn by ``plots``) and its tables as CSV, Markdown,
LaTeX (booktabs) and one self-contained HTML page.

pandas (``to_csv``, ``to_markdown``, ``Styler.to_latex``, ``Styler.to_html``) does the formatting; this module
only chooses what goes in which table and how the marks look in each format.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

import ganbench.report.inference as I
from ganbench.report.headline import warning_lines
from ganbench.report.ranking import Ranking
from ganbench.report.tables import Section, detail_table, wide_table

RANKING_FIGURES = "ranking"  # the figures key of the overall ranking's CD diagram
MAX_SAMPLE_SEEDS = 6  # columns of the final-samples grid
FILES = dict(csv="summary.csv", runs_csv="runs.csv", markdown="summary.md", latex="summary.tex", html="report.html")

METHOD = (
    f"Rows ranked by the primary metric. A comparison's unit is the replicate (its mean over the paired seeds, "
    f"which carries the tuning's variance) when the suite ran several, else the seed (every statement then "
    f"conditional on the one tuning draw). Cells: the mean over units and its {I.CONFIDENCE:.0%} t interval. A "
    f"diverged run counts as the worst value any run reached on the dataset. p_best: the chance of the best mean "
    f"(draws from the multivariate t posterior of the means). vs best: practically worse, better or equivalent "
    f"when the paired difference's posterior probability beyond (or within) the region of practical equivalence "
    f"reaches {I.DECIDE}, else undecided; the ROPE of a metric is its spread over independent real samples of "
    f"the evaluation's size. Real data: what such real samples score (mean ± sd over the draws)."
)
MD_LEGEND = (
    "**bold**: best mean; *italic*: practically equivalent to the best; plain: undecided or practically "
    "worse (see vs best for the primary metric, the detail table for the others)."
)
TEX_LEGEND = r"Bold: best mean; underlined: practically equivalent to the best; plain: undecided or worse."
HTML_LEGEND = (
    "<b>bold, dark green</b>: best mean; light green: practically equivalent to the best; grey text: "
    "undecided; plain: practically worse."
)
TIED_ROW = "background-color: #dcedc8;"
CSS = {
    "best": "font-weight: bold; background-color: #81c784;",
    "equivalent": "background-color: #dcedc8;",
    "undecided": "color: #666;",
}
TEX = {"best": "textbf:--rwrap;", "equivalent": "underline:--rwrap;"}
MD = {"best": "**{}**", "equivalent": "*{}*"}
PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1360px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #f5f5f5; white-space: normal; }
th.row_heading { white-space: nowrap; text-align: left; }
.scroll { overflow-x: auto; } .scroll td { white-space: normal; } td.col0, td.col1 { text-align: left; }
caption { text-align: left; font-size: 0.9em; color: #555; padding: 4px 0; }
img { max-width: 100%; display: block; margin: 1em 0; border: 1px solid #eee; }
.method, .note { font-size: 0.9em; color: #444; max-width: 1100px; } .note { color: #a33; }
details { margin: 1em 0; } summary { cursor: pointer; color: #1565c0; }
ul.verdict { font-size: 1.02em; line-height: 1.45; max-width: 1100px; }
div.warnings, div.ok { max-width: 1100px; padding: 0.4em 1em; margin: 1em 0; font-size: 0.92em; }
div.warnings { background: #fff3e0; border-left: 4px solid #ef6c00; } div.ok { background: #e8f5e9;
  border-left: 4px solid #2e7d32; }
"""


def _file_stem(dataset: str) -> str:
    return re.sub(r"[^\w.-]", "_", dataset)


def write_all(
    report_dir: Path,
    *,
    title: str,
    parent_id: str,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    figures: dict[str, list[Path]],
    notes: dict[str, list[str]],
    verdict: list[str] | None = None,
    findings: list[Any] | None = None,
    ranking: Ranking | None = None,
    sections: list[Section] | None = None,
    primary: dict[str, str] | None = None,
    real: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write every format under ``report_dir``; returns the paths by format. The Markdown and HTML reports open
    with the verdict (headline lines), the validity warnings and the overall ranking."""
    report_dir.mkdir(parents=True, exist_ok=True)
    files = {key: report_dir / name for key, name in FILES.items()}
    datasets = [str(d) for d in runs["dataset"].dropna().unique()]
    summary.to_csv(files["csv"], index=False)
    runs.to_csv(files["runs_csv"], index=False)
    warnings, ranked = warning_lines(findings or []), figures.get(RANKING_FIGURES, [])
    top = Top(verdict or [], warnings, ranking, ranked, list(sections or []), dict(primary or {}), real)
    files["markdown"].write_text(markdown(title, datasets, summary, figures, notes, report_dir, top))
    files["latex"].write_text(latex(title, datasets, summary, top))
    files["html"].write_text(page(title, parent_id, datasets, summary, figures, notes, top))
    return files


def _has_rows(summary: pd.DataFrame, dataset: str) -> bool:
    return not summary.empty and bool((summary["dataset"] == dataset).any())


def _marked(cells: pd.DataFrame, marks: pd.DataFrame, styles: dict[str, str]) -> pd.DataFrame:
    """Cells with each mark's wrapper (Markdown has no styling, so the mark is in the text)."""
    return cells.where(
        marks == "", cells.combine(marks, lambda c, m: [styles.get(x, "{}").format(v) for v, x in zip(c, m)])
    )


@dataclass(frozen=True)
class Top:
    """What opens the report: the verdict, the warnings, and the overall ranking with its CD diagram."""

    verdict: list[str]
    warnings: list[str]
    ranking: Ranking | None = None
    figures: list[Path] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)  # strategies after the ranking; tuning at the end
    primary: dict[str, str] = field(default_factory=dict)  # per dataset: the metric its table is ranked by
    real: pd.DataFrame | None = None  # what real data scores: each table's last row

    def table(self, summary: pd.DataFrame, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        return wide_table(summary, dataset, self.primary.get(dataset), self.real)


def _ranking_frame(ranking: Ranking) -> pd.DataFrame:
    return ranking.table().assign(mean_rank=lambda t: t["mean_rank"].map("{:.2f}".format))


def markdown(
    title: str,
    datasets: list[str],
    summary: pd.DataFrame,
    figures: dict[str, list[Path]],
    notes: dict[str, list[str]],
    report_dir: Path,
    top: Top | None = None,
) -> str:
    top = top or Top([], [])
    parts = [f"# ganbench report: {title}", "", *(f"- {line}" for line in top.verdict), ""]
    parts += ["**Validity**", "", *(f"- {line}" for line in top.warnings), "", METHOD, ""]
    if top.ranking is not None and not top.ranking.mean_ranks.empty:
        parts += ["## Overall ranking", "", top.ranking.caption(), "", *(f"- {n}" for n in top.ranking.notes)]
        parts += ["", _ranking_frame(top.ranking).to_markdown(index=False), ""]
        parts += [f"![{p.stem}]({p.relative_to(report_dir).as_posix()})" for p in top.figures] + [""]
    first, last = _split(top.sections)
    for section in first:
        parts += [f"## {section.title}", "", section.markdown, ""]
    for dataset in datasets:
        parts += [f"## {dataset}", "", *(f"- {n}" for n in notes.get(dataset, [])), ""]
        if _has_rows(summary, dataset):
            cells, marks = top.table(summary, dataset)
            parts += [_marked(cells, marks, MD).reset_index().to_markdown(index=False), "", MD_LEGEND, ""]
        parts += [f"![{p.stem}]({p.relative_to(report_dir).as_posix()})" for p in figures.get(dataset, [])]
        if _has_rows(summary, dataset):
            detail = detail_table(summary, dataset).reset_index().to_markdown(index=False)
            parts += ["", "### All statistics", "", detail, ""]
    for section in last:
        parts += [f"## {section.title}", "", section.markdown, ""]
    return "\n".join(parts) + "\n"


def _split(sections: list[Section]) -> tuple[list[Section], list[Section]]:
    """The sections that go before the per-dataset tables, and those that go after them."""
    return [s for s in sections if not s.after_datasets], [s for s in sections if s.after_datasets]


def latex(title: str, datasets: list[str], summary: pd.DataFrame, top: Top | None = None) -> str:
    """One booktabs table per dataset (needs ``\\usepackage{booktabs}``), the main table's columns and marks."""
    top = top or Top([], [])
    parts = [f"% ganbench report: {title}. Requires \\usepackage{{booktabs}}."]
    for dataset in datasets:
        if not _has_rows(summary, dataset):
            continue
        cells, marks = top.table(summary, dataset)
        styler = (
            Styler(cells.reset_index())
            .apply(lambda _, marks=marks: _flat_marks(marks).map(lambda m: TEX.get(m, "")), axis=None)
            .format(escape="latex")
            .format_index(escape="latex", axis=1)
            .hide(axis="index")
        )
        caption = f"{dataset}: mean [95\\% interval]; {TEX_LEGEND}"
        label = "tab:ganbench-" + "".join(ch if ch.isalnum() else "-" for ch in dataset)
        parts.append(
            styler.to_latex(
                hrules=True,
                caption=caption.replace("_", r"\_"),
                label=label,
                column_format="ll" + "r" * (cells.shape[1]),
                position_float="centering",
            )
        )
    return "\n".join(parts)


def _flat_marks(marks: pd.DataFrame) -> pd.DataFrame:
    """The marks laid out like ``cells.reset_index()``: the index columns (loss, strategy) carry no mark, even
    when a strategy is named like one (``tied``)."""
    flat = marks.reset_index()
    flat[list(marks.index.names)] = ""
    return flat


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _main_html(summary: pd.DataFrame, dataset: str, top: Top) -> str:
    cells, marks = top.table(summary, dataset)
    styler = Styler(cells.reset_index(), uuid=f"main-{_file_stem(dataset)}", cell_ids=False)
    styler = styler.hide(axis="index").format(_one_break, escape="html").format_index(_breakable, axis=1)
    styler = styler.apply(lambda _: _flat_marks(marks).map(lambda m: CSS.get(m, "")), axis=None)
    return f'<div class="scroll">{styler.set_caption(HTML_LEGEND).to_html()}</div>'


def _detail_html(summary: pd.DataFrame, dataset: str) -> str:
    detail = detail_table(summary, dataset)
    styler = Styler(detail, uuid=f"detail-{_file_stem(dataset)}", cell_ids=False)
    styler = styler.format_index(escape="html", axis=0).format_index(_breakable, axis=1)
    equivalent = ("best", "equivalent")
    return styler.apply(lambda row: [TIED_ROW if row.get("vs_best") in equivalent else ""] * len(row), axis=1).to_html()


def _one_break(cell: object) -> str:
    """A cell may wrap only between its mean and its interval ("1.58 [1.48, 1.67]" on two lines), so a table
    with many metrics fits the page; an interval or "mean ± sd" stays on one line."""
    return str(cell).replace(", ", ",\u00a0").replace(" ± ", "\u00a0±\u00a0")


def _breakable(name: str) -> str:
    """Column names may wrap after an underscore (a zero-width space), so wide tables fit the page."""
    return name.replace("_", "_\u200b")


def _top_html(top: Top) -> list[str]:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in top.verdict)
    believed = top.warnings == warning_lines([])
    warn = "".join(f"<li>{html.escape(line)}</li>" for line in top.warnings)
    body = [
        f'<ul class="verdict">{items}</ul>',
        f'<div class="{"ok" if believed else "warnings"}"><b>Validity</b><ul>{warn}</ul></div>',
    ]
    return body


def _ranking_html(top: Top) -> list[str]:
    ranking = top.ranking
    if ranking is None or ranking.mean_ranks.empty:
        return []
    styler = Styler(_ranking_frame(ranking), uuid="ranking", cell_ids=False).hide(axis="index")
    styler = styler.format(escape="html")
    notes = [f'<p class="note">{html.escape(n)}</p>' for n in ranking.notes]
    caption = f'<p class="method">{html.escape(ranking.caption())}</p>'
    return ["<h2>Overall ranking</h2>", caption, *notes, styler.to_html(), *(_img(p) for p in top.figures)]


def page(
    title: str,
    parent_id: str,
    datasets: list[str],
    summary: pd.DataFrame,
    figures: dict[str, list[Path]],
    notes: dict[str, list[str]],
    top: Top | None = None,
) -> str:
    """The whole report as one HTML file: verdict and warnings, the overall ranking, tables per dataset, and
    figures embedded as base64 PNG."""
    top = top or Top([], [])
    body = [
        f"<h1>ganbench report: {html.escape(title)}</h1>",
        *_top_html(top),
        f'<p class="method">Suite run <code>{html.escape(parent_id)}</code>. {html.escape(METHOD)}</p>',
        *_ranking_html(top),
    ]
    first, last = _split(top.sections)
    body += [f"<h2>{html.escape(s.title)}</h2>\n{s.html}" for s in first]
    for dataset in datasets:
        body.append(f"<h2>{html.escape(dataset)}</h2>")
        body += [f'<p class="note">{html.escape(n)}</p>' for n in notes.get(dataset, [])]
        if _has_rows(summary, dataset):
            body.append(_main_html(summary, dataset, top))
        body += [_img(p) for p in figures.get(dataset, [])]
        if _has_rows(summary, dataset):
            body.append(
                f"<details><summary>All statistics: {html.escape(dataset)}</summary>"
                f"{_detail_html(summary, dataset)}</details>"
            )
    body += [f"<h2>{html.escape(s.title)}</h2>\n{s.html}" for s in last]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>ganbench: {html.escape(title)}'
        f"</title><style>{PAGE_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
