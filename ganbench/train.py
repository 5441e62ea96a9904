"""The trainer: ``d_step``, ``g_step``, ``evaluate``, read top to bottom.

It trains a *population*: ``members`` runs sharing loss, strategy, dataset and architecture, differing in
seed and learning rates, as one stacked model (a single run is a population of one). It knows nothing of MLflow
or Optuna; it reports through a :class:`Tracker`, so tests run it with no tracking at all.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganbench import metrics as M
from ganbench.compiled import CompiledStep, EagerRNG, eager_module
from ganbench.compute import GFLOP, counted
from ganbench.config import Member, RunConfig
from ganbench.data import DataOptions, load_dataset
from ganbench.losses import get_loss
from ganbench.memory import keep_freed_memory
from ganbench.metrics.evaluate import Evaluator, create_evaluator
from ganbench.mixed import Group, Mixture, d_batch_norm, keep_rows, per_group, row_view
from ganbench.models import create_models
from ganbench.optim import StackedAdam, StackedRMSprop
from ganbench.population import DIVERGED, PRUNED, PopulationState, load_checkpoint
from ganbench.rng import MemberRNG
from ganbench.strategies import get_strategy

DIVERGENCE_LIMIT = 1e7  # |loss| above this counts as exploding
GRAD_NORM_EVERY = 10  # steps between gradient-norm samples (a norm per step would cost ~5% of a small step)
DIVERGENCE_EVERY = 10  # steps between divergence checks; a diverged run's step is the check that found it
PROGRESS_EVERY = 10


# Set by the CLI's SIGINT/SIGTERM handler: training stops between two steps, writes checkpoints, and raises
# Interrupted, so a stop loses nothing and leaves no half-written state.
STOP_REQUESTED = threading.Event()


class Interrupted(KeyboardInterrupt):
    """Training stopped on request after writing checkpoints."""


@dataclass
class RunResult:
    status: str
    step: int  # generator steps done
    metrics: dict[str, float] = field(default_factory=dict)  # last evaluation, best_*, gap_*, stability
    diverged_step: int | None = None
    wall_seconds: float = 0.0  # the run's share of its population's wall time (not a result: never the same)


class Tracker:
    """What the trainer reports to. Subclass and override; the base does nothing."""

    def on_eval(self, member: int, step: int, metrics: dict[str, float], samples: Tensor) -> bool:
        """Called at every evaluation; return True to stop (prune) this member."""
        return False

    def stops(self, step: int) -> list[int]:
        """Called once every member has been evaluated at ``step``: the members to stop (prune) now. Decisions
        that compare members of one population belong here, where none depends on the order they reported."""
        return []

    def on_checkpoint(self, member: int, step: int) -> None:
        """Called after a member's checkpoint at ``step`` is on disk."""

    def on_end(self, member: int, result: RunResult) -> None:
        pass


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Trainer:
    """Trains a population of members as one stacked model; its checkpointed state is ``self.state``."""

    def __init__(
        self,
        config: RunConfig,
        members: Sequence[Member],
        *,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        data: DataOptions | None = None,
        checkpoints: Sequence[Path | None] | None = None,
        tracker: Tracker | None = None,
        evaluator: Evaluator | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.config, self.members = config, list(members)
        self.device, self.dtype = resolve_device(device), dtype
        if self.device.type == "cpu":
            keep_freed_memory()  # stacked activations are MB-sized: no page faults on every step
        self.tracker = tracker or Tracker()
        self.checkpoints = list(checkpoints) if checkpoints else [None] * len(self.members)
        self.mix = Mixture(config, self.members)  # members' own losses and D steps (a mixed population)
        self.loss = get_loss(config.loss)  # the population's; members may have their own (self.mix)
        self.strategy = get_strategy(config.strategy)
        self.n_critic = max(self.mix.n_critic)
        if evaluator is None:
            dataset = load_dataset(config.dataset, data or DataOptions(image_size=config.image_size))
            evaluator = create_evaluator(dataset, eval_samples=config.eval_samples)
        self.evaluator, self.dataset = evaluator, evaluator.dataset
        self.progress = progress
        seeds = [m.seed for m in self.members]
        self.g, self.d = create_models(
            config.model,
            tuple(self.dataset.sample_shape),
            seeds,
            d_batch_norm=d_batch_norm(self.mix.configs, tuple(self.dataset.sample_shape)),
        )
        self.g.to(self.device, dtype)
        self.d.to(self.device, dtype)
        self.g_ema = copy.deepcopy(self.g) if self.strategy.ema else None
        self._d_params = list(self.d.parameters())
        self.opt_g = self._optimizer(self.g, [m.lr_g for m in self.members])
        self.opt_d = self._optimizer(self.d, [m.lr_d for m in self.members])
        # everything a checkpoint holds, the stacked rows among it: members that stop (pruned, diverged) are
        # dropped from every stacked tensor, so they cost no more compute
        self.state = PopulationState(
            len(self.members),
            self.device,
            g=self.g,
            d=self.d,
            g_ema=self.g_ema,
            opt_g=self.opt_g,
            opt_d=self.opt_d,
            rng=MemberRNG(seeds, self.device),
        )
        self._d_loss = CompiledStep(self._d_loss_eager, config.compile, self)
        self._g_loss = CompiledStep(self._g_loss_eager, config.compile, self)
        self._eager_d, self._eager_rng = eager_module(self.d), EagerRNG(self)
        self.flops_per_step: list[float] | None = None  # each member's model FLOPs per step (step_flops)
        self._clock = time.perf_counter()

    # the stacked rows, the step and the random streams, read by the compiled steps, probes and tests
    rows = property(lambda self: self.state.rows)
    step = property(lambda self: self.state.step)
    rng = property(lambda self: self.state.rng)

    # ------------------------------------------------------------------------------------------ set-up
    def _optimizer(self, module: torch.nn.Module, lrs: list[float]):
        lr = torch.tensor(lrs, dtype=self.dtype, device=self.device)
        if self.strategy.optimizer == "rmsprop":
            return StackedRMSprop(module.parameters(), lr)
        shared = self.config.beta1 if self.config.beta1 is not None else self.strategy.beta1
        beta1 = torch.tensor([shared if m.beta1 is None else m.beta1 for m in self.members]).to(lr)
        return StackedAdam(module.parameters(), lr, beta1, beta2=self.strategy.beta2)

    def _groups(self, positions: list[int] | None = None) -> list[Group]:
        """The losses of the rows at ``positions`` (None: all), each called with its config's parameters and
        its members' own (tuned penalty weights, WGAN's clip) as ``[members]`` tensors."""
        return self.mix.groups(self.state.rows, positions, self.device, self.dtype)

    # ------------------------------------------------------------------------------------------ steps
    def d_step(self, k: int = 0) -> Tensor:
        """D step ``k`` of this generator step; members with fewer D steps sit it out (see ``ganbench.mixed``)."""
        stepping = self.mix.stepping(self.state.rows, k)
        real, z = self._d_inputs(stepping)
        groups = self._groups(stepping)
        self.opt_d.zero_grad()
        with keep_rows((self.g, self.d), stepping, len(self.state.rows)):
            d_loss = self._d_loss(real, z, groups)  # and its gradients
        active = (
            self.state.active
            if stepping is None
            else self.state.active & self.mix.mask(self.state.rows, stepping, self.device)
        )
        self.opt_d.step(active, partial=stepping is not None)
        clip = self.mix.clip(groups, len(self.state.rows), real)
        if clip is not None:
            with torch.no_grad():
                for p in self.d.parameters():
                    bound = clip.view(-1, *[1] * (p.dim() - 1)) if torch.is_tensor(clip) else clip
                    torch.clamp(p, -bound, bound, out=p)
        self.state.last_real = real
        return self._d_loss.kept(d_loss)

    def _d_inputs(self, stepping: list[int] | None) -> tuple[Tensor, Tensor]:
        """Real data and noise of a D step, drawn from the streams of the rows that take it; the others hold
        their last real batch and zeros (what D makes of them is thrown away)."""
        shape = (self.config.batch_size, self.config.model.latent_dim)
        if stepping is None:
            real = self.dataset.sample(self.state.rng, self.config.batch_size, dtype=self.dtype).to(self.device)
            return real, self.state.rng.randn(shape, self.dtype)
        rng, idx = self.state.rng.select(stepping), torch.tensor(stepping, device=self.device)
        real = self.dataset.sample(rng, self.config.batch_size, dtype=self.dtype).to(self.device)
        z = torch.zeros((len(self.state.rows), *shape), dtype=self.dtype, device=self.device)
        return self.state.last_real.index_copy(0, idx, real), z.index_copy(0, idx, rng.randn(shape, self.dtype))

    def _d_loss_eager(self, real: Tensor, z: Tensor, groups: list[Group]) -> Tensor:
        """The D step's loss ``[rows]``: what ``compile`` compiles (penalties' D and draws stay eager)."""
        with torch.no_grad():
            fake = self.g(z)
        d_real, d_fake = self.d(real), self.d(fake)
        d, rng = (self._eager_d, self._eager_rng) if self._d_loss.active else (self.d, self.state.rng)

        def loss(group: Group, take: Callable[[Tensor], Tensor]) -> Tensor:
            own_rng = rng if group.positions is None else self.state.rng.select(group.positions)
            view = row_view(d, group.idx, real, (self.d,))
            return group.spec(
                take(d_real),
                take(d_fake),
                discriminator=view,
                real=take(real),
                fake=take(fake),
                rng=own_rng,
                **group.params,
            ).d_loss

        return per_group(groups, len(self.state.rows), loss, d_real)

    def g_step(self) -> Tensor:
        # D's weights get no gradient here: skipping their weight-gradient matmuls saves ~10% of a step
        self._d_requires_grad(False)
        try:
            return self._g_step()
        finally:
            self._d_requires_grad(True)

    def _d_requires_grad(self, flag: bool) -> None:
        for p in self._d_params:
            p.requires_grad_(flag)

    def _g_step(self) -> Tensor:
        z = self.state.rng.randn((self.config.batch_size, self.config.model.latent_dim), self.dtype)
        self.opt_g.zero_grad()
        g_loss = self._g_loss(z, self.state.last_real, self._groups())  # and its gradients
        self.opt_g.step(self.state.active)
        if self.g_ema is not None:
            with torch.no_grad():
                decay = self.strategy.ema
                for pe, p in zip(self.g_ema.parameters(), self.g.parameters()):
                    pe.lerp_(p, 1 - decay)
                for be, b in zip(self.g_ema.buffers(), self.g.buffers()):
                    be.copy_(b)
        return self._g_loss.kept(g_loss)

    def _g_loss_eager(self, z: Tensor, last_real: Tensor, groups: list[Group]) -> Tensor:
        """The G step's loss ``[rows]``: what ``compile`` compiles. D scores the last real batch only for
        losses that read it (relativistic, feature matching); other rows' statistics are put back."""
        fake = self.g(z)
        features = any(g.spec.features for g in groups)
        d_fake, f_fake = self.d.forward_with_features(fake) if features else (self.d(fake), None)
        d_real, f_real = d_fake.detach(), None
        reading = [g for g in groups if g.spec.features or g.spec.real_in_g_step]
        if reading:
            keep = None if len(reading) == len(groups) else [r for g in reading for r in g.positions]  # type: ignore[union-attr]
            with torch.no_grad(), keep_rows((self.d,), keep, len(self.state.rows)):
                d_real, f_real = self.d.forward_with_features(last_real) if features else (self.d(last_real), None)

        def loss(group: Group, take: Callable[[Tensor], Tensor]) -> Tensor:
            reads = group.spec.features or group.spec.real_in_g_step
            ctx = {"features_real": take(f_real), "features_fake": take(f_fake)} if group.spec.features else {}
            real = take(d_real) if reads else take(d_fake.detach())
            return group.spec(real, take(d_fake), **ctx, **group.params).g_loss

        return per_group(groups, len(self.state.rows), loss, d_fake)

    def train_step(self) -> None:
        scale = self.config.lr_factor(self.state.step)
        self.opt_g.lr_scale = self.opt_d.lr_scale = scale
        sample_grads = self.state.step % GRAD_NORM_EVERY == 0
        d_loss = None
        for k in range(max(self.mix.n_critic[i] for i in self.state.rows)):  # of the members still training
            d_k = self.d_step(k)
            done = self.mix.finishing(self.state.rows, k, self.device)  # rows whose last D step this was
            if done is False:
                continue
            d_loss = d_k if done is True or d_loss is None else torch.where(done, d_k, d_loss)
            if sample_grads:
                norms = _grad_norms(self.d)
                self.state.acc["gn_d"] += norms if done is True else torch.where(done, norms, 0.0)
        g_loss = self.g_step()
        if sample_grads:
            self.state.acc["gn_g"] += _grad_norms(self.g)
            self.state.acc_gn += 1
        self.state.step += 1
        self.state.acc["d"] += d_loss
        self.state.acc["d2"] += d_loss.double() ** 2
        self.state.acc["g"] += g_loss
        self.state.acc_steps += 1
        self.state.last_losses = (d_loss, g_loss)
        if self.state.step % DIVERGENCE_EVERY == 0:
            self._check_divergence()

    def _check_divergence(self) -> None:
        """NaN/inf anywhere since the last evaluation (the sums carry it) or an exploding current loss.

        Checked every DIVERGENCE_EVERY steps and before each evaluation: a check is a device sync."""
        d_loss, g_loss = self.state.last_losses
        bad = ~torch.isfinite(self.state.acc["d"] + self.state.acc["g"])
        bad |= (d_loss.abs() > DIVERGENCE_LIMIT) | (g_loss.abs() > DIVERGENCE_LIMIT)
        newly = bad & self.state.active
        if bool(newly.any()):
            for r in newly.nonzero().flatten().tolist():
                self.state.stop(r, DIVERGED)

    def drop_stopped(self) -> None:
        if self.state.drop_stopped([p is not None for p in self.checkpoints]):  # compiled steps compile again
            self._d_loss.reset()
            self._g_loss.reset()

    # ------------------------------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def generate(self, n: int, seed_salt: int = 3) -> Tensor:
        """``[rows, n, *sample_shape]`` samples from fixed evaluation noise (the same at every evaluation)."""
        g = self.g_ema if self.g_ema is not None else self.g
        was_training = g.training
        g.eval()
        noise = MemberRNG([self.members[i].seed for i in self.state.rows], self.device, salt=seed_salt)
        z = noise.randn((n, self.config.model.latent_dim), self.dtype)
        out = torch.cat([g(chunk) for chunk in z.split(1000, dim=1)], dim=1)
        g.train(was_training)
        return out

    def evaluate(self) -> None:
        self._tick()
        self._check_divergence()
        samples = self.generate(self.config.eval_samples)
        stability = self._stability_metrics()
        for r, i in enumerate(self.state.rows):
            if not bool(self.state.active[r]):
                continue
            values = self.evaluator(samples[r].float())
            if not all(math.isfinite(v) for v in values.values()):
                self.state.stop(r, DIVERGED)
                continue
            values.update({k: v[r] for k, v in stability.items()})
            self._update_best(i, values)
            self.state.last[i] = values
            if self.tracker.on_eval(i, self.state.step, values, samples[r]):
                self.state.stop(r, PRUNED)
        stopped = set(self.tracker.stops(self.state.step))
        for r, i in enumerate(self.state.rows):
            if i in stopped and bool(self.state.active[r]):
                self.state.stop(r, PRUNED)

    def _tick(self) -> None:
        """Share the wall time since the last tick among the members that trained in it (the rows)."""
        now = time.perf_counter()
        for i in self.state.rows:
            self.state.wall[i] += (now - self._clock) / len(self.state.rows)
        self._clock = now

    def _stability_metrics(self) -> dict[str, list[float]]:
        n = max(self.state.acc_steps, 1)
        mean_d = self.state.acc["d"] / n
        out = {
            M.LOSS_D: mean_d,
            M.LOSS_G: self.state.acc["g"] / n,
            M.LOSS_OSCILLATION: (self.state.acc["d2"] / n - mean_d**2).clamp_min(0).sqrt(),
            M.GRAD_NORM_D: self.state.acc["gn_d"] / max(self.state.acc_gn, 1),
            M.GRAD_NORM_G: self.state.acc["gn_g"] / max(self.state.acc_gn, 1),
        }
        self.state.reset_sums()
        return {k: v.tolist() for k, v in out.items()}

    def _update_best(self, i: int, values: dict[str, float]) -> None:
        for name in (self.evaluator.primary, M.MODES_COVERED, M.KL_UNIFORM):
            if name not in values:
                continue
            key, better = M.best_key(name), max if M.is_higher_better(name) else min
            old = self.state.best[i].get(key)
            self.state.best[i][key] = values[name] if old is None else better(old, values[name])

    # ------------------------------------------------------------------------------------------ checkpoints
    def save_checkpoints(self) -> None:
        self.state.save(self.checkpoints, self.tracker.on_checkpoint)

    def load_checkpoints(self) -> None:
        """Resume every member from its checkpoint, when they have them."""
        paths = [p for p in self.checkpoints if p is not None and p.exists()]
        if paths:
            self.state.load([load_checkpoint(p, self.device) for p in paths])

    # ------------------------------------------------------------------------------------------ the loop
    def run(self) -> list[RunResult]:
        self.flops_per_step = [
            step_flops(m.run_config(self.config), dataclasses.replace(m, config=None), self.evaluator, str(self.device))
            for m in self.members
        ]
        self.load_checkpoints()
        self.drop_stopped()  # members that had stopped before the checkpoint
        steps, every = self.config.steps, self.config.eval_every
        while self.state.step < steps and bool(self.state.active.any()):
            if STOP_REQUESTED.is_set():
                self._tick()
                self.save_checkpoints()
                raise Interrupted(f"stopped at step {self.state.step}")
            self.train_step()
            if self.progress is not None and self.state.step % PROGRESS_EVERY == 0:
                self.progress(PROGRESS_EVERY * len(self.members))  # a dropped member's share counts as done
            evaluated = self.state.step % every == 0 or self.state.step == steps
            if evaluated:
                self.evaluate()
                self.save_checkpoints()
            # after a divergence check or an evaluation (a sync happened anyway); at every evaluation, so a
            # run resumed from its checkpoint has the same rows as one never stopped
            if len(self.state.rows) > 1 and (evaluated or self.state.step % DIVERGENCE_EVERY == 0):
                self.drop_stopped()
        if self.progress is not None and steps > self.state.step // PROGRESS_EVERY * PROGRESS_EVERY:
            # what was not counted: a last partial PROGRESS_EVERY, and the rest of a population whose members all
            # stopped early (done, as a dropped member's share is), so that a phase's count reaches its total
            self.progress((steps - self.state.step // PROGRESS_EVERY * PROGRESS_EVERY) * len(self.members))
        return self._results()

    def _results(self) -> list[RunResult]:
        self._tick()
        results = []
        for i in range(len(self.members)):
            metrics = dict(self.state.last[i]) if self.state.status[i] != DIVERGED else {}
            metrics.update(self.state.best[i])
            steps = self.state.stopped_at[i] if self.state.stopped_at[i] is not None else self.state.step
            if self.flops_per_step is not None:  # None: nothing was trained in this process (all resumed done)
                metrics[M.COMPUTE] = self.flops_per_step[i] * steps / GFLOP
            primary = self.evaluator.primary
            if primary in metrics and M.best_key(primary) in metrics:
                metrics[M.gap_key(primary)] = metrics[primary] - metrics[M.best_key(primary)]
            metrics[M.DIVERGED] = float(self.state.status[i] == DIVERGED)
            if self.state.diverged_step[i] is not None:
                metrics[M.DIVERGED_STEP] = float(self.state.diverged_step[i])
            result = RunResult(
                self.state.status[i], self.state.step, metrics, self.state.diverged_step[i], self.state.wall[i]
            )
            self.tracker.on_end(i, result)
            results.append(result)
        return results


_STEP_FLOPS: dict[tuple[Any, ...], float] = {}


def step_flops(config: RunConfig, member: Member, evaluator: Evaluator, device: str = "cpu") -> float:
    """A member's model FLOPs per generator step (D steps, penalties and the G step), counted over one step of
    a population of one, the same for every member and population size (a population's stacked layers may
    pick other kernels); computed once per configuration per process."""
    config = dataclasses.replace(config, compile="none")  # counted eagerly: the same FLOPs, no compiling
    key = (repr(config), tuple(sorted(member.loss_params or {})), device)
    if key not in _STEP_FLOPS:
        probe = Trainer(config, [member], device=device, evaluator=evaluator)
        _, flops = counted(probe.train_step)
        _STEP_FLOPS[key] = float(flops)
    return _STEP_FLOPS[key]


def _grad_norms(module: torch.nn.Module) -> Tensor:
    total = None
    for p in module.parameters():
        if p.grad is not None:
            sq = p.grad.detach().flatten(start_dim=1).double().pow(2).sum(dim=1)
            total = sq if total is None else total + sq
    return total.sqrt() if total is not None else torch.zeros(0)


def train(config: RunConfig, members: Sequence[Member], **kwargs: Any) -> list[RunResult]:
    """Train ``members`` as one population and return one result per member."""
    return Trainer(config, members, **kwargs).run()
