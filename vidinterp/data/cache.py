"""Decode each training source once into a uint8 memmap cache that later epochs and runs reuse.

Decoding H.264 is far slower than slicing a memmap, so every video (or frame folder) is decoded once, downscaled
so its short side is at most `cache_size`, and stored as one raw N×H×W×3 RGB uint8 file plus a small JSON index.
The cache key covers the source path, its mtime and size, and the cache parameters, so an edited source or other
parameters give a new entry; the stale entry of the same source is removed when the new one is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from vidinterp.data.sources import Source
from vidinterp.io.atomic import write_atomically

CACHE_VERSION = 1
# Counts real decodes (not cache hits); tests use it to prove a second run does not decode again.
DECODE_COUNT = 0


def default_cache_dir(data_dir: str | Path) -> Path:
    """`<DATA_DIR>/.vidinterp-cache` when DATA_DIR is writable, else a per-user folder keyed by its path."""
    data_dir = Path(data_dir).resolve()
    base = data_dir if data_dir.is_dir() else data_dir.parent
    if os.access(base, os.W_OK):
        return base / ".vidinterp-cache"
    digest = hashlib.sha1(str(base).encode()).hexdigest()[:16]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidinterp" / "train-cache" / digest


log = logging.getLogger("vidinterp.data")


def warn(message: str) -> None:
    """Default warning sink: a warning on the "vidinterp.data" logger."""
    log.warning("%s", message)


@dataclass(frozen=True)
class CachedClip:
    """A decoded source: `frames()` gives an N×H×W×3 RGB uint8 memmap (opened lazily, so it pickles cheaply)."""

    source: str
    data_path: str
    num_frames: int
    height: int
    width: int

    def frames(self) -> np.ndarray:
        """Read-only memmap N×H×W×3 uint8 RGB."""
        return _open_memmap(self.data_path, (self.num_frames, self.height, self.width, 3))


_MEMMAPS: dict[str, np.ndarray] = {}


def _open_memmap(path: str, shape: tuple[int, ...]) -> np.ndarray:
    # One map per process and file: DataLoader workers each open their own instead of inheriting pickled copies.
    key = f"{os.getpid()}:{path}"
    array = _MEMMAPS.get(key)
    if array is None:
        array = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
        _MEMMAPS[key] = array
    return array


@dataclass
class CacheReport:
    """What `build_cache` did: usable clips, how many were decoded now vs reused, and which sources were skipped."""

    clips: list[CachedClip] = field(default_factory=list)
    decoded: int = 0
    reused: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def scaled_size(width: int, height: int, cache_size: int) -> tuple[int, int]:
    """(width, height) with the short side at most `cache_size`, aspect kept; never upscales (0 = keep size)."""
    short = min(width, height)
    if cache_size <= 0 or short <= cache_size:
        return width, height
    scale = cache_size / short
    return max(1, round(width * scale)), max(1, round(height * scale))


def cache_key(source: Source, cache_size: int, max_frames: int) -> str:
    """Hex key from the source path, its (mtime, size) fingerprint, and the cache parameters."""
    mtime, size = source.fingerprint()
    text = json.dumps([CACHE_VERSION, str(source.path.resolve()), mtime, size, cache_size, max_frames])
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _iter_video_frames(source: Source, cache_size: int):
    """Yield H×W×3 uint8 RGB frames of a video, downscaled to the cache size."""
    with av.open(str(source.path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            width, height = scaled_size(frame.width, frame.height, cache_size)
            yield frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")


def _iter_folder_frames(source: Source, cache_size: int):
    """Yield the images of a frame folder in natural order, all resized to the first image's cached size."""
    size = None
    for path in source.frames:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            if size is None:
                size = scaled_size(frame.width, frame.height, cache_size)
            yield frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")


def _decode_into(source: Source, data_tmp: Path, cache_size: int, max_frames: int, on_frame) -> tuple[int, int, int]:
    """Decode `source` into the raw file `data_tmp`; return (frames, height, width)."""
    global DECODE_COUNT
    DECODE_COUNT += 1
    frames = (
        _iter_folder_frames(source, cache_size) if source.is_frame_folder else _iter_video_frames(source, cache_size)
    )
    count, shape = 0, None
    with open(data_tmp, "wb") as out:
        try:
            for image in frames:
                if shape is None:
                    shape = image.shape
                elif image.shape != shape:
                    raise ValueError(
                        f"frame size changed mid-stream ({shape[1]}x{shape[0]} -> {image.shape[1]}x{image.shape[0]})"
                    )
                out.write(np.ascontiguousarray(image).tobytes())
                count += 1
                on_frame()
                if max_frames and count >= max_frames:
                    break
        except (av.FFmpegError, ValueError, OSError, StopIteration) as exc:
            # A damaged tail still leaves usable frames; a damaged head leaves nothing and the source is skipped.
            if count < 2:
                raise
            warn(f"{source.path}: decoding stopped after {count} frames ({exc}); using those")
    if shape is None:
        raise ValueError("no frames decoded")
    return count, shape[0], shape[1]


def _decode_entry(source: Source, data_path: Path, cache_size: int, max_frames: int, on_frame) -> tuple[int, int, int]:
    """`_decode_into` a temporary file that replaces `data_path` once decoding succeeded."""
    decoded: list[tuple[int, int, int]] = []
    write_atomically(data_path, lambda tmp: decoded.append(_decode_into(source, tmp, cache_size, max_frames, on_frame)))
    return decoded[0]


def _frame_counter(bar, task) -> Callable[[], None]:
    """An `on_frame` callback that shows the decoded frame count every 16 frames."""
    count = 0

    def on_frame() -> None:
        nonlocal count
        count += 1
        if count % 16 == 0:
            bar.update(task, frames=count)

    return on_frame


def _load_index(index_path: Path) -> CachedClip | None:
    try:
        meta = json.loads(index_path.read_text())
        data_path = index_path.with_suffix(".u8")
        clip = CachedClip(meta["source"], str(data_path), meta["num_frames"], meta["height"], meta["width"])
        if data_path.stat().st_size != clip.num_frames * clip.height * clip.width * 3:
            return None
        return clip
    except (OSError, ValueError, KeyError):
        return None


def _remove_stale(cache_dir: Path, source_path: str, keep: str) -> None:
    """Delete older entries of the same source (edited file or other parameters) so the cache does not grow forever."""
    for index_path in cache_dir.glob("*.json"):
        if index_path.stem == keep:
            continue
        try:
            if json.loads(index_path.read_text()).get("source") == source_path:
                index_path.unlink(missing_ok=True)
                index_path.with_suffix(".u8").unlink(missing_ok=True)
        except (OSError, ValueError):
            continue


def build_cache(
    sources: list[Source],
    cache_dir: str | Path,
    cache_size: int = 540,
    max_frames: int = 0,
    progress: bool = True,
    on_warning: Callable[[str], None] = warn,
) -> CacheReport:
    """Make sure every source has a cache entry; decode only those that do not.

    Unreadable sources are reported through `on_warning` and left out; they never stop the run. `max_frames` > 0
    keeps only the first frames of long videos (bounds disk use). Entries are written atomically
    (`vidinterp.io.atomic.write_atomically`), raw data first and index last, so a killed build leaves no half entry.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    report = CacheReport()
    todo: list[tuple[Source, str]] = []
    for source in sources:
        try:
            key = cache_key(source, cache_size, max_frames)
        except OSError as exc:
            on_warning(f"skipping {source.path}: {exc}")
            report.skipped.append((str(source.path), str(exc)))
            continue
        clip = _load_index(cache_dir / f"{key}.json")
        if clip is not None:
            report.clips.append(clip)
            report.reused += 1
        else:
            todo.append((source, key))
    if not todo:
        return report

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("caching {task.fields[name]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[frames]} frames"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task("cache", total=len(todo), name="", frames=0)
        for source, key in todo:
            bar.update(task, name=source.path.name, frames=0)
            data_path, index_path = cache_dir / f"{key}.u8", cache_dir / f"{key}.json"
            try:
                count, height, width = _decode_entry(
                    source, data_path, cache_size, max_frames, _frame_counter(bar, task)
                )
            except Exception as exc:  # noqa: BLE001 - any failure of one source must not stop the run
                message = str(exc) or type(exc).__name__
                on_warning(f"skipping {source.path}: cannot decode ({message})")
                report.skipped.append((str(source.path), message))
                bar.advance(task)
                continue
            mtime, size = source.fingerprint()
            meta = {
                "version": CACHE_VERSION,
                "source": str(source.path.resolve()),
                "mtime_ns": mtime,
                "size": size,
                "cache_size": cache_size,
                "max_frames": max_frames,
                "num_frames": count,
                "height": height,
                "width": width,
                "dtype": "uint8",
                "layout": "NHWC RGB",
            }
            # The index last: an entry without one is not an entry, and is decoded again next time.
            write_atomically(index_path, lambda tmp: tmp.write_text(json.dumps(meta, indent=1)))  # noqa: B023
            _remove_stale(cache_dir, meta["source"], keep=key)
            report.clips.append(CachedClip(meta["source"], str(data_path), count, height, width))
            report.decoded += 1
            bar.advance(task)
    # Keep the order of `sources` so splits and sampling do not depend on which entries were cached before.
    order = {str(s.path.resolve()): i for i, s in enumerate(sources)}
    report.clips.sort(key=lambda c: order.get(c.source, len(order)))
    return report
