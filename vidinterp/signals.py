"""Signal handling shared by the long-running commands."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (`kill`, `timeout`, a pipeline shutting down) like Ctrl-C inside the block, so the same
    clean-up runs: `upsample` removes its temporary output, `train` saves a checkpoint first."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals can only be handled there, leave them alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
