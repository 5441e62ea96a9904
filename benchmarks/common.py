"""Shared pieces of the benchmarks: the plain PyTorch loop they compare against, timing, hardware line."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.memory import keep_freed_memory

RESULTS = Path(__file__).resolve().parent.parent / "results" / "perf"


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {torch.get_num_threads()} torch threads, {gpu}, torch {torch.__version__}"


def git_commit() -> str:
    """HEAD of the checkout; on a machine given a copy of the tree without ``.git`` (an offline GPU box),
    what ``GANBENCH_COMMIT`` says."""
    if os.environ.get("GANBENCH_COMMIT"):
        return os.environ["GANBENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def model_arguments(ap: Any, depth: int = 2) -> None:
    """The device and model options every throughput benchmark takes (defaults: the `losses` suite's MLP)."""
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=depth)
    ap.add_argument("--batch", type=int, default=256)


def bench_config(args: Any) -> Any:
    """An endless non-saturating run on ring8 with the benchmark's model (the plain loop trains the same)."""
    from ganbench.config import RunConfig
    from ganbench.models import ModelConfig

    model = ModelConfig(width=args.width, depth=args.depth)
    return RunConfig(
        loss="non_saturating",
        strategy="adam_dcgan",
        dataset="ring8",
        batch_size=args.batch,
        model=model,
        steps=10**9,
        eval_every=10**9,
    )


def mlp(sizes: list[int], act: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class PlainLoop:
    """The hand-written baseline: one non-saturating GAN on ring8 with torch.optim.Adam, nothing else."""

    def __init__(self, seed: int, width: int, depth: int, batch: int, device: str, latent: int = 2) -> None:
        keep_freed_memory()  # the allocator setting ganbench's trainer makes: both sides measured under it
        torch.manual_seed(seed)
        self.g = mlp([latent] + [width] * depth + [2], nn.ReLU).to(device)
        self.d = mlp([2] + [width] * depth + [1], lambda: nn.LeakyReLU(0.2)).to(device)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        angles = torch.arange(8, device=device) * (2 * math.pi / 8)
        self.means = torch.stack([angles.cos(), angles.sin()], 1)
        self.batch, self.latent, self.device = batch, latent, device

    def step(self) -> None:
        real = self.means[torch.randint(8, (self.batch,), device=self.device)]
        real = real + 0.01 * torch.randn(self.batch, 2, device=self.device)
        with torch.no_grad():
            fake = self.g(torch.randn(self.batch, self.latent, device=self.device))
        d_loss = F.softplus(-self.d(real)).mean() + F.softplus(self.d(fake)).mean()
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        fake = self.g(torch.randn(self.batch, self.latent, device=self.device))
        g_loss = F.softplus(-self.d(fake)).mean()
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()


def first_steps_seconds(trainer: Any, device: str) -> float:
    """Seconds the first three steps of a trainer take: with the run option ``compile``, its compile time."""
    start = time.perf_counter()
    for _ in range(3):
        trainer.train_step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def steps_per_second(step: Callable[[], None], steps: int, device: str, warmup: int = 20) -> float:
    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
