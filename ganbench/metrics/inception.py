"""The ``inception`` feature space: torch-fidelity's ``inception-v3-compat`` network (the TensorFlow FID
Inception, bit-compatible), used only when its weights file is on this machine. ganbench never downloads it.

The standard protocol, whose numbers papers can be compared with (Heusel et al. 2017; Salimans et al. 2016):
FID between 50,000 generated samples and the statistics of the whole training set in the 2048-d pool
features, and the Inception Score over the same samples' class logits in 10 splits. Sample counts below
50,000 bias FID upwards; ``protocol()`` of the image evaluator says which count was used.

Getting the weights once, on a machine with a network (the file torch-fidelity itself would download)::

    mkdir -p ~/.cache/torch/hub/checkpoints && curl -L -o \\
      ~/.cache/torch/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth \\
      https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth

then copy that file to the offline machine's torch.hub cache, or name it with ``--inception-weights``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import Tensor
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, isc_features_to_metric
from torch_fidelity.utils import create_feature_extractor

INCEPTION = "inception-v3-compat"
STANDARD_SAMPLES = 50_000  # generated samples of the standard FID / IS protocol
ISC_SPLITS = 10  # torch-fidelity's default, as in Salimans et al. 2016


def inception_weights_path(inception_weights: str | Path | None = None) -> Path | None:
    """The InceptionV3 weights to use: the given file, ``$GANBENCH_INCEPTION_WEIGHTS``, or the file torch-fidelity
    downloaded before into torch.hub's cache; None when there is none (never downloads)."""
    given = inception_weights or os.environ.get("GANBENCH_INCEPTION_WEIGHTS")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"inception weights not found: {path}")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(URL_INCEPTION_V3).name
    return cached if cached.is_file() else None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class InceptionFeatures(torch.nn.Module):
    """torch-fidelity's InceptionV3 on uint8 images with 1 or 3 channels (grey repeated to RGB): the 2048-d pool
    features (FID, KID, precision/recall) and the unbiased class logits (Inception Score)."""

    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.net = create_feature_extractor(
            INCEPTION,
            ["2048", "logits_unbiased"],
            cuda=False,
            feature_extractor_weights_path=str(weights),
            verbose=False,
        )

    def get_requested_features_list(self) -> list[str]:
        return ["features", "logits"]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features, logits = self.net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
        return features, logits


def inception_score(logits: Tensor, splits: int = ISC_SPLITS) -> float:
    """The Inception Score (Salimans et al. 2016) of ``[n, 1008]`` logits, by torch-fidelity: the mean over
    ``splits`` splits of exp(E KL(p(y|x) || p(y))). Higher is better."""
    return float(isc_features_to_metric(logits.detach().cpu(), splits=splits)[KEY_METRIC_ISC_MEAN])
