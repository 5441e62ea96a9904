"""GAN losses behind one contract.

A loss is called as ``loss(d_real, d_fake, **ctx)`` with raw discriminator scores where **higher means
"real"** (no sigmoid inside D). Scores have shape ``[..., batch]``: the leading dimensions index members of a
population (see ``population.py``), so every term is a mean over the last dimension and has shape ``[...]``.

Context the trainer supplies by name (a loss takes what it needs and ignores the rest):

- ``discriminator``, ``real``, ``fake``, ``rng``: only in the discriminator step, for penalties that need
  gradients of D at sample points (``rng`` is a :class:`ganbench.rng.MemberRNG`);
- ``features_real``, ``features_fake``: D's penultimate features ``[..., batch, F]``, for losses with
  ``features=True``, in the generator step.

Hyperparameters (``lsgan``'s targets, penalty weights) are keyword-only arguments with the paper's defaults;
a suite sets them through ``loss_params``. A loss declares which of them tuning may search (``search``: name ->
log-uniform range); a searched parameter reaches the loss as a float, or as a tensor of shape ``[members]``
(one value per member of the population), so it must only scale per-member terms. Each bundled loss also
states its paper's training recipe (``recipe``), so a suite can check that its search space holds it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.registry import Registry, RegistryError, load_entry_points


class LossTerms(NamedTuple):
    d_loss: Tensor  # what the discriminator minimizes (penalties included)
    g_loss: Tensor  # what the generator minimizes
    d_loss_real: Tensor  # parts, for logging
    d_loss_fake: Tensor


LossFn = Callable[..., LossTerms]


@dataclass(frozen=True)
class LossSpec:
    """A registered loss and what the trainer must supply or do for it."""

    name: str
    fn: LossFn
    weight_clip: float | None = None  # clip D's weights to [-c, c] after every D step (WGAN)
    real_in_g_step: bool = False  # g_loss depends on d_real (relativistic losses)
    features: bool = False  # needs D's features (feature matching)
    penalty: Callable[..., Tensor] | None = None  # extra D penalty added by composition (``base+r1``)
    # parameters tuning may search: name -> (low, high), searched log-uniformly
    search: dict[str, tuple[float, float]] = field(default_factory=dict)
    # the paper's training recipe: lr, optimizer, betas, n_critic, parameter values and the source
    recipe: dict[str, Any] = field(default_factory=dict)

    def __call__(self, d_real: Tensor, d_fake: Tensor, **ctx: Any) -> LossTerms:
        terms = self.fn(d_real, d_fake, **_accepted(self.fn, ctx))
        if self.penalty is not None and ctx.get("discriminator") is not None:
            extra = self.penalty(**_accepted(self.penalty, ctx))
            terms = terms._replace(d_loss=terms.d_loss + extra)
        return terms

    def param_names(self) -> list[str]:
        names = _keyword_params(self.fn)
        names += ["weight_clip"] if self.weight_clip is not None else []
        return names + (_keyword_params(self.penalty) if self.penalty else [])

    def clip(self, params: dict[str, Any]) -> Any:
        """D's weight bound for these parameters (a float, or a tensor of one per member), None: no clipping."""
        return params.get("weight_clip", self.weight_clip) if self.weight_clip is not None else None

    def check_params(self, params: dict[str, Any]) -> None:
        unknown = sorted(set(params) - set(self.param_names()))
        if unknown:
            valid = ", ".join(self.param_names()) or "none"
            raise ValueError(f"loss {self.name!r} has no parameter {unknown[0]!r}; valid: {valid}")


_CONTEXT = {"discriminator", "real", "fake", "rng", "features_real", "features_fake"}


def _keyword_params(fn: Callable[..., Any]) -> list[str]:
    sig = inspect.signature(fn)
    return [n for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY and n not in _CONTEXT]


_PARAMETERS: dict[Callable[..., Any], frozenset[str]] = {}


def _parameters(fn: Callable[..., Any]) -> frozenset[str]:
    """Read once: it is called twice per training step. A plain dict, not functools.cache, which a compiled
    step (ganbench.compiled) would trace through."""
    if fn not in _PARAMETERS:
        _PARAMETERS[fn] = frozenset(inspect.signature(fn).parameters)
    return _PARAMETERS[fn]


def _accepted(fn: Callable[..., Any], ctx: dict[str, Any]) -> dict[str, Any]:
    params = _parameters(fn)
    return {k: v for k, v in ctx.items() if k in params}


LOSSES: Registry[LossSpec] = Registry("loss")


REGISTER_OPTIONS = ("weight_clip", "real_in_g_step", "features", "penalty", "search", "recipe")


def register_loss(name: str, **flags: Any) -> Callable[[LossFn], LossFn]:
    """Decorator registering ``fn(d_real, d_fake, **ctx) -> LossTerms`` under ``name``.

    ``flags``: ``weight_clip`` (float), ``real_in_g_step``, ``features`` (bool), ``penalty`` (a function of
    ``discriminator``, ``real``, ...), ``search`` (parameters tuning may search: name -> (low, high), searched
    log-uniformly) and ``recipe`` (the paper's training recipe, e.g. ``{"lr": 1e-4, "optimizer": "adam",
    "source": "..."}``). Registering a name again from the same module replaces the entry."""
    unknown = sorted(set(flags) - set(REGISTER_OPTIONS))
    if unknown:
        raise TypeError(f"register_loss: unknown option {unknown[0]!r}; valid: {', '.join(REGISTER_OPTIONS)}")

    def decorator(fn: LossFn) -> LossFn:
        spec = LossSpec(name=name, fn=fn, **flags)
        bad = [k for k in spec.search if k not in spec.param_names()]
        if bad:
            raise TypeError(f"register_loss({name!r}): search names {bad[0]!r}, which is not a parameter")
        for k, (low, high) in spec.search.items():
            if not 0 < low < high:
                raise TypeError(f"register_loss({name!r}): search range of {k!r} must be 0 < low < high")
        LOSSES.add(name, spec, origin=getattr(fn, "__module__", None))
        return fn

    return decorator


def penalties() -> list[str]:
    """The registered losses that are penalties (``base+<penalty>`` adds them to another loss)."""
    return [name for name in LOSSES.names() if LOSSES.get(name).penalty is not None]


def get_loss(name: str) -> LossSpec:
    """A registered loss, or ``"base+penalty"`` (e.g. ``"hinge+r1"``) for a loss with a penalty added."""
    if "+" not in name:
        return LOSSES.get(name)
    base_name, penalty_name = name.split("+", 1)
    base, pen = LOSSES.get(base_name), LOSSES.get(penalty_name)
    if pen.penalty is None or base.penalty is not None:
        raise RegistryError(f"cannot combine {name!r}: the part after '+' must be a penalty ({', '.join(penalties())})")
    # the penalty's own parameters come with it (r1's gamma); the base loss's recipe is no longer the paper's
    penalty_search = {k: v for k, v in pen.search.items() if k in _keyword_params(pen.penalty)}
    return LossSpec(
        name=name,
        fn=base.fn,
        weight_clip=base.weight_clip,
        real_in_g_step=base.real_in_g_step,
        features=base.features,
        penalty=pen.penalty,
        search={**base.search, **penalty_search},
    )


def _mean(x: Tensor) -> Tensor:
    return x.mean(dim=-1)


@torch.compiler.disable
def _grad_at(discriminator: Callable[[Tensor], Tensor], points: Tensor) -> Tensor:
    """Per-sample gradient norms ``[..., batch]`` of D at ``points`` ``[..., batch, *sample_shape]``.

    Never compiled (``compile``): it is differentiated twice, which compiled autograd does not support."""
    points = points.detach().requires_grad_(True)
    scores = discriminator(points)
    (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return grad.flatten(start_dim=scores.dim()).norm(dim=-1)


def _sample_shape_ones(real: Tensor, batch_dim: int) -> tuple[int, ...]:
    return (real.shape[batch_dim],) + (1,) * (real.dim() - batch_dim - 1)


# ----------------------------------------------------------------------------------------------- losses


# the recipe both of Goodfellow et al.'s losses were trained with in DCGAN
DCGAN_RECIPE = {
    "lr": 2e-4,
    "optimizer": "adam",
    "beta1": 0.5,
    "beta2": 0.999,
    "n_critic": 1,
    "source": "DCGAN (Radford et al. 2016)",
}


@register_loss("minimax", recipe=DCGAN_RECIPE)
def minimax(d_real: Tensor, d_fake: Tensor) -> LossTerms:
    """Saturating minimax GAN (Goodfellow et al. 2014).

    L_D = -E log s(D(x)) - E log(1 - s(D(G(z)))),  L_G = E log(1 - s(D(G(z)))),  s the sigmoid.
    """
    real, fake = _mean(F.softplus(-d_real)), _mean(F.softplus(d_fake))
    return LossTerms(real + fake, -_mean(F.softplus(d_fake)), real, fake)


@register_loss("non_saturating", recipe=DCGAN_RECIPE)
def non_saturating(d_real: Tensor, d_fake: Tensor) -> LossTerms:
    """Non-saturating GAN (Goodfellow et al. 2014). L_D as minimax; L_G = -E log s(D(G(z)))."""
    real, fake = _mean(F.softplus(-d_real)), _mean(F.softplus(d_fake))
    return LossTerms(real + fake, _mean(F.softplus(-d_fake)), real, fake)


@register_loss(
    "lsgan", recipe={"lr": 1e-3, "optimizer": "adam", "beta1": 0.5, "n_critic": 1, "source": "Mao et al. 2017, scenes"}
)
def lsgan(d_real: Tensor, d_fake: Tensor, *, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> LossTerms:
    """Least-squares GAN (Mao et al. 2017).

    L_D = 1/2 E(D(x) - b)^2 + 1/2 E(D(G(z)) - a)^2,  L_G = 1/2 E(D(G(z)) - c)^2.
    Defaults a, b, c = 0, 1, 1; the paper's other variant is -1, 1, 0.
    """
    real, fake = 0.5 * _mean((d_real - b) ** 2), 0.5 * _mean((d_fake - a) ** 2)
    return LossTerms(real + fake, 0.5 * _mean((d_fake - c) ** 2), real, fake)


@register_loss(
    "wgan",
    weight_clip=0.01,
    search={"weight_clip": (1e-3, 1e-1)},
    recipe={"lr": 5e-5, "optimizer": "rmsprop", "n_critic": 5, "weight_clip": 0.01, "source": "Arjovsky et al. 2017"},
)
def wgan(d_real: Tensor, d_fake: Tensor) -> LossTerms:
    """Wasserstein GAN (Arjovsky et al. 2017): L_D = E D(G(z)) - E D(x), L_G = -E D(G(z)).

    The trainer clips D's weights to [-0.01, 0.01] after every D step (``weight_clip``).
    """
    real, fake = -_mean(d_real), _mean(d_fake)
    return LossTerms(real + fake, -_mean(d_fake), real, fake)


@register_loss(
    "wgan_gp",
    search={"gp_weight": (1.0, 100.0)},
    recipe={
        "lr": 1e-4,
        "optimizer": "adam",
        "beta1": 0.0,
        "beta2": 0.9,
        "n_critic": 5,
        "gp_weight": 10.0,
        "source": "Gulrajani et al. 2017",
    },
)
def wgan_gp(
    d_real: Tensor,
    d_fake: Tensor,
    *,
    discriminator: Callable[[Tensor], Tensor] | None = None,
    real: Tensor | None = None,
    fake: Tensor | None = None,
    rng: Any = None,
    gp_weight: float = 10.0,
) -> LossTerms:
    """WGAN with gradient penalty (Gulrajani et al. 2017).

    L_D = E D(G(z)) - E D(x) + lambda E(||grad D(x_hat)||_2 - 1)^2, x_hat = e x + (1 - e) G(z), e ~ U[0, 1];
    L_G = -E D(G(z)). lambda = 10.
    """
    terms = wgan(d_real, d_fake)
    if discriminator is None:
        return terms
    batch_dim = d_real.dim() - 1
    eps = rng.rand(_sample_shape_ones(real, batch_dim), dtype=real.dtype)
    x_hat = eps * real + (1 - eps) * fake.detach()
    penalty = _mean((_grad_at(discriminator, x_hat) - 1) ** 2)
    return terms._replace(d_loss=terms.d_loss + gp_weight * penalty)


@register_loss(
    "hinge",
    recipe={
        "lr": 2e-4,
        "optimizer": "adam",
        "beta1": 0.0,
        "beta2": 0.9,
        "n_critic": 5,
        "source": "Miyato et al. 2018 (SNGAN, ResNet)",
    },
)
def hinge(d_real: Tensor, d_fake: Tensor) -> LossTerms:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018).

    L_D = E relu(1 - D(x)) + E relu(1 + D(G(z))),  L_G = -E D(G(z)).
    """
    real, fake = _mean(F.relu(1 - d_real)), _mean(F.relu(1 + d_fake))
    return LossTerms(real + fake, -_mean(d_fake), real, fake)


@register_loss(
    "feature_matching",
    features=True,
    recipe={"lr": 3e-4, "optimizer": "adam", "beta1": 0.5, "n_critic": 1, "source": "Salimans et al. 2016"},
)
def feature_matching(
    d_real: Tensor, d_fake: Tensor, *, features_real: Tensor | None = None, features_fake: Tensor | None = None
) -> LossTerms:
    """Feature matching (Salimans et al. 2016): L_G = ||E f(x) - E f(G(z))||_2^2, f = D's penultimate layer.

    D keeps the non-saturating loss. Without features (D step) g_loss is the non-saturating one, unused.
    """
    terms = non_saturating(d_real, d_fake)
    if features_real is None or features_fake is None:
        return terms
    gap = features_real.detach().mean(dim=-2) - features_fake.mean(dim=-2)
    return terms._replace(g_loss=(gap**2).sum(dim=-1))


@register_loss(
    "dragan",
    search={"gp_weight": (1.0, 100.0)},
    recipe={
        "lr": 1e-4,
        "optimizer": "adam",
        "beta1": 0.5,
        "n_critic": 1,
        "gp_weight": 10.0,
        "source": "Kodali et al. 2017",
    },
)
def dragan(
    d_real: Tensor,
    d_fake: Tensor,
    *,
    discriminator: Callable[[Tensor], Tensor] | None = None,
    real: Tensor | None = None,
    rng: Any = None,
    gp_weight: float = 10.0,
    perturb: float = 0.5,
) -> LossTerms:
    """DRAGAN (Kodali et al. 2017).

    L_D = non-saturating L_D + lambda E(||grad D(x + delta)||_2 - 1)^2,  L_G = -E log s(D(G(z))),
    delta = perturb * std(x) * u, u ~ U[0, 1] per coordinate (the authors' code), lambda = 10.
    """
    terms = non_saturating(d_real, d_fake)
    if discriminator is None:
        return terms
    batch_dim = d_real.dim() - 1
    std = real.flatten(start_dim=batch_dim).std(dim=-1)
    std = std.reshape(std.shape + (1,) * (real.dim() - batch_dim))
    noise = rng.rand(tuple(real.shape[batch_dim:]), dtype=real.dtype)
    penalty = _mean((_grad_at(discriminator, real + perturb * std * noise) - 1) ** 2)
    return terms._replace(d_loss=terms.d_loss + gp_weight * penalty)


@register_loss(
    "relativistic",
    real_in_g_step=True,
    recipe={
        "lr": 2e-4,
        "optimizer": "adam",
        "beta1": 0.5,
        "beta2": 0.999,
        "n_critic": 1,
        "source": "Jolicoeur-Martineau 2018",
    },
)
def relativistic(d_real: Tensor, d_fake: Tensor) -> LossTerms:
    """Relativistic average standard GAN, RaSGAN (Jolicoeur-Martineau 2018).

    With r = D(x) - E D(G(z)) and f = D(G(z)) - E D(x):
    L_D = -E log s(r) - E log(1 - s(f)),  L_G = -E log s(f) - E log(1 - s(r)).
    """
    r = d_real - d_fake.mean(dim=-1, keepdim=True)
    f = d_fake - d_real.mean(dim=-1, keepdim=True)
    real, fake = _mean(F.softplus(-r)), _mean(F.softplus(f))
    return LossTerms(real + fake, _mean(F.softplus(-f)) + _mean(F.softplus(r)), real, fake)


def r1_penalty(*, discriminator: Callable[[Tensor], Tensor], real: Tensor, gamma: float = 10.0) -> Tensor:
    """R1 (Mescheder et al. 2018): gamma/2 E||grad D(x)||^2 on real data."""
    return gamma / 2 * _mean(_grad_at(discriminator, real) ** 2)


@register_loss(
    "r1",
    penalty=r1_penalty,
    search={"gamma": (0.1, 100.0)},
    recipe={"lr": 1e-4, "optimizer": "rmsprop", "n_critic": 1, "gamma": 10.0, "source": "Mescheder et al. 2018"},
)
def _r1_alone(d_real: Tensor, d_fake: Tensor) -> LossTerms:
    """``r1`` on its own: the non-saturating loss with the R1 penalty, as in Mescheder et al. 2018."""
    return non_saturating(d_real, d_fake)


PLUGIN_GROUP = "ganbench.losses"
load_entry_points(PLUGIN_GROUP)  # third-party losses register themselves on import
