"""Optimizer strategies as frozen dataclasses (Adam betas, TTUR, n_critic, RMSprop, generator EMA).

The learning rates of G and D are always separate; a strategy gives their defaults, tuning replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ganbench.registry import Registry, RegistryError, caller_module


@dataclass(frozen=True)
class Strategy:
    name: str
    optimizer: str  # "adam" or "rmsprop"
    lr_g: float
    lr_d: float
    beta1: float = 0.5  # Adam only
    beta2: float = 0.999  # Adam only
    n_critic: int = 1  # D steps per G step
    ema: float | None = None  # decay of the generator's weight average that is evaluated; None: no EMA

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(
                f"strategy {self.name!r}: optimizer must be adam or rmsprop, not {self.optimizer!r}"
            )
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise ValueError(f"strategy {self.name!r}: learning rates must be > 0")
        if self.n_critic < 1:
            raise ValueError(f"strategy {self.name!r}: n_critic must be >= 1")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError(f"strategy {self.name!r}: ema decay must be in (0, 1)")


STRATEGIES: Registry[Strategy] = Registry("strategy")


def register_strategy(strategy: Strategy) -> Strategy:
    """Register an optimizer recipe under ``strategy.name``; a suite then names it in ``strategies:``.

    Registering the same name again from the same module (a notebook cell run twice) replaces it."""
    if not isinstance(strategy, Strategy):
        raise TypeError(f"register_strategy expects a ganbench Strategy, got {type(strategy).__name__}")
    return STRATEGIES.add(strategy.name, strategy, origin=caller_module())


# DCGAN (Radford et al. 2016)
register_strategy(Strategy("adam_dcgan", "adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999))
# WGAN-GP and SNGAN (Gulrajani et al. 2017; Miyato et al. 2018)
register_strategy(Strategy("adam_wgangp", "adam", lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9, n_critic=5))
# clipped WGAN (Arjovsky et al. 2017)
register_strategy(Strategy("rmsprop_wgan", "rmsprop", lr_g=5e-5, lr_d=5e-5, n_critic=5))
# TTUR (Heusel et al. 2017), the D-faster rates of SAGAN (Zhang et al. 2019)
register_strategy(Strategy("ttur", "adam", lr_g=1e-4, lr_d=4e-4, beta1=0.0, beta2=0.9))

EMA_DECAY = 0.999  # Yazici et al. 2019


def get_strategy(name: str) -> Strategy:
    """A registered strategy, or ``"name+ema"`` for the same with generator EMA (decay 0.999)."""
    base, _, suffix = name.partition("+")
    if suffix not in ("", "ema"):
        raise RegistryError(f"unknown strategy option {suffix!r} in {name!r}; valid: ema")
    strategy = STRATEGIES.get(base)
    return replace(strategy, name=name, ema=EMA_DECAY) if suffix else strategy
