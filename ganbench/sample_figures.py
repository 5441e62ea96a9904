"""One run's sample figure, logged as an artifact at its evaluations: generated points over the data, or a grid
of images. matplotlib only, Agg backend; below the report, which reads these figures back for its mosaics."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
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
