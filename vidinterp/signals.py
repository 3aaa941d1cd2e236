"""Signal handling shared by the commands: Ctrl-C, SIGTERM and SIGHUP become exceptions that run the clean-up code.

Exit statuses follow the shell's 128 + signal number: 130 after Ctrl-C (SIGINT), 143 after SIGTERM, 129 after
SIGHUP (the terminal or ssh session went away; handled like SIGTERM). The first signal decides the status: more
signals during the clean-up do not change it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

#: exit statuses a shell reports for a process ended by these signals
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_HUNG_UP = 128 + signal.SIGHUP

#: the signals a command turns into a clean exit (SIGHUP where the platform has it)
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (`kill`, `timeout`, a pipeline shutting down, a closed terminal), raised like Ctrl-C so the
    same clean-up runs (`upsample` removes its temporary output, `train` saves a checkpoint); the CLI exits
    128 + `signum` (143, 129) instead of 130."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__()
        self.signum = signum


def exit_status(interrupt: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + interrupt.signum if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


def describe(signum: int | None) -> str:
    """The one word the CLI reports for a signal: 'interrupted' (Ctrl-C), 'terminated' (SIGTERM, SIGHUP)."""
    if signum == signal.SIGHUP:
        return "terminated (hangup)"
    return "terminated" if signum == signal.SIGTERM else "interrupted"


def interrupt_for(signum: int) -> KeyboardInterrupt:
    """The exception a handled signal raises."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Raise `Terminated` on SIGTERM inside the block; the previous handler is back afterwards.

    Under the CLI an `InterruptGuard` already does this (and keeps the first signal's exit status when more
    follow): its handler is left in place while it still raises (not a guard left absorbing after an earlier
    interrupt, as when commands run one after another in one process)."""
    try:
        guard = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
        if isinstance(guard, InterruptGuard) and guard.received == 0:
            yield
            return
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals can only be handled there, leave them alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class InterruptGuard:
    """For one command: the first Ctrl-C, SIGTERM or SIGHUP raises (KeyboardInterrupt / `Terminated`); later ones
    are absorbed with a note while the clean-up runs, instead of breaking into it, or into the interpreter's exit
    (atexit handlers), with a traceback. A third one ends the process at once, in case the clean-up hangs, with
    the exit status of the first.

    SIGINT and SIGHUP that the parent set to be ignored (a background job, nohup) stay ignored.
    """

    def __init__(self) -> None:
        self.received = 0
        #: the signal that raised (None until one arrives)
        self.first_signal: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def exit_status(self) -> int:
        """128 + the first signal's number."""
        return 128 + (self.first_signal or signal.SIGINT)

    def _handle(self, signum, frame) -> None:
        self.received += 1
        if self.first_signal is None:
            self.first_signal = signum
        if self.received == 1:
            raise interrupt_for(signum)
        if self.received == 2:
            os.write(2, b"vidinterp: still cleaning up; press Ctrl-C again to quit at once\n")
            return
        os._exit(self.exit_status)

    def install(self) -> None:
        for sig in HANDLED_SIGNALS:
            try:
                current = signal.getsignal(sig)
                if sig != signal.SIGTERM and current is signal.SIG_IGN:
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
