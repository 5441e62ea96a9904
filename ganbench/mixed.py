"""Mixed populations: members of several contenders that share a model train as one stacked model.

Members may differ in their loss, its parameters and their D steps (a member's own ``Member.config``); all else
(dataset, model, strategy, batch, schedule) is the population's. Each member still follows the run it would be
alone, to float rounding (tests/test_mixed.py), because:

- each loss is called on its own members' rows of the discriminator's scores (a *group*), and the per-row losses
  are put back together; a penalty differentiates D on its group's rows only, through the whole stacked D with
  the other rows held at fixed inputs (rows never interact), and its random draws come from its members'
  streams alone;
- the population takes as many D steps as its members' most; a member with fewer takes part only in its first
  ones: it draws no data there, its optimizer neither moves it nor counts the step (Adam's bias correction), and
  the running statistics its rows of the models keep (batch norm, spectral norm's power iteration) are put back
  after forward passes it would not have made alone;
- weight clipping (WGAN) bounds each member's rows by its own clip (others: no bound).

D's batch norm depends on the loss (none under an added penalty: ``r1``, ``<loss>+r1``), so members whose losses
disagree on that share a population only where D has no batch norm either way (the MLPs, spectral norm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from ganbench.config import MIXABLE, Member, RunConfig
from ganbench.losses import LossSpec, get_loss
from ganbench.models import create_models
from ganbench.strategies import d_steps


@dataclass
class Group:
    """Members (by row position) that share a loss and its config-level parameters."""

    spec: LossSpec
    positions: list[int] | None  # rows of the stacked tensors; None: every row
    idx: Tensor | None  # ``positions`` as an index tensor
    params: dict[str, Any]  # config parameters as floats, members' own as ``[len(positions)]`` tensors


def check_mixable(population: RunConfig, members: Sequence[Member]) -> list[RunConfig]:
    """Each member's own config; a ValueError (one line) when members differ in more than MIXABLE allows."""
    configs = [m.run_config(population) for m in members]
    for c in configs:
        other = [
            f.name
            for f in fields(RunConfig)
            if f.name not in MIXABLE and getattr(c, f.name) != getattr(population, f.name)
        ]
        if other:
            raise ValueError(
                f"members of one population differ in {other[0]!r}; they may differ only in {', '.join(MIXABLE)}"
            )
    return configs


def d_batch_norm(configs: Sequence[RunConfig], sample_shape: tuple[int, ...]) -> bool:
    """Whether D has batch norm: not under an added penalty (``LossSpec.penalty``). Members that disagree share a
    population only where the model's D is the same either way (the MLPs); a ValueError (one line) otherwise."""
    flags = {get_loss(c.loss).penalty is None for c in configs}
    if len(flags) == 1:
        return flags.pop()
    model = configs[0].model
    with_bn, without = (create_models(model, sample_shape, [0], d_batch_norm=f)[1] for f in (True, False))
    if set(with_bn.state_dict()) != set(without.state_dict()):
        raise ValueError(
            f"members of one population must agree on D's batch norm ({model.name} has it except "
            "under an added penalty such as r1): those losses cannot share it with others"
        )
    return False


class Mixture:
    """The losses and D steps of a population's members, by row."""

    def __init__(self, population: RunConfig, members: Sequence[Member]) -> None:
        self.members = list(members)
        self.configs = check_mixable(population, members)
        for c in self.configs:
            get_loss(c.loss).check_params(c.loss_params)
        self.n_critic = [d_steps(c) for c in self.configs]
        kinds = {(c.loss, tuple(sorted(c.loss_params.items()))) for c in self.configs}
        self.mixed = len(kinds) > 1  # several losses (or parameters) among the members
        self.steps_vary = len(set(self.n_critic)) > 1
        self._cache: dict[tuple[Any, ...], Any] = {}

    def stepping(self, rows: list[int], k: int) -> list[int] | None:
        """Positions of the rows that take D step ``k`` (0-based); None: all of them."""
        if not self.steps_vary:
            return None
        positions = [r for r, i in enumerate(rows) if self.n_critic[i] > k]
        return None if len(positions) == len(rows) else positions

    def finishing(self, rows: list[int], k: int, device: torch.device) -> Tensor | bool:
        """Rows whose last D step is ``k``: True (all), False (none) or a ``[rows]`` mask."""
        if not self.steps_vary:
            return k == self.n_critic[rows[0]] - 1
        key = ("finishing", tuple(rows), k)
        if key not in self._cache:
            flags = [self.n_critic[i] == k + 1 for i in rows]
            self._cache[key] = all(flags) or (any(flags) and torch.tensor(flags, device=device))
        return self._cache[key]

    def groups(
        self, rows: list[int], positions: list[int] | None, device: torch.device, dtype: torch.dtype
    ) -> list[Group]:
        """The loss groups among ``positions`` (None: all rows), built once per set of rows."""
        key = ("groups", tuple(rows), None if positions is None else tuple(positions))
        if key in self._cache:
            return self._cache[key]
        by_kind: dict[tuple[Any, ...], list[int]] = {}
        for r in range(len(rows)) if positions is None else positions:
            c = self.configs[rows[r]]
            by_kind.setdefault((c.loss, tuple(sorted(c.loss_params.items()))), []).append(r)
        groups = []
        for (loss, shared), pos in by_kind.items():
            whole = len(pos) == len(rows)
            names = sorted({k for r in pos for k in (self.members[rows[r]].loss_params or {})})
            own = {
                k: torch.tensor(
                    [self.members[rows[r]].params_over(self.configs[rows[r]])[k] for r in pos],
                    dtype=dtype,
                    device=device,
                )
                for k in names
            }
            idx = None if whole else torch.tensor(pos, device=device)
            groups.append(Group(get_loss(loss), None if whole else pos, idx, {**dict(shared), **own}))
        self._cache[key] = groups
        return groups

    def mask(self, rows: list[int], positions: list[int], device: torch.device) -> Tensor:
        """``positions`` as a ``[rows]`` mask."""
        key = ("mask", tuple(rows), tuple(positions))
        if key not in self._cache:
            mask = torch.zeros(len(rows), dtype=torch.bool)
            mask[positions] = True
            self._cache[key] = mask.to(device)
        return self._cache[key]

    def clip(self, groups: list[Group], rows: int, like: Tensor) -> Tensor | float | None:
        """D's weight bound per row (a float when one group covers every row); None: no clipping."""
        bounds = [(g, g.spec.clip(g.params)) for g in groups]
        if len(groups) == 1 and groups[0].idx is None:
            return bounds[0][1]
        if all(b is None for _, b in bounds):
            return None
        out = torch.full((rows,), float("inf"), dtype=like.dtype, device=like.device)
        for g, b in bounds:
            if b is not None:
                out[g.idx] = b if torch.is_tensor(b) else torch.full((len(g.positions),), b).to(out)  # type: ignore[arg-type]
        return out

    def forget(self) -> None:
        """Rows were dropped: group again."""
        self._cache.clear()


def per_group(
    groups: list[Group], rows: int, call: Callable[[Group, Callable[[Tensor], Tensor]], Tensor], like: Tensor
) -> Tensor:
    """Each group's ``call(group, take)`` (``take`` picks its rows of a stacked tensor), put back together as a
    ``[rows]`` loss; rows of no group get 0 (and no gradient)."""
    if len(groups) == 1 and groups[0].idx is None:
        return call(groups[0], lambda t: t)
    out = like.new_zeros(rows)
    for g in groups:
        out = out.index_copy(0, g.idx, call(g, lambda t, idx=g.idx: t[idx]))  # type: ignore[misc]
    return out


def row_view(
    discriminator: Callable[[Tensor], Tensor], idx: Tensor | None, base: Tensor, modules: Sequence[nn.Module]
) -> Callable[[Tensor], Tensor]:
    """D on some rows only, for a penalty: ``x`` ``[len(idx), ...]`` goes into those rows of the stacked input
    (the others hold ``base``), and their scores come back. The other rows' running statistics are put back."""
    if idx is None:
        return discriminator

    def view(x: Tensor) -> Tensor:
        with keep_rows(modules, idx, base.shape[0]):
            return discriminator(base.detach().index_copy(0, idx, x))[idx]

    return view


@contextmanager
def keep_rows(modules: Sequence[nn.Module], keep: Tensor | list[int] | None, rows: int) -> Iterator[None]:
    """Buffers (running statistics) of rows not in ``keep`` are as they were before the block (None: all kept)."""
    if keep is None:
        yield
        return
    mask = torch.zeros(rows, dtype=torch.bool)
    mask[torch.as_tensor(keep, device="cpu")] = True
    buffers = [b for m in modules for b in m.buffers() if b.dim() > 0 and b.shape[0] == rows]
    saved = [b.clone() for b in buffers]
    try:
        yield
    finally:
        # through .data: the version counter stays, so a backward that saved a buffer (batch norm saves its
        # running statistics, though training-mode backward does not read them) does not refuse to run
        for b, old in zip(buffers, saved, strict=True):
            m = mask.to(b.device).view((-1,) + (1,) * (b.dim() - 1))
            b.data.copy_(torch.where(m, b.data, old))
