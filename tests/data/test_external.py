"""Image sets read from files written here in the real on-disk formats, malformed and missing ones included."""

from __future__ import annotations

import pytest
import torch

from ganbench.data import DataError, DataOptions, load_dataset
from tests.data.helpers import _md5, _write_cifar10, _write_idx_labels, _write_mnist, _write_pngs


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
