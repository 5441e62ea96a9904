"""Compute accounting: the model FLOPs of a training step, counted from the operations that run.

A run's compute is its FLOPs per generator step (D steps, penalties and the G step included) times the steps
it trained, in GFLOP. FLOPs are counted as torch's own formulas count them (``torch.utils.flop_counter``:
matrix products and convolutions, forward and backward; elementwise work is not counted), over one real
training step, so every loss, penalty and number of D steps is counted as it runs. Evaluation is not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

GFLOP = 1e9


class FlopCounter(TorchDispatchMode):
    """Counts the FLOPs of the operations run inside it with torch's FLOP formulas.

    Not ``torch.utils.flop_counter.FlopCounterMode``: its per-module tracker raises inside
    ``torch.autograd.grad(..., create_graph=True)``, which the gradient penalties (R1, WGAN-GP, DRAGAN) call.
    The formulas are the same (``flop_registry``)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out


def counted(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()``'s result and the FLOPs it ran; the computation itself is unchanged."""
    with FlopCounter() as counter:
        result = fn()
    return result, counter.total
