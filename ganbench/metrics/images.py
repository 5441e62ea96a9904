"""Image evaluation: FID, KID and precision/recall by torch-fidelity in named feature spaces, and mode coverage.

Feature spaces (the metric name carries the space: ``fid_domain``, ``kid_inception``, ...):

- ``domain``: the dataset's cached classifier (:mod:`ganbench.metrics.domain`); the offline default and the
  primary metric whenever the dataset has labels of two classes or more.
- ``inception``: torch-fidelity's InceptionV3 (:mod:`ganbench.metrics.inception`), only when its weights file
  is given (``inception_weights=``, ``$GANBENCH_INCEPTION_WEIGHTS``, ``--inception-weights``) or already in
  torch.hub's cache; adds the Inception Score (``is_inception``). ganbench never downloads the weights.
- ``raw``: the pixels, average-pooled to at most 16x16, for a set with one class (an image folder of faces):
  it has no classifier to train and no modes to count. Used only when there are no Inception weights.

The reference is the training set: FID compares with the statistics of all its images; KID and
precision/recall with ``min(eval_samples, size)`` of them drawn without replacement (seed ``REFERENCE_SEED``).
Real data is scored like a generator (``real_scores``): ``eval_samples`` images drawn independently, with
replacement, from the same set, as a generator that reproduced the training distribution would sample.

Mode coverage uses the domain classifier's predictions: classes with at least one sample and KL(histogram ||
uniform); for stacked digits each channel is classified (1,000 modes, the Stacked-MNIST protocol).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganbench.data.images import to_uint8
from ganbench.metrics import KL_UNIFORM, MODES_COVERED, fid_key, is_key, kid_key, precision_key, recall_key
from ganbench.metrics.base import EVALUATORS, REAL_REPEATS, REAL_SEED, REFERENCE_SEED, Evaluator
from ganbench.metrics.coverage import label_coverage
from ganbench.metrics.domain import cache_root, classifier_source, domain_extractor, extract, has_classifier
from ganbench.metrics.fid import METRICS, PRC_SAMPLES, feature_metrics, fid_statistics
from ganbench.metrics.inception import (
    INCEPTION,
    STANDARD_SAMPLES,
    InceptionFeatures,
    file_sha256,
    inception_score,
    inception_weights_path,
)

RAW_SIZE = 16  # the raw pixel space pools images to at most this size
REFERENCE_VERSION = 2  # bump when the reference changes: cached reference features are not reused


class PixelFeatures(torch.nn.Module):
    """The ``raw`` space: uint8 images scaled to ``[-1, 1]``, average-pooled to at most ``RAW_SIZE`` square,
    flattened (768 features for 16x16 RGB)."""

    def get_requested_features_list(self) -> list[str]:
        return ["features"]

    def forward(self, x: Tensor) -> tuple[Tensor]:
        x = x.float() / 127.5 - 1
        if x.shape[-1] > RAW_SIZE:
            x = torch.nn.functional.adaptive_avg_pool2d(x, RAW_SIZE)
        return (x.flatten(start_dim=1),)


_NOTED: set[str] = set()


def _note_once(message: str) -> None:
    """One line on stderr, once per process: what the evaluator chose for a dataset and why."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(f"ganbench: {message}", file=sys.stderr, flush=True)


@EVALUATORS.register("image")
class ImageEvaluator(Evaluator):
    """Evaluator for ``kind == "image"`` datasets; ``primary`` is ``fid_domain`` (``fid_inception`` or
    ``fid_raw`` for a one-class set, which has no classifier).

    Options: ``eval_samples`` (generated samples per evaluation, and the reference's size for KID and
    precision/recall), ``cache_dir`` (classifiers and reference features; default the dataset's ``cache_dir``,
    ``$GANBENCH_CACHE`` or ``~/.cache/ganbench``), ``inception_weights`` (a file; enables the ``inception``
    space), ``inception`` (None: on when weights are given or cached; False: off; True: required), ``metrics``
    (a subset of fid, kid, prc, is), ``kid_subsets``, ``kid_subset_size``, ``prc_neighborhood``, ``prc_samples``.
    """

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
        prc_samples: int = PRC_SAMPLES,
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
            "prc_samples": prc_samples,
        }
        self.extractors: dict[str, torch.nn.Module] = {}
        self.domain = domain_extractor(dataset, self.cache) if has_classifier(dataset) else None
        if self.domain is not None:
            self.extractors["domain"] = self.domain
        self.inception_weights = inception_weights_path(inception_weights) if inception is not False else None
        if inception and self.inception_weights is None:
            raise FileNotFoundError(
                "inception=True needs InceptionV3 weights: pass inception_weights=<file> or set "
                "GANBENCH_INCEPTION_WEIGHTS (ganbench never downloads them)"
            )
        self._idents: dict[str, str] = {}
        if self.domain is not None:
            self._idents["domain"] = self.domain.info["weights_sha256"]
        if self.inception_weights is not None:
            self.extractors["inception"] = InceptionFeatures(self.inception_weights)
            self.inception_sha256 = self._idents["inception"] = file_sha256(self.inception_weights)
        if not self.extractors:
            self.extractors["raw"] = PixelFeatures()
            self._idents["raw"] = f"pool{RAW_SIZE}"
        self.feature_space = next(iter(self.extractors))
        self.primary = fid_key(self.feature_space)
        if self.domain is None:
            _note_once(
                f"{dataset.name} has {dataset.num_classes} class: no domain classifier and no mode counts; FID, "
                f"KID and precision/recall in the {self.feature_space} space (primary {self.primary})"
            )
        self.reference = {space: self._reference(space) for space in self.extractors}

    # ---------------------------------------------------------------------------------------- the reference
    @property
    def reference_size(self) -> int:
        """Real images that KID and precision/recall compare with: ``eval_samples``, or the whole set."""
        return min(self.eval_samples, len(self.dataset))

    def _reference(self, space: str) -> dict[str, Any]:
        """The training set's FID statistics (all of its images) and the features of ``reference_size`` of its
        images drawn without replacement; cached on disk per dataset, extractor weights and size."""
        ident = self._idents[space][:12]
        name = (
            f"{self.dataset.fingerprint}-{space}-{ident}-n{self.reference_size}-s{REFERENCE_SEED}"
            f"-v{REFERENCE_VERSION}.pt"
        )
        path = self.cache / "real" / name
        if path.exists():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            return {"stats": {k: v.numpy() for k, v in saved["stats"].items()}, "features": saved["features"]}
        n = len(self.dataset)
        parts = [extract(self.extractors[space], self.dataset.images_at(idx)) for idx in torch.arange(n).split(5000)]
        features = torch.cat([p["features"] for p in parts])
        picked = torch.randperm(n, generator=torch.Generator().manual_seed(REFERENCE_SEED))[: self.reference_size]
        reference = {"stats": fid_statistics(features), "features": features[picked].contiguous()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({**reference, "stats": {k: torch.as_tensor(v) for k, v in reference["stats"].items()}}, tmp)
        os.replace(tmp, path)
        return reference

    # ---------------------------------------------------------------------------------------- scoring
    def __call__(self, samples: Tensor) -> dict[str, float]:
        if not bool(torch.isfinite(samples).all()):
            return dict.fromkeys(self.metric_names(), math.nan)
        return self.score_uint8(to_uint8(samples))

    def score_uint8(self, images: Tensor) -> dict[str, float]:
        """The metrics of uint8 ``[n, C, H, W]`` images (generated samples are converted to these first)."""
        options = {k: v for k, v in self.options.items() if k != "metrics"}
        metrics = tuple(m for m in self.options["metrics"] if m != "is")
        out: dict[str, float] = {}
        for space, extractor in self.extractors.items():
            fake = extract(extractor, images)
            ref = self.reference[space]
            out.update(
                feature_metrics(
                    fake["features"], ref["features"], space, real_stats=ref["stats"], metrics=metrics, **options
                )
            )
            if space == "domain":
                out.update(label_coverage(self.domain.labels(fake["logits"]), self.num_modes))
            if space == "inception" and "is" in self.options["metrics"]:
                out[is_key(space)] = inception_score(fake["logits"])
        return out

    def real_scores(self, repeats: int = REAL_REPEATS, seed: int = REAL_SEED) -> dict[str, list[float]]:
        """What real data scores: ``repeats`` draws of ``eval_samples`` training images, each drawn with
        replacement from its own seed (``seed + k``), scored exactly as generated samples are.

        With replacement, because a generator samples independently: one that reproduced the training set's
        distribution exactly would draw like this, repeats included, so these scores are the ceiling a
        generator can reach. (Drawing without replacement cannot give 10,000 samples of the 1,797 digits, and a
        draw disjoint from the reference would score worse than such a generator.)"""
        out: dict[str, list[float]] = {}
        for k in range(repeats):
            g = torch.Generator().manual_seed(seed + k)
            idx = torch.randint(len(self.dataset), (self.eval_samples,), generator=g)
            for name, value in self.score_uint8(self.dataset.images_at(idx)).items():
                out.setdefault(name, []).append(float(value))
        return out

    @property
    def num_modes(self) -> int:
        return int(self.dataset.num_classes)

    def metric_names(self) -> list[str]:
        keys = {"fid": [fid_key], "kid": [kid_key], "prc": [precision_key, recall_key], "is": []}
        names = [MODES_COVERED, KL_UNIFORM] if self.domain is not None else []
        for space in self.extractors:
            names += [key(space) for metric in self.options["metrics"] for key in keys[metric]]
        if "inception" in self.extractors and "is" in self.options["metrics"]:
            names.append(is_key("inception"))
        return names

    @property
    def mode_label_accuracy(self) -> float | None:
        """How often a real sample's mode is read right, on images the classifier never trained on: its
        held-out accuracy, to the power of the channels it classifies one by one (stacked digits: the three
        channels are classified independently, so a triple is right with probability accuracy^3)."""
        if self.domain is None:
            return None
        per_channel = classifier_source(self.dataset) is not self.dataset
        return float(self.domain.info["test_accuracy"]) ** (self.dataset.sample_shape[0] if per_channel else 1)

    def protocol(self) -> dict[str, Any]:
        n = len(self.dataset)
        out: dict[str, Any] = {
            "feature_space": self.feature_space,
            "primary": self.primary,
            "feature_spaces": ",".join(self.extractors),
            "eval_samples": self.eval_samples,
            "reference_seed": REFERENCE_SEED,
            "reference": f"FID: all {n} training images; KID, precision/recall: {self.reference_size} of them",
            "real_draws": f"{self.eval_samples} training images with replacement, seeds {REAL_SEED} + k",
            "modes": self.num_modes if self.domain is not None else 1,
            "metrics": ",".join(self.options["metrics"]),
            **{k: v for k, v in self.options.items() if k not in ("metrics", "prc_samples")},
            "prc_samples": min(self.options["prc_samples"], self.eval_samples, self.reference_size),
        }
        if self.domain is not None:
            info = self.domain.info
            out |= {
                "domain_extractor": self.domain.get_name(),
                "domain_weights_sha256": info["weights_sha256"],
                "domain_classifier_dataset": info["dataset"],
                "domain_classifier_version": info["version"],
                "domain_classifier_test_accuracy": info["test_accuracy"],
                "domain_classifier_test_size": info["test_size"],
                "mode_label_accuracy": self.mode_label_accuracy,
            }
        else:
            out["no_domain_space"] = f"{self.dataset.name} has one class: no classifier, no modes"
        if self.feature_space == "raw":
            out["raw_features"] = f"pixels average-pooled to at most {RAW_SIZE}x{RAW_SIZE}"
        if self.inception_weights is not None:
            standard = self.eval_samples >= STANDARD_SAMPLES
            out |= {
                "inception_extractor": INCEPTION,
                "inception_weights": self.inception_weights.name,
                "inception_weights_sha256": self.inception_sha256,
                "inception_protocol": "standard" if standard else f"short ({STANDARD_SAMPLES} generated is standard)",
            }
        return out
