"""The dataset registry and the start-up check that reads each set once."""

from __future__ import annotations

import pytest

from ganbench.data import DATASETS, DataError, DataOptions, check_datasets, load_dataset
from tests.data.helpers import EMBEDDED_IMAGES, _write_mnist


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


def test_every_image_dataset_is_registered():
    assert set(EMBEDDED_IMAGES + ["mnist", "fashion_mnist", "cifar10", "image_folder"]) <= set(DATASETS)
