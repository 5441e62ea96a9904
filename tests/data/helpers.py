"""What the data tests share: the embedded image sets' names, and writers of the real on-disk formats."""

from __future__ import annotations

import hashlib
import pickle
import struct

import numpy as np

EMBEDDED_IMAGES = ["digits", "stacked_digits", "polygons"]


def _write_idx_images(path, images: np.ndarray) -> None:
    n, h, w = images.shape
    path.write_bytes(struct.pack(">iiii", 2051, n, h, w) + images.astype(np.uint8).tobytes())


def _write_idx_labels(path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def _write_mnist(root, folder: str, n_train: int = 20, n_test: int = 5) -> tuple[np.ndarray, np.ndarray]:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    labels = np.arange(n_train) % 10
    _write_idx_images(raw / "train-images-idx3-ubyte", images)
    _write_idx_labels(raw / "train-labels-idx1-ubyte", labels)
    _write_idx_images(raw / "t10k-images-idx3-ubyte", images[:n_test])
    _write_idx_labels(raw / "t10k-labels-idx1-ubyte", labels[:n_test])
    return images, labels


def _write_cifar10(root, per_batch: int = 4) -> tuple[np.ndarray, list[int]]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_data, train_labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        if name != "test_batch":
            train_data.append(data)
            train_labels += labels
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return np.concatenate(train_data).reshape(-1, 3, 32, 32), train_labels


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _write_pngs(folder, colour, n: int = 3) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (40, 48), colour).save(folder / f"{i}.png")
