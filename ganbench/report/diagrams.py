"""The report's diagrams of tuning and of ranking: the expected best value against the tuning budget, and the
critical-difference diagram. matplotlib only, Agg backend (set by :mod:`ganbench.report.plots`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.ticker import MaxNLocator

from ganbench.report.plots import contender_colors, plt

MARK = {"fontsize": 7, "ha": "left", "va": "top", "xytext": (3, -3), "color": "0.3"}  # a budget line's label


def budget_figure(
    curves: Any,
    colors: Mapping[str, Any],
    metric: str,
    title: str,
    trials: float | None = None,
    compute: float | None = None,
) -> Any:
    """Expected best value of the tuning objective against the tuning budget (Dodge et al. 2019; Lucic et al.
    2018, Fig. 5), per contender: against trials (left; the band: the quartiles of the best of k) and against
    GFLOP of training (right, compute-matched). ``curves``: one row per contender and k with ``name``,
    ``expected``, ``q25``, ``q75``, ``gflop``; ``trials`` and ``compute`` mark the suite's budget."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.9), dpi=100)
    values = [v for v in curves["expected"] if v == v]
    positive = bool(values) and min(values) > 0
    log = positive and max(values) / min(values) > 10  # a wide search spans orders of magnitude
    for name, part in curves.groupby("name", sort=False):
        color = colors[name]
        left.plot(part["k"], part["expected"], color=color, lw=1.5, label=name)
        left.fill_between(part["k"], part["q25"], part["q75"], color=color, alpha=0.12, lw=0)
        right.plot(part["gflop"], part["expected"], color=color, lw=1.5)
    for ax, at, label in ((left, trials, "trials per replicate"), (right, compute, "equal compute")):
        if at:  # the suite's budget: a dotted line labelled at the top
            ax.axvline(at, color="0.4", ls=":", lw=1)
            ax.annotate(label, (at, 1), xycoords=("data", "axes fraction"), textcoords="offset points", **MARK)
    for ax, xlabel in ((left, "tuning trials (k)"), (right, "GFLOP of tuning")):
        if log:
            ax.set_yscale("log")  # set before the layout is computed, so the tick labels get their room
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(f"expected best {metric}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = left.get_legend_handles_labels()
    if handles:  # outside the axes, so it covers no line
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(0.83, 0.5), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.83, 1))
    plt.close(fig)
    return fig


def cd_figure(mean_ranks: Any, joined: Any, title: str) -> Any:
    """Critical-difference diagram (Demšar 2006), drawn by scikit-posthocs: contenders on the mean-rank axis; each
    group of contenders that the pairwise decisions cannot tell apart is a bar with a dot on each member
    (``joined`` is 1 for such pairs, 0 otherwise), so a bar passing over a contender without a dot does not
    hold it."""
    import scikit_posthocs as sp  # imported late: it loads statsmodels

    fig, ax = plt.subplots(figsize=(7.5, 1.6 + 0.3 * len(mean_ranks)), dpi=110)
    colors = contender_colors(list(mean_ranks.index))
    # the diagram joins pairs whose "p-value" is >= alpha: 1 joins, 0 separates
    drawn = sp.critical_difference_diagram(
        mean_ranks,
        joined,
        ax=ax,
        label_props={"fontsize": 8},
        color_palette=colors,
        crossbar_props={"marker": "o", "markersize": 3, "color": "0.3"},
        label_fmt_left="{label} ({rank:.2f})",
        label_fmt_right="({rank:.2f}) {label}",
    )
    for bar in [line for lines in drawn["crossbars"] for line in lines]:  # each member's dot in its colour
        for x, y in zip(bar.get_xdata(), bar.get_ydata()):
            members = [c for c, r in mean_ranks.items() if r == x]
            ax.scatter(
                [x] * len(members),
                [y] * len(members),
                s=22,
                zorder=4,
                edgecolors="k",
                linewidths=0.4,
                c=[colors[c] for c in members],
            )
    ax.set_xlim(0.9, len(mean_ranks) + 0.1)  # ranks run from 1 to k whatever the data (Demšar's layout)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
