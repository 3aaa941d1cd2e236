"""Paths the file system refuses (a name too long, a loop of symbolic links, a folder gone): one clear line each.

`resolve` and `os_error_message` turn what `pathlib` and `os` raise for such paths into `VidinterpError`s that
name the path (shortened: a 300-character name is not repeated in full) and say what is wrong with it.
"""

from __future__ import annotations

import errno
from pathlib import Path

from vidinterp.errors import VidinterpError

#: longest path shown in a message; longer ones keep their start and end
_SHOWN = 80
#: longest file name (one path component) most file systems take, in bytes
NAME_MAX = 255


def shown(path: str | Path) -> str:
    """The path for a message: as given, or its start and end around '…' when very long."""
    text = str(path)
    return text if len(text) <= _SHOWN else f"{text[:40]}…{text[-(_SHOWN - 41):]}"


def os_error_message(exc: OSError, path: str | Path, doing: str) -> str:
    """'cannot write 'out.mp4': No space left on device', with a plainer reason for the errors paths cause."""
    where = shown(exc.filename if path is None else path)
    if exc.errno == errno.ENAMETOOLONG:
        longest = max((len(part.encode()) for part in Path(str(path)).parts), default=0)
        return (f"{doing} '{where}': the name is too long ({longest} bytes in one part of the path; file systems "
                f"take {NAME_MAX})")
    if exc.errno == errno.ELOOP:
        return f"{doing} '{where}': its symbolic links form a loop"
    return f"{doing} '{where}': {exc.strerror or exc}"


def resolve(path: str | Path, doing: str) -> Path:
    """`Path(path).expanduser().resolve()`, or a one-line VidinterpError for a symlink loop or a name too long."""
    try:
        return Path(path).expanduser().resolve()
    except RuntimeError:  # Python before 3.13 reports a symlink loop as RuntimeError
        raise VidinterpError(f"{doing} '{shown(path)}': its symbolic links form a loop") from None
    except OSError as exc:
        raise VidinterpError(os_error_message(exc, path, doing)) from None
