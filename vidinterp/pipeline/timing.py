"""When output frames are shown and which input pair (and t) each one comes from.

Everything here is exact rational arithmetic on `Fraction` seconds, so 30000/1001 fps × 4 gives 120000/1001 fps
and output times land exactly on the grid; floats only appear when t is handed to an interpolator.

The planner walks the input once, one interval (pair of consecutive frames) at a time, and describes for each
interval which output frames fall inside it. It holds no more than two input frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Iterator

from vidinterp.errors import UsageError
from vidinterp.execution.settings import GPU_BATCH_SIZE
from vidinterp.io.frames import VideoFrame

SCENE_CUT_MODES = ("hold", "blend", "off")
DEFAULT_SCENE_CUT = "hold"

#: Default scene-cut threshold on `scenecut.scene_change_score`, the share of the (textured) picture that motion
#: cannot explain. Chosen on the tune half of benchmarks/scenecuts.py and checked on its held-out half (see the
#: README's scene-cut paragraph for the figures).
DEFAULT_SCENE_THRESHOLD = 0.25

#: In fps mode an output time this close to an input frame shows that frame instead of interpolating. Containers
#: with millisecond time bases (Matroska, WebM) round PTS to 1 ms, so a 29.97 fps frame meant for 33.367 ms sits at
#: 33 ms; without a tolerance every such "hit" would become a needless interpolation at t ≈ 0.01.
SNAP_TOLERANCE = Fraction(1, 1000)

#: Scene-change scores are shares of the picture: none exceeds 1, so a threshold of 1 or more never finds a cut
#: (that is --scene-cut off).
MAX_SCENE_THRESHOLD = 1.0
#: Thresholds outside this band are allowed but unusual: below it the jerkiest hand-held motion may count as a
#: cut, above it shots of the same place (two signers before one wall) pass as one.
USUAL_SCENE_THRESHOLDS = (0.1, 0.5)

#: Output frame rates vidinterp writes: from one frame an hour to 10,000 fps (ffmpeg's encoders fail outside).
MIN_RATE, MAX_RATE = Fraction(1, 3600), Fraction(10_000)
#: Output rates above this are unusual (no display shows them); allowed with a warning.
USUAL_MAX_RATE = Fraction(480)
#: Largest --factor: 256 × 24 fps is already 6144 fps.
MAX_FACTOR = 256
#: the factor when neither a factor nor a rate is given
DEFAULT_FACTOR = 2
#: ffmpeg keeps rates as fractions of 32-bit integers.
_MAX_RATIONAL_PART = 2**31 - 1

#: Frame duration assumed for a one-frame input when the caller gives no input rate.
FALLBACK_FRAME_DURATION = Fraction(1, 30)

# Decimal spellings of the NTSC rates that people type, mapped to the exact rates they mean.
_NTSC_SPELLINGS = {"23.976": 24, "23.98": 24, "29.97": 30, "47.952": 48, "59.94": 60, "119.88": 120, "239.76": 240}


def parse_rate(value: Fraction | int | float | str) -> Fraction:
    """A frame rate from "60", "30000/1001", "59.94" (= 60000/1001) or a number, as an exact Fraction."""
    if isinstance(value, Fraction):
        return value
    text = str(value).strip()
    if text in _NTSC_SPELLINGS:
        return Fraction(_NTSC_SPELLINGS[text] * 1000, 1001)
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise UsageError(
            f"cannot read {text!r} as a frame rate; use a number like 60 or a ratio like 60000/1001"
        ) from None
    return representable_rate(rate)


def representable_rate(rate: Fraction) -> Fraction:
    """`rate`, or the nearest fraction of 32-bit integers (what ffmpeg can store) when it has more digits."""
    if abs(rate.numerator) <= _MAX_RATIONAL_PART and rate.denominator <= _MAX_RATIONAL_PART:
        return rate
    limit = _MAX_RATIONAL_PART
    if rate > 1:  # keep the numerator in range too
        limit = max(1, int(_MAX_RATIONAL_PART / rate))
    return rate.limit_denominator(limit)


def check_rate(rate: Fraction, what: str) -> None:
    """Refuse output rates no encoder can write (see MIN_RATE, MAX_RATE)."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"{what} gives {float(rate):g} fps; vidinterp writes 1/3600 (one frame an hour) to 10000 fps")


def selects_frames(options: "RetimeOptions", input_rate: Fraction | None) -> bool:
    """True when --fps is below the input rate: frames are dropped or repeated by their timestamps, as ffmpeg's
    fps filter does, instead of interpolated."""
    return options.fps is not None and input_rate is not None and options.fps < input_rate


@dataclass(frozen=True)
class RetimeOptions:
    """How to retime: multiply the frame rate by `factor`, or resample to `fps`; plus batching and scene cuts.

    factor: integer ≥ 2; every input interval gets factor−1 new frames (the duration is unchanged).
    fps: target frame rate (> 0); output frames on a regular grid from the first input frame.
    batch_size: at most this many interpolated frames per model call (bounds device memory).
    scene_cut: at a detected cut, "hold" shows the nearer real frame, "blend" cross-fades, "off" interpolates anyway.
    scene_threshold: the share of the picture motion must fail to explain for a cut (`scenecut.decide`; higher =
        fewer cuts).
    """

    factor: int | None = None
    fps: Fraction | None = None
    #: the run passes its own (`vidinterp.execution.settings`: one default per device); this one is for direct use
    batch_size: int = GPU_BATCH_SIZE
    scene_cut: str = DEFAULT_SCENE_CUT
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD

    def __post_init__(self) -> None:
        if (self.factor is None) == (self.fps is None):
            raise UsageError("give exactly one of --factor and --fps")
        object.__setattr__(self, "fps", check_retiming(self.factor, self.fps, self.scene_cut, self.scene_threshold))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise UsageError(f"the batch size must be a whole number of at least 1, got {self.batch_size!r}")


def check_retiming(factor: int | None, fps: Fraction | int | float | str | None, scene_cut: str,
                   scene_threshold: float) -> Fraction | None:
    """Refuse a factor, target rate or scene-cut setting no retiming can use; returns `fps` as an exact Fraction."""
    if factor is not None:
        if isinstance(factor, bool) or not isinstance(factor, int) or not 2 <= factor <= MAX_FACTOR:
            raise UsageError(f"the factor must be a whole number from 2 to {MAX_FACTOR}, got {factor!r}")
    if fps is not None:
        rate = parse_rate(fps)
        if rate <= 0:
            raise UsageError(f"the target frame rate must be positive, got {fps}")
        check_rate(rate, f"--fps {fps}")
        fps = rate
    if scene_cut not in SCENE_CUT_MODES:
        raise UsageError(f"unknown scene-cut mode {scene_cut!r}; choose one of: {', '.join(SCENE_CUT_MODES)}")
    if not 0 < scene_threshold < MAX_SCENE_THRESHOLD:
        raise UsageError(
            f"the scene-cut threshold must be above 0 and below {MAX_SCENE_THRESHOLD:g} (it is a share of the "
            f"picture), got {scene_threshold!r}; --scene-cut off never cuts"
        )
    return fps


def target_rate(factor: int | None, fps: Fraction | None, input_rate: Fraction) -> Fraction:
    """The output frame rate: factor × input rate exactly, or the target fps (when factor is None)."""
    if factor is not None:
        rate = representable_rate(Fraction(input_rate) * factor)
        check_rate(rate, f"--factor {factor} × {float(input_rate):g} fps")
        return rate
    return fps


def output_rate(options: RetimeOptions, input_rate: Fraction) -> Fraction:
    """The output frame rate of `options`: factor × input rate exactly, or the target fps."""
    return target_rate(options.factor, options.fps, input_rate)


@dataclass(frozen=True)
class OutputSlot:
    """One output frame inside an interval: shown at `time`, at fraction `t` in [0, 1] of the way from frame0 to frame1.

    t == 0 means "frame0 itself", t == 1 "frame1 itself"; anything between needs interpolation.
    """

    time: Fraction
    t: Fraction


@dataclass
class Interval:
    """Two consecutive input frames and the output frames that fall between them (frame1 is None past the end)."""

    frame0: VideoFrame
    frame1: VideoFrame | None
    slots: list[OutputSlot] = field(default_factory=list)


def plan_intervals(
    frames: Iterable[VideoFrame], options: RetimeOptions, input_rate: Fraction | None = None
) -> Iterator[Interval]:
    """Walk the input and yield, per interval, the output frames it must produce; the last one holds the last frame.

    Frames whose time does not increase (broken timestamps) are skipped: they cannot be placed on the timeline.
    `input_rate` (average rate) tells how long a one-frame input lasts, and whether --fps is below the input rate:
    then (`selects_frames`) no frame is interpolated; output frame m shows the latest input frame whose time,
    rounded to the nearest output tick, is at most m, which is what ffmpeg's fps filter does.
    """
    iterator = iter(frames)
    previous = next(iterator, None)
    if previous is None:
        return
    start = previous.time
    step = None if options.fps is None else 1 / options.fps
    next_output = 0  # fps mode: index m of the next output time start + m/fps
    select = selects_frames(options, input_rate)
    last_duration: Fraction | None = None

    def fps_slots(frame0: VideoFrame, end: Fraction, frame1: VideoFrame | None) -> list[OutputSlot]:
        nonlocal next_output
        slots = []
        span = end - frame0.time
        tolerance = min(SNAP_TOLERANCE, span / 8)
        # Past the last frame the end is itself an estimate: a time within the tolerance of it belongs to the
        # frame that would come next, not to this one.
        stop = end if frame1 is not None else end - tolerance
        if select:
            # Selecting, not interpolating: tick m shows the latest frame whose time rounds (half up) to a tick ≤ m,
            # i.e. the latest frame before start + (m + 1/2)/fps. frame0 is that frame while frame1 is not before it.
            while (time := start + next_output * step) < stop and (frame1 is None or time + step / 2 <= frame1.time):
                slots.append(OutputSlot(time, Fraction(0)))
                next_output += 1
            return slots
        while (time := start + next_output * step) < stop:
            offset = time - frame0.time
            if offset <= tolerance:
                t = Fraction(0)
            elif frame1 is None:
                t = Fraction(0)  # past the last frame: hold it
            elif end - time <= tolerance:
                t = Fraction(1)
            else:
                t = offset / span
            slots.append(OutputSlot(time, t))
            next_output += 1
        return slots

    def factor_slots(frame0: VideoFrame, span: Fraction, hold: bool) -> list[OutputSlot]:
        n = options.factor
        return [
            OutputSlot(frame0.time + Fraction(k, n) * span, Fraction(0) if hold else Fraction(k, n)) for k in range(n)
        ]

    for frame in iterator:
        if frame.time <= previous.time:
            continue
        span = frame.time - previous.time
        last_duration = span
        if options.factor is not None:
            yield Interval(previous, frame, factor_slots(previous, span, hold=False))
        else:
            yield Interval(previous, frame, fps_slots(previous, frame.time, frame))
        previous = frame

    if last_duration is None:
        if input_rate:
            last_duration = 1 / Fraction(input_rate)
        else:
            last_duration = step if step is not None else FALLBACK_FRAME_DURATION
    if options.factor is not None:
        yield Interval(previous, None, factor_slots(previous, last_duration, hold=True))
    else:
        yield Interval(previous, None, fps_slots(previous, previous.time + last_duration, None))
