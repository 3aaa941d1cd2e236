"""Standard streams the command was started without (`<&-`, `>&-`, `2>&-`, as cron and some service managers do).

Python leaves `sys.stdin`/`sys.stdout`/`sys.stderr` as None then, and the file descriptor free: the next file
the process opens would take its number, and whatever is written to "stdout" would land in it. `reopen_closed`
puts /dev/null on each closed descriptor first and remembers which were closed, so that a command that needs
one ('-' as IN or OUT, `doctor`'s report) can say so in one line, and the others run as usual.
"""

from __future__ import annotations

import os
import sys

_NAMES = ("stdin", "stdout", "stderr")
_closed: set[str] = set()


def reopen_closed() -> set[str]:
    """Give every closed standard descriptor /dev/null; returns the names of those that were closed."""
    for fd, name in enumerate(_NAMES):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        devnull = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
        mode = "r" if fd == 0 else "w"
        setattr(sys, name, open(fd, mode, closefd=False, encoding="utf-8", errors="backslashreplace"))
        _closed.add(name)
    return set(_closed)


def is_closed(name: str) -> bool:
    """True if the standard stream `name` ('stdin', 'stdout', 'stderr') was closed when the command started (or is
    missing, as under an embedding application)."""
    return name in _closed or getattr(sys, name, None) is None
