"""Which training footage a run may use: source patterns to train on, and clips or frame ranges held out of it.

A recipe names what it keeps apart for the selection set (`vidinterp.data.selection`) as "PATTERN" (a whole
source) or "PATTERN@FIRST-LAST" (frames FIRST..LAST of the source, 0-based, inclusive, at its own frame rate).
Patterns are fnmatch patterns on the source's path relative to the data folder, with forward slashes.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from vidinterp.errors import UsageError


@dataclass(frozen=True)
class Holdout:
    """A held-out source pattern and frame range (`last` None: to the end)."""

    pattern: str
    first: int = 0
    last: int | None = None

    def covers(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)

    @property
    def whole(self) -> bool:
        return self.first == 0 and self.last is None


def parse_holdout(spec: str) -> Holdout:
    """"a/b.mp4" → whole clip; "a/b.mp4@120-179" → frames 120..179; UsageError on anything else."""
    pattern, sep, frames = spec.partition("@")
    if not pattern:
        raise UsageError(f"holdout {spec!r}: empty source pattern")
    if not sep:
        return Holdout(pattern)
    first, dash, last = frames.partition("-")
    try:
        low, high = int(first), int(last) if dash and last else None
    except ValueError:
        raise UsageError(f"holdout {spec!r}: frames must be FIRST-LAST (e.g. clip.mp4@120-179)") from None
    if low < 0 or (high is not None and high < low):
        raise UsageError(f"holdout {spec!r}: the frame range is empty")
    return Holdout(pattern, low, high)


def relative_name(path: str | Path, data_dir: str | Path) -> str:
    """The source's path relative to the data folder, with forward slashes (what patterns match)."""
    path, root = Path(path).resolve(), Path(data_dir).resolve()
    try:
        return path.relative_to(root).as_posix() if root.is_dir() else path.name
    except ValueError:
        return path.as_posix()


def wanted(name: str, sources: list[str], holdouts: list[Holdout]) -> bool:
    """Whether a source takes part in training: it matches `sources` (or that is empty) and no whole-clip hold-out."""
    if sources and not any(fnmatch.fnmatchcase(name, p) for p in sources):
        return False
    return not any(h.whole and h.covers(name) for h in holdouts)


def blocked_frames(name: str, holdouts: list[Holdout]) -> list[tuple[int, int | None]]:
    """Frame ranges of this source held out (partial hold-outs only)."""
    return [(h.first, h.last) for h in holdouts if not h.whole and h.covers(name)]


def overlaps(start: int, length: int, ranges: list[tuple[int, int | None]]) -> bool:
    """Whether frames start..start+length-1 touch any range."""
    end = start + length - 1
    return any(end >= first and (last is None or start <= last) for first, last in ranges)
