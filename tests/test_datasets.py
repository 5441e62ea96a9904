"""Image datasets: embedded sets, and the sets read from files written here in the real on-disk formats (idx,
CIFAR's pickled batches, image folders), malformed and missing ones included."""

from __future__ import annotations

import hashlib
import math
import pickle
import struct

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from ganbench.data import DATASETS, DataError, DataOptions, check_datasets, load_dataset
from ganbench.data.image_sets import draw_polygons, rasterize_convex
from ganbench.data.images import to_uint8
from ganbench.rng import MemberRNG

EMBEDDED_IMAGES = ["digits", "stacked_digits", "polygons"]
CHANNELS = {"digits": 1, "stacked_digits": 3, "polygons": 1}
CLASSES = {"digits": 10, "stacked_digits": 1000, "polygons": 6}


@pytest.mark.parametrize("size", [8, 28, 32])
@pytest.mark.parametrize("name", EMBEDDED_IMAGES)
def test_embedded_image_dataset_contract(name, size):
    ds = load_dataset(name, DataOptions(image_size=size))
    assert ds.kind == "image"
    assert ds.sample_shape == (CHANNELS[name], size, size)
    assert ds.num_classes == CLASSES[name]
    assert ds.labels.shape == (len(ds),)
    assert int(ds.labels.min()) >= 0 and int(ds.labels.max()) < ds.num_classes
    x = ds.sample(MemberRNG([0, 1]), 16)
    assert x.shape == (2, 16, *ds.sample_shape) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    # a member of a population draws exactly what the same seed draws alone
    assert_close(ds.sample(MemberRNG([7, 3]), 8)[1], ds.sample(MemberRNG([3]), 8)[0])
    assert_close(ds.reference(32, 5), ds.reference(32, 5))
    assert ds.sample(MemberRNG([0]), 4, dtype=torch.float64).dtype == torch.float64


def test_digits_are_the_sklearn_digits_upsampled():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", DataOptions(image_size=32))
    bunch = load_digits()
    assert len(ds) == 1797
    assert_close(ds.labels, torch.as_tensor(bunch.target))
    # bilinear upsampling keeps each image's mean intensity (sklearn's scale is 0..16)
    upsampled_mean = ds.images.float().mean(dim=(1, 2, 3)) / 255 * 16
    assert_close(upsampled_mean, torch.as_tensor(bunch.images).float().mean(dim=(1, 2)), atol=0.02, rtol=0)


def test_digits_at_8x8_are_the_sklearn_digits_themselves():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", DataOptions(image_size=8))
    expected = (torch.as_tensor(load_digits().images) / 16 * 255).round().to(torch.uint8)[:, None]
    assert torch.equal(ds.images, expected)  # no resampling at the native size
    assert ds.protocol["resolution"] == "8x8" and ds.protocol["upsampling"] == "none"
    stacked = load_dataset("stacked_digits", DataOptions(image_size=8))
    assert stacked.sample_shape == (3, 8, 8)
    assert torch.equal(stacked.images_at(torch.arange(5))[:, 1], ds.images[stacked.triples[:5, 1], 0])


def test_stacked_digits_channels_and_labels():
    ds = load_dataset("stacked_digits")
    base = ds.per_channel_source
    idx = torch.arange(10)
    images = ds.images_at(idx)
    for c in range(3):
        assert torch.equal(images[:, c], base.images[ds.triples[idx, c], 0])
    d = base.labels[ds.triples]
    assert torch.equal(ds.labels, 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2])
    assert len(torch.unique(ds.labels)) == 1000  # every mode is present in the set
    assert len(ds) == 20_000


def test_polygons_are_deterministic_and_labelled_by_vertex_count():
    a, counts_a = draw_polygons(64, 32, seed=3)
    b, counts_b = draw_polygons(64, 32, seed=3)
    c, _ = draw_polygons(64, 32, seed=4)
    assert torch.equal(a, b) and torch.equal(counts_a, counts_b)
    assert not torch.equal(a, c)
    assert a.shape == (64, 1, 32, 32) and a.dtype == torch.uint8
    ds = load_dataset("polygons")
    assert torch.equal(torch.unique(ds.labels), torch.arange(6))
    assert ((ds.images > 0) & (ds.images < 255)).any()  # antialiased edges


def test_rasterized_square_fills_exactly_its_pixels():
    square = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]])
    image = rasterize_convex(square, 32)[0, 0]
    expected = torch.zeros(32, 32, dtype=torch.uint8)
    expected[8:24, 8:24] = 255  # [-0.5, 0.5] is pixels 8..23 of 32 over [-1, 1]
    assert torch.equal(image, expected)


def _shoelace(verts: torch.Tensor) -> torch.Tensor:
    x, y = verts[..., 0], verts[..., 1]
    return 0.5 * (x * y.roll(-1, dims=-1) - x.roll(-1, dims=-1) * y).sum(dim=-1)


def test_rasterized_area_matches_the_shoelace_formula():
    g = torch.Generator().manual_seed(0)
    k = 6
    angles = torch.sort(torch.rand(50, k, generator=g) * 2 * math.pi, dim=1).values
    radius = 0.3 + 0.5 * torch.rand(50, 1, generator=g)
    verts = radius[..., None] * torch.stack([angles.cos(), angles.sin()], dim=-1)
    covered = rasterize_convex(verts, 32).double().sum(dim=(1, 2, 3)) / 255 * (2 / 32) ** 2
    assert_close(covered, _shoelace(verts).double(), atol=0.01, rtol=0.01)


def test_to_uint8_inverts_the_sampling_conversion():
    ds = load_dataset("digits")
    idx = torch.arange(50)
    assert torch.equal(to_uint8(ds.images_at(idx).float() / 127.5 - 1), ds.images_at(idx))


# ------------------------------------------------------------------------------------------ torchvision formats
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


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_formats_load_through_torchvision(tmp_path, name, folder):
    images, labels = _write_mnist(tmp_path, folder)
    ds = load_dataset(name, DataOptions(data_dir=tmp_path))
    assert ds.sample_shape == (1, 28, 28) and len(ds) == 20 and ds.num_classes == 10
    assert torch.equal(ds.images[:, 0], torch.as_tensor(images))
    assert torch.equal(ds.labels, torch.as_tensor(labels))
    resized = load_dataset(name, DataOptions(data_dir=tmp_path, image_size=32))
    assert resized.sample_shape == (1, 32, 32)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [("truncated", "malformed"), ("bad_magic", "malformed"), ("fewer_labels", "20 images, 10 labels")],
)
def test_malformed_idx_files_are_one_line_data_errors(tmp_path, damage, expected):
    images, labels = _write_mnist(tmp_path, "MNIST")
    raw = tmp_path / "MNIST" / "raw"
    if damage == "truncated":
        blob = (raw / "train-images-idx3-ubyte").read_bytes()
        (raw / "train-images-idx3-ubyte").write_bytes(blob[:1000])
    elif damage == "bad_magic":
        (raw / "train-images-idx3-ubyte").write_bytes(b"not an idx file")
    else:
        _write_idx_labels(raw / "train-labels-idx1-ubyte", labels[:10])
    with pytest.raises(DataError, match=expected) as err:
        load_dataset("mnist", DataOptions(data_dir=tmp_path))
    assert str(raw) in str(err.value) and "\n" not in str(err.value)


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


def test_cifar10_format_loads_through_torchvision_with_its_md5_check(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    data, labels = _write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    # torchvision verifies every batch against the md5 of the official files; these small files are not those
    with pytest.raises(DataError, match="md5") as err:
        load_dataset("cifar10", DataOptions(data_dir=tmp_path))
    assert str(folder) in str(err.value) and "\n" not in str(err.value)
    # declaring the md5s of the files written here, torchvision's own check and reader accept them
    monkeypatch.setattr(CIFAR10, "train_list", [[n, _md5(folder / n)] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, _md5(folder / n)] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": _md5(folder / "batches.meta")})
    ds = load_dataset("cifar10", DataOptions(data_dir=tmp_path))
    assert ds.sample_shape == (3, 32, 32) and len(ds) == 20
    assert torch.equal(ds.images, torch.as_tensor(data))
    assert torch.equal(ds.labels, torch.as_tensor(labels))


def test_malformed_cifar_batch_is_a_one_line_data_error(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    _write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    (folder / "data_batch_3").write_bytes(b"\x80\x04 not a pickle")
    # even with md5s that match (a file damaged before its md5 was taken), reading it fails in one line
    monkeypatch.setattr(CIFAR10, "train_list", [[n, _md5(folder / n)] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, _md5(folder / n)] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": _md5(folder / "batches.meta")})
    with pytest.raises(DataError, match="malformed") as err:
        load_dataset("cifar10", DataOptions(data_dir=tmp_path))
    assert str(folder) in str(err.value) and "\n" not in str(err.value)


def _write_pngs(folder, colour, n: int = 3) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (40, 48), colour).save(folder / f"{i}.png")


@pytest.mark.parametrize("layout", ["class_folder", "flat"])
def test_image_folder_with_one_class(tmp_path, layout):
    _write_pngs(tmp_path / "faces" if layout == "class_folder" else tmp_path, (10, 200, 30), n=4)
    ds = load_dataset("image_folder", DataOptions(data_dir=tmp_path, image_size=8))
    assert ds.sample_shape == (3, 8, 8) and len(ds) == 4 and ds.num_classes == 1
    assert torch.equal(ds.labels, torch.zeros(4, dtype=torch.int64))
    assert torch.equal(ds.images[2, :, 3, 3], torch.tensor([10, 200, 30], dtype=torch.uint8))


def test_image_folder_with_a_broken_image_or_no_images_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images under"):
        load_dataset("image_folder", DataOptions(data_dir=tmp_path / "empty"))
    _write_pngs(tmp_path / "pets" / "cats", (0, 0, 0))
    (tmp_path / "pets" / "cats" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png cannot be read as an image") as err:
        load_dataset("image_folder", DataOptions(data_dir=tmp_path / "pets"))
    assert "\n" not in str(err.value)


def test_check_datasets_reads_each_set_once_and_raises_data_error(tmp_path):
    check_datasets(["digits", "ring8", "digits"], DataOptions(image_size=8))  # embedded: nothing to find
    with pytest.raises(DataError, match="not found"):
        check_datasets(["digits", "mnist"], DataOptions(data_dir=tmp_path / "nowhere"))
    _write_mnist(tmp_path, "MNIST")
    options = DataOptions(data_dir=tmp_path)
    check_datasets(["mnist"], options)
    # kept for the process: the evaluator that follows the check does not read the files again
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").unlink()
    assert len(load_dataset("mnist", options)) == 20


def test_image_folder_loads_pngs(tmp_path):
    from PIL import Image

    colours = {"blue": (0, 0, 255), "red": (255, 0, 0)}
    for name, colour in colours.items():
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (40, 48), colour).save(tmp_path / name / f"{i}.png")
    ds = load_dataset("image_folder", DataOptions(data_dir=tmp_path))
    assert ds.sample_shape == (3, 32, 32) and len(ds) == 6 and ds.num_classes == 2
    assert torch.equal(ds.labels, torch.tensor([0, 0, 0, 1, 1, 1]))  # classes sorted: blue, red
    assert torch.equal(ds.images[0, :, 5, 5], torch.tensor([0, 0, 255], dtype=torch.uint8))
    assert torch.equal(ds.images[5, :, 5, 5], torch.tensor([255, 0, 0], dtype=torch.uint8))


@pytest.mark.parametrize(
    ("name", "looked_at"),
    [
        ("mnist", "MNIST/raw"),
        ("fashion_mnist", "FashionMNIST/raw"),
        ("cifar10", "cifar-10-batches-py"),
        ("image_folder", ""),
    ],
)
def test_missing_files_raise_data_error_naming_the_path(tmp_path, name, looked_at):
    with pytest.raises(DataError) as err:
        load_dataset(name, DataOptions(data_dir=tmp_path / "nowhere"))
    message = str(err.value)
    assert str(tmp_path / "nowhere" / looked_at).rstrip("/") in message
    assert "\n" not in message
    if name != "image_folder":
        assert "--download" in message


def test_image_size_must_be_8_28_or_32():
    with pytest.raises(DataError, match="one of 8, 28, 32"):
        load_dataset("digits", DataOptions(image_size=64))


def test_every_image_dataset_is_registered():
    assert set(EMBEDDED_IMAGES + ["mnist", "fashion_mnist", "cifar10", "image_folder"]) <= set(DATASETS)
