"""The trainer's loss computations under ``torch.compile`` (a run's ``compile`` option), with an eager fallback.

A population's step on a GPU is launch-bound for small models: hundreds of tiny kernels, each a few µs of work.
``torch.compile`` fuses them, and mode ``reduce-overhead`` also replays the step as a CUDA graph. What is compiled
is the forward part of each step (G and D forwards and the loss); the backward pass runs through the compiled
graph's own backward, and the optimizers and weight clipping stay eager.

Three things keep results equal to eager training:
- the random draws of a penalty (``rng``) and the discriminator a penalty differentiates twice run eagerly
  (compiled autograd has no double backward);
- where compiling fails (no C compiler, an unsupported op, an error at the first call) the step falls back to
  eager with one warning line per process, never a traceback, after restoring the random streams and buffers
  the failed call may have advanced;
- a population that drops members changes the stacked shapes: the compiled graphs are thrown away and compiled
  again for the new shapes (``reset``), rather than piling up variants until torch's recompile limit turns
  compilation off silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ganbench.config import COMPILE_MODES

log = logging.getLogger(__name__)
_WARNED: set[str] = set()


def compile_kwargs(mode: str) -> dict[str, Any]:
    """What ``torch.compile`` is called with for ``mode`` (tests replace this to force a failure)."""
    return {"mode": mode, "dynamic": False}


def warn_once(text: str) -> None:
    """One line per distinct message and process."""
    if text not in _WARNED:
        _WARNED.add(text)
        log.warning(text)


class CompiledStep:
    """``fn`` compiled with ``mode`` ("none": plain ``fn``), falling back to ``fn`` when compiling fails.

    What a call may change besides its result (the trainer's random streams, batch-norm statistics) is saved
    before calls that may compile (the first after a reset) and put back if they fail, so steady-state steps
    pay nothing for it."""

    def __init__(self, fn: Callable[..., Any], mode: str, trainer: Any) -> None:
        if mode not in COMPILE_MODES:
            raise ValueError(f"unknown compile mode {mode!r}; valid: {', '.join(COMPILE_MODES)}")
        self.fn, self.mode, self.trainer = fn, mode, trainer
        self._compiled = None if mode == "none" else torch.compile(fn, **compile_kwargs(mode))
        self._fresh = True
        if self._compiled is not None:
            torch._dynamo.reset()  # an earlier population's graphs would count toward the recompile limit

    @property
    def active(self) -> bool:
        """Whether calls go to the compiled function (False: eager, by choice or after a failure)."""
        return self._compiled is not None

    def reset(self) -> None:
        """Compile again at the next call (the stacked shapes changed)."""
        if self._compiled is not None:
            torch._dynamo.reset()
            self._fresh = True

    def __call__(self, *args: Any) -> Tensor:
        """``fn(*args)``, a loss ``[rows]``, with its sum's gradients accumulated (a compiled graph's backward
        can fail too, at its first call)."""
        if self._compiled is None:
            return _backward(self.fn(*args))
        saved = _snapshot(self.trainer) if self._fresh else None
        if self.mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # the last step's outputs are no longer read
        try:
            out = _backward(self._compiled(*args))
        except torch.OutOfMemoryError:
            raise  # the runner splits the population; eager would run out of memory as well
        except Exception as exc:  # noqa: BLE001 - any compile error: train on, eagerly
            warn_once(f"torch.compile (mode {self.mode}) failed, training eagerly: {_reason(exc)}")
            self._compiled = None
            if saved is not None:
                _restore(self.trainer, saved)
            return _backward(self.fn(*args))
        self._fresh = False
        return out

    def kept(self, loss: Tensor) -> Tensor:
        """``loss`` detached, to be read after the next step: a copy when compiled (a CUDA graph's outputs are
        overwritten by its next replay)."""
        return loss.detach().clone() if self._compiled is not None else loss.detach()


def _reason(exc: BaseException) -> str:
    """The first line of the error at the root of ``exc`` (dynamo wraps a backend's error in its own)."""
    while (inner := getattr(exc, "inner_exception", None) or exc.__cause__) is not None:
        exc = inner
    lines = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {lines[0][:160]}" if lines else "")


def _backward(loss: Tensor) -> Tensor:
    loss.sum().backward()
    return loss


def _stacked_buffers(trainer: Any) -> list[Tensor]:
    return [b for m in (trainer.g, trainer.d) for b in m.buffers()]


def _snapshot(trainer: Any) -> tuple[list[Tensor], list[Tensor]]:
    return trainer.rng.get_state(), [b.clone() for b in _stacked_buffers(trainer)]


def _restore(trainer: Any, state: tuple[list[Tensor], list[Tensor]]) -> None:
    rng, buffers = state
    trainer.rng.set_state(rng)
    for p in list(trainer.g.parameters()) + list(trainer.d.parameters()):
        p.grad = None  # a backward that failed half-way may have left some
    with torch.no_grad():
        for b, saved in zip(_stacked_buffers(trainer), buffers, strict=True):
            b.copy_(saved)


class EagerRNG:
    """The trainer's random streams (whichever rows it holds now), drawn outside compiled graphs."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    @torch._dynamo.disable
    def rand(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.trainer.rng.rand(*args, **kwargs)

    @torch._dynamo.disable
    def randn(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.trainer.rng.randn(*args, **kwargs)

    @torch._dynamo.disable
    def randint(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.trainer.rng.randint(*args, **kwargs)


def eager_module(module: torch.nn.Module) -> Callable[[Tensor], Tensor]:
    """``module`` called outside compiled graphs: a penalty differentiates D twice, which compiled autograd
    does not support."""
    return torch._dynamo.disable(module.__call__)
