"""Figures shared by tracking (per-run artifacts) and the report. matplotlib only, Agg backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from torch import Tensor  # noqa: E402

REFERENCE_POINTS = 2500


def draw_points(ax: Any, dataset: Any, samples: Tensor, title: str | None = None) -> None:
    """Generated 2-D samples (blue) over the mixture's real data (red) on a fixed frame."""
    real = dataset.reference(REFERENCE_POINTS, seed=0).cpu()
    pts = samples.detach().float().cpu()
    pts = pts[torch.isfinite(pts).all(dim=1)]
    ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:red", alpha=0.4, label="data")
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="tab:blue", alpha=0.4, label="generated")
    lim = float(dataset.means.abs().max()) * 1.5 + 0.1
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


def image_grid(samples: Tensor, nrow: int = 8) -> Tensor:
    """``[n, C, H, W]`` in [-1, 1] to one ``[H', W', C]`` grid in [0, 1] for imshow."""
    from torchvision.utils import make_grid

    imgs = samples[: nrow * nrow].detach().float().cpu().clamp(-1, 1) * 0.5 + 0.5
    grid = make_grid(imgs, nrow=nrow, padding=1)
    return grid.permute(1, 2, 0).squeeze(-1) if grid.shape[0] == 1 else grid.permute(1, 2, 0)


def samples_figure(dataset: Any, samples: Tensor) -> Any:
    """A figure of one run's samples: scatter over the data for points, a grid for images."""
    if dataset.kind == "points":
        fig, ax = plt.subplots(figsize=(3, 3), dpi=100)
        draw_points(ax, dataset, samples)
    elif dataset.kind == "image":
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        grid = image_grid(samples)
        ax.imshow(grid.numpy(), cmap="gray" if grid.dim() == 2 else None)
        ax.axis("off")
    else:
        return None
    fig.tight_layout()
    plt.close(fig)
    return fig


# ---------------------------------------------------------------------------------------------- report figures
# The report hands these plain arrays (pandas stays in the report); each returns a closed figure to save.


class Band(NamedTuple):
    """One contender's curve over seeds: the mean at each step and the band between the lowest and highest seed."""

    steps: Sequence[float]
    center: Sequence[float]
    low: Sequence[float]
    high: Sequence[float]


def contender_colors(names: Sequence[str]) -> dict[str, Any]:
    """A fixed colour per contender, the same in every figure of a report."""
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def curves_figure(curves: Mapping[str, Mapping[str, Band]], colors: Mapping[str, Any], title: str) -> Any:
    """One panel per metric: each contender's mean over seeds against the training step, shaded min to max."""
    ncols = min(len(curves), 3)
    nrows = -(-len(curves) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), dpi=100, squeeze=False)
    for ax, (metric, bands) in zip(axes.flat, curves.items()):
        for name, band in bands.items():
            ax.plot(band.steps, band.center, color=colors[name], lw=1.5, marker=".", ms=3, label=name)
            ax.fill_between(band.steps, band.low, band.high, color=colors[name], alpha=0.12, lw=0)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("generator step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle(f"{title} (line: mean over seeds; band: min to max)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) > 4), 1, 0.95))
    plt.close(fig)
    return fig


def mosaic_figure(
    cells: Mapping[tuple[str, str], Any], rows: Sequence[str], cols: Sequence[str], title: str
) -> Any:
    """Images (``[H, W, C]`` arrays, e.g. the runs' sample PNGs) on a rows x columns grid; empty where missing."""
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(1.9 * len(cols) + 1.6, 1.9 * len(rows) + 0.5), dpi=110, squeeze=False
    )
    for (i, row), (j, col) in product(enumerate(rows), enumerate(cols)):
        ax = axes[i][j]
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if (row, col) in cells:
            ax.imshow(cells[(row, col)])
        if i == 0:
            ax.set_title(col, fontsize=8)
        if j == 0:
            ax.set_ylabel(row, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the columns'
    plt.close(fig)
    return fig


def budget_figure(curves: Any, colors: Mapping[str, Any], metric: str, title: str,
                  trials: float | None = None, compute: float | None = None) -> Any:  # fmt: skip
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
    if trials:
        left.axvline(trials, color="0.4", ls=":", lw=1)
        left.annotate("trials per replicate", (trials, 1), xycoords=("data", "axes fraction"), fontsize=7,
                      ha="left", va="top", xytext=(3, -3), textcoords="offset points", color="0.3")  # fmt: skip
    if compute:
        right.axvline(compute, color="0.4", ls=":", lw=1)
        right.annotate("equal compute", (compute, 1), xycoords=("data", "axes fraction"), fontsize=7,
                       ha="left", va="top", xytext=(3, -3), textcoords="offset points", color="0.3")  # fmt: skip
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
    # the diagram joins pairs whose "p-value" is >= alpha: 1 joins, 0 separates
    sp.critical_difference_diagram(mean_ranks, joined, ax=ax, label_props={"fontsize": 8},
                                   crossbar_props={"marker": "o", "markersize": 4, "color": "k"},
                                   label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}")  # fmt: skip
    ax.set_xlim(0.9, len(mean_ranks) + 0.1)  # ranks run from 1 to k whatever the data (Demšar's layout)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
