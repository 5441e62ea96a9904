"""Suites: YAML files naming losses x strategies x datasets x seeds, validated at the boundary with pydantic.

Bundled suites live in ``ganbench/suites/*.yaml``; ``load_suite`` takes a bundled name or a path. Every error
is a :class:`SuiteError` whose message is one line naming the file, the key and the valid choices.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ganbench.config import ADDED_OPTIONS, drop_unset
from ganbench.data import DATASETS
from ganbench.errors import GanbenchError
from ganbench.losses import get_loss
from ganbench.models import MODELS, ModelConfig
from ganbench.registry import RegistryError
from ganbench.strategies import get_strategy

SUITES_DIR = Path(__file__).parent / "suites"
# sane upper bounds: a size beyond these is a typo (an extra zero or three), refused before anything is opened
MAX_STEPS = 10_000_000
MAX_BATCH = 65_536
MAX_EVAL_SAMPLES = 1_000_000
MAX_COUNT = 10_000  # seeds, replicates, trials, a batch of trials, seeds per trial
MAX_WIDTH = 65_536  # a layer's width, the latent dimension
MAX_DEPTH = 256
Steps = Annotated[int, Field(gt=0, le=MAX_STEPS)]
Count = Annotated[int, Field(gt=0, le=MAX_COUNT)]

# tuning keys added since suite keys were first computed, with their unset values: absent from the key then
TUNING_ADDED = {"compute": None, "seeds_per_trial": 1, "loss_params": False}


class SuiteError(GanbenchError, ValueError):
    """A suite that cannot be used; the message is one line."""


def _registered(lookup: Any, name: str) -> None:
    """Registry lookups raise KeyError; pydantic attaches the key's location only to ValueError."""
    try:
        lookup(name)
    except RegistryError as exc:
        raise ValueError(str(exc)) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    name: str = "mlp"
    width: int = Field(128, gt=0, le=MAX_WIDTH)
    depth: int = Field(3, gt=0, le=MAX_DEPTH)
    latent_dim: int = Field(2, gt=0, le=MAX_WIDTH)
    spectral_norm: bool = False

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        _registered(MODELS.get, v)
        return v


class LossEntry(_Strict):
    name: str
    params: dict[str, float] = Field(default_factory=dict)
    label: str | None = None  # how the loss is named in tables; default: name (+ params)

    @model_validator(mode="after")
    def _valid(self) -> LossEntry:
        from ganbench.contract import check_loss

        _registered(get_loss, self.name)
        get_loss(self.name).check_params(self.params)
        check_loss(self.name, self.params)  # a plugin's loss is called once on small inputs before it trains
        return self

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        if not self.params:
            return self.name
        return self.name + "(" + ",".join(f"{k}={v:g}" for k, v in sorted(self.params.items())) + ")"


DEFAULT_MODELS = {"points": ModelSpec(), "image": ModelSpec(name="dcgan", width=32, latent_dim=64)}


class TuningSpec(_Strict):
    """Equal-budget search (Lucic et al. 2018), one Optuna study per contender and replicate.

    The budget is ``trials`` per study, or ``compute`` (GFLOP of training per study, counted as ganbench.compute
    counts it: a trial with 5 D steps and a penalty spends several times one with 1 D step)."""

    trials: Count | None = None
    compute: float | None = Field(None, gt=0)  # GFLOP per study, instead of a number of trials
    steps: Steps | None = None  # default: the suite's steps
    lr_min: float = Field(1e-5, gt=0)
    lr_max: float = Field(1e-2, gt=0)
    # also search Adam's beta1: true for uniform [0, 1) (Lucic et al.), or a list of values to choose from
    beta1: bool | list[float] = False
    n_critic: list[PositiveInt] | None = None  # also search these D steps
    sampler_seed: int = 0
    # median: stop a trial behind the median of earlier trials at the same step; successive_halving: at
    # warmup x steps, then at every doubling, keep the better half of the trials that got that far
    pruner: Literal["median", "successive_halving", "none"] = "median"
    # the share of a trial's steps before the pruner may stop it (slow starters are not judged too early)
    warmup: float = Field(0.25, gt=0, lt=1)
    seed: int = 10_000  # the first tuning seed; final seeds never reach the tuning seeds
    # each trial trains on this many tuning seeds and is scored by their mean (a less noisy objective)
    seeds_per_trial: Count = 1
    # also search each loss's own searchable parameters (r1's gamma, wgan_gp's gp_weight, wgan's clip)
    loss_params: bool = False
    batch: Count = 4  # trials asked at once (the sampler learns between batches), trained together
    objective: str | None = None  # the metric tuning optimizes; default: the dataset's primary (w1_raw, fid_domain)

    @field_validator("objective")
    @classmethod
    def _objective(cls, v: str | None) -> str | None:
        from ganbench import metrics as M

        valid = M.objectives()
        if v is not None and v not in valid:
            raise ValueError(f"unknown objective {v!r}; valid: {', '.join(valid)}")
        return v

    @field_validator("beta1")
    @classmethod
    def _beta1(cls, v: bool | list[float]) -> bool | list[float]:
        if isinstance(v, list):
            if not v:
                raise ValueError("give at least one beta1 value, or true for the range [0, 1)")
            if any(not 0 <= b < 1 for b in v):
                raise ValueError(f"beta1 values must be in [0, 1) (got {v})")
            if len(set(v)) != len(v):
                raise ValueError("beta1 values must be distinct")
        return v

    @field_validator("n_critic")
    @classmethod
    def _n_critic(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or len(set(v)) != len(v)):
            raise ValueError("n_critic must list distinct D steps, e.g. [1, 5]")
        return v

    @model_validator(mode="after")
    def _range(self) -> TuningSpec:
        if self.lr_min >= self.lr_max:
            raise ValueError("lr_min must be below lr_max")
        if (self.trials is None) == (self.compute is None):
            raise ValueError("give the budget as trials (per study) or as compute (GFLOP per study), not both")
        return self

    def seeds_of(self, replicate: int) -> list[int]:
        """The tuning seeds of a replicate's trials: each replicate its own, none shared."""
        first = self.seed + replicate * self.seeds_per_trial
        return list(range(first, first + self.seeds_per_trial))


class Suite(_Strict):
    name: str
    description: str = ""
    # plugin files (relative to the suite file) or modules, loaded before the names below are looked up
    plugins: list[str] = Field(default_factory=list)
    losses: list[str | LossEntry]
    strategies: list[str] = ["adam_dcgan"]
    datasets: list[str]
    seeds: Count | list[int] = 3  # final seeds of each replicate
    # the whole tune-then-train pipeline, repeated with its own sampler, tuning and final seeds: the spread
    # between replicates is the tuning's variance, which the report's verdict includes
    replicates: Count = 1
    steps: Steps = 2000
    batch_size: int = Field(256, gt=0, le=MAX_BATCH)
    eval_every: PositiveInt = 500
    eval_samples: int = Field(2500, gt=0, le=MAX_EVAL_SAMPLES)
    lr_g: float | None = Field(None, gt=0)  # default: the strategy's
    lr_d: float | None = Field(None, gt=0)
    image_size: Literal[8, 28, 32] | None = None  # 8: the digits' native size
    # from this fraction of the steps on, the learning rates fall linearly to 0 at the last step
    lr_decay_from: float | None = Field(None, ge=0, lt=1)
    # torch.compile each population's D and G steps with this mode (for CUDA, where small steps are
    # launch-bound); eager with one warning where compiling fails. How runs execute, not what: never keyed
    compile: Literal["none", "default", "reduce-overhead"] = "none"
    # per dataset kind; a kind the suite leaves out gets DEFAULT_MODELS' entry
    models: dict[Literal["points", "image"], ModelSpec] = Field(default_factory=dict)
    tuning: TuningSpec | None = None
    quick: dict[str, Any] = Field(default_factory=dict)  # overrides applied by --quick

    @field_validator("losses")
    @classmethod
    def _losses(cls, v: list[str | LossEntry]) -> list[LossEntry]:
        entries = [LossEntry(name=x) if isinstance(x, str) else x for x in v]
        if not entries:
            raise ValueError("at least one loss is needed")
        return entries

    @field_validator("strategies", "datasets")
    @classmethod
    def _registered_names(cls, v: list[str], info: ValidationInfo) -> list[str]:
        lookup = get_strategy if info.field_name == "strategies" else DATASETS.get
        for name in v:
            _registered(lookup, name)
        if not v:
            raise ValueError(f"at least one entry is needed in {info.field_name}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> list[int]:
        seeds = list(range(v)) if isinstance(v, int) else list(v)
        if not seeds:
            raise ValueError("at least one seed is needed")
        if len(seeds) > MAX_COUNT:
            raise ValueError(f"at most {MAX_COUNT} seeds")
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds

    @model_validator(mode="after")
    def _eval(self) -> Suite:
        if self.eval_every > self.steps:
            raise ValueError("eval_every must not exceed steps")
        if self.tuning is not None:
            final = {s for r in range(self.replicates) for s in self.seeds_of(r)}
            shared = sorted(final & {s for r in range(self.replicates) for s in self.tuning.seeds_of(r)})
            if shared:
                raise ValueError(
                    f"tuning seed {shared[0]} is also a final seed (tuning.seed {self.tuning.seed}, "
                    f"{self.replicates} replicate(s)); pick a tuning.seed the final phase does not reach"
                )
        return self

    @property
    def seed_list(self) -> list[int]:
        """The final seeds of the first replicate (the suite's ``seeds``; the default, 3, is never validated into a
        list, which keeps the key of a suite that leaves it out as it was)."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def seeds_of(self, replicate: int) -> list[int]:
        """A replicate's final seeds: the suite's for the first, then as many again past the largest, so no two
        replicates share one (replicate 0 is what a suite without replicates trains)."""
        base = self.seed_list
        return [s + replicate * (max(base) + 1) for s in base]

    def model_for(self, kind: str) -> ModelConfig:
        return ModelConfig(**(self.models.get(kind) or DEFAULT_MODELS[kind]).model_dump())

    def key(self) -> str:
        """Hash of the validated suite: a rerun of the same suite finds its parent run by it."""
        # plugins are where names come from, not what runs: moving a plugin file keeps the suite's runs
        # replicates neither: a suite grown from 1 to 3 replicates keeps its parent run and its first replicate
        # compile neither: it changes how the steps run, not what they compute (as the device)
        dumped = self.model_dump(mode="json", exclude={"description", "quick", "plugins", "replicates", "compile"})
        dumped = drop_unset(dumped, dict.fromkeys(ADDED_OPTIONS))  # added later: unset, older keys stay
        if dumped.get("tuning"):  # likewise inside the tuning section
            dumped["tuning"] = drop_unset(dumped["tuning"], TUNING_ADDED)
        blob = json.dumps(dumped, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def bundled_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def resolve_suite_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SuiteError(f"suite file {path} does not exist")
        return path
    if name_or_path not in bundled_suites():
        raise SuiteError(
            f"unknown suite {name_or_path!r}; valid: {', '.join(bundled_suites())} or a path to a .yaml file"
        )
    return SUITES_DIR / f"{name_or_path}.yaml"


def load_suite(
    name_or_path: str | Path | dict[str, Any],
    *,
    quick: bool = False,
    overrides: dict[str, Any] | None = None,
    base_dir: Path | None = None,
) -> Suite:
    """Read (a bundled name, a YAML path, or a dict), load its plugins, apply ``--quick`` and command-line
    overrides, validate. A dict's plugin paths are relative to ``base_dir`` (default: the working folder)."""
    if isinstance(name_or_path, dict):
        return _validate(dict(name_or_path), "suite <dict>", quick, overrides, base_dir or Path.cwd())
    path = resolve_suite_path(str(name_or_path))
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SuiteError(f"suite {path}:{where} malformed YAML ({getattr(exc, 'problem', exc)})") from None
    except OSError as exc:
        raise SuiteError(f"suite {path}: cannot be read ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise SuiteError(f"suite {path}: expected a mapping of keys (name, losses, datasets, ...)")
    return _validate(raw, f"suite {path}", quick, overrides, path.parent)


def _validate(raw: dict[str, Any], where: str, quick: bool, overrides: dict[str, Any] | None, base_dir: Path) -> Suite:
    from ganbench.plugins import load_plugins

    plugins = raw.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(x, str) for x in plugins):
        raise SuiteError(f"{where}: key 'plugins': expected a list of .py paths or module names")
    # recorded resolved, so the suite names the same files whatever the working folder
    raw = {**raw, "plugins": [src.label for src in load_plugins(plugins, base_dir)]}
    if quick:
        raw = _merge(raw, raw.get("quick") or {})
    raw = _merge(raw, overrides or {})
    try:
        return Suite.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(f"{where}: {_first_error(exc)}") from None
    except RegistryError as exc:
        raise SuiteError(f"{where}: {exc}") from None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    # in a union (str | LossEntry) the first error is often "not a string"; the specific one says more
    err = next((e for e in errors if not e["type"].endswith("_type")), errors[0])
    # pydantic adds the union member or validator it tried to the location; those are not keys
    skip = ("LossEntry", "list[", "constrained-", "function-")
    loc = ".".join(str(p) for p in err["loc"] if str(p) not in ("str", "int") and not str(p).startswith(skip))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        valid = ", ".join(sorted(_fields_at(err["loc"][:-1])))
        return f"unknown key {loc!r}; valid: {valid}"
    if "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict | list):
        return f"key {loc!r}: {msg} (got {err['input']!r})"
    return f"key {loc!r}: {msg}" if loc else msg


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Suite
    for part in loc:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            continue
        ann = field.annotation
        model = next((a for a in getattr(ann, "__args__", (ann,)) if hasattr(a, "model_fields")), ann)
    return list(getattr(model, "model_fields", {}))
