"""The retiming engine: input frames in, output frames at the new rate out, interpolating in batches.

Streaming: the input is pulled one frame at a time and output frames are yielded as soon as the batch they wait
on has been computed, so memory holds at most one batch (≤ batch_size interpolated frames, their source pairs,
and the pass-through frames between them), never the whole video.

Batches are made of whole pairs: every request for one pair goes into the same batch, so the t-independent work
(`Interpolator.prepare`: features, motion) is done exactly once per pair, e.g. once for the three frames that
factor 4 needs between two inputs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Iterator

import numpy as np

from vidinterp.errors import VidinterpError
from vidinterp.execution.frames import FrameCache, blend_images
from vidinterp.execution.loop import synthesize_in_chunks
from vidinterp.interpolators.base import Interpolator
from vidinterp.io.frames import VideoFrame
from vidinterp.pipeline.scenecut import SceneCutDetector
from vidinterp.pipeline.timing import Interval, RetimeOptions, plan_intervals


@dataclass
class RetimeStats:
    """What happened during a retime, for the CLI to log; `retime` fills it in as it goes."""

    input_frames: int = 0
    output_frames: int = 0
    #: output frames made by the interpolator
    interpolated_frames: int = 0
    #: output frames that are input frames shown as they are (exact hits, held frames, hold at cuts)
    copied_frames: int = 0
    #: output frames cross-faded at a cut (scene_cut="blend")
    blended_frames: int = 0
    #: intervals between consecutive input frames detected as scene cuts
    scene_cuts: int = 0
    #: calls to Interpolator.prepare (one per batch of pairs)
    prepare_calls: int = 0


#: Most output frames kept waiting behind an unfinished batch before it is computed early.
_MAX_QUEUED = 64


class _Pending:
    """An output frame whose picture is not known until the current batch has been interpolated."""

    __slots__ = ("time", "image")

    def __init__(self, time: Fraction) -> None:
        self.time = time
        self.image: np.ndarray | None = None


class _Ready(_Pending):
    """An output frame whose picture is already known (a pass-through, hold or cross-fade)."""

    __slots__ = ()

    def __init__(self, time: Fraction, image: np.ndarray) -> None:
        super().__init__(time)
        self.image = image


class _Batch:
    """Pairs waiting for interpolation and the requests (pair, t, output slot) made of them."""

    def __init__(self) -> None:
        self.pairs: list[tuple[VideoFrame, VideoFrame]] = []
        self.requests: list[tuple[int, float, _Pending]] = []

    def add_pair(self, frame0: VideoFrame, frame1: VideoFrame, requests: list[tuple[float, _Pending]]) -> None:
        pair_index = len(self.pairs)
        self.pairs.append((frame0, frame1))
        self.requests.extend((pair_index, t, slot) for t, slot in requests)


def _run_batch(batch: _Batch, interpolator: Interpolator, batch_size: int, stats: RetimeStats,
               cache: FrameCache) -> Iterator[None]:
    """Interpolate every request of the batch into its slot (`synthesize_in_chunks`: one prepare for all pairs).

    Yields after each chunk, so the caller can pass finished frames on before the next chunk is made: one pair
    may need more frames than `batch_size` (factor 16), and they must not all be held at once.
    """
    requests = [(pair, t) for pair, t, _ in batch.requests]
    images0 = [pair[0].image for pair in batch.pairs]
    images1 = [pair[1].image for pair in batch.pairs]
    stats.prepare_calls += 1
    for start, images in synthesize_in_chunks(interpolator, images0, images1, requests, batch_size, cache):
        for (_, _, slot), image in zip(batch.requests[start:], images):
            slot.image = image
        stats.interpolated_frames += len(images)
        yield


def retime(
    frames: Iterable[VideoFrame],
    interpolator: Interpolator,
    options: RetimeOptions,
    *,
    input_rate: Fraction | None = None,
    stats: RetimeStats | None = None,
) -> Iterator[VideoFrame]:
    """Yield the retimed video: frames in order, `index` from 0, `time` on the output grid, input dtype kept.

    Factor N: each input frame, then N−1 interpolated frames at t = k/N before the next; the last input is held
    N times, so n inputs give N·n outputs and the duration is unchanged. Fps: output m at first time + m/fps for
    every time before the end of the last frame, from the bracketing input pair (exact hits are passed through).
    Scene cuts are handled as `options.scene_cut` says. `input_rate` (the average rate) is only used to know how
    long a one-frame input lasts; `stats`, if given, is updated as frames go by.
    """
    stats = stats if stats is not None else RetimeStats()
    detector = SceneCutDetector(options.scene_threshold) if options.scene_cut != "off" else None
    queue: list[_Pending] = []  # output frames in order; those without an image wait for the batch
    batch = _Batch()
    # The frames the decoder hands out are never changed afterwards, so one converted frame can serve two pairs.
    cache = FrameCache()
    next_index = 0

    def counted(source: Iterable[VideoFrame]) -> Iterator[VideoFrame]:
        for frame in source:
            stats.input_frames += 1
            yield frame

    def drain() -> Iterator[VideoFrame]:
        """Compute the batch (if any) and yield everything queued, in order, each frame as soon as it is ready."""
        nonlocal batch, next_index
        chunks = _run_batch(batch, interpolator, options.batch_size, stats, cache) if batch.requests else iter(())
        batch = _Batch()
        position = 0
        for _ in itertools.chain(chunks, [None]):
            while position < len(queue) and queue[position].image is not None:
                item = queue[position]
                queue[position] = None  # drop our reference: the consumer decides how long the picture lives
                yield VideoFrame(image=item.image, time=item.time, index=next_index)
                next_index += 1
                stats.output_frames += 1
                position += 1
        queue.clear()

    for interval in plan_intervals(counted(frames), options, input_rate):
        requests = _fill_interval(interval, detector, options, queue, stats)
        if not requests:
            # Nothing new for the model. Pass frames straight through when nothing waits on it either, and do not
            # let ready frames pile up behind a half-full batch (a run of cuts or held frames).
            if not batch.requests or len(queue) > _MAX_QUEUED:
                yield from drain()
            continue
        if batch.requests and len(batch.requests) + len(requests) > options.batch_size:
            # This pair would overflow the batch: compute what we have first. The queue's tail already holds the
            # new pair's slots, so split the queue at the first of them.
            first_new = queue.index(requests[0][1])
            tail = queue[first_new:]
            del queue[first_new:]
            yield from drain()
            queue.extend(tail)
        batch.add_pair(interval.frame0, interval.frame1, requests)
        if len(batch.requests) >= options.batch_size:
            yield from drain()
    yield from drain()


def _fill_interval(
    interval: Interval,
    detector: SceneCutDetector | None,
    options: RetimeOptions,
    queue: list[_Pending],
    stats: RetimeStats,
) -> list[tuple[float, _Pending]]:
    """Queue the interval's output frames; return the interpolation requests (t, slot) it needs from the model."""
    frame0, frame1 = interval.frame0, interval.frame1
    if frame1 is not None and frame1.image.shape != frame0.image.shape:
        raise VidinterpError(
            f"the picture size changes mid-stream (frame {frame1.index}: {_size(frame0)} → {_size(frame1)}); "
            "vidinterp can only retime videos whose frames all have one size"
        )
    cut = False
    if detector is not None and frame1 is not None:
        cut = detector.is_cut(frame0, frame1)
        stats.scene_cuts += cut
    requests: list[tuple[float, _Pending]] = []
    # The same picture at both ends (a still that --dedupe keeps) is shown as it is, not interpolated.
    still = frame1 is not None and frame1.image is frame0.image
    for slot in interval.slots:
        if slot.t == 0 or frame1 is None or still:
            image = frame0.image
        elif slot.t == 1:
            image = frame1.image
        elif cut and options.scene_cut == "hold":
            image = frame0.image if slot.t < Fraction(1, 2) else frame1.image
        elif cut and options.scene_cut == "blend":
            image = blend_images(frame0.image, frame1.image, float(slot.t))
            stats.blended_frames += 1
            queue.append(_Ready(slot.time, image))
            continue
        else:
            pending = _Pending(slot.time)
            queue.append(pending)
            requests.append((float(slot.t), pending))
            continue
        stats.copied_frames += 1
        queue.append(_Ready(slot.time, image))
    return requests


def _size(frame: VideoFrame) -> str:
    return f"{frame.image.shape[1]}×{frame.image.shape[0]}"
