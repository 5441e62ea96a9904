"""The terminal summary printed after a run: per dataset a compact table that fits 80 columns (contender, the
primary metric's mean and 95 % CI, modes, high-quality %, diverged, the significance mark), then the validity
findings one line each, then the verdict, last, so that the screen ends on it. The full tables and the
evidence are in the report."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ganbench import metrics as M
from ganbench.report.headline import BELIEVED, primary_rows, value_text
from ganbench.report.ranking import namer
from ganbench.report.validity import KINDS

WIDTH = 80  # the summary is laid out for this many columns, and never wider
CONTENDER_WIDTH = 26  # "non_saturating|ttur_beta1" whole
LEGEND = (
    "vs: against the best, practically equivalent (equiv), undecided (?) or practically worse (worse), "
    "the metric's real-data spread the margin; p_best: chance of the best mean"
)
STYLES = {"best": "bold green", "equiv": "green", "?": "", "worse": "dim", "better": "", "": ""}
SHORT = {"best": "best", "equivalent": "equiv", "undecided": "?", "worse": "worse", "better": "better"}
# the validity kinds as one line names them (others: their report heading up to its parenthesis)
SHORT_KINDS = {
    "search_edge": "tuned on a search-range edge",
    "tuning_variance": "tuning variance unmeasured",
    "undecided": "most undecided against the best",
    "recipe_outside": "published recipe outside the space",
}


def _by_contender(summary: pd.DataFrame, dataset: str, metric: str) -> dict[tuple[str, str], float]:
    rows = summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)]
    return {(a, b): m for a, b, m in zip(rows["loss"], rows["strategy"], rows["mean"])}


def dataset_table(result: Any, dataset: str) -> Any:
    """One dataset's compact table (a rich Table), best first."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    metric = result.primary[dataset]
    rows = primary_rows(result.summary, dataset, metric)
    name = namer(result.runs["strategy"])
    modes = _by_contender(result.summary, dataset, M.MODES_COVERED)
    quality = _by_contender(result.summary, dataset, M.HIGH_QUALITY)
    total = result.modes.get(dataset)
    direction = "higher" if M.is_higher_better(metric) else "lower"
    unit = "replicates" if rows["replicates"].max() > 1 else "seeds"
    table = Table(
        title=f"{dataset}: {metric} ({direction} is better), mean [95% interval] over {unit}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
    )
    lines = []
    for row in rows.itertuples():
        key = (row.loss, row.strategy)
        mark = SHORT.get(str(row.vs_best), "")
        cells = [
            f"{row.rank:.0f}" if pd.notna(row.rank) else "",
            name(*key),
            value_text(row.mean, row.ci_low, row.ci_high),
            f"{row.p_best:.2f}",
        ]
        if modes:
            m = modes.get(key, float("nan"))
            cells.append("n/a" if pd.isna(m) else f"{m:.1f}" + (f"/{total}" if total else ""))
        if quality:
            q = quality.get(key, float("nan"))
            cells.append("n/a" if pd.isna(q) else f"{q:.1f}")
        cells.append(f"{row.diverged:.0%}" if row.diverged else "")
        lines.append((cells, mark))
    # every column but the contender's keeps its widest cell; the names take what is left of WIDTH columns
    heads = ["#", "contender", metric, "p_best", *(["modes"] if modes else []), *(["HQ %"] if quality else []), "div"]
    if not any(c[-1] for c, _ in lines):  # nothing diverged: no column for it
        heads, lines = heads[:-1], [(c[:-1], m) for c, m in lines]
    widest = [max([len(head)] + [len(c[i]) for c, _ in lines]) for i, head in enumerate(heads)]
    # the mark column (5), and 3 columns between any two (padding, separator, padding) plus the edges
    fixed = sum(w for h, w in zip(heads, widest) if h != "contender") + 5 + 3 * len(heads) + 1
    for i, head in enumerate(heads):
        if head == "contender":
            width = max(8, min(widest[i], CONTENDER_WIDTH, WIDTH - fixed))
            table.add_column(head, width=width, no_wrap=True, overflow="ellipsis")
        else:
            justify = "left" if head == metric else "right"
            table.add_column(head, justify=justify, no_wrap=True, min_width=widest[i])
    table.add_column("vs", no_wrap=True, min_width=5)  # "equiv" / "worse" must stay readable
    for cells, mark in lines:
        table.add_row(*cells, Text(mark, style=STYLES[mark]), style=STYLES[mark] if mark == "best" else "")
    return table


def _bullets(lines: list[str], style: str) -> Any:
    """A bulleted list whose wrapped lines hang under the text, not under the bullet."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for line in lines:
        grid.add_row("-", line, style=style)
    return grid


def validity_line(finding: Any) -> str:
    """A finding in one line: its kind, the dataset and whom it concerns (the evidence is in the report)."""
    kind = SHORT_KINDS.get(finding.kind) or KINDS.get(finding.kind, finding.kind).split(" (")[0]
    if finding.contenders:
        return f"{kind} on {finding.dataset}: {', '.join(finding.contenders)}"
    return f"{kind} on {finding.dataset}: {finding.detail.split('; ')[-1]}"


def _one_line_each(lines: list[str], style: str) -> Any:
    """A bulleted list of lines cut at the screen's edge (``...``), so that a long list stays one row each."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    # a column that may wrap is narrowed to the screen; its text (no_wrap) is then cut with an ellipsis
    grid.add_column(overflow="ellipsis")
    for line in lines:
        grid.add_row("-", Text(line, no_wrap=True, overflow="ellipsis"), style=style)
    return grid


def console_view(result: Any) -> Any:
    """Everything the terminal shows after a run (a rich renderable; print it at most WIDTH columns wide).

    The tables come first and the verdict last, so that after a run the screen ends on the answer; between
    them the strategy questions and the validity findings, one line each (the evidence is in the report),
    but failed runs in full with their first error."""
    from rich.console import Group
    from rich.text import Text

    views: list[Any] = []
    for dataset in sorted(set(result.primary) | set(result.notes)):
        if dataset in result.primary and not primary_rows(result.summary, dataset, result.primary[dataset]).empty:
            gap = [Text("")] if views else []  # a blank line between two datasets' tables
            views += [*gap, dataset_table(result, dataset)]
        views += [Text(f"{dataset}: {note}", style="yellow") for note in result.notes.get(dataset, [])]
    if views:
        views.append(Text(LEGEND, style="dim"))
    views.append(Text(f"report: {result.files.get('html', result.report_dir)}"))
    for section in getattr(result, "sections", []):
        if section.lines:
            views += [Text(""), Text(section.title, style="bold"), _bullets(list(section.lines), "")]
    views += [Text(""), Text("Validity", style="bold")]
    # failed runs in full, with their first error: the one finding that says what to fix in the code
    failed = [f.text() for f in result.findings if f.kind == "failed"]
    rest = [validity_line(f) for f in result.findings if f.kind != "failed"]
    views += [_bullets(failed, "red")] if failed else []
    views += [_one_line_each(rest, "yellow")] if rest else []
    views += [] if result.findings else [_bullets([BELIEVED], "green")]
    views += [Text(""), Text("Verdict", style="bold"), _bullets(result.headline, "")]
    return Group(*views)


def print_summary(result: Any, console: Any = None) -> None:
    """Print ``console_view`` no wider than WIDTH columns (narrower when the terminal is)."""
    from rich.console import Console

    console = console or Console()
    console.width = min(console.width, WIDTH)
    if console.is_terminal:
        console.print(console_view(result))
        return
    # a log file or a pipe: rich pads table and wrapped lines to the width with spaces; written without them
    with console.capture() as captured:
        console.print(console_view(result))
    console.out("\n".join(line.rstrip() for line in captured.get().splitlines()), highlight=False)
