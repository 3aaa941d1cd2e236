"""Write-then-rename: an output file (or a checkpoint folder) appears complete or not at all.

The one place where vidinterp replaces files: outputs, model weights, checkpoints, the training frame cache and
run logs all go through `AtomicFile` / `write_atomically` (one file) or `replace_folder` (a folder).

The data goes to a hidden temporary file in the target's folder (same file system, so the final
`os.replace` is atomic) and is flushed to disk (fsync) before the rename, so that a power loss right after it
cannot leave an empty file under the target's name; an error or Ctrl-C leaves neither a partial target nor the
temporary file. A process
killed outright (SIGKILL, power loss) cannot clean up: its temporary file carries its process id, and the next
run that writes the same target removes it once that process is gone.

Only regular files are ever replaced. An existing FIFO or character device (`/dev/null`) is written into as
a stream instead (`is_stream_target`); anything else that is not a regular file is refused.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vidinterp.errors import VidinterpError
from vidinterp.io.paths import os_error_message, resolve

log = logging.getLogger("vidinterp.io")

#: temporary files without a process id (written by earlier versions) count as stale after this long
STALE_SECONDS = 3600


def is_stream_target(path: str | Path) -> bool:
    """True for '-' and for an existing FIFO or character device: written in order, never replaced."""
    if str(path) == "-":
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _check_special(target: Path, resolved: Path) -> bool:
    """True if the existing `resolved` is a FIFO or character device to stream into; refuse other non-files."""
    mode = resolved.stat().st_mode
    if stat.S_ISREG(mode):
        return False
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        if stat.S_ISCHR(mode) and os.path.realpath(resolved) != os.devnull:
            try:
                fd = os.open(resolved, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                raise VidinterpError(f"cannot write to the device '{target}': {exc.strerror}") from None
            try:
                if os.isatty(fd):
                    raise VidinterpError(f"output '{target}' is a terminal; write to a file or pipe it elsewhere")
            finally:
                os.close(fd)
        return True
    kind = "block device" if stat.S_ISBLK(mode) else "socket" if stat.S_ISSOCK(mode) else "special file"
    raise VidinterpError(
        f"output '{target}' is a {kind}; vidinterp writes regular files, FIFOs and character devices such as /dev/null"
    )


def check_output_path(target: Path, *, overwrite: bool, inputs: tuple[Path, ...] = ()) -> Path:
    """Resolve `target` and refuse the cases that would lose data or cannot work; returns the resolved path.

    A FIFO or character device is returned as given: `/dev/stdout` or `>(...)` (/dev/fd/63) resolve to a
    '/proc/<pid>/fd/pipe:[...]' name that cannot be opened, while the name given can."""
    try:
        mode = os.stat(target).st_mode
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENAMETOOLONG):
            raise VidinterpError(os_error_message(exc, target, "cannot write the output")) from None
        mode = None
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        _check_special(target, Path(target))
        return Path(target)
    resolved = resolve(target, "cannot write the output")
    for source in inputs:
        if resolve(source, "cannot read the input") == resolved:
            raise VidinterpError(
                f"output '{target}' is the input file; choose another output path (the input is never overwritten)"
            )
    if resolved.is_dir():
        raise VidinterpError(f"output '{target}' is a folder; give a file name such as {target / 'out.mp4'}")
    if resolved.exists() and _check_special(target, resolved):
        return resolved  # a FIFO or device: written into as it is (nothing is replaced, no --overwrite needed)
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
        remove_stale_partials(target)
        # Keep the extension last so that anything guessing the format from the name still can; the process id
        # lets a later run tell a file left by a killed process from one that another run is still writing.
        try:
            fd, name = tempfile.mkstemp(
                prefix=f".{_stem(target)}.{os.getpid()}.", suffix=f".partial{target.suffix}", dir=target.parent
            )
        except OSError as exc:
            raise VidinterpError(f"cannot create a file in '{target.parent}': {exc.strerror}") from None
        os.close(fd)
        self.path = Path(name)
        # mkstemp makes the file private (0600); give the result the permissions any new file would get.
        os.chmod(self.path, new_file_mode())

    def commit(self) -> None:
        """Flush the finished temporary file to disk and move it onto the target."""
        if self.target.exists() and not self.overwrite:
            self.discard()
            raise VidinterpError(f"output '{self.target}' appeared while writing; pass --overwrite to replace it")
        try:
            fsync_file(self.path)
            os.replace(self.path, self.target)
        except FileNotFoundError:
            self.discard()
            raise VidinterpError(
                f"the output folder '{self.target.parent}' was removed while writing; nothing was written"
            ) from None

    def discard(self) -> None:
        """Delete the temporary file (no error if it is already gone)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def new_file_mode() -> int:
    """The permissions a newly created file gets under the current umask (tempfile's files are private 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_file(path: Path) -> None:
    """Flush a written file's data to disk, so that a rename onto it is durable."""
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def fsync_tree(folder: Path) -> None:
    """`fsync_file` for every file directly inside `folder`."""
    for path in Path(folder).iterdir():
        if path.is_file():
            fsync_file(path)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return True
    return True


def _stem(target: Path) -> str:
    """The target's name as temporary names carry it: cut short so that they stay within a file name's 255 bytes
    (a long target name must not make its own temporary file impossible)."""
    name = target.name
    return name if len(name.encode()) <= 200 else name.encode()[:200].decode(errors="ignore")


def stale_leftovers(folder: Path, prefix: str, suffix: str, separator: str, kind: Callable[[int], bool]) -> list[Path]:
    """Entries of `folder` named `prefix` + `PID` + `separator` + ... + `suffix` whose mode passes `kind` (e.g.
    `stat.S_ISREG`), left by runs that were killed outright: those whose process is gone, and those of earlier
    versions (no process id in the name) that nobody has touched for `STALE_SECONDS`."""
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)]
    except OSError:
        return []
    stale = []
    for path in candidates:
        middle = path.name[len(prefix) : -len(suffix)]
        pid_text = middle.split(separator, 1)[0]
        try:
            info = path.lstat()
        except OSError:
            continue
        if not kind(info.st_mode):
            continue
        if separator in middle and pid_text.isdigit():
            if not process_alive(int(pid_text)):
                stale.append(path)
        elif time.time() - info.st_mtime > STALE_SECONDS:
            stale.append(path)
    return stale


def remove_stale_partials(target: Path) -> int:
    """Delete temporary files of `target` left by killed runs (their process is gone); returns how many."""
    prefix, suffix = f".{_stem(target)}.", f".partial{target.suffix}"
    removed = 0
    for path in stale_leftovers(target.parent, prefix, suffix, ".", stat.S_ISREG):
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue
    if removed:
        log.info(
            "removed %d temporary file%s of %s left by an interrupted run",
            removed,
            "s" if removed > 1 else "",
            target.name,
        )
    return removed


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


def replace_folder(target: Path, write: Callable[[Path], None]) -> Path:
    """Write a folder's contents with `write(tmp_folder)`, flush them, then swap the folder in for `target`.

    The old folder is moved aside to `.NAME.old` for the moment between the two renames, so a crash there leaves
    it findable (`find_folder`); an error or Ctrl-C in `write` leaves `target` as it was.
    """
    target = Path(target)
    tmp, old = target.with_name(f".{target.name}.tmp"), _old_folder(target)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def find_folder(target: Path) -> Path | None:
    """`target`, or its `.old` copy left by a crash in the middle of `replace_folder`, or None."""
    target = Path(target)
    if target.is_dir():
        return target
    old = _old_folder(target)
    return old if old.is_dir() else None


def _old_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")
