"""The report's figures, drawn from plain arrays (one run's sample figure is :mod:`ganbench.sample_figures`).
matplotlib only, Agg backend."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganbench import metrics as M  # noqa: E402

# ---------------------------------------------------------------------------------------------- report figures
# The report hands these plain arrays (pandas stays in the report); each returns a closed figure to save.


class Band(NamedTuple):
    """One contender's curve: each seed's value (rows) at each evaluated step (columns), NaN where a seed has
    none. The figure draws the median over seeds and shades the seeds' range."""

    steps: Sequence[float]
    seeds: Any  # array [seeds, steps]


def contender_colors(names: Sequence[str]) -> dict[str, Any]:
    """A fixed colour per contender, the same in every figure of a report."""
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


class Scale(NamedTuple):
    """A panel's y axis: its limits, whether it is logarithmic, and whether values were left above it."""

    low: float
    high: float
    log: bool
    clipped: bool


FENCE = 3.0  # Tukey's far-out fence, in interquartile ranges: only values far from the bulk are put off scale
LOG_RATIO = 20.0  # positive values spanning more than this ratio are drawn on a log axis
CLIP_GAIN = 2.0  # values are put off scale only when showing them would more than double the axis' span


def robust_scale(values: Any, lower_is_better: bool = True) -> Scale:
    """The y axis that shows the bulk of ``values`` apart: one diverged seed (W1 of 40 among values of 0.05)
    must not flatten every other curve onto 0.

    For a lower-is-better metric (a distance: W1, FID, KID, KL), where a run going wrong goes up without bound,
    values above Tukey's far-out fence (``FENCE`` interquartile ranges above the upper quartile, on a log scale
    when all values are positive) are left above the axis for the caller to mark, unless showing them would at
    most double the axis' span (``CLIP_GAIN``). The axis is logarithmic when the values kept span more than
    ``LOG_RATIO``: distances between good runs differ by factors, not by amounts. A rule on the values, not the
    diverged flag, decides, since a run can go far off and stay finite (a generator that drifted away).
    Higher-is-better metrics here are bounded (modes, percentages, precision, recall): their axis is linear
    and holds every value."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Scale(0.0, 1.0, False, False)
    positive = bool((x > 0).all())
    keep = np.ones_like(x, dtype=bool)
    if lower_is_better:
        fenced = np.log10(x) if positive else x
        q1, q3 = np.percentile(fenced, [25, 75])
        if q3 > q1:
            keep = fenced <= q3 + FENCE * (q3 - q1)
    low, high = float(x[keep].min()), float(x[keep].max())
    log = lower_is_better and positive and high / low > LOG_RATIO

    def axis(v: float) -> float:
        return float(np.log10(v)) if log else v

    if axis(float(x.max())) - axis(low) <= CLIP_GAIN * (axis(high) - axis(low)):  # clipping gains little
        keep[:], high = True, float(x.max())
    if log:
        pad = 0.05 * (np.log10(high) - np.log10(low))
        low, high = low / 10**pad, high * 10**pad
    else:
        pad = (high - low) * 0.05 or abs(high) * 0.05 or 0.05
        low, high = low - pad, high + pad
    return Scale(low, high, log, bool((~keep).any()))


def _off_scale_note(bands: Mapping[str, Band], scale: Scale) -> str:
    """``▲ off scale: minimax|adam_dcgan (max 39.8)``: the contenders with values above the axis."""
    parts = []
    for name, band in bands.items():
        seeds = np.asarray(band.seeds, dtype=float)
        above = seeds > scale.high
        if above.any():
            parts.append(f"{name} (max {np.nanmax(seeds[above]):.3g})")
    shown = ", ".join(parts[:2]) + (f" and {len(parts) - 2} more" if len(parts) > 2 else "")
    return "\n".join(textwrap.wrap(f"▲ off scale: {shown}", 60)) if parts else ""


def _draw_panel(ax: Any, metric: str, bands: Mapping[str, Band], colors: Mapping[str, Any]) -> None:
    lower_is_better = not M.is_higher_better(metric)
    scale = robust_scale(
        np.concatenate([np.asarray(b.seeds, dtype=float).ravel() for b in bands.values()]), lower_is_better
    )
    for name, band in bands.items():
        seeds = np.asarray(band.seeds, dtype=float)
        with warnings.catch_warnings():  # a step where no seed has a value stays a gap
            warnings.simplefilter("ignore", RuntimeWarning)
            center, low, high = np.nanmedian(seeds, 0), np.nanmin(seeds, 0), np.nanmax(seeds, 0)
        steps = np.asarray(band.steps, dtype=float)
        ax.plot(steps, center, color=colors[name], lw=1.5, marker=".", ms=3, label=name)
        ax.fill_between(steps, low, high, color=colors[name], alpha=0.12, lw=0)
        above = high > scale.high  # values beyond the axis: a marker on its top edge, at their steps
        if above.any():
            ax.plot(
                steps[above],
                np.full(int(above.sum()), scale.high),
                "^",
                color=colors[name],
                ms=5,
                clip_on=False,
                zorder=5,
            )
    if scale.log:
        ax.set_yscale("log")
    ax.set_ylim(scale.low, scale.high)
    ax.set_title(metric, fontsize=9)
    ax.set_ylabel(metric + (" (log scale)" if scale.log else ""), fontsize=8)
    note = _off_scale_note(bands, scale) if scale.clipped else ""
    ax.set_xlabel("generator step" + (f"\n{note}" if note else ""), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def curves_figure(curves: Mapping[str, Mapping[str, Band]], colors: Mapping[str, Any], title: str) -> Any:
    """One panel per metric: each contender's median over seeds against the training step, shaded min to max.

    Each panel's y axis is :func:`robust_scale`'s: far-out values are drawn as markers on the axis edge and named
    under the panel. The layout is matplotlib's constrained layout, which keeps tick and axis labels inside the
    figure, with the legend below the panels (outside the data)."""
    ncols = min(len(curves), 3)
    nrows = -(-len(curves) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows + 0.6), dpi=100, squeeze=False, layout="constrained"
    )
    for ax, (metric, bands) in zip(axes.flat, curves.items()):
        _draw_panel(ax, metric, bands, colors)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle(f"{title} (line: median over seeds; band: min to max)", fontsize=10)
    plt.close(fig)
    return fig


def mosaic_figure(cells: Mapping[tuple[str, str], Any], rows: Sequence[str], cols: Sequence[str], title: str) -> Any:
    """Images (``[H, W, C]`` arrays, e.g. the runs' sample PNGs) on a rows x columns grid; empty where missing.

    The row labels (contender names) get a column of their own, as wide as the longest needs, so none is cut at
    the figure's edge."""
    label_width = 0.15 + 0.075 * max((len(r) for r in rows), default=0)  # inches, at 8 points
    fig, axes = plt.subplots(
        len(rows),
        len(cols) + 1,
        figsize=(label_width + 1.9 * len(cols), 1.9 * len(rows) + 0.6),
        dpi=110,
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": [label_width] + [1.9] * len(cols)},
    )
    for i, row in enumerate(rows):
        axes[i][0].axis("off")
        axes[i][0].text(1.0, 0.5, row, ha="right", va="center", fontsize=8, transform=axes[i][0].transAxes)
    for (i, row), (j, col) in product(enumerate(rows), enumerate(cols)):
        ax = axes[i][j + 1]
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if (row, col) in cells:
            ax.imshow(cells[(row, col)])
        if i == 0:
            ax.set_title(col, fontsize=8)
    fig.suptitle(title, fontsize=10)
    plt.close(fig)
    return fig
