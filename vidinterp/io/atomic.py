"""Write-then-rename: an output file appears complete or not at all.

The data goes to a hidden temporary file in the target's folder (same file system, so the final
`os.replace` is atomic); a crash, an error or Ctrl-C leaves neither a partial target nor the temporary file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from vidinterp.errors import VidinterpError


def check_output_path(target: Path, *, overwrite: bool, inputs: tuple[Path, ...] = ()) -> Path:
    """Resolve `target` and refuse the cases that would lose data or cannot work; returns the resolved path."""
    resolved = target.expanduser().resolve()
    for source in inputs:
        if source.expanduser().resolve() == resolved:
            raise VidinterpError(f"output '{target}' is the input file; choose another output path (the input is never overwritten)")
    if resolved.is_dir():
        raise VidinterpError(f"output '{target}' is a folder; give a file name such as {target / 'out.mp4'}")
    if resolved.exists() and not overwrite:
        raise VidinterpError(f"output '{target}' already exists; pass --overwrite to replace it")
    folder = resolved.parent
    if not folder.is_dir():
        raise VidinterpError(f"output folder '{folder}' does not exist")
    # Try it rather than trust os.access (root, read-only mounts, ACLs): create and remove a probe file.
    try:
        fd, probe = tempfile.mkstemp(prefix=".vidinterp-probe-", dir=folder)
    except OSError as exc:
        raise VidinterpError(f"cannot write to the output folder '{folder}': {exc.strerror}") from None
    try:
        os.close(fd)
    finally:
        os.unlink(probe)
    return resolved


class AtomicFile:
    """A temporary path beside `target`; `commit()` renames it onto the target, `discard()` deletes it."""

    def __init__(self, target: Path, *, overwrite: bool) -> None:
        self.target = target
        self.overwrite = overwrite
        # Keep the extension last so that anything guessing the format from the name still can.
        try:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".partial{target.suffix}", dir=target.parent)
        except OSError as exc:
            raise VidinterpError(f"cannot create a file in '{target.parent}': {exc.strerror}") from None
        os.close(fd)
        self.path = Path(name)
        # mkstemp makes the file private (0600); give the result the permissions any new file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.path, 0o666 & ~umask)

    def commit(self) -> None:
        """Move the finished temporary file onto the target."""
        if self.target.exists() and not self.overwrite:
            self.discard()
            raise VidinterpError(f"output '{self.target}' appeared while writing; pass --overwrite to replace it")
        os.replace(self.path, self.target)

    def discard(self) -> None:
        """Delete the temporary file (no error if it is already gone)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write(temp_path)`, then rename the temp file onto `target` (replacing it); on any error or Ctrl-C
    the temp file is removed and `target` is left as it was."""
    staged = AtomicFile(Path(target), overwrite=True)
    try:
        write(staged.path)
        staged.commit()
    except BaseException:
        staged.discard()
        raise
