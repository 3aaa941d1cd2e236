"""Side-by-side montage videos (`upsample --montage`): the source as it plays at the new rate, and the result.

Like RIFE's --montage, the left half shows the latest source frame at each output time (so the source's
judder stays visible next to the smooth result); each half is labelled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from vidinterp.io.frames import VideoFrame
from vidinterp.labels import overlay_label, text_scale
from vidinterp.pipeline.timing import SNAP_TOLERANCE


class SourceRecorder:
    """Passes input frames through and remembers the ones a montage may still show."""

    def __init__(self) -> None:
        self.frames: deque[VideoFrame] = deque()

    def record(self, frames: Iterable[VideoFrame]) -> Iterator[VideoFrame]:
        for frame in frames:
            self.frames.append(frame)
            yield frame

    def shown_at(self, time) -> VideoFrame:
        """The latest input frame at or before `time` (a frame within the snap tolerance after it counts)."""
        while len(self.frames) > 1 and self.frames[1].time <= time + SNAP_TOLERANCE:
            self.frames.popleft()  # output times only grow: an older frame is never shown again
        return self.frames[0]


def montage(outputs: Iterable[VideoFrame], recorder: SourceRecorder, left: str, right: str) -> Iterator[VideoFrame]:
    """Each output frame with its source frame on the left, twice as wide, labelled `left` and `right`."""
    for frame in outputs:
        source = recorder.shown_at(frame.time).image.copy()
        result = frame.image.copy()
        scale = text_scale(result.shape[1])
        overlay_label(source, left, scale)
        overlay_label(result, right, scale)
        yield VideoFrame(image=np.concatenate([source, result], axis=1), time=frame.time, index=frame.index)
