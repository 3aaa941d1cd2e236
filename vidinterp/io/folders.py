"""Output folders (a training run, a frame cache, eval pictures): checked before any work, and not left behind
empty when the command fails.

`check_folder_target` refuses, in one line, a folder that could not be created or written into: the path (or a
folder on the way to it) is a file, or the nearest existing folder refuses a new file. The check tries a probe
file rather than trusting permission bits (root, read-only mounts, ACLs). `removed_if_left_empty` undoes the
folders a failed command created, as long as nothing was written into them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vidinterp.errors import VidinterpError


def _missing_folders(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def check_folder_target(path: str | os.PathLike, what: str) -> Path:
    """Refuse a folder `what` (e.g. "--out") could not be created or written into; returns it as a Path.

    Nothing is created: the nearest existing folder is probed with a file that is removed at once.
    """
    path = Path(path).expanduser()
    missing = _missing_folders(path)
    existing = missing[-1].parent if missing else path
    if os.path.islink(existing) and not existing.exists():
        raise VidinterpError(f"{what} '{path}': '{existing}' is a broken symbolic link")
    if not existing.is_dir():
        if existing == path:
            raise VidinterpError(f"{what} '{path}' is a file; give a folder (it is created if missing)")
        raise VidinterpError(f"{what} '{path}' cannot be created: '{existing}' is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".vidinterp-probe-", dir=existing)
    except OSError as exc:
        where = "" if existing == path else f" (in '{existing}')"
        raise VidinterpError(f"cannot write to {what} '{path}'{where}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)
    return path


@contextlib.contextmanager
def removed_if_left_empty(*folders: str | os.PathLike) -> Iterator[None]:
    """Run the block; if it fails, remove those of `folders` (and their parents) that did not exist before it and
    are still empty, so a command that stopped before writing anything leaves no trace."""
    created = [folder for path in folders for folder in _missing_folders(Path(path).expanduser())]
    try:
        yield
    except BaseException:
        for folder in created:  # deepest first: a parent empties once its children are gone
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
