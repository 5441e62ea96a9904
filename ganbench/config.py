"""Run configuration: what one training run (or one member of a population) is, as frozen dataclasses.

The dict logged to MLflow is this config, flattened; the run key is a hash of it and the member's seed and
learning rates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

RUN_KEY_VERSION = 1  # bump when a change makes old results incomparable
ADDED_OPTIONS = ("lr_decay_from",)  # RunConfig fields added since; absent from the key while unset
# how a run is executed, not what it computes (as the device): logged while set, never part of the run key
EXECUTION_OPTIONS = {"compile": "none"}
COMPILE_MODES = ("none", "default", "reduce-overhead")  # torch.compile's modes the steps may run under
MEMBER_ADDED = ("loss_params", "config")  # Member fields added since; absent from the key while unset
MIXABLE = ("loss", "loss_params", "n_critic")  # what members of one population may set for themselves


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"
    width: int = 128
    depth: int = 3  # hidden layers (MLP)
    latent_dim: int = 2
    spectral_norm: bool = False


@dataclass(frozen=True)
class RunConfig:
    """Everything shared by the members of a population (the same for every seed of a contender)."""

    loss: str
    strategy: str
    dataset: str
    model: ModelConfig = field(default_factory=ModelConfig)
    loss_params: dict[str, float] = field(default_factory=dict)
    steps: int = 2000  # generator steps
    batch_size: int = 256
    eval_every: int = 500  # also the checkpoint interval
    eval_samples: int = 2500
    beta1: float | None = None  # None: the strategy's
    n_critic: int | None = None  # None: the strategy's
    image_size: int | None = None
    # from this fraction of ``steps`` on, both learning rates fall linearly to 0 at the last step; None: constant
    lr_decay_from: float | None = None
    compile: str = "none"  # torch.compile the D and G steps with this mode (ganbench.compiled); "none": eager

    def flat(self) -> dict[str, Any]:
        """The config as one flat dict (``model.width`` style keys), as logged to MLflow. Options added after
        RUN_KEY_VERSION 1 are left out while unset, so runs stored before them keep their keys."""
        return drop_unset(_flatten(asdict(self)), {**dict.fromkeys(ADDED_OPTIONS), **EXECUTION_OPTIONS})

    def lr_factor(self, step: int) -> float:
        """The learning rates' multiplier for the update made at ``step`` (0-based): 1, or linear decay."""
        if self.lr_decay_from is None:
            return 1.0
        start = self.lr_decay_from * self.steps
        if step < start:
            return 1.0
        return max(0.0, (self.steps - step) / (self.steps - start))


@dataclass(frozen=True)
class Member:
    """One run: the seed and learning rates that tell it apart from the other members of its population."""

    seed: int
    lr_g: float
    lr_d: float
    phase: str = "final"  # "final" or "tune"; part of the key so a tuning run never stands for a final one
    beta1: float | None = None  # Adam's beta1 for this member; None: the config's (or the strategy's)
    # this member's values of its loss's searchable parameters (a penalty weight, WGAN's clip), over the
    # config's ``loss_params``; None: the config's. Members of one population give the same names.
    loss_params: dict[str, float] | None = None
    # this member's own run config, where it differs from its population's in MIXABLE fields (a mixed
    # population: members of several contenders that share a model); None: the population's
    config: RunConfig | None = None

    def key(self, config: RunConfig) -> str:
        """The run's key: the same whether it trains alone or in a population of other contenders."""
        return run_key(config, self)

    def run_config(self, population: RunConfig) -> RunConfig:
        """The config this member trains with: its own, or its population's."""
        return self.config if self.config is not None else population

    def params_over(self, config: RunConfig) -> dict[str, float]:
        """The loss parameters this member trains with: its config's, then its own."""
        return {**self.run_config(config).loss_params, **(self.loss_params or {})}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and k != "loss_params":
            out.update(_flatten(v, name + "."))
        elif isinstance(v, dict):
            out.update({f"{name}.{pk}": pv for pk, pv in sorted(v.items())})
        else:
            out[name] = v
    return out


def drop_unset(values: dict[str, Any], unset: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the options added after keys were first computed while they hold their unset value
    (``unset``: name -> that value), so that what was stored before them keeps its key."""
    return {k: v for k, v in values.items() if not (k in unset and v == unset[k])}


def run_key(config: RunConfig, member: Member) -> str:
    if member.config is not None:  # a member of a mixed population: keyed as if it trained alone
        config, member = member.config, replace(member, config=None)
    own = drop_unset(asdict(member), dict.fromkeys(MEMBER_ADDED))
    shared = {k: v for k, v in config.flat().items() if k not in EXECUTION_OPTIONS}
    payload = {"v": RUN_KEY_VERSION, **shared, **own}
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
