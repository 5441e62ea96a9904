"""Image data from disk, end to end through the command line: each on-disk format (idx files, CIFAR's pickled
batches, a class-folder tree, a one-class folder) written here in its real format, then ``ganbench run
--data-dir``; missing and malformed files are exit 2 with one line before any run is opened."""

from __future__ import annotations

import subprocess

import pytest
from mlflow import MlflowClient

from ganbench.cli import main
from tests.conftest import GANBENCH, env_for_subprocess, write_suite
from tests.data.helpers import _md5, _write_cifar10, _write_mnist, _write_pngs

SUITE = """
name: disk
losses: [non_saturating]
strategies: [adam_dcgan]
datasets: [{dataset}]
seeds: 1
steps: 4
batch_size: 8
eval_every: 2
eval_samples: 16
image_size: 8
models:
  image: {{name: image_mlp, width: 16, depth: 1, latent_dim: 8}}
"""


def _children(out):
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ganbench/disk").experiment_id
    runs = client.search_runs([exp])
    return [r for r in runs if r.data.tags.get("ganbench.phase") != "suite"]


def _write(tmp_path, fmt, monkeypatch):
    data = tmp_path / "data"
    if fmt in ("mnist", "fashion_mnist"):
        _write_mnist(data, "MNIST" if fmt == "mnist" else "FashionMNIST")
    elif fmt == "cifar10":
        from torchvision.datasets import CIFAR10

        _write_cifar10(data)
        folder = data / "cifar-10-batches-py"
        # torchvision checks the official files' md5s; these small files are declared instead (in-process run)
        monkeypatch.setattr(CIFAR10, "train_list", [[n, _md5(folder / n)] for n, _ in CIFAR10.train_list])
        monkeypatch.setattr(CIFAR10, "test_list", [[n, _md5(folder / n)] for n, _ in CIFAR10.test_list])
        monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": _md5(folder / "batches.meta")})
    elif fmt == "image_folder":
        _write_pngs(data / "red", (255, 0, 0), n=6)
        _write_pngs(data / "blue", (0, 0, 255), n=6)
    else:  # one class: the images alone in the folder
        _write_pngs(data, (120, 90, 60), n=12)
    return data


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "dataset", "primary"),
    [
        ("mnist", "mnist", "fid_domain"),
        ("fashion_mnist", "fashion_mnist", "fid_domain"),
        ("cifar10", "cifar10", "fid_domain"),
        ("image_folder", "image_folder", "fid_domain"),
        ("one_class", "image_folder", "fid_raw"),
    ],
)
def test_each_on_disk_format_runs_through_the_cli(tmp_path, monkeypatch, capsys, fmt, dataset, primary):
    data = _write(tmp_path, fmt, monkeypatch)
    suite = write_suite(tmp_path / "disk.yaml", SUITE.format(dataset=dataset))
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite), "--data-dir", str(data), "--out", str(out), "--no-progress"]
    assert main(args) == 0, capsys.readouterr().err
    (child,) = _children(out)
    assert child.info.status == "FINISHED" and child.data.tags["ganbench.status"] == "finished"
    assert child.data.params["eval.primary"] == primary
    assert float(child.data.metrics[primary]) >= 0
    if primary == "fid_domain":
        assert 0 <= float(child.data.params["eval.domain_classifier_test_accuracy"]) <= 1
        assert "modes_covered" in child.data.metrics
    else:  # one class: no classifier, no modes; said in one line
        assert "modes_covered" not in child.data.metrics
        assert "one class" in child.data.params["eval.no_domain_space"]
        notes = [line for line in capsys.readouterr().err.splitlines() if "1 class" in line]
        assert len(notes) == 1 and "raw space" in notes[0]
    assert (out / "report" / "summary.csv").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [("missing", "mnist: files under"), ("truncated", "are malformed"), ("no_images", "image_folder: no images")],
)
def test_missing_or_malformed_data_is_exit_2_with_one_line_and_no_run(tmp_path, damage, message):
    data = tmp_path / "data"
    dataset = "image_folder" if damage == "no_images" else "mnist"
    if damage == "truncated":
        _write_mnist(data, "MNIST")
        images = data / "MNIST" / "raw" / "train-images-idx3-ubyte"
        images.write_bytes(images.read_bytes()[:500])
    elif damage == "no_images":
        (data / "empty").mkdir(parents=True)
    suite = write_suite(tmp_path / "disk.yaml", SUITE.format(dataset=dataset))
    out = tmp_path / "out"
    proc = subprocess.run(
        [*GANBENCH, "run", "--suite", str(suite), "--data-dir", str(data), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        env=env_for_subprocess(),
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "mlflow.db").exists()  # no run was opened: the store was never created
