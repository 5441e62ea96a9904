"""Memory: keep freed CPU memory in the process, and size populations to the GPU they train on.

A stacked step allocates activations of a few MB each. glibc serves such blocks with ``mmap`` and hands them
back on free, so every step page-faults its activations in again (about 1,300 faults per step for 16 members
of the ``losses`` suite's MLP, a fifth of the step). :func:`keep_freed_memory` keeps freed blocks for reuse.

:func:`member_bytes` measures what a population needs on a GPU (the peaks of populations of one and two members
over two training steps and sample generation), and :func:`fit_population` caps a population to what the free
GPU memory holds (its share of it, where several workers share the GPU), so a large ``--population-size``
is split before it runs out of memory instead of after.
The reactive split on an out-of-memory error stays as the backstop for what the measurement misses.

On the CPU there are no peak statistics to read, so :func:`host_member_bytes` estimates a member from what
autograd keeps for backward (:class:`SavedBytes`), measured at two small batches and extended linearly to the
run's batch; with the run's state and evaluation samples it sizes populations to the RAM that is available
(:func:`host_available_bytes`) and lets the start-up refuse a run of which not even one member fits.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import gc
import math
import sys
import traceback
from collections.abc import Callable
from typing import Any

import torch

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# blocks up to this size come from (and return to) the heap, which is not trimmed below it
KEEP_BYTES = 1 << 30
GPU_HEADROOM = 0.8  # share of the free GPU memory a population may plan to use (evaluation, fragmentation)


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc keep freed blocks up to 1 GB for reuse instead of unmapping them; True where it applied.

    Process-wide and idempotent. The price is that the process keeps its peak heap until it exits."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, KEEP_BYTES) == 1
        return ok and libc.mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES) == 1
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False


def free_gpu_bytes(device: torch.device, share: float = 1.0) -> int | None:
    """Memory a new population may take on a CUDA device: free memory plus what PyTorch's caching allocator
    holds unused, and, where ``share`` < 1 (the GPU is shared by several workers), no more than that share of
    the device's memory less what this process holds. None off CUDA (CPU populations are not sized; an
    out-of-memory error still splits them)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(device)
    reserved, allocated = torch.cuda.memory_reserved(device), torch.cuda.memory_allocated(device)
    return available_bytes(free, total, reserved, allocated, share)


def available_bytes(free: int, total: int, reserved: int, allocated: int, share: float = 1.0) -> int:
    """What this process may plan to allocate: the device's free memory plus its own cached-but-unused
    blocks, capped, when it shares the device, at its ``share`` of ``total`` less what it has allocated.

    Without the cap, workers sharing a GPU would each plan with the same free memory and together ask for
    more than there is (the out-of-memory split stays as the backstop)."""
    own_free = free + reserved - allocated
    if share < 1:
        own_free = min(own_free, int(total * share) - allocated)
    return max(int(own_free), 0)


def fit_population(wanted: int, fixed: int, per_member: int, free: int | None) -> int:
    """Members (at least one, at most ``wanted``) whose ``fixed + n * per_member`` bytes fit in
    ``GPU_HEADROOM`` of ``free``."""
    if free is None or per_member <= 0:
        return wanted
    return max(1, min(wanted, math.floor((free * GPU_HEADROOM - fixed) / per_member)))


_MEASURED: dict[tuple[object, ...], tuple[int, int]] = {}


def member_bytes(key: tuple[object, ...], build: Callable[[int], Any], device: torch.device) -> tuple[int, int]:
    """``(fixed, per_member)`` peak device bytes of a population, measured once per ``key`` and process.

    ``build(n)`` makes a trainer of ``n`` members; populations of one and of two each take two training steps
    and generate their evaluation samples, and the difference of the two peaks is what a member adds. A first,
    unmeasured population of one makes what stays allocated once (the dataset's copy on the device, the BLAS
    workspace), so that neither measured peak includes it."""
    if key not in _MEASURED:

        def work(n: int) -> None:
            trainer = build(n)
            trainer.train_step()
            trainer.train_step()
            trainer.generate(trainer.config.eval_samples)

        work(1)
        one = _peak_bytes(device, lambda: work(1))
        try:
            two = _peak_bytes(device, lambda: work(2))
        except Exception as exc:
            if not is_oom(exc):
                raise
            # a second member does not fit: remembered, so the populations of one it is split into (and
            # the same configuration later) train without probing again
            _MEASURED[key] = (one, TOO_LARGE)
            return _MEASURED[key]
        per_member = max(two - one, 1)
        _MEASURED[key] = (max(one - per_member, 0), per_member)
    return _MEASURED[key]


TOO_LARGE = 1 << 62  # the per-member bytes of a configuration of which two members ran out of memory


def is_oom(exc: BaseException) -> bool:
    """An out-of-memory error of the GPU or the host, however the library raising it words it."""
    return isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError) or "out of memory" in str(exc).lower()


def release_after_oom(exc: BaseException) -> None:
    """Free what a population that ran out of memory still holds before its parts are retried.

    The exception's traceback keeps the failed trainer's frames, and so its tensors, alive: without this the
    retried halves run out of memory too, down to one member, which then fails (seen on an H200). Only the
    frames below the one that caught the error are cleared."""
    tb = exc.__traceback__
    # the first frame is where the error was caught: the executor's generator, suspended at its yield;
    # clearing it would finalize the generator and end the executor's remaining jobs
    traceback.clear_frames(tb.tb_next if tb is not None else None)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _peak_bytes(device: torch.device, work: Callable[[], None]) -> int:
    """Peak CUDA memory ``work`` allocates beyond what was allocated before it (freed again when it returns)."""
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    work()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


# ------------------------------------------------------------------------------------------------ host memory
# the batches a member's activation bytes are measured at. The parameters are not counted: with them, the phase
# of a step that keeps the most at small batches was the one with the most weights saved, not the one whose
# activations grow fastest (the discriminator's with R1's penalty, which doubles what a step keeps at large
# batches and was not seen)
PROBE_BATCHES = (32, 64)
HOST_HEADROOM = 0.8  # share of the available RAM a run may plan to use
# a step's peak RSS over the activations autograd keeps: their gradients in backward, temporaries that are not
# kept, and the freed blocks glibc holds for reuse (keep_freed_memory). Measured with the test's step (batch
# 32,768, MLP 512 wide, 2 members) in fresh processes: peak RSS 1.6-3.4 GB for non-saturating (3.0-6.2x the
# 0.54 GB it keeps; the most in a test worker of CI), 1.9-2.3 GB for R1 (1.7-2.1x), by process and thread
# count; 8 keeps the estimate above every peak seen
ACTIVATION_FACTOR = 8


class SavedBytes:
    """The peak bytes of the tensors autograd keeps for backward (the activations), while it is entered.

    Each storage is counted once, from the first time a tensor of it is saved until the last saved tensor of
    it is freed with its graph (a weight or an activation that several operations save is one storage).
    Storages in ``ignore`` (by address: the parameters, which stay allocated whatever the graph keeps) are not
    counted, so that what is counted grows with the batch."""

    def __init__(self, ignore: frozenset[int] = frozenset()) -> None:
        self.live = 0
        self.peak = 0
        self.ignore = ignore
        self.holders: dict[int, int] = {}  # storage address -> saved tensors of it still held
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, _Held.unpack)

    def __enter__(self) -> SavedBytes:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)

    def _pack(self, tensor: torch.Tensor) -> _Held | torch.Tensor:
        if tensor.untyped_storage().data_ptr() in self.ignore:
            return tensor
        return _Held(tensor, self)


class _Held:
    __slots__ = ("tensor", "key", "nbytes", "owner")

    def __init__(self, tensor: torch.Tensor, owner: SavedBytes) -> None:
        storage = tensor.untyped_storage()
        self.tensor, self.owner, self.key, self.nbytes = tensor, owner, storage.data_ptr(), storage.nbytes()
        held = owner.holders.get(self.key, 0)
        owner.holders[self.key] = held + 1
        if not held:
            owner.live += self.nbytes
            owner.peak = max(owner.peak, owner.live)

    def __del__(self) -> None:
        held = self.owner.holders[self.key] - 1
        if held:
            self.owner.holders[self.key] = held
        else:
            del self.owner.holders[self.key]
            self.owner.live -= self.nbytes

    @staticmethod
    def unpack(held: _Held | torch.Tensor) -> torch.Tensor:
        return held.tensor if isinstance(held, _Held) else held


def parameter_storages(trainer: Any) -> frozenset[int]:
    """The storage addresses of a trainer's parameters (what :class:`SavedBytes` should not count)."""
    return frozenset(p.untyped_storage().data_ptr() for m in (trainer.g, trainer.d) for p in m.parameters())


def host_member_bytes(build: Callable[[Any], Any], config: Any) -> int:
    """Bytes one member of ``config``'s population needs in RAM, estimated.

    ``build(config)`` makes a trainer of one member. It takes one training step at each of two small batches
    (``PROBE_BATCHES``) under :class:`SavedBytes`, not counting the parameters; the activations grow linearly
    with the batch, so their slope times the run's batch, times ``ACTIVATION_FACTOR`` (their gradients,
    temporaries and the blocks the allocator keeps), is the step's peak. Added: the parameters with their
    gradients and Adam's two moments (4 copies; an EMA generator's copy besides), and the samples one
    evaluation generates."""
    peaks = []
    for batch in PROBE_BATCHES:
        trainer = build(dataclasses.replace(config, batch_size=batch))
        with SavedBytes(ignore=parameter_storages(trainer)) as saved:
            trainer.train_step()
        peaks.append(saved.peak)
    per_sample = max(peaks[1] - peaks[0], 0) / (PROBE_BATCHES[1] - PROBE_BATCHES[0])
    state = sum(p.numel() * p.element_size() for m in (trainer.g, trainer.d) for p in m.parameters())
    shape = tuple(trainer.dataset.sample_shape)
    samples = config.eval_samples * math.prod(shape) * 4
    return int(ACTIVATION_FACTOR * per_sample * config.batch_size + 5 * state + samples)


def host_available_bytes() -> int | None:
    """RAM available to new work (Linux's MemAvailable, within a cgroup's limit where one is set); None where it
    cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        available = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read())
        if limit != "max":
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(available, 0)


def fit_host(wanted: int, per_member: int, available: int | None) -> int:
    """Members (at most ``wanted``; 0 when not even one fits) whose bytes fit in ``HOST_HEADROOM`` of
    ``available``."""
    if available is None or per_member <= 0:
        return wanted
    return max(0, min(wanted, math.floor(available * HOST_HEADROOM / per_member)))
