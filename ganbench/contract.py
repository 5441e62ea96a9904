"""The loss contract, checked once per loss before it trains anything.

A loss gets stacked scores ``[members, batch]`` and must return :class:`~ganbench.losses.LossTerms` whose four
terms have shape ``[members]``, are finite, and whose D loss depends on both the real and the fake scores and
whose G loss depends on the fake scores (or, for ``features=True`` losses, on the fake features). A plugin that
breaks it fails here with one line naming its file, the loss and what is wrong, instead of failing mid-run.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import Tensor

from ganbench.errors import GanbenchError
from ganbench.losses import LOSSES, LossSpec, LossTerms, get_loss
from ganbench.rng import MemberRNG

MEMBERS, BATCH, FEATURES = 3, 8, 4
_CHECKED: set[tuple[Any, Any, str]] = set()


class ContractError(GanbenchError, ValueError):
    """A loss that breaks the contract; the message is one line."""


def where(name: str) -> str:
    """Where a loss was registered, for messages: its file when known, else its module."""
    base = name.split("+", 1)[0]
    origin = LOSSES.origin(base) if base in LOSSES else None
    if origin is None:
        return f"loss {name!r}"
    path = getattr(sys.modules.get(origin), "__file__", None)
    return f"loss {name!r} (from {path or origin})"


def check_loss(name: str, params: dict[str, Any] | None = None) -> None:
    """Check ``name``'s contract once per process; raises :class:`ContractError`."""
    spec = get_loss(name)
    # by the functions themselves: a loss registered again (a plugin edited and reloaded) is checked again
    key = (spec.fn, spec.penalty, repr(sorted((params or {}).items())))
    if key in _CHECKED:
        return
    try:
        problem = _problem(spec, params or {})
    except Exception as exc:  # the loss itself raised on small valid inputs
        text = str(exc).strip().splitlines()
        problem = f"raised {type(exc).__name__}" + (f": {text[0][:160]}" if text else "")
    if problem:
        raise ContractError(f"{where(name)} breaks the loss contract: {problem}")
    _CHECKED.add(key)


class _Critic(torch.nn.Module):
    """A tiny stacked discriminator on 2-D points: scores ``[members, batch]``, features ``[..., F]``."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(MEMBERS, 2, FEATURES, generator=gen) * 0.5)
        self.v = torch.nn.Parameter(torch.randn(MEMBERS, FEATURES, generator=gen) * 0.5)

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = torch.tanh(torch.einsum("mbi,mif->mbf", x, self.w))
        return torch.einsum("mbf,mf->mb", h, self.v), h

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_features(x)[0]


def _problem(spec: LossSpec, params: dict[str, Any]) -> str | None:
    gen = torch.Generator().manual_seed(2)
    critic = _Critic()
    real = torch.randn(MEMBERS, BATCH, 2, generator=gen)
    fake = torch.randn(MEMBERS, BATCH, 2, generator=gen).requires_grad_(True)
    # the D step: scores of real and (detached) fake samples, with what penalties need
    d_real, d_fake = critic(real), critic(fake.detach())
    terms = spec(
        d_real,
        d_fake,
        discriminator=critic,
        real=real,
        fake=fake.detach(),
        rng=MemberRNG(list(range(MEMBERS)), salt=3),
        **params,
    )
    problem = _terms_problem(terms, "D step")
    if problem:
        return problem
    if not terms.d_loss.requires_grad:
        return "d_loss does not depend on the scores (no gradient reaches them: detached?)"
    grads = torch.autograd.grad(terms.d_loss.sum(), [d_real, d_fake], allow_unused=True, retain_graph=True)
    for label, g in zip(("real", "fake"), grads):
        if g is None or not bool(g.abs().sum() > 0):
            return f"d_loss does not depend on the {label} scores (no gradient reaches d_{label}: detached?)"
    # the G step: fake scores with gradient; features for feature-matching losses
    ctx: dict[str, Any] = {}
    if spec.features:
        g_fake, ctx["features_fake"] = critic.forward_with_features(fake)
        with torch.no_grad():
            g_real, ctx["features_real"] = critic.forward_with_features(real)
        target = ctx["features_fake"]
    else:
        g_fake = critic(fake)
        g_real = critic(real) if spec.real_in_g_step else g_fake.detach()
        target = g_fake
    terms = spec(g_real, g_fake, **ctx, **params)
    problem = _terms_problem(terms, "G step")
    if problem:
        return problem
    what = "fake features" if spec.features else "fake scores"
    if not terms.g_loss.requires_grad:
        return f"g_loss does not depend on the {what} (no gradient reaches them: detached?)"
    (g,) = torch.autograd.grad(terms.g_loss.sum(), [target], allow_unused=True)
    if g is None or not bool(g.abs().sum() > 0):
        return f"g_loss does not depend on the {what} (no gradient reaches them: detached?)"
    return None


def _terms_problem(terms: Any, step: str) -> str | None:
    if not isinstance(terms, tuple) or len(terms) != 4:
        return f"returned {type(terms).__name__}, expected LossTerms(d_loss, g_loss, d_loss_real, d_loss_fake)"
    for label, value in zip(LossTerms._fields, terms):
        if not isinstance(value, Tensor):
            return f"{label} is a {type(value).__name__}, expected a tensor of shape [members]"
        if tuple(value.shape) != (MEMBERS,):
            return (
                f"{label} has shape {list(value.shape)} for scores of shape [{MEMBERS}, {BATCH}] "
                f"({step}), expected [{MEMBERS}]: one value per member, a mean over the last dimension"
            )
        if not bool(torch.isfinite(value).all()):
            return f"{label} is not finite ({step}, scores of shape [{MEMBERS}, {BATCH}])"
    return None
