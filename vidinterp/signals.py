"""Signal handling shared by the commands: Ctrl-C and SIGTERM become exceptions that run the clean-up code.

Exit statuses follow the shell's 128 + signal number: 130 after Ctrl-C (SIGINT), 143 after SIGTERM.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

#: exit statuses a shell reports for a process ended by these signals
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a pipeline shutting down), raised like Ctrl-C so the same clean-up runs
    (`upsample` removes its temporary output, `train` saves a checkpoint); the CLI exits 143 instead of 130."""


def exit_status(interrupt: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


def _raise_terminated(signum, frame):
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Raise `Terminated` on SIGTERM inside the block; the previous handler is back afterwards."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals can only be handled there, leave them alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class InterruptGuard:
    """For one command: the first Ctrl-C or SIGTERM raises (KeyboardInterrupt / `Terminated`); later ones are
    absorbed with a note while the clean-up runs, instead of breaking into it, or into the interpreter's exit
    (atexit handlers), with a traceback. A third one ends the process at once, in case the clean-up hangs.

    SIGINT that the parent set to be ignored (a background job, nohup) stays ignored.
    """

    def __init__(self) -> None:
        self.received = 0
        #: the signal that raised (None until one arrives)
        self.first_signal: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        self.received += 1
        if self.received == 1:
            self.first_signal = signum
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if self.received == 2:
            os.write(2, b"vidinterp: still cleaning up; press Ctrl-C again to quit at once\n")
            return
        os._exit(EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED)

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                current = signal.getsignal(sig)
                if sig == signal.SIGINT and current is signal.SIG_IGN:
                    continue
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (an embedding application): leave its signals alone
                return

    def absorb_further(self) -> None:
        """After an interrupt, on the way out: the next signal only prints the note (does not raise)."""
        self.received = max(self.received, 1)

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
