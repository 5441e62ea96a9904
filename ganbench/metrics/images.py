"""Image evaluation: FID, KID and precision/recall by torch-fidelity in named feature spaces, and mode coverage.

Feature spaces (the metric name carries the space: ``fid_domain``, ``kid_inception``, ...):

- ``domain``: the dataset's cached classifier (:mod:`ganbench.metrics.domain`); always on; primary.
- ``inception``: torch-fidelity's InceptionV3 (2048-d pool features), only when its weights file is given
  (``inception_weights=``, or ``$GANBENCH_INCEPTION_WEIGHTS``) or already in torch-fidelity's download cache:
  ganbench never downloads it.

Mode coverage uses the domain classifier's predictions: classes with at least one sample and KL(histogram ||
uniform); for stacked digits each channel is classified (1,000 modes, the Stacked-MNIST protocol).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric
from torch_fidelity.utils import create_feature_extractor

from ganbench.data.images import to_uint8
from ganbench.metrics import KL_UNIFORM, MODES_COVERED, fid_key, kid_key, precision_key, recall_key
from ganbench.metrics.base import REFERENCE_SEED, Evaluator
from ganbench.metrics.coverage import label_coverage
from ganbench.metrics.domain import cache_root, domain_extractor, extract
from ganbench.metrics.fid import fid_from_statistics, fid_statistics

METRICS = ("fid", "kid", "prc")
INCEPTION = "inception-v3-compat"
PRC_FULL_LIMIT = 5000  # above this many samples, torch-fidelity's memory-saving precision/recall path


def feature_metrics(
    fake: Tensor,
    real: Tensor,
    space: str,
    *,
    real_stats: dict | None = None,
    metrics: tuple[str, ...] = METRICS,
    kid_subsets: int = 10,
    kid_subset_size: int = 1000,
    prc_neighborhood: int = 3,
    seed: int = 2020,
) -> dict[str, float]:
    """FID (Heusel et al. 2017), KID (Binkowski et al. 2018) and precision/recall (Kynkaanniemi et al. 2019)
    between ``[n, d]`` feature sets, computed by torch-fidelity; keys carry ``space``.

    KID averages ``kid_subsets`` subsets of ``min(kid_subset_size, n)`` samples (cubic polynomial kernel);
    precision/recall use the ``prc_neighborhood``-th nearest neighbour radius.
    """
    fake, real = fake.detach().cpu().float(), real.detach().cpu().float()
    out: dict[str, float] = {}
    if "fid" in metrics:
        out[fid_key(space)] = fid_from_statistics(fid_statistics(fake), real_stats or fid_statistics(real))
    if "kid" in metrics:
        size = min(kid_subset_size, len(fake), len(real))
        kid = kid_features_to_metric(
            fake, real, kid_subsets=kid_subsets, kid_subset_size=size, rng_seed=seed, verbose=False
        )
        out[kid_key(space)] = kid[KEY_METRIC_KID_MEAN]
    if "prc" in metrics:
        prc = prc_features_to_metric(
            fake,
            real,
            prc_neighborhood=prc_neighborhood,
            save_cpu_ram=len(fake) > PRC_FULL_LIMIT,
            verbose=False,
        )
        out[precision_key(space)], out[recall_key(space)] = prc[KEY_METRIC_PRECISION], prc[KEY_METRIC_RECALL]
    return out


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


class _InceptionRGB(torch.nn.Module):
    """torch-fidelity's InceptionV3 on uint8 images with 1 or 3 channels (grey repeated to RGB)."""

    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.net = create_feature_extractor(
            INCEPTION, ["2048"], cuda=False, feature_extractor_weights_path=str(weights), verbose=False
        )

    def get_requested_features_list(self) -> list[str]:
        return ["features"]

    def forward(self, x: Tensor) -> tuple[Tensor]:
        return (self.net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)[0],)


class ImageEvaluator(Evaluator):
    """Evaluator for ``kind == "image"`` datasets; ``primary`` is ``fid_domain``.

    Options: ``eval_samples`` (real and generated samples per evaluation), ``cache_dir`` (classifiers and real
    features; default the dataset's ``cache_dir``, ``$GANBENCH_CACHE`` or ``~/.cache/ganbench``),
    ``inception_weights`` (a file; enables the ``inception`` space), ``inception`` (None: on when weights are
    given or cached; False: off; True: required), ``metrics`` (a subset of fid, kid, prc), ``kid_subsets``,
    ``kid_subset_size``, ``prc_neighborhood``.
    """

    feature_space = "domain"
    primary = fid_key("domain")

    def __init__(
        self,
        dataset: Any,
        *,
        eval_samples: int = 2500,
        cache_dir: str | Path | None = None,
        inception_weights: str | Path | None = None,
        inception: bool | None = None,
        metrics: tuple[str, ...] = METRICS,
        kid_subsets: int = 10,
        kid_subset_size: int = 1000,
        prc_neighborhood: int = 3,
        **_: Any,
    ) -> None:
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown image metric {unknown[0]!r}; valid: {', '.join(METRICS)}")
        self.dataset, self.eval_samples = dataset, eval_samples
        self.cache = cache_root(cache_dir or getattr(dataset, "cache_dir", None))
        self.options = {
            "metrics": tuple(metrics),
            "kid_subsets": kid_subsets,
            "kid_subset_size": kid_subset_size,
            "prc_neighborhood": prc_neighborhood,
        }
        self.domain = domain_extractor(dataset, self.cache)
        self.extractors: dict[str, torch.nn.Module] = {"domain": self.domain}
        self.inception_weights = inception_weights_path(inception_weights) if inception is not False else None
        if inception and self.inception_weights is None:
            raise FileNotFoundError(
                "inception=True needs InceptionV3 weights: pass inception_weights=<file> or set "
                "GANBENCH_INCEPTION_WEIGHTS (ganbench never downloads them)"
            )
        if self.inception_weights is not None:
            self.extractors["inception"] = _InceptionRGB(self.inception_weights)
            self.inception_sha256 = file_sha256(self.inception_weights)
        real = to_uint8(dataset.reference(eval_samples, REFERENCE_SEED))
        self.real = {space: self._real_features(space, real) for space in self.extractors}
        self.real_stats = {space: fid_statistics(f["features"]) for space, f in self.real.items()}

    def _real_features(self, space: str, real: Tensor) -> dict[str, Tensor]:
        """Features of the reference samples, cached on disk per dataset, sample count and extractor weights."""
        ident = self.domain.info["weights_sha256"] if space == "domain" else self.inception_sha256
        ident = ident[:12]
        name = f"{self.dataset.fingerprint}-{space}-{ident}-n{self.eval_samples}-s{REFERENCE_SEED}.pt"
        path = self.cache / "real" / name
        if path.exists():
            return torch.load(path, map_location="cpu", weights_only=True)
        features = extract(self.extractors[space], real)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(features, tmp)
        os.replace(tmp, path)
        return features

    def __call__(self, samples: Tensor) -> dict[str, float]:
        if not bool(torch.isfinite(samples).all()):
            return dict.fromkeys(self.metric_names(), math.nan)
        images = to_uint8(samples)
        out: dict[str, float] = {}
        for space, extractor in self.extractors.items():
            fake = extract(extractor, images)
            real = self.real[space]["features"]
            out.update(
                feature_metrics(
                    fake["features"], real, space, real_stats=self.real_stats[space], **self.options
                )
            )
            if space == "domain":
                out.update(label_coverage(self.domain.labels(fake["logits"]), self.num_modes))
        return out

    @property
    def num_modes(self) -> int:
        return int(self.dataset.num_classes)

    def metric_names(self) -> list[str]:
        keys = {"fid": [fid_key], "kid": [kid_key], "prc": [precision_key, recall_key]}
        names = [MODES_COVERED, KL_UNIFORM]
        for space in self.extractors:
            names += [key(space) for metric in self.options["metrics"] for key in keys[metric]]
        return names

    def protocol(self) -> dict[str, Any]:
        info = self.domain.info
        out: dict[str, Any] = {
            "feature_space": self.feature_space,
            "primary": self.primary,
            "feature_spaces": ",".join(self.extractors),
            "eval_samples": self.eval_samples,
            "reference_seed": REFERENCE_SEED,
            "modes": self.num_modes,
            "domain_extractor": self.domain.get_name(),
            "domain_weights_sha256": info["weights_sha256"],
            "domain_classifier_dataset": info["dataset"],
            "domain_classifier_version": info["version"],
            "domain_classifier_test_accuracy": info["test_accuracy"],
            "metrics": ",".join(self.options["metrics"]),
            **{k: v for k, v in self.options.items() if k != "metrics"},
        }
        if self.inception_weights is not None:
            out["inception_extractor"] = INCEPTION
            out["inception_weights"] = self.inception_weights.name
            out["inception_weights_sha256"] = self.inception_sha256
        return out
