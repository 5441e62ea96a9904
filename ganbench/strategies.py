"""Optimizer strategies as frozen dataclasses (Adam betas, TTUR, n_critic, RMSprop, generator EMA).

A strategy says what it fixes and what the tuner searches. Its fields are the fixed recipe (and the learning
rates of an untuned suite); ``search`` names the parameters a suite's tuning searches for it, within the ranges
of the suite's ``tuning`` section:

- ``"lr"``: one learning rate for G and D (lr_g = lr_d), or ``"lr_g"`` and ``"lr_d"`` separately (TTUR);
- ``"beta1"``: Adam's beta1, over ``tuning.beta1`` (a list or true for [0, 1)) or BETA1_CHOICES;
- ``"n_critic"``: D steps per G step, over ``tuning.n_critic`` or N_CRITIC_CHOICES.

Parameters not searched keep the strategy's values. ``search=None`` (the DCGAN, WGAN-GP and clipped-WGAN
presets) leaves the choice to the suite: lr_g and lr_d, plus beta1 and n_critic when its tuning section lists
them (Lucic et al.'s space). Every contender gets the same number of trials whatever its space's size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

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
    # what tuning searches (see the module docstring); None: what the suite's tuning section lists
    search: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.search is not None:
            object.__setattr__(self, "search", tuple(self.search))
            check_search(self.name, self.optimizer, self.search)
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"strategy {self.name!r}: optimizer must be adam or rmsprop, not {self.optimizer!r}")
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise ValueError(f"strategy {self.name!r}: learning rates must be > 0")
        if self.n_critic < 1:
            raise ValueError(f"strategy {self.name!r}: n_critic must be >= 1")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError(f"strategy {self.name!r}: ema decay must be in (0, 1)")


SEARCHABLE = ("lr", "lr_g", "lr_d", "beta1", "n_critic")
BETA1_CHOICES = (0.0, 0.5, 0.9)  # searched beta1 when the suite's tuning lists none (Lucic et al.'s values)
N_CRITIC_CHOICES = (1, 5)


def check_search(name: str, optimizer: str, search: tuple[str, ...]) -> None:
    """A valid ``search``: known names, once each, one tied lr or both separate ones, beta1 only for Adam."""
    unknown = [k for k in search if k not in SEARCHABLE]
    if unknown:
        raise ValueError(f"strategy {name!r}: cannot search {unknown[0]!r}; valid: {', '.join(SEARCHABLE)}")
    if len(set(search)) != len(search):
        raise ValueError(f"strategy {name!r}: search names a parameter twice")
    lrs = {k for k in search if k.startswith("lr")}
    if lrs not in ({"lr"}, {"lr_g", "lr_d"}):
        raise ValueError(f"strategy {name!r}: search needs 'lr' (tied) or both 'lr_g' and 'lr_d' (separate)")
    if "beta1" in search and optimizer != "adam":
        raise ValueError(f"strategy {name!r}: beta1 is Adam's; {optimizer} has none to search")


def describe_search(strategy: Strategy, searched: dict[str, str]) -> str:
    """One line for the report: what was searched, over what, and what stayed fixed."""
    fixed = []
    if strategy.optimizer == "adam" and "beta1" not in searched:
        fixed.append(f"beta1 {strategy.beta1:g}")
    if "n_critic" not in searched:
        fixed.append(f"n_critic {strategy.n_critic}")
    parts = [f"{k} {v}" for k, v in searched.items()]
    return "; ".join(parts) + (f" (fixed: {', '.join(fixed)})" if fixed else "")


def strategy_line(strategy: Strategy) -> str:
    """What ``ganbench list strategies`` says of one: its recipe and what tuning searches for it."""
    recipe = strategy.optimizer
    if strategy.optimizer == "adam":
        recipe += f" betas ({strategy.beta1:g}, {strategy.beta2:g})"
    recipe += f", {strategy.n_critic} D step{'s' * (strategy.n_critic > 1)}"
    if strategy.search is None:
        return f"{recipe}; tunes what the suite's tuning lists"
    return f"{recipe}; tunes {', '.join(strategy.search)}"


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
# The strategies suite's family: Adam (beta1 0.5, beta2 0.999), one D step; each differs from `ttur` in one way.
# One learning rate for G and D, searched
register_strategy(Strategy("tied", "adam", lr_g=2e-4, lr_d=2e-4, search=("lr",)))
# TTUR (Heusel et al. 2017): separate rates for G and D, searched (untuned: D 4x faster, as in their DCGAN runs)
register_strategy(Strategy("ttur", "adam", lr_g=1e-4, lr_d=4e-4, search=("lr_g", "lr_d")))
# TTUR with Adam's beta1 searched too
register_strategy(Strategy("ttur_beta1", "adam", lr_g=1e-4, lr_d=4e-4, search=("lr_g", "lr_d", "beta1")))
# TTUR with 5 D steps per G step
register_strategy(Strategy("ttur_nc5", "adam", lr_g=1e-4, lr_d=4e-4, n_critic=5, search=("lr_g", "lr_d")))
# RMSprop with separate rates, one D step
register_strategy(Strategy("rmsprop", "rmsprop", lr_g=5e-5, lr_d=5e-5, search=("lr_g", "lr_d")))
# Lucic et al. (2018): lr_g, lr_d, beta1 and the D steps all searched
register_strategy(Strategy("lucic", "adam", lr_g=2e-4, lr_d=2e-4, search=("lr_g", "lr_d", "beta1", "n_critic")))

EMA_DECAY = 0.999  # Yazici et al. 2019
BETA1_MAX = 0.999  # the top of beta1's range when a suite's tuning says ``beta1: true``


def get_strategy(name: str) -> Strategy:
    """A registered strategy, or ``"name+ema"`` for the same with generator EMA (decay 0.999)."""
    base, _, suffix = name.partition("+")
    if suffix not in ("", "ema"):
        raise RegistryError(f"unknown strategy option {suffix!r} in {name!r}; valid: ema")
    strategy = STRATEGIES.get(base)
    return replace(strategy, name=name, ema=EMA_DECAY) if suffix else strategy


def d_steps(config: Any) -> int:
    """D steps per G step of a run (a ``RunConfig``): its own ``n_critic`` (tuned or set), else its strategy's."""
    return config.n_critic or get_strategy(config.strategy).n_critic


def search_space(strategy: Strategy, tuning: Any) -> dict[str, tuple[str, Any]]:
    """What the tuner searches for ``strategy`` under a suite's ``tuning`` section, in asking order:
    ``name -> ("log", (low, high))``, ``("float", (low, high))`` or ``("choice", values)``."""
    lr = ("log", (tuning.lr_min, tuning.lr_max))
    beta1_given = tuning.beta1 is not False and tuning.beta1 is not None
    beta1 = ("choice", list(tuning.beta1)) if isinstance(tuning.beta1, list) else ("float", (0.0, BETA1_MAX))
    n_critic = ("choice", list(tuning.n_critic or N_CRITIC_CHOICES))
    if strategy.search is None:  # the suite decides: Lucic et al.'s space as far as its tuning lists it
        space = {"lr_g": lr, "lr_d": lr}
        if beta1_given and strategy.optimizer == "adam":
            space["beta1"] = beta1
        if tuning.n_critic:
            space["n_critic"] = n_critic
        return space
    space = {}
    for name in strategy.search:
        if name == "beta1":
            space[name] = beta1 if beta1_given else ("choice", list(BETA1_CHOICES))
        elif name == "n_critic":
            space[name] = n_critic
        else:
            space[name] = lr
    return space


def tied_rates(params: dict[str, Any]) -> dict[str, Any]:
    """Searched or tuned parameters with a tied rate ``lr`` spelled out as ``lr_g`` = ``lr_d`` (a copy)."""
    return {**params, "lr_g": params["lr"], "lr_d": params["lr"]} if "lr" in params else dict(params)


def space_text(space: dict[str, tuple[str, Any]]) -> dict[str, str]:
    """``name -> "log [0.0002, 0.01]"`` style text of a search space, for MLflow params and the report."""
    out = {}
    for name, (kind, values) in space.items():
        shown = ", ".join(f"{v:g}" for v in values)
        out[name] = f"{{{shown}}}" if kind == "choice" else f"{'log ' if kind == 'log' else ''}[{shown}]"
    return out
