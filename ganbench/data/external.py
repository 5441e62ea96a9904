"""Image sets read from local files: ``mnist`` and ``fashion_mnist`` (idx files), ``cifar10`` (CIFAR's pickled
batches), all through torchvision's own readers, and ``image_folder`` (a folder of images, one subfolder per
class, or the images alone: one class).

A set that is missing, malformed or empty is a :class:`DataError` of one line that names the folder and how to
get the files, never a traceback. A set read once is kept for the rest of the process, so the start-up check
(:func:`ganbench.data.check_datasets`) and the evaluator that follows it read the files once.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import torch
from torch import Tensor

from ganbench.data.base import DataError, DataOptions, register_dataset
from ganbench.data.images import ImageDataset, data_root, resize_uint8, resolve_size

_HOW_TO_GET = (
    "run with --download on a machine with a network, or put the torchvision files there "
    "(--data-dir or $GANBENCH_DATA sets the root folder)"
)
# what torchvision's readers raise on a malformed file: a bad idx header (AssertionError), a truncated one
# (RuntimeError from a reshape), a damaged pickle (UnpicklingError, EOFError, KeyError)
_MALFORMED = (AssertionError, ValueError, EOFError, KeyError, IndexError, TypeError, pickle.UnpicklingError)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


@functools.lru_cache(maxsize=4)
def _torchvision_set(name: str, root: Path, download: bool, cls_name: str, folder: str) -> tuple[Tensor, Tensor]:
    """Train split of a torchvision dataset as uint8 ``[n, C, H, W]`` images and their labels."""
    import torchvision.datasets as tvd

    where = root / folder
    try:
        ds = getattr(tvd, cls_name)(str(root), train=True, download=download)
    except RuntimeError as e:  # torchvision's "not found" / "not found or corrupted", or a truncated file
        if "not found" not in str(e):
            raise DataError(f"{name}: files under {where} are malformed ({_one_line(e)}); {_HOW_TO_GET}") from None
        corrupted = where.exists() and "corrupted" in str(e)
        what = "are missing or failed torchvision's md5 check" if corrupted else "not found"
        raise DataError(f"{name}: files under {where} {what}; {_HOW_TO_GET}") from None
    except _MALFORMED as e:
        raise DataError(f"{name}: files under {where} are malformed ({_one_line(e)}); {_HOW_TO_GET}") from None
    except OSError as e:  # a download without a network, an unreadable file
        raise DataError(f"{name}: could not read or download {where} ({_one_line(e)}); {_HOW_TO_GET}") from None
    data, labels = torch.as_tensor(ds.data), torch.as_tensor(ds.targets)
    if data.dim() not in (3, 4) or len(data) == 0 or len(data) != len(labels):
        raise DataError(
            f"{name}: files under {where} are malformed ({len(data)} images, {len(labels)} labels); {_HOW_TO_GET}"
        )
    data = data[:, None] if data.dim() == 3 else data.permute(0, 3, 1, 2)  # MNIST [n,H,W]; CIFAR [n,H,W,C]
    return data.contiguous(), labels.to(torch.int64)


def _external(name: str, options: DataOptions, cls_name: str, folder: str, natural: int) -> ImageDataset:
    size = resolve_size(options, natural)
    root = data_root(options).resolve()
    images, labels = _torchvision_set(name, root, options.download, cls_name, folder)
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


# ------------------------------------------------------------------------------------------------ image_folder
@functools.lru_cache(maxsize=2)
def _read_folder(root: Path, size: int) -> tuple[Tensor, Tensor, tuple[str, ...]]:
    """Images under ``root`` as RGB uint8 ``size x size`` (resized, centre-cropped), labels and class names."""
    from torchvision import transforms
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS, default_loader

    tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()])
    how = "put the images in <class>/ subfolders of it, or directly in it for one class"
    if not root.is_dir():
        raise DataError(f"image_folder: {root} is not a folder; {how} (--data-dir sets it)")
    subfolders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if subfolders:
        try:
            folder = ImageFolder(str(root))
        except (FileNotFoundError, RuntimeError) as e:
            raise DataError(f"image_folder: no images under {root} ({_one_line(e)}); {how}") from None
        files, labels, classes = [p for p, _ in folder.samples], folder.targets, tuple(folder.classes)
    else:  # the images alone (a face set, one LSUN category): one class
        files = sorted(str(p) for p in root.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)
        labels, classes = [0] * len(files), (root.name,)
        if not files:
            raise DataError(f"image_folder: no images under {root}; {how}")
    images = []
    for path in files:
        try:
            images.append(tf(default_loader(path)))
        except OSError as e:  # PIL's UnidentifiedImageError (a file that is not an image) is an OSError
            raise DataError(f"image_folder: {path} cannot be read as an image ({_one_line(e)})") from None
    return torch.stack(images), torch.tensor(labels), classes


@register_dataset("image_folder", kind="image")
def image_folder(options: DataOptions) -> ImageDataset:
    """Any folder of images as RGB, resized and centre-cropped: ``<data_dir>/<class>/<image>`` (torchvision's
    ImageFolder; the class folders are the labels), or ``<data_dir>/<image>`` for one class.

    With one class there is no domain classifier to train and no modes to count: the image evaluator then
    measures FID, KID and precision/recall in the raw pixel space (or the inception space, with its weights).
    """
    root, size = data_root(options).resolve(), resolve_size(options, 32)
    images, labels, classes = _read_folder(root, size)
    protocol = {"source": "torchvision.datasets.ImageFolder", "root": str(root), "classes": len(classes)}
    return ImageDataset("image_folder", images, labels, len(classes), protocol=protocol, cache_dir=options.cache_dir)
