"""Per-member random streams: every run of a population draws from its own seeded generator.

This is what makes a member of a population follow the same trajectory as the same run trained alone.
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
            g = torch.Generator(device=self.device)
            g.manual_seed(int(seed) * 1_000_003 + salt)
            self.generators.append(g)

    def __len__(self) -> int:
        return len(self.generators)

    def randn(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
        return torch.stack(
            [torch.randn(shape, generator=g, device=self.device, dtype=dtype) for g in self.generators]
        )

    def rand(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
        return torch.stack(
            [torch.rand(shape, generator=g, device=self.device, dtype=dtype) for g in self.generators]
        )

    def randint(self, high: int, shape: tuple[int, ...]) -> Tensor:
        return torch.stack(
            [torch.randint(high, shape, generator=g, device=self.device) for g in self.generators]
        )

    def get_state(self) -> list[Tensor]:
        return [g.get_state() for g in self.generators]

    def set_state(self, states: list[Tensor]) -> None:
        for g, s in zip(self.generators, states, strict=True):
            g.set_state(s)

    def select(self, keep: list[int]) -> MemberRNG:
        """The same streams for a subset of members (generators are shared, not copied)."""
        out = MemberRNG.__new__(MemberRNG)
        out.device = self.device
        out.generators = [self.generators[i] for i in keep]
        return out
