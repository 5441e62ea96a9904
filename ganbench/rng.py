"""Per-member random streams: every run of a population draws from its own seeded generator.

This is what makes a member of a population follow the same trajectory as the same run trained alone.

The generators are CPU generators whatever the device: a draw is one small call per member on the CPU and one
copy of the stacked draws to the device. On a GPU, one CUDA generator per member cost a kernel launch per
member and draw: 256 of the 389 launches of a population step of 64 members (H200, 9.5 ms a step of which the
GPU computed 2.3 ms; results/perf/README.md). A side effect: the same seed draws the same numbers on every
device.
"""

from __future__ import annotations

import torch
from torch import Tensor


class MemberRNG:
    """One ``torch.Generator`` per member; draws return ``[members, *shape]``."""

    def __init__(self, seeds: list[int], device: torch.device | str = "cpu", salt: int = 0) -> None:
        self.device = torch.device(device)
        self.generators = []
        for seed in seeds:
            g = torch.Generator()
            g.manual_seed(int(seed) * 1_000_003 + salt)
            self.generators.append(g)

    def __len__(self) -> int:
        return len(self.generators)

    def _to_device(self, drawn: Tensor) -> Tensor:
        if self.device.type == "cpu":
            return drawn
        # from pinned memory the copy is asynchronous: the host goes on queueing the step's kernels (the
        # caching host allocator keeps the block until the copy has run)
        pinned = drawn.pin_memory() if self.device.type == "cuda" else drawn
        return pinned.to(self.device, non_blocking=True)

    def randn(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
        return self._to_device(torch.stack([torch.randn(shape, generator=g, dtype=dtype) for g in self.generators]))

    def rand(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
        return self._to_device(torch.stack([torch.rand(shape, generator=g, dtype=dtype) for g in self.generators]))

    def randint(self, high: int, shape: tuple[int, ...]) -> Tensor:
        return self._to_device(torch.stack([torch.randint(high, shape, generator=g) for g in self.generators]))

    def get_state(self) -> list[Tensor]:
        return [g.get_state() for g in self.generators]

    def set_state(self, states: list[Tensor]) -> None:
        for g, s in zip(self.generators, states, strict=True):
            g.set_state(s.cpu())  # a checkpoint loaded onto a GPU brings the states along

    def select(self, keep: list[int]) -> MemberRNG:
        """The same streams for a subset of members (generators are shared, not copied)."""
        out = MemberRNG.__new__(MemberRNG)
        out.device = self.device
        out.generators = [self.generators[i] for i in keep]
        return out
