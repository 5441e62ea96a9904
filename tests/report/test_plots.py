"""The report's curve figures: a diverged seed must not flatten the healthy curves (checked on the axes' plotted
data limits), values left off the axis are marked and named, and the layout keeps labels and legend readable."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from ganbench.report import plots

STEPS = np.array([2000.0, 4000.0, 6000.0, 8000.0])
HEALTHY = {f"loss{i}|adam": 0.05 + 0.05 * i for i in range(5)}  # final W1 of five healthy contenders


def _curves(outlier: float | None) -> dict[str, dict[str, plots.Band]]:
    """Five contenders x 10 seeds, W1 falling to its final value; one minimax seed at ``outlier``."""
    rng = np.random.default_rng(0)
    bands = {}
    for name, final in HEALTHY.items():
        seeds = final * np.linspace(1.5, 1.0, len(STEPS)) * np.exp(rng.normal(0, 0.05, (10, len(STEPS))))
        bands[name] = plots.Band(STEPS, seeds)
    seeds = 0.1 * np.ones((10, len(STEPS)))
    if outlier is not None:
        seeds[3] = outlier
    bands["minimax|adam"] = plots.Band(STEPS, seeds)
    return {"w1_raw": bands, "modes_covered": {n: plots.Band(STEPS, np.full((10, 4), 8.0)) for n in bands}}


def _draw(curves: dict[str, dict[str, plots.Band]]):
    fig = plots.curves_figure(curves, plots.contender_colors(sorted(curves["w1_raw"])), "ring8")
    FigureCanvasAgg(fig).draw()  # runs the layout, as savefig does (the figure comes back closed)
    return fig, fig.axes[0]


def test_a_diverged_seed_leaves_the_healthy_curves_apart() -> None:
    fig, ax = _draw(_curves(outlier=40.0))
    low, high = ax.get_ylim()
    healthy = (min(HEALTHY.values()), max(HEALTHY.values()) * 1.5)
    # the axis spans the healthy runs (with a margin), not the diverged seed: curves 0.05 apart stay apart
    assert ax.get_yscale() == "linear"
    assert low <= healthy[0] and high >= healthy[1]
    assert high - low < 2 * (healthy[1] - healthy[0]), (low, high)
    # the seed off the axis is marked on the top edge and named under the panel
    edge = [line for line in ax.get_lines() if line.get_marker() == "^"]
    assert edge and all(np.allclose(line.get_ydata(), high) for line in edge)
    assert "off scale: minimax|adam (max 40)" in ax.get_xlabel()


def test_without_outliers_every_value_is_on_the_axis() -> None:
    _, ax = _draw(_curves(outlier=None))
    low, high = ax.get_ylim()
    values = np.concatenate([np.asarray(b.seeds).ravel() for b in _curves(None)["w1_raw"].values()])
    assert low <= values.min() and high >= values.max()
    assert "off scale" not in ax.get_xlabel()
    assert not [line for line in ax.get_lines() if line.get_marker() == "^"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.01, 0.02, 0.5, 1.0, 2.0], (True, False)),  # distances spanning factors: log, nothing left out
        ([0.05, 0.06, 0.07, 0.08, 40.0], (False, True)),  # one far-out value: linear over the rest, clipped
        ([0.3, 0.5, 0.6, 0.7, 1.0], (False, False)),  # a narrow spread: linear, everything shown
    ],
)
def test_robust_scale(values: list[float], expected: tuple[bool, bool]) -> None:
    scale = plots.robust_scale(values)
    assert (scale.log, scale.clipped) == expected
    kept = [v for v in values if v <= scale.high]
    assert scale.low <= min(values) and len(kept) >= len(values) - 1


def test_higher_is_better_panels_hold_every_value() -> None:
    scale = plots.robust_scale([0.0, 7.5, 8.0, 8.0, 8.0, 8.0], lower_is_better=False)
    assert not scale.log and not scale.clipped and scale.low < 0.0 and scale.high > 8.0


def test_labels_and_legend_stay_inside_the_figure_and_off_the_panels() -> None:
    fig, ax = _draw(_curves(outlier=40.0))
    renderer = fig.canvas.get_renderer()  # the Agg canvas _draw attached
    figure_box = fig.bbox
    for panel in fig.axes:
        if not panel.axison:
            continue
        for label in (panel.xaxis.label, panel.yaxis.label, panel.title, *panel.get_yticklabels()):
            box = label.get_window_extent(renderer)
            assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1, label.get_text()
            assert figure_box.y0 <= box.y0 and box.y1 <= figure_box.y1, label.get_text()
    legend = fig.legends[0].get_window_extent(renderer)
    panels = [p.get_window_extent(renderer) for p in fig.axes if p.axison]
    assert all(legend.y1 <= p.y0 for p in panels)  # below every panel: never over a line
    assert ax.get_ylabel() == "w1_raw"


def test_the_samples_mosaic_keeps_long_row_labels_inside_the_figure() -> None:
    rows = ["non_saturating|ttur_beta1", "r1|tied"]
    cells = {(r, f"seed {s}"): np.ones((30, 30, 3)) for r in rows for s in range(3)}
    fig = plots.mosaic_figure(cells, rows, ["seed 0", "seed 1", "seed 2"], "ring8: final samples")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    labels = [t for ax in fig.axes for t in ax.texts]
    assert [t.get_text() for t in labels] == rows
    for text in labels:
        box = text.get_window_extent(canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.x1, text.get_text()
