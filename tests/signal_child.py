"""A process started under :func:`ganbench.signals.blocked_for_children` (a light module: spawn imports it)."""

from __future__ import annotations

import os
import signal


def report_start(queue) -> None:
    """Tell whether the stop signals came blocked; take a SIGTERM while still starting (a group's signal, meant
    for the driver), then leave the group as a worker does and tell that it is alive and on its own."""
    from ganbench.signals import leave_the_group

    blocked = set(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    queue.put({signal.SIGINT, signal.SIGTERM} <= blocked)
    os.kill(os.getpid(), signal.SIGTERM)  # pending: blocked
    leave_the_group()
    queue.put(os.getpgrp() == os.getpid() and not set(signal.pthread_sigmask(signal.SIG_BLOCK, [])) & blocked)
