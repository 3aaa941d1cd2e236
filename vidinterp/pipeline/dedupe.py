"""Held drawings and repeated frames (`upsample --dedupe`): drop frames that repeat the one before.

Hand-drawn animation holds each drawing for 2 or 3 frames ("on twos", "on threes"); screen and game captures
repeat frames when the source stalls. Interpolated pair by pair, such video gets still in-between frames across
each hold and then all the motion in one interval: it judders where the user wanted it smooth. Dropping the
repeats and interpolating between the remaining frames at their real times (they keep their timestamps; the
timing planner places output frames by time) spreads the motion evenly.

A frame is a repeat when it differs from the last kept frame by no more than codec noise, judged as ffmpeg's
mpdecimate does, on the luma of 8×8 blocks (mean |ΔY| per block, 0..255):
- locally: no block differs by more than `hi` (a small character moving on a still background is not a repeat);
- over the whole frame: at most `frac` of the blocks differ by more than `lo`, and the mean over the frame is at
  most `mean` (a slow fade changes every block a little).
Comparing with the last *kept* frame, not the previous one, stops a slow drift from being dropped frame by frame.

Runs of repeats longer than `MAX_HOLD` frames are stills, not held drawings: the last copy is kept too, so the
picture stays still and the motion after it starts on time instead of being spread over the whole still. The
last copy is also kept before a scene cut (the held drawing stays until the cut, as in the source), and a hold
at the end of the input keeps its last two frames (the planner holds the last frame as long as the interval
before it, so the output lasts as long as the input). Kept copies carry the kept frame's very picture, so
the engine shows it as it is across the still instead of interpolating two identical pictures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from vidinterp.io.frames import VideoFrame
from vidinterp.pipeline.scenecut import SceneCutDetector

BLOCK = 8
#: A drawing shown for more frames than this is a still, not a hold (see the module docstring): animation is
#: drawn on ones to fours; longer holds are pauses in the action.
MAX_HOLD = 4


@dataclass(frozen=True)
class RepeatThresholds:
    """When a frame repeats the last kept one (levels of 8-bit luma; see the module docstring).

    Measured with `python benchmarks/dedupe.py thresholds` (see `DEFAULT_THRESHOLDS`).
    """

    hi: float
    lo: float
    frac: float
    mean: float


#: Measured on 24 training clips held on twos and re-encoded with x264 (716 repeats per CRF, which then differ by
#: codec noise only). The largest block difference of a repeat was at most 5.4 / 8.0 / 12.1 at CRF 18 / 23 / 28
#: for 99 % of them (6.0 / 12.4 / 19.8 for all), the share of blocks above 2 at most 0.02 / 0.07 / 0.18, the
#: whole-frame mean at most 0.40 / 0.45 / 0.86. These thresholds find every repeat at CRF 18 and 23 and 92 % at
#: CRF 28. On live action (all 88 training clips) every frame they drop had a PSNR of at least 40.4 dB (median 52.7)
#: against the picture kept in its place: repeats from frame-rate conversion or capture, not motion.
DEFAULT_THRESHOLDS = RepeatThresholds(hi=10.0, lo=2.0, frac=0.1, mean=1.0)


def luma(image: np.ndarray) -> np.ndarray:
    """H×W float32 luma on the 0..255 scale (BT.601 weights) of an H×W×3 uint8/uint16 RGB image."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if image.dtype == np.uint16:
        grey *= 255 / 65535
    return grey


def block_differences(grey0: np.ndarray, grey1: np.ndarray) -> np.ndarray:
    """Mean |grey1 − grey0| over each whole 8×8 block (a partial block at the edge is averaged over its pixels)."""
    difference = cv2.absdiff(grey0, grey1)
    height, width = difference.shape
    rows, columns = -(-height // BLOCK), -(-width // BLOCK)
    return cv2.resize(difference, (columns, rows), interpolation=cv2.INTER_AREA)


def is_repeat(blocks: np.ndarray, thresholds: RepeatThresholds = DEFAULT_THRESHOLDS) -> bool:
    """True when the block differences of a frame against the last kept one are within codec noise."""
    if float(blocks.max()) > thresholds.hi:
        return False
    if float(np.count_nonzero(blocks > thresholds.lo)) > thresholds.frac * blocks.size:
        return False
    return float(blocks.mean()) <= thresholds.mean


@dataclass
class HoldStats:
    """What deduplication saw: how many frames were dropped and how long each drawing was shown."""

    #: input frames dropped as repeats of the frame before them
    dropped_frames: int = 0
    #: copies kept to end a long still, to hold a drawing until a scene cut, or to end the input
    kept_copies: int = 0
    #: frames each distinct picture was shown for → how many pictures
    lengths: Counter = field(default_factory=Counter)

    @property
    def repeated_frames(self) -> int:
        """Input frames that repeated the picture before them (dropped or kept as a copy)."""
        return self.dropped_frames + self.kept_copies

    def pattern(self) -> str:
        """'on twos', 'on threes', 'mixed (…)' or 'none': how the input held its pictures."""
        lengths = Counter(self.lengths)
        pictures = sum(lengths.values())
        if not pictures or self.repeated_frames == 0:
            return "none"
        for length, name in ((2, "twos"), (3, "threes"), (4, "fours")):
            if lengths[length] >= 0.8 * pictures:
                return f"on {name}"
        shares = ", ".join(
            f"{count} × {length} frame{'s' if length > 1 else ''}" if length <= MAX_HOLD
            else f"{count} × longer" for length, count in sorted(self._grouped().items())
        )
        return f"mixed ({shares})"

    def _grouped(self) -> Counter:
        grouped: Counter = Counter()
        for length, count in self.lengths.items():
            grouped[min(length, MAX_HOLD + 1)] += count
        return grouped


class Deduplicator:
    """Streams frames and drops the repeats (see the module docstring); `stats` fills in as frames go by.

    cut_threshold: the scene-cut threshold, to keep a held drawing until a cut; None when cuts are not handled.
    """

    def __init__(self, thresholds: RepeatThresholds = DEFAULT_THRESHOLDS, cut_threshold: float | None = None,
                 max_hold: int = MAX_HOLD) -> None:
        self.thresholds = thresholds
        self.max_hold = max_hold
        self.cuts = SceneCutDetector(cut_threshold) if cut_threshold is not None else None
        self.stats = HoldStats()

    def frames(self, source: Iterable[VideoFrame]) -> Iterator[VideoFrame]:
        """The input without its repeats; every frame yielded keeps its time and index."""
        kept: VideoFrame | None = None
        kept_grey: np.ndarray | None = None
        copies: list[VideoFrame] = []  # the latest two repeats of `kept` (dropped unless the run needs them)
        shown = 0  # frames the kept picture has been shown for so far
        for frame in source:
            grey = luma(frame.image)
            if kept is not None and frame.image.shape == kept.image.shape and frame.time > kept.time:
                if is_repeat(block_differences(kept_grey, grey), self.thresholds):
                    copies = [*copies[-1:], frame]
                    shown += 1
                    continue
            if kept is not None:
                keep = copies and (shown > self.max_hold or (self.cuts is not None and self.cuts.is_cut(kept, frame)))
                yield from self._end_run(kept, shown, copies[-1:] if keep else [])
            kept, kept_grey, copies, shown = frame, grey, [], 1
            yield frame
        if kept is not None:
            # The input ends on a hold: its last two frames stay, so the output lasts as long as the input (the
            # planner holds the last frame for as long as the interval before it).
            yield from self._end_run(kept, shown, copies)

    def _end_run(self, kept: VideoFrame, shown: int, keep: list[VideoFrame]) -> Iterator[VideoFrame]:
        """Account for a picture shown for `shown` frames; yield the repeats in `keep`, each with the kept
        frame's own picture at the repeat's time."""
        self.stats.lengths[shown] += 1
        self.stats.dropped_frames += shown - 1 - len(keep)
        self.stats.kept_copies += len(keep)
        for copy in keep:
            yield VideoFrame(image=kept.image, time=copy.time, index=copy.index)


#: Frames the repeat probe looks at (without --dedupe), and the share of repeats among them that earns a hint.
PROBE_FRAMES = 48
HINT_SHARE = 1 / 3


class RepeatProbe:
    """Without --dedupe: counts the repeats among the first `PROBE_FRAMES` frames, passing every frame on.

    Dedupe is not automatic: repeats also occur in live action (frame-rate conversions repeat every sixth frame,
    webcams double frames in low light), and the choice must be made before the first frame is written. The
    probe only lets upsample suggest --dedupe when a clip starts with many repeats.
    """

    def __init__(self, count: int = PROBE_FRAMES, thresholds: RepeatThresholds = DEFAULT_THRESHOLDS) -> None:
        self.count = count
        self.thresholds = thresholds
        self.probed = 0
        self.repeats = 0

    def frames(self, source: Iterable[VideoFrame]) -> Iterator[VideoFrame]:
        kept_grey: np.ndarray | None = None
        for frame in source:
            if self.probed < self.count:
                grey = luma(frame.image)
                self.probed += 1
                if kept_grey is not None and grey.shape == kept_grey.shape and is_repeat(
                        block_differences(kept_grey, grey), self.thresholds):
                    self.repeats += 1
                else:
                    kept_grey = grey
            yield frame

    @property
    def suggests_dedupe(self) -> bool:
        return self.probed >= 2 and self.repeats >= HINT_SHARE * self.probed
