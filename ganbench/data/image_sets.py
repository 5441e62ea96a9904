"""The registered image sets: the embedded ``digits``, ``stacked_digits`` and ``polygons``, and ``mnist``,
``fashion_mnist``, ``cifar10`` and ``image_folder`` read from local files through torchvision."""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from ganbench.data.base import DataError, DataOptions, register_dataset
from ganbench.data.images import (
    POLYGON_SEED,
    POLYGON_SIZE,
    POLYGON_VERTICES,
    STACKED_SEED,
    STACKED_SIZE,
    ImageDataset,
    StackedImages,
    data_root,
    resize_uint8,
)


def _image_size(options: DataOptions, natural: int) -> int:
    size = options.image_size or natural
    if size not in (28, 32):
        raise DataError(f"image_size must be 28 or 32, not {size}")
    return size


@functools.lru_cache(maxsize=4)
def _digits_uint8(size: int) -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits  # shipped with scikit-learn: no download

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32)[:, None] / 16  # values 0..16
    images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return (images * 255).round().clamp(0, 255).to(torch.uint8), torch.as_tensor(bunch.target)


@register_dataset("digits", kind="image")
def digits(options: DataOptions) -> ImageDataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), upsampled bilinearly to 28 or 32."""
    images, labels = _digits_uint8(_image_size(options, 32))
    protocol = {"source": "sklearn.datasets.load_digits", "upsampling": "bilinear"}
    return ImageDataset("digits", images, labels, 10, protocol=protocol, cache_dir=options.cache_dir)


@register_dataset("stacked_digits", kind="image")
def stacked_digits(options: DataOptions) -> StackedImages:
    """Three digits stacked as RGB channels (the Stacked-MNIST protocol on embedded digits): 1,000 modes.

    A fixed set of 20,000 triples drawn uniformly from seed 0; label ``100 d1 + 10 d2 + d3``.
    """
    base = digits(options)
    g = torch.Generator().manual_seed(STACKED_SEED)
    triples = torch.randint(len(base), (STACKED_SIZE, 3), generator=g)
    protocol = {"channels": "digits", "size": STACKED_SIZE, "seed": STACKED_SEED}
    return StackedImages("stacked_digits", base, triples, protocol=protocol, cache_dir=options.cache_dir)


def draw_polygons(
    n: int, size: int, seed: int, vertices: tuple[int, ...] = POLYGON_VERTICES
) -> tuple[Tensor, Tensor]:
    """``n`` filled convex polygons, white on black, uint8 ``[n, 1, size, size]``, and their vertex counts.

    Vertices lie on a circle (so the polygon is convex) at evenly spaced angles jittered by up to 15 % of the
    spacing; centre, radius and rotation are random.
    """
    g = torch.Generator().manual_seed(seed)
    counts = torch.tensor(vertices)[torch.randint(len(vertices), (n,), generator=g)]
    kmax = max(vertices)
    centre = (torch.rand(n, 2, generator=g) - 0.5) * 0.4
    radius = 0.5 + 0.35 * torch.rand(n, 1, generator=g)
    k = torch.arange(kmax).expand(n, kmax)
    jitter = (torch.rand(n, kmax, generator=g) - 0.5) * 0.3
    angles = torch.rand(n, 1, generator=g) * 2 * math.pi + (k + jitter) * (2 * math.pi / counts[:, None])
    angles = torch.where(k < counts[:, None], angles, angles[:, :1])  # padding repeats vertex 0: empty edges
    verts = centre[:, None] + radius[:, None] * torch.stack([angles.cos(), angles.sin()], dim=-1)
    return rasterize_convex(verts, size), counts


def rasterize_convex(verts: Tensor, size: int) -> Tensor:
    """Fill convex polygons ``verts [n, k, 2]`` (counter-clockwise, in ``[-1, 1]^2``, x right, y down the
    rows) into uint8 ``[n, 1, size, size]``. A pixel's grey level is its coverage, from the signed distance of
    its centre to the nearest edge line (exact inside a convex polygon): antialiased edges. Repeated vertices
    (zero-length edges) are ignored, so polygons with fewer vertices can be padded."""
    n = verts.shape[0]
    edges = verts.roll(-1, dims=1) - verts  # counter-clockwise, so the inside is left of every edge
    length = edges.norm(dim=-1)
    # signed distance of point p to edge line k, positive inside: (e_x (p_y - v_y) - e_y (p_x - v_x)) / |e|
    offset = verts[..., 0] * edges[..., 1] - verts[..., 1] * edges[..., 0]
    coeff = torch.stack([-edges[..., 1], edges[..., 0], offset], dim=-1) / length.clamp_min(1e-12)[..., None]
    coeff[length < 1e-9] = torch.tensor([0.0, 0.0, 1e9])  # padded edges never bind
    ticks = (torch.arange(size) + 0.5) / size * 2 - 1
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    grid = torch.stack([gx.flatten(), gy.flatten(), torch.ones(size * size)])  # [3, size*size]
    dist = (coeff @ grid).amin(dim=1)  # [n, size*size]
    coverage = (0.5 + dist * (size / 2)).clamp(0, 1)  # one pixel is 2 / size wide
    return (coverage * 255).round().to(torch.uint8).reshape(n, 1, size, size)


@functools.lru_cache(maxsize=4)
def _polygons_cached(n: int, size: int, seed: int) -> tuple[Tensor, Tensor]:
    return draw_polygons(n, size, seed)


@register_dataset("polygons", kind="image")
def polygons(options: DataOptions) -> ImageDataset:
    """Convex polygons with 3 to 8 vertices (Lucic et al. 2018's known manifold), labelled by vertex count.

    20,000 images drawn from seed 0; ``draw_polygons`` makes any number from any seed.
    """
    images, counts = _polygons_cached(POLYGON_SIZE, _image_size(options, 32), POLYGON_SEED)
    labels = counts - min(POLYGON_VERTICES)
    protocol = {"vertices": "3-8", "size": POLYGON_SIZE, "seed": POLYGON_SEED}
    n = len(POLYGON_VERTICES)
    return ImageDataset("polygons", images, labels, n, protocol=protocol, cache_dir=options.cache_dir)


# ------------------------------------------------------------------------------------------------- external
_HOW_TO_GET = (
    "run with --download on a machine with a network, or put the torchvision files there "
    "(--data-dir or $GANBENCH_DATA sets the root folder)"
)


def _torchvision_set(name: str, options: DataOptions, cls_name: str, folder: str) -> tuple[Tensor, Tensor]:
    """Train split of a torchvision dataset as uint8 ``[n, C, H, W]`` images and labels."""
    import torchvision.datasets as tvd

    root = data_root(options)
    where = root / folder
    try:
        ds = getattr(tvd, cls_name)(str(root), train=True, download=options.download)
    except RuntimeError as e:  # torchvision's "not found" / "corrupted" errors
        corrupted = where.exists() and "corrupted" in str(e)
        what = "are missing or failed torchvision's md5 check" if corrupted else "not found"
        raise DataError(f"{name}: files under {where} {what}; {_HOW_TO_GET}") from None
    except OSError as e:  # a download without a network, an unreadable file
        raise DataError(f"{name}: could not read or download {where} ({e}); {_HOW_TO_GET}") from None
    data = torch.as_tensor(ds.data)
    data = data[:, None] if data.dim() == 3 else data.permute(0, 3, 1, 2)  # MNIST [n,H,W]; CIFAR [n,H,W,C]
    return data.contiguous(), torch.as_tensor(ds.targets)


def _external(name: str, options: DataOptions, cls_name: str, folder: str, natural: int) -> ImageDataset:
    size = _image_size(options, natural)
    images, labels = _torchvision_set(name, options, cls_name, folder)
    images = resize_uint8(images, size)
    protocol = {"source": f"torchvision.datasets.{cls_name}", "split": "train"}
    n = int(labels.max()) + 1
    return ImageDataset(name, images, labels, n, protocol=protocol, cache_dir=options.cache_dir)


@register_dataset("mnist", kind="image")
def mnist(options: DataOptions) -> ImageDataset:
    """MNIST train split (60,000), from ``<data_dir>/MNIST/raw`` (the idx files, uncompressed)."""
    return _external("mnist", options, "MNIST", "MNIST/raw", 28)


@register_dataset("fashion_mnist", kind="image")
def fashion_mnist(options: DataOptions) -> ImageDataset:
    """Fashion-MNIST train split (60,000), from ``<data_dir>/FashionMNIST/raw``."""
    return _external("fashion_mnist", options, "FashionMNIST", "FashionMNIST/raw", 28)


@register_dataset("cifar10", kind="image")
def cifar10(options: DataOptions) -> ImageDataset:
    """CIFAR-10 train split (50,000), from ``<data_dir>/cifar-10-batches-py`` (checked by torchvision's md5)."""
    return _external("cifar10", options, "CIFAR10", "cifar-10-batches-py", 32)


@register_dataset("image_folder", kind="image")
def image_folder(options: DataOptions) -> ImageDataset:
    """Any folder ``<data_dir>/<class>/<image>`` (torchvision ImageFolder) as RGB, resized and centre-cropped.

    Labels are the class folders; the domain feature space needs at least two.
    """
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    root, size = data_root(options), _image_size(options, 32)
    tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()])
    try:
        ds = ImageFolder(str(root), transform=tf)
    except (FileNotFoundError, RuntimeError) as e:
        raise DataError(
            f"image_folder: no images under {root} ({e}); put them in <class>/ subfolders"
        ) from None
    images = torch.stack([ds[i][0] for i in range(len(ds))])
    labels = torch.tensor(ds.targets)
    protocol = {"source": "torchvision.datasets.ImageFolder", "root": str(root.resolve())}
    n = len(ds.classes)
    return ImageDataset("image_folder", images, labels, n, protocol=protocol, cache_dir=options.cache_dir)
