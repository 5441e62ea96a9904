"""The benchmark scripts run and write their result files (tiny sizes; timings are never asserted)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

import benchmarks.common as common


@pytest.fixture()
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    return tmp_path


def _run(module, argv, monkeypatch):
    monkeypatch.setattr(sys, "argv", [module.__name__, *argv])
    module.main()


def test_overhead_benchmark_writes_its_ratio(results_dir, monkeypatch):
    from benchmarks import bench_overhead

    _run(
        bench_overhead,
        ["--device", "cpu", "--steps", "5", "--rounds", "1", "--width", "8", "--batch", "16"],
        monkeypatch,
    )
    payload = json.loads((results_dir / "overhead_cpu.json").read_text())
    assert payload["ratio"] == pytest.approx(payload["ganbench_steps_per_s"] / payload["plain_steps_per_s"], rel=0.01)
    assert payload["commit"] and payload["hardware"]


def test_population_benchmark_writes_a_row_per_size(results_dir, monkeypatch):
    from benchmarks import bench_population

    _run(
        bench_population,
        ["--device", "cpu", "--sizes", "1,2", "--steps", "5", "--width", "8", "--batch", "16"],
        monkeypatch,
    )
    payload = json.loads((results_dir / "population_cpu.json").read_text())
    assert [row["members"] for row in payload["rows"]] == [1, 2]
    for row in payload["rows"]:
        assert row["ratio"] == pytest.approx(
            row["population_model_steps_per_s"] / row["plain_sequential_model_steps_per_s"], rel=0.01
        )


@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on CPU needs a C++ compiler")
def test_population_benchmark_measures_a_compiled_population(results_dir, monkeypatch):
    from benchmarks import bench_population

    argv = ["--device", "cpu", "--sizes", "2", "--steps", "3", "--rounds", "1", "--width", "8", "--batch", "16"]
    _run(bench_population, [*argv, "--compile"], monkeypatch)
    payload = json.loads((results_dir / "population_cpu.json").read_text())
    row = payload["rows"][0]
    assert payload["compiled"] is True and payload["compile_mode"] == "default" and row["compile_s"] > 0
    assert row["population_model_steps_per_s"] > 0 and row["compiled_model_steps_per_s"] > 0
    assert row["compiled_steps_ran_compiled"] is True


def test_mixed_benchmark_times_the_same_members_packed_both_ways(results_dir, monkeypatch):
    from benchmarks import bench_mixed

    argv = [
        "--device",
        "cpu",
        "--losses",
        "hinge,minimax,wgan_gp",
        "--trials",
        "2",
        "--size",
        "4",
        "--steps",
        "2",
        "--rounds",
        "1",
        "--width",
        "8",
        "--batch",
        "16",
    ]
    _run(bench_mixed, argv, monkeypatch)
    payload = json.loads((results_dir / "mixed_cpu.json").read_text())
    assert payload["members"] == 6 and payload["populations"] == {"by_loss": 3, "mixed": 2}
    assert min(payload["member_steps_per_s"]["by_loss"] + payload["member_steps_per_s"]["mixed"]) > 0
