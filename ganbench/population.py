"""The state of a population as one component: :class:`PopulationState` has explicit fields, and a member's
checkpoint is one dict of them (:meth:`PopulationState.member`), stacked back by :meth:`PopulationState.load`.

Every stacked tensor (parameters, buffers, optimizer state, random streams, running sums) has one row per member
still training, in the order of ``rows``; a member's checkpoint is its row of each, plus what the population
shares (step counts). Members that stop are dropped from every stacked tensor (:meth:`drop_stopped`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganbench.errors import disk_full, is_disk_full
from ganbench.status import Status

# plain str: checkpoints load with weights_only=True
FINISHED, DIVERGED, PRUNED = Status.FINISHED.value, Status.DIVERGED.value, Status.PRUNED.value
SUMS = ("d", "d2", "g", "gn_d", "gn_g")  # running sums since the last evaluation: losses, squares, gradient norms


class PopulationState:
    """What a population's checkpoints hold. ``g``, ``d``, ``g_ema``, ``opt_g`` and ``opt_d`` are the trainer's
    stacked models and optimizers (the same objects: rows are dropped from them in place); the rest is owned
    here."""

    def __init__(
        self,
        n: int,
        device: torch.device,
        *,
        g: torch.nn.Module,
        d: torch.nn.Module,
        g_ema: torch.nn.Module | None,
        opt_g: Any,
        opt_d: Any,
        rng: Any,
    ) -> None:
        self.device = device
        self.g, self.d, self.g_ema, self.opt_g, self.opt_d = g, d, g_ema, opt_g, opt_d
        self.rng = rng  # the members' random streams (a new object when rows are dropped)
        # stacked: one row per member still training; rows[r] is the member of row r
        self.rows = list(range(n))
        self.active = torch.ones(n, dtype=torch.bool, device=device)
        self.acc: dict[str, Tensor] = {}
        self.acc_steps = self.acc_gn = 0  # steps summed in acc; of them, steps whose gradient norms were sampled
        self.reset_sums()
        self.last_losses: tuple[Tensor, Tensor] = (self.acc["d"], self.acc["g"])  # of the last step, per row
        self.last_real: Tensor | None = None  # the last D step's real batch (the G step of some losses reads it)
        self.step = 0  # generator steps, shared by every member
        # per member, in the order of the population's members, rows dropped or not
        self.status = [FINISHED] * n
        self.diverged_step: list[int | None] = [None] * n
        self.best: list[dict[str, float]] = [{} for _ in range(n)]
        self.last: list[dict[str, float]] = [{} for _ in range(n)]
        self.stopped_at: list[int | None] = [None] * n  # the step a pruned or diverged member stopped at
        self.wall = [0.0] * n  # seconds of the population's wall time spent on each member, resumes included
        self.dropped: dict[int, dict[str, Any]] = {}  # a dropped member's last state, for its checkpoints

    def reset_sums(self) -> None:
        zeros = torch.zeros(len(self.rows), dtype=torch.float64, device=self.device)
        self.acc = {k: zeros.clone() for k in SUMS}
        self.acc_steps, self.acc_gn = 0, 0

    def stop(self, row: int, status: str) -> None:
        """The member of ``row`` stops at this step, ``status`` PRUNED or DIVERGED; the row stays until
        :meth:`drop_stopped`."""
        i = self.rows[row]
        self.status[i], self.stopped_at[i] = status, self.step
        if status == DIVERGED:
            self.diverged_step[i] = self.step
        self.active[row] = False

    def drop_stopped(self, keep_state: Sequence[bool]) -> bool:
        """Remove the rows of members that stopped from every stacked tensor (models, optimizer state, random
        streams, sums); ``keep_state[i]``: member ``i``'s last state is kept for checkpoints still to come.
        The others' computations do not change: rows never interact. True when rows were dropped."""
        keep = self.active.nonzero().flatten().tolist()
        if len(keep) == len(self.rows) or not keep:
            return False
        for r, i in enumerate(self.rows):
            if r not in keep and keep_state[i]:
                self.dropped[i] = _to_cpu(self.member(i))  # off the GPU: it only waits to be saved
        idx = torch.tensor(keep, device=self.device)
        for module in (self.g, self.d, self.g_ema):
            if module is not None:
                _select_rows(module, idx)
        self.opt_g.select(idx)
        self.opt_d.select(idx)
        self.rng = self.rng.select(keep)
        self.active = self.active[idx]
        self.acc = {k: v[idx] for k, v in self.acc.items()}
        self.last_losses = (self.last_losses[0][idx], self.last_losses[1][idx])
        self.last_real = self.last_real[idx] if self.last_real is not None else None
        self.rows = [self.rows[r] for r in keep]
        return True

    def member(self, i: int) -> dict[str, Any]:
        """Member ``i``'s checkpoint: one dict of its row of every stacked tensor and its own record."""
        if i in self.dropped:  # stopped earlier: its state as it was, at the population's step
            return {**self.dropped[i], "step": self.step, "wall": self.wall[i]}
        r = self.rows.index(i)
        return {
            "step": self.step,
            "status": self.status[i],
            "diverged_step": self.diverged_step[i],
            "g": _slice(self.g.state_dict(), r),
            "d": _slice(self.d.state_dict(), r),
            "g_ema": _slice(self.g_ema.state_dict(), r) if self.g_ema is not None else None,
            "opt_g": _slice(self.opt_g.state_dict(), r),
            "opt_d": _slice(self.opt_d.state_dict(), r),
            "rng": self.rng.generators[r].get_state(),
            "best": self.best[i],
            "last": self.last[i],
            "acc": _slice(self.acc, r),
            "acc_steps": self.acc_steps,
            "acc_gn": self.acc_gn,
            "stopped_at": self.stopped_at[i],
            "wall": self.wall[i],
        }

    def save(self, paths: Sequence[Path | None], saved: Callable[[int, int], None]) -> None:
        """Write each member's checkpoint to its path (None: none), atomically; ``saved(member, step)`` after
        each is on disk."""
        for i, path in enumerate(paths):
            if path is None:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")  # in the same folder: the rename below never crosses file systems
            try:
                with open(tmp, "wb") as f:
                    torch.save(self.member(i), f)
                    f.flush()
                    os.fsync(f.fileno())  # on disk before the rename, so a power cut leaves the old or the new
            except (OSError, RuntimeError) as exc:  # torch reports a full disk as a RuntimeError
                tmp.unlink(missing_ok=True)
                if is_disk_full(exc) or "failed writing" in str(exc):
                    raise disk_full(path.parent) from None
                raise
            os.replace(tmp, path)  # atomic: a crash never leaves half a checkpoint
            saved(i, self.step)

    def load(self, states: Sequence[dict[str, Any]]) -> None:
        """Resume every member from its checkpoint dict (in the members' order; all at the same step)."""
        if len(states) != len(self.status):
            raise RuntimeError("a population resumes only when every member has a checkpoint")
        if len({s["step"] for s in states}) != 1:
            raise RuntimeError("members of one population must resume from the same step")
        # shared values (step counts of the optimizers and sums) come from a member still training: a member
        # dropped earlier saved its state as it was when it stopped
        ref = next((k for k, s in enumerate(states) if s["status"] == FINISHED), 0)

        def stacked(template: Any, key: str) -> Any:
            return _stack_like(template, [s[key] for s in states], ref)

        self.g.load_state_dict(stacked(self.g.state_dict(), "g"))
        self.d.load_state_dict(stacked(self.d.state_dict(), "d"))
        if self.g_ema is not None:
            self.g_ema.load_state_dict(stacked(self.g_ema.state_dict(), "g_ema"))
        self.opt_g.load_state_dict(stacked(self.opt_g.state_dict(), "opt_g"))
        self.opt_d.load_state_dict(stacked(self.opt_d.state_dict(), "opt_d"))
        self.acc = stacked(self.acc, "acc")
        self.rng.set_state([s["rng"] for s in states])
        self.step = states[0]["step"]
        self.acc_steps, self.acc_gn = states[ref]["acc_steps"], states[ref]["acc_gn"]
        for i, s in enumerate(states):
            self.status[i], self.diverged_step[i] = s["status"], s["diverged_step"]
            self.best[i], self.last[i] = s["best"], s["last"]
            # checkpoints written before compute accounting lack these: a stopped member then counts to its
            # diverged step (or to the population's step), its earlier wall time as 0
            self.stopped_at[i] = s.get("stopped_at", s["diverged_step"])
            self.wall[i] = float(s.get("wall", 0.0))
            self.active[i] = s["status"] == FINISHED


def _map_tensors(state: Any, fn: Any) -> Any:
    """``fn`` applied to every tensor of a (nested dict/list) state; everything else kept."""
    if isinstance(state, dict):
        return {k: _map_tensors(v, fn) for k, v in state.items()}
    if isinstance(state, list):
        return [_map_tensors(v, fn) for v in state]
    return fn(state) if torch.is_tensor(state) else state


def _slice(state: Any, i: int) -> Any:
    """Member ``i``'s part of a (nested) state: tensors with a member dimension are indexed, the rest kept."""
    return _map_tensors(state, lambda t: t[i].clone() if t.dim() > 0 else t)


def _to_cpu(state: Any) -> Any:
    return _map_tensors(state, lambda t: t.cpu())


class CorruptCheckpoint(Exception):
    """A checkpoint that cannot be read back (truncated, empty, not a checkpoint); its message is one line."""


CHECKPOINT_KEYS = {"step", "status", "g", "d", "opt_g", "opt_d", "rng"}


def load_checkpoint(path: Path, device: Any = "cpu") -> dict[str, Any]:
    """A member's checkpoint, read with ``weights_only=True`` and checked to be one; anything else raises
    :class:`CorruptCheckpoint` saying what is wrong (never torch's advice to load it unsafely)."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # EOFError, RuntimeError (a truncated zip), UnpicklingError (foreign objects)
        if path.stat().st_size == 0:
            raise CorruptCheckpoint("empty file") from None
        why = "holds objects a checkpoint never holds" if "weights_only" in str(exc).lower() else "unreadable"
        raise CorruptCheckpoint(f"{why} ({type(exc).__name__})") from None
    if not (isinstance(state, dict) and state.keys() >= CHECKPOINT_KEYS and isinstance(state["step"], int)):
        raise CorruptCheckpoint("not a ganbench checkpoint")
    return state


def set_aside(path: Path) -> Path:
    """Rename an unreadable checkpoint to ``<name>.corrupt`` (kept to look at; never read again)."""
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    return aside


def checkpoint_step(path: Path | None) -> int:
    """The step a member's checkpoint resumes from; 0 without one. Raises :class:`CorruptCheckpoint`."""
    if path is None or not path.exists():
        return 0
    return int(load_checkpoint(path)["step"])


def _stack_like(template: Any, values: list[Any], ref: int = 0) -> Any:
    """Inverse of slicing member ``i`` out of ``template``: stack per-member values where the template has a
    member dimension, take shared values (step counts, batch-norm counters) from ``values[ref]``."""
    if isinstance(template, dict):  # a key older checkpoints lack comes back as None
        return {k: _stack_like(v, [x.get(k) for x in values], ref) for k, v in template.items()}
    if any(v is None for v in values):
        return None
    if isinstance(template, list):
        return [_stack_like(t, [x[j] for x in values], ref) for j, t in enumerate(template)]
    if torch.is_tensor(template) and template.dim() > 0:
        return torch.stack(values).to(template)
    return values[ref]


def _select_rows(module: torch.nn.Module, idx: Tensor) -> None:
    """Keep rows ``idx`` of every stacked parameter and buffer; parameters stay the same objects (the
    optimizers hold them)."""
    with torch.no_grad():
        for p in module.parameters():
            p.data, p.grad = p.data.index_select(0, idx), None
        for m in module.modules():
            for name, b in m._buffers.items():
                if b is not None and b.dim() > 0:
                    m._buffers[name] = b.index_select(0, idx)
