"""Write frames as a numbered PNG sequence (`out/%06d.png`): lossless, 16-bit when the frames are.

Frames are staged in a hidden folder beside their final place and moved into it only when the whole run
succeeded, each with one atomic rename: an error or Ctrl-C part-way leaves no new file behind, and a reader
never sees a half-written PNG. Existing files matching the pattern are refused unless `overwrite` is set, so
two runs cannot silently mix their frames in one folder; the input's own images are never overwritten.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

from vidinterp.errors import UsageError, VidinterpError
from vidinterp.io.atomic import fsync_tree, new_file_mode, stale_leftovers
from vidinterp.io.frames import VideoFrame
from vidinterp.io.images import encode_png
from vidinterp.io.sequence import format_number, is_pattern, pattern_regex

log = logging.getLogger("vidinterp.io")

#: File number of the first frame written (ffmpeg's image2 muxer starts at 1 too).
DEFAULT_START_NUMBER = 1
#: staging folders are named .vidinterp-frames-<pid>-<random>.partial
_STAGING_PREFIX, _STAGING_SUFFIX = ".vidinterp-frames-", ".partial"


def check_sequence_output(pattern: str | Path) -> Path:
    """Refuse patterns that cannot work before anything is decoded; returns the pattern as a Path."""
    pattern = Path(pattern)
    if not is_pattern(pattern):
        raise UsageError(f"'{pattern}' is not an image-sequence pattern; put one %d (e.g. %06d) in the file name")
    if pattern.suffix.lower() != ".png":
        raise UsageError(
            f"image sequences are written as lossless PNG; name the output like '{pattern.with_suffix('.png')}'"
        )
    if is_pattern(pattern.parent):
        raise UsageError(f"'{pattern}': only the file name may hold the frame number (%d), not the folder")
    return pattern


def remove_stale_staging(folder: Path) -> int:
    """Delete staging folders in `folder` left by runs that were killed outright (SIGKILL, power loss): those whose
    process is gone, and those of earlier versions (no process id) untouched for an hour. Returns how many."""
    stale = stale_leftovers(folder, _STAGING_PREFIX, _STAGING_SUFFIX, "-", stat.S_ISDIR)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    removed = len(stale)
    if removed:
        log.info("removed %d staging folder%s left in '%s' by an interrupted run", removed, "s" if removed > 1 else "",
                 folder)
    return removed


def _matching_files(folder: Path, name_pattern: str) -> list[Path]:
    if not folder.is_dir():
        return []
    regex = pattern_regex(name_pattern)
    return sorted(entry for entry in folder.iterdir() if regex.match(entry.name))


class ImageSequenceWriter:
    """Writes frame k to `pattern % (start_number + k)`; same `write`/`close`/context-manager use as VideoWriter.

    pattern: e.g. 'out/%06d.png'; its folder is created (on success) when missing.
    inputs: files that must never be overwritten (the input's images).
    """

    def __init__(
        self,
        pattern: str | Path,
        *,
        width: int,
        height: int,
        start_number: int = DEFAULT_START_NUMBER,
        overwrite: bool = False,
        inputs: tuple[Path, ...] = (),
    ) -> None:
        self.pattern = check_sequence_output(pattern)
        if isinstance(start_number, bool) or not isinstance(start_number, int) or start_number < 0:
            raise UsageError(f"--start-number must be a whole number of at least 0, got {start_number!r}")
        self.width, self.height = width, height
        self.start_number = start_number
        self.overwrite = overwrite
        self.frames_written = 0
        # write() runs on the encode thread while Ctrl-C aborts from the main one: never delete the staging
        # folder under a frame being written (it could be recreated half-full).
        self._lock = threading.RLock()
        self.folder = self.pattern.parent.expanduser().resolve()
        self._name = self.pattern.name
        protected = {Path(path).expanduser().resolve() for path in inputs}
        existing = _matching_files(self.folder, self._name)
        clash = [path for path in existing if path in protected]
        if clash:
            raise VidinterpError(
                f"output '{pattern}' would overwrite the input image '{clash[0]}'; choose another output"
            )
        if existing and not overwrite:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise VidinterpError(
                f"output '{pattern}' would replace '{existing[0]}'{more}; pass --overwrite to replace them"
            )
        self._protected = protected
        self._replaced = set(existing)
        # Staging lives in the same file system as the result, so every final move is a rename.
        staging_parent = self.folder if self.folder.is_dir() else self.folder.parent
        if not staging_parent.is_dir():
            raise VidinterpError(f"output folder '{staging_parent}' does not exist")
        remove_stale_staging(staging_parent)
        try:
            # The process id tells a later run whether the run that made the folder is gone (killed outright).
            self._staging: Path | None = Path(
                tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", suffix=_STAGING_SUFFIX, dir=staging_parent)
            )
        except OSError as exc:
            raise VidinterpError(f"cannot write to the output folder '{staging_parent}': {exc.strerror}") from None

    def _name_of(self, k: int) -> str:
        return format_number(self._name, self.start_number + k)

    def write(self, frame: VideoFrame) -> None:
        """Encode the next frame as PNG into the staging folder (its time is implied by its number)."""
        image = frame.image
        if image.shape != (self.height, self.width, 3):
            raise ValueError(f"frame is {image.shape}, writer expects {(self.height, self.width, 3)}")
        data = encode_png(image)
        with self._lock:
            if self._staging is None:
                raise VidinterpError("the image-sequence writer is already closed")
            try:
                (self._staging / self._name_of(self.frames_written)).write_bytes(data)
            except FileNotFoundError:
                raise VidinterpError(
                    f"the output folder '{self._staging.parent}' was removed while writing; nothing was written"
                ) from None
            self.frames_written += 1

    def close(self) -> None:
        """Move every staged frame into place (one rename each), then remove the staging folder."""
        with self._lock:
            if self._staging is None:
                return
            staging, self._staging = self._staging, None
            try:
                self._commit(staging)
            except FileNotFoundError:
                raise VidinterpError(
                    f"the output folder '{staging.parent}' was removed while writing; nothing was written"
                ) from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def _commit(self, staging: Path) -> None:
        names = [self._name_of(k) for k in range(self.frames_written)]
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = self.folder / name
            if target in self._protected:
                raise VidinterpError(f"output '{target}' is an input image; it is never overwritten")
            if target.exists() and not self.overwrite:
                raise VidinterpError(f"output '{target}' appeared while writing; pass --overwrite to replace it")
        mode = new_file_mode()  # like any new file, not tempfile's private 0600
        fsync_tree(staging)  # on disk before any rename makes a frame visible
        for name in names:
            os.chmod(staging / name, mode)
            os.replace(staging / name, self.folder / name)
        left = self._replaced - {self.folder / name for name in names}
        if left:
            log.warning(
                "%d older file%s matching '%s' outside the frames written now %s left as they were",
                len(left),
                "s" if len(left) > 1 else "",
                self.pattern,
                "were" if len(left) > 1 else "was",
            )

    def abort(self) -> None:
        """Drop every staged frame: nothing of this run appears."""
        locked = self._lock.acquire(timeout=5)  # a frame being written elsewhere; the folder goes either way
        try:
            if self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
                self._staging = None
        finally:
            if locked:
                self._lock.release()

    def __enter__(self) -> ImageSequenceWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
