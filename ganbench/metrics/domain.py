"""The ``domain`` feature space: a small CNN classifier trained once per dataset on its labels, cached on disk.

Its penultimate activations are the features of ``fid_domain``/``kid_domain``/precision-recall, and its
predictions label modes (for stacked digits, each channel is classified by the digits classifier: 1,000
modes). It is registered with torch-fidelity as a feature extractor (``ganbench-domain`` and
``ganbench-domain-per-channel``), so ``torch_fidelity.calculate_metrics(feature_extractor="ganbench-domain",
feature_extractor_weights_path=<classifier file>, ...)`` computes the same metrics outside ganbench.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from torch_fidelity.utils import create_feature_extractor

DOMAIN_VERSION = 2  # bump when the architecture or training changes: old cached classifiers are not reused
DEFAULT_CACHE = "~/.cache/ganbench"
EXTRACTOR = "ganbench-domain"
PER_CHANNEL_EXTRACTOR = "ganbench-domain-per-channel"
# A quarter of the labelled images is held out and never trained on: 449 of the 1,797 digits, so the recorded
# accuracy has a standard error near 0.7 points (at 97 %), where the 270 images of a 15 % split gave 0.8-1.0.
TEST_FRACTION = 0.25
SPLIT_SEED = 0


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$GANBENCH_CACHE``, else ``~/.cache/ganbench``."""
    return Path(cache_dir or os.environ.get("GANBENCH_CACHE") or DEFAULT_CACHE).expanduser()


class DomainClassifier(nn.Module):
    """A strided 4x4 conv, then three 3x3 conv blocks (two max-pooled), each with batch norm and ReLU; global
    average pooling; a linear head. Small enough to train in seconds on a CPU.

    ``forward`` takes float images in ``[-1, 1]`` and returns ``(features [n, 8 * width], logits)``.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 8) -> None:
        super().__init__()
        chans = [width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU()]
        for i, (c_in, c_out) in enumerate(zip(chans, chans[1:])):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            layers.append(nn.MaxPool2d(2) if i < 2 else nn.AdaptiveAvgPool2d(1))
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(chans[-1], num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(x)
        return features, self.head(features)


def holdout_split(n: int, seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION) -> tuple[Tensor, Tensor]:
    """Fixed ``(train, test)`` index split of ``n`` items: the classifier trains on the first, and its recorded
    accuracy is measured on the second alone."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, int(round(n * test_fraction)))
    return perm[n_test:], perm[:n_test]


def train_classifier(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    epochs: int = 30,
    min_steps: int = 200,
    max_steps: int = 1000,
    batch_size: int = 64,
    seed: int = 0,
    test_fraction: float = TEST_FRACTION,
    width: int = 8,
    device: str | torch.device = "cpu",
) -> tuple[DomainClassifier, dict[str, Any]]:
    """Train a :class:`DomainClassifier` on uint8 ``images [n, C, H, W]`` with a held-out test split.

    Adam (lr 2e-3, cosine decay), ``epochs`` passes over the train split, clamped to [min_steps, max_steps]
    steps (30 passes: on the 8x8 digits 8 passes reached 96-98 % held out, 30 passes 97-99 %; at most 1,000
    steps keep a 60,000-image set to seconds). Returns the model (eval mode, CPU) and ``{test_accuracy,
    train_size, test_size, test_fraction, split_seed, steps}``: the accuracy is on images it never trained on.
    """
    train_idx, test_idx = holdout_split(images.shape[0], seed, test_fraction)
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's global stream
        torch.manual_seed(seed)
        model = DomainClassifier(images.shape[1], num_classes, width).to(device)
    steps = min(max(math.ceil(epochs * len(train_idx) / batch_size), min_steps), max_steps)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = train_idx[torch.randint(len(train_idx), (batch_size,), generator=g)]
        x = images[idx].to(device).float() / 127.5 - 1
        loss = nn.functional.cross_entropy(model(x)[1], labels[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval().cpu()
    predicted = predict(model, images[test_idx])
    accuracy = float((predicted == labels[test_idx]).float().mean())
    info = {
        "test_accuracy": accuracy,
        "train_size": len(train_idx),
        "test_size": len(test_idx),
        "test_fraction": test_fraction,
        "split_seed": seed,
        "steps": steps,
    }
    return model, info


@torch.no_grad()
def predict(model: DomainClassifier, images: Tensor, batch: int = 1000) -> Tensor:
    return torch.cat([model(x.float() / 127.5 - 1)[1].argmax(dim=1) for x in images.split(batch)])


def weights_hash(state: dict[str, Tensor]) -> str:
    """sha256 of the weights (names and bytes, in order): what ``protocol()`` logs as the extractor's identity."""
    h = hashlib.sha256()
    for name, t in state.items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def classifier_source(dataset: Any) -> Any:
    """The dataset whose classifier labels ``dataset``: its per-channel source (stacked digits) or itself."""
    return getattr(dataset, "per_channel_source", None) or dataset


def has_classifier(dataset: Any) -> bool:
    """Whether ``dataset`` can have a domain classifier: labels of at least two classes (a one-class image
    folder has none, and no modes to count)."""
    source = classifier_source(dataset)
    return source.labels is not None and source.num_classes >= 2


def classifier_path(dataset: Any, cache_dir: str | Path | None = None) -> Path:
    """The cached classifier of ``dataset``, trained and saved first when it is not on disk yet."""
    source = classifier_source(dataset)
    if not has_classifier(dataset):
        raise ValueError(
            f"dataset {source.name!r} has {source.num_classes} class(es): a domain classifier needs labels of "
            "at least 2 classes (the image evaluator then uses the raw pixel space)"
        )
    path = cache_root(cache_dir) / "domain" / f"{source.fingerprint}-v{DOMAIN_VERSION}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path.with_suffix(".lock")):  # parallel runs train it once
        if not path.exists():
            images = source.images_at(torch.arange(len(source)))
            model, info = train_classifier(images, source.labels, source.num_classes)
            state = {
                "weights": model.state_dict(),
                "in_channels": images.shape[1],
                "num_classes": source.num_classes,
                "dataset": source.fingerprint,
                "version": DOMAIN_VERSION,
                **info,
            }
            tmp = path.with_suffix(".tmp")
            torch.save(state, tmp)
            os.replace(tmp, path)
    return path


@contextlib.contextmanager
def _file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, at worst two processes train the same classifier
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class DomainFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor around a cached :class:`DomainClassifier`.

    Input: uint8 ``[n, C, H, W]`` (torch-fidelity's convention). Features: ``"features"`` (penultimate layer)
    and ``"logits"``. A 1-channel classifier given RGB input sees the channel mean.
    """

    per_channel = False

    def __init__(
        self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"{name} needs feature_extractor_weights_path: a classifier file ganbench cached")
        state = torch.load(feature_extractor_weights_path, map_location="cpu", weights_only=True)
        self.in_channels, self.num_classes = int(state["in_channels"]), int(state["num_classes"])
        self.classifier = DomainClassifier(self.in_channels, self.num_classes)
        self.classifier.load_state_dict(state["weights"])
        keys = ("dataset", "version", "test_accuracy", "train_size", "test_size", "steps")
        self.info = {k: state[k] for k in keys}
        self.info["weights_sha256"] = weights_hash(state["weights"])
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "features"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> Tensor:
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dtype != torch.uint8 or x.dim() != 4:
            raise ValueError(f"{self.name} expects uint8 [n, C, H, W] images, got {x.dtype} {tuple(x.shape)}")
        n, c = x.shape[:2]
        x = x.float() / 127.5 - 1
        if self.per_channel:
            x = x.reshape(n * c, 1, *x.shape[2:])
        elif c != self.in_channels:
            x = x.mean(dim=1, keepdim=True) if self.in_channels == 1 else x.expand(-1, self.in_channels, -1, -1)
        features, logits = self.classifier(x)
        out = {"features": features.reshape(n, -1), "logits": logits.reshape(n, -1)}
        return tuple(out[name] for name in self.features_list)

    def labels(self, logits: Tensor) -> Tensor:
        """Predicted class per sample; per channel, the channels' classes read as base-``num_classes`` digits."""
        k = self.num_classes
        per = logits.reshape(logits.shape[0], -1, k).argmax(dim=-1)  # [n, channels]
        weights = k ** torch.arange(per.shape[1] - 1, -1, -1, device=per.device)
        return (per * weights).sum(dim=1)


class PerChannelDomainFeatureExtractor(DomainFeatureExtractor):
    """Classifies every channel alone (stacked digits); features and logits are the channels' concatenated."""

    per_channel = True


for _name, _cls in ((EXTRACTOR, DomainFeatureExtractor), (PER_CHANNEL_EXTRACTOR, PerChannelDomainFeatureExtractor)):
    if _name not in FEATURE_EXTRACTORS_REGISTRY:  # importlib.reload must not fail on the duplicate
        register_feature_extractor(_name, _cls)


def domain_extractor(dataset: Any, cache_dir: str | Path | None = None) -> DomainFeatureExtractor:
    """The domain feature extractor of ``dataset`` (classifier trained and cached on first use), created
    through torch-fidelity's registry."""
    name = PER_CHANNEL_EXTRACTOR if classifier_source(dataset) is not dataset else EXTRACTOR
    path = classifier_path(dataset, cache_dir)
    return create_feature_extractor(
        name, ["features", "logits"], cuda=False, feature_extractor_weights_path=str(path), verbose=False
    )


@torch.no_grad()
def extract(extractor: nn.Module, images: Tensor, batch: int = 500) -> dict[str, Tensor]:
    """Run a torch-fidelity feature extractor over uint8 ``images`` in batches; features on the CPU."""
    device = images.device
    extractor.to(device)
    parts = [extractor(chunk) for chunk in images.split(batch)]
    names = extractor.get_requested_features_list()
    return {name: torch.cat([p[i] for p in parts]).float().cpu() for i, name in enumerate(names)}
