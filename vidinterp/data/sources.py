"""Find training material under a folder: video files (anything PyAV reads) and folders of numbered frames."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# Extensions tried as videos. PyAV reads many more; these are the ones people keep footage in.
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mkv",
        ".avi",
        ".mov",
        ".webm",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".m2ts",
        ".flv",
        ".wmv",
        ".ogv",
        ".y4m",
        ".nut",
    }
)
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


def natural_key(name: str) -> list:
    """Sort key that orders 'frame2' before 'frame10' (digits compared as numbers)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class Source:
    """One training source: a video file (`frames` empty) or a folder of frames (`frames` in natural order)."""

    path: Path
    frames: tuple[Path, ...] = ()

    @property
    def is_frame_folder(self) -> bool:
        return bool(self.frames)

    def fingerprint(self) -> tuple[int, int]:
        """(mtime_ns, size) that changes whenever the source's content plausibly changes."""
        if not self.frames:
            stat = self.path.stat()
            return stat.st_mtime_ns, stat.st_size
        # A folder changes when any frame changes, or frames are added or removed.
        stats = [frame.stat() for frame in self.frames]
        return max(s.st_mtime_ns for s in stats), sum(s.st_size for s in stats) + len(stats)


def discover_sources(root: str | Path, skip_dirs: tuple[str, ...] = (".vidinterp-cache",)) -> list[Source]:
    """All videos and frame folders under `root`, recursively, in a stable (natural path) order.

    A folder counts as a frame sequence when it directly holds at least two images. Hidden folders and the
    cache folder are ignored, so a cache kept inside the data folder is never mistaken for data.
    """
    root = Path(root)
    if root.is_file():
        return [Source(root)]
    sources: list[Source] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".") and d not in skip_dirs), key=natural_key)
        here = Path(dirpath)
        images = sorted((f for f in filenames if Path(f).suffix.lower() in IMAGE_EXTENSIONS), key=natural_key)
        if len(images) >= 2:
            sources.append(Source(here, tuple(here / f for f in images)))
        for name in sorted(filenames, key=natural_key):
            if Path(name).suffix.lower() in VIDEO_EXTENSIONS and not name.startswith("."):
                sources.append(Source(here / name))
    return sources
