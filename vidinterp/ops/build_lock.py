"""An inter-process lock for the just-in-time kernel build that cannot wait forever on a dead build.

torch's `cpp_extension.load` guards its build folder with a bare lock file (`lock`) and waits for it to vanish,
with no timeout and no word: a build killed mid-way (Ctrl-C, OOM, a lost job) leaves it behind, and every later
run hangs silently. Builds are therefore serialised by this lock, around torch's: its file records the owner's
host, pid and start time, so a lock whose owner is gone is recognised and removed, a live one is waited for with
one message, and a wait longer than the timeout fails with a message naming the file. While this lock is held no
other vidinterp build uses the folder, so a torch `lock` found there was left by an interrupted build and is
removed.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# VIDINTERP_BUILD_LOCK_TIMEOUT is read with the other settings (default DEFAULT_BUILD_LOCK_TIMEOUT_S there)
from vidinterp.execution.settings import build_lock_timeout

log = logging.getLogger(__name__)

OWNER_FILE = "vidinterp-build.owner"
TORCH_LOCK_FILE = "lock"  # the name torch.utils.cpp_extension's FileBaton uses in the build folder
#: An owner writes its one line right after creating the file: an unreadable file older than this was left corrupt.
UNREADABLE_STALE_S = 10.0


class BuildLockTimeout(RuntimeError):
    """Another build held the lock for longer than the timeout."""


def _owner(path: Path) -> tuple[str, int, float] | None:
    """(host, pid, start time) recorded in a lock file, or None when it is unreadable or half-written."""
    try:
        host, pid, started = path.read_text().split()
        return host, int(pid), float(started)
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _stale(path: Path, timeout_s: float) -> str | None:
    """Why the lock at `path` is stale (its owner is gone), or None when it may still be held."""
    owner = _owner(path)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return "released"
    if owner is None:
        # Unreadable: either written this instant or left corrupt; only its age can tell.
        return f"unreadable and {age:.0f} s old" if age > UNREADABLE_STALE_S else None
    host, pid, _ = owner
    if host == socket.gethostname():
        return None if _pid_alive(pid) else f"its owner (pid {pid}) is no longer running"
    # Another host sharing the cache folder: its pids cannot be checked here.
    return f"held by {host} for {age:.0f} s" if age > timeout_s else None


@contextmanager
def build_lock(folder: Path, timeout_s: float | None = None, poll_s: float = 0.5) -> Iterator[None]:
    """Hold the build lock of `folder` (created if needed); raise BuildLockTimeout after `timeout_s` of waiting."""
    timeout_s = build_lock_timeout() if timeout_s is None else timeout_s
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / OWNER_FILE
    deadline = time.monotonic() + timeout_s
    waiting_said = False
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            why = _stale(path, timeout_s)
            if why is not None:
                if why != "released":
                    log.warning("removing a stale kernel build lock (%s): %s", why, path)
                path.unlink(missing_ok=True)
                continue
            owner = _owner(path)
            who = f"pid {owner[1]} on {owner[0]}" if owner else "another process"
            if time.monotonic() >= deadline:
                raise BuildLockTimeout(
                    f"another build of the vidinterp CUDA kernels ({who}) has held {path} for over {timeout_s:.0f} s;"
                    f" if no such build is running, delete that file and retry"
                    f" (VIDINTERP_BUILD_LOCK_TIMEOUT sets the wait)"
                ) from None
            if not waiting_said:
                log.info("waiting for another build of the CUDA kernels to finish (%s holds %s)", who, path)
                waiting_said = True
            time.sleep(poll_s)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{socket.gethostname()} {os.getpid()} {time.time():.3f}\n")
        break
    try:
        torch_lock = folder / TORCH_LOCK_FILE
        if torch_lock.exists():
            log.warning("removing torch's build lock left by an interrupted build: %s", torch_lock)
            torch_lock.unlink(missing_ok=True)
        yield
    finally:
        path.unlink(missing_ok=True)
