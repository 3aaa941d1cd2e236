"""The frame-drop protocol: evaluate an interpolator on any video by hiding frames and predicting them back.

With drop k, frames 0, k, 2k, ... are kept; each run of k − 1 frames between two kept frames is dropped and
interpolated from those two, at t = (time − time_before) / (time_after − time_before) (so m/k for a constant
frame rate, and still right for variable frame rates). Frames after the last kept frame have no right
neighbour and are not evaluated: n frames give (n − 1) // k groups and ((n − 1) // k) · (k − 1) compared frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from vidinterp.errors import UsageError
from vidinterp.io.frames import VideoFrame

#: keep every second frame and score the one between (the interpolation a 2× retime does)
DEFAULT_DROP = 2


@dataclass(frozen=True)
class DropGroup:
    """Two kept frames and the real frames between them that the interpolator must recreate."""

    before: VideoFrame
    after: VideoFrame
    dropped: tuple[VideoFrame, ...]

    @property
    def times(self) -> list[float]:
        """t in (0, 1) of each dropped frame between `before` (t = 0) and `after` (t = 1)."""
        span = self.after.time - self.before.time
        return [float((frame.time - self.before.time) / span) for frame in self.dropped]


def compared_frame_count(frame_count: int, drop: int) -> int:
    """How many frames the protocol compares for a video of `frame_count` frames."""
    return max(frame_count - 1, 0) // drop * (drop - 1)


def drop_groups(frames: Iterable[VideoFrame], drop: int = DEFAULT_DROP) -> Iterator[DropGroup]:
    """Split a frame stream into groups: kept frame, k − 1 dropped frames, next kept frame (streaming: k + 1
    frames in memory)."""
    if drop < 2:
        raise UsageError(f"--drop must be at least 2 (keep every k-th frame and interpolate the others), got {drop}")
    window: list[VideoFrame] = []
    for frame in frames:
        window.append(frame)
        if len(window) == drop + 1:
            yield DropGroup(window[0], window[-1], tuple(window[1:-1]))
            window = [window[-1]]
