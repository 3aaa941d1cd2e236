"""Decode a video (file or stdin) into RGB `VideoFrame`s with exact presentation times.

`open_video(path)` probes the input, decodes the first frames up front (so a file that is not a video, has
no video stream or has only one frame fails at once with one clear sentence) and then streams the rest:
memory does not grow with the length of the video.
"""

from __future__ import annotations

import logging
import queue
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Iterator

import av
import numpy as np

from vidinterp.errors import VidinterpError
from vidinterp.io.atomic import is_stream_target
from vidinterp.io.frames import VideoFrame
from vidinterp.io.paths import os_error_message, shown
from vidinterp.io.timeline import Timeline, has_discontinuous_timestamps

log = logging.getLogger("vidinterp.io")

#: --input-format short names → ffmpeg demuxer names
INPUT_FORMATS = {"y4m": "yuv4mpegpipe", "mkv": "matroska", "ts": "mpegts"}


@dataclass(frozen=True)
class ColourInfo:
    """Colour tags of the source, as ffmpeg's AVCOL_* integers (2 = unspecified, 0 = unspecified range).

    primaries/transfer/matrix: e.g. 1 = BT.709, 9 = BT.2020; range: 1 = limited (TV/MPEG), 2 = full (PC/JPEG).
    """

    primaries: int = 2
    transfer: int = 2
    matrix: int = 2
    range: int = 0

    @property
    def is_specified(self) -> bool:
        return (self.primaries, self.transfer, self.matrix, self.range) != (2, 2, 2, 0)


@dataclass(frozen=True)
class VideoInfo:
    """What the video stream says about itself (read once, before decoding starts)."""

    width: int
    height: int
    frame_rate: Fraction  # average frames per second
    time_base: Fraction
    duration: Fraction | None  # seconds, if the container knows
    frame_count: int | None  # estimate: from the container's index or duration × rate
    bit_depth: int  # bits per sample of the coded pixel format (8, 10, 12, ...)
    pix_fmt: str
    colour: ColourInfo = field(default_factory=ColourInfo)
    rotation: int = 0  # degrees counter-clockwise the picture is turned for display (display matrix)
    has_audio: bool = False
    #: audio, subtitle and data streams (what the writer carries beside the video)
    side_streams: int = 0
    container_format: str = ""
    codec: str = ""

    @property
    def rgb_format(self) -> str:
        """The RGB layout frames are decoded to: rgb24 for 8-bit sources, rgb48le (uint16) for deeper ones."""
        return "rgb24" if self.bit_depth <= 8 else "rgb48le"


class _PipeInput:
    """A read-only, non-seekable view of a binary stream, so the demuxer never tries to seek a pipe."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def _bit_depth(pix_fmt: str) -> int:
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except Exception:
        return 8


def _describe(path: str | Path) -> str:
    return "stdin" if str(path) == "-" else f"'{path}'"


class VideoReader:
    """An open video: `info` about its video stream and `frames()` to decode them in presentation order.

    Use as a context manager (or call `close()`). `path` is kept so that the writer can re-open a file to
    copy its audio.
    """

    def __init__(self, path: str | Path, input_format: str | None = None, frame_threads: bool = True) -> None:
        self.path = path if str(path) == "-" else Path(path)
        #: stdin, or a FIFO / character device given by name (`<(ffmpeg ...)`, /dev/stdin): read once, in order
        self.is_pipe = is_stream_target(path)
        self._stream_file: BinaryIO | None = None
        #: packets the decoder rejected as corrupt (skipped with a warning)
        self.corrupt_packets = 0
        #: frames `frames()` has yielded so far, and whether the demuxer stopped at damaged data
        self.frames_read = 0
        self.stopped_at_damage = False
        self._damage_reason = ""
        self._held_warnings = None
        #: from a pipe, audio cannot be read a second time: its packets are handed to the writer through this
        #: queue as the video is demuxed (only the audio of the frames in flight; see `drop_audio`)
        self.audio_queue: queue.Queue = queue.Queue()
        self.audio_finished = False
        self._keep_audio = True  # False once nothing will take the queued packets (see `drop_audio`)
        try:
            self._container = self._open(path, input_format, self.is_pipe)
        except BaseException:
            if self._stream_file is not None:
                self._stream_file.close()
            raise
        try:
            streams = self._container.streams.video
            if not streams:
                raise VidinterpError(f"{_describe(path)} has no video stream")
            self._stream = streams[0]
            # Frame threads decode several frames at once, each with its own copy of the decoder's state and
            # pictures (12 MB more at peak at 720p, 18 MB at 1080p). Slice threads (used where the stream has
            # slices) share one.
            self._stream.thread_type = "AUTO" if frame_threads else "SLICE"
            self._decoded = self._decode()
            self._peeked: list[av.VideoFrame] = []
            # Damage met before the first frame is said once: in the error if no frame comes, else as a warning.
            self._held_warnings: list[str] | None = []
            if not self.peek(1):
                raise VidinterpError(self._no_frame_reason())
            for message in self._held_warnings:
                log.warning("%s", message)
            self._held_warnings = None
            self.info = self._read_info(self._peeked[0])
            first = self._peeked[0]
            #: source time (seconds) of the first frame; output time 0 maps to it (the audio is shifted to match)
            has_time = first.pts is not None and first.time_base
            self.start_time = Fraction(first.pts) * Fraction(first.time_base) if has_time else Fraction(0)
            #: the video's timeline: follows restarts of the clock, counts frames dropped for broken timestamps
            self.timeline = Timeline(has_discontinuous_timestamps(self._container))
        except BaseException:
            self.close()
            raise
        self._first_pts: int | None = None

    # -- opening --------------------------------------------------------------------------------------
    def _open(self, path: str | Path, input_format: str | None, is_pipe: bool) -> av.container.InputContainer:
        fmt = INPUT_FORMATS.get(input_format, input_format) if input_format else None
        if str(path) == "-":
            if sys.stdin is None:  # started with stdin closed
                raise VidinterpError("stdin is closed; there is no video to read from it")
            target: object = _PipeInput(sys.stdin.buffer)
        elif is_pipe:
            try:
                self._stream_file = open(path, "rb")
            except OSError as exc:
                raise VidinterpError(f"cannot read {_describe(path)}: {exc.strerror}") from None
            target = _PipeInput(self._stream_file)
        else:
            file = Path(path)
            try:
                file.stat()
            except FileNotFoundError:
                raise VidinterpError(f"input file not found: {shown(path)}") from None
            except OSError as exc:  # a name too long, a loop of symbolic links
                raise VidinterpError(os_error_message(exc, path, "cannot read the input")) from None
            if file.is_dir():
                raise VidinterpError(f"input is a folder, not a video file: {path}")
            target = str(file)
        try:
            return av.open(target, "r", format=fmt)
        except av.error.PermissionError:
            raise VidinterpError(f"no permission to read {_describe(path)}") from None
        except av.error.FFmpegError as exc:  # (InvalidDataError is also a ValueError: catch it first)
            hint = " (for stdin, pass --input-format, e.g. y4m, nut, matroska, mpegts)" if str(path) == "-" else ""
            raise VidinterpError(f"{_describe(path)} is not a video ffmpeg can read ({exc.strerror}){hint}") from None
        except ValueError as exc:  # unknown --input-format
            raise VidinterpError(f"cannot read {_describe(path)}: {exc}") from None

    def _read_info(self, first: av.VideoFrame) -> VideoInfo:
        stream = self._stream
        cc = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or cc.framerate
        rate = Fraction(rate) if rate else Fraction(25)
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = Fraction(stream.duration) * stream.time_base
        elif self._container.duration is not None and self._container.duration > 0:
            duration = Fraction(self._container.duration, av.time_base)
        frame_count = stream.frames or (round(duration * rate) if duration else None)
        pix_fmt = first.format.name
        colour = ColourInfo(
            primaries=int(first.color_primaries),
            transfer=int(first.color_trc),
            matrix=int(first.colorspace),
            range=int(first.color_range),
        )
        try:
            rotation = int(round(first.rotation or 0))
        except Exception:
            rotation = 0
        return VideoInfo(
            width=first.width,
            height=first.height,
            frame_rate=rate,
            time_base=Fraction(stream.time_base) if stream.time_base else 1 / rate,
            duration=duration,
            frame_count=frame_count or None,
            bit_depth=_bit_depth(pix_fmt),
            pix_fmt=pix_fmt,
            colour=colour,
            rotation=rotation,
            has_audio=bool(self._container.streams.audio),
            side_streams=len(self.side_streams()),
            container_format=self._container.format.name,
            codec=cc.name,
        )

    # -- decoding -------------------------------------------------------------------------------------
    def _decode(self) -> Iterator[av.VideoFrame]:
        """Decoded frames; a packet the decoder rejects is skipped (counted, warned once), not fatal."""
        side = self.side_streams() if self.is_pipe else []
        demux = self._container.demux(self._stream, *side)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                self.audio_finished = True
                return
            except av.error.FFmpegError as exc:
                # The container itself is damaged past this point: keep what was decoded, say so.
                self._damage_reason = exc.strerror
                self._warn(f"stopped reading at damaged data in {_describe(self.path)} ({exc.strerror}); "
                           "the rest of the video is skipped")
                self.stopped_at_damage = True
                self.audio_finished = True
                return
            if packet.stream.type != "video":
                if packet.size and self._keep_audio:
                    self.audio_queue.put(packet)
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self.corrupt_packets += 1
                if self.corrupt_packets == 1:
                    self._damage_reason = exc.strerror
                    self._warn(f"skipping damaged video data in {_describe(self.path)} ({exc.strerror}); "
                               "the frames around it are held")
                continue
            yield from frames

    def _warn(self, message: str) -> None:
        if self._held_warnings is not None:
            self._held_warnings.append(message)
        else:
            log.warning("%s", message)

    def _no_frame_reason(self) -> str:
        """Why not even one frame came out, in one line."""
        where = _describe(self.path)
        if self.is_pipe and "mp4" in self._container.format.name and (self.stopped_at_damage or self.corrupt_packets):
            return (f"{where} is an mp4/mov whose index (moov) comes after the video data, so it cannot be read from a "
                    "pipe; give the file itself, or move the index first with ffmpeg -i in.mp4 -c copy -movflags "
                    "+faststart out.mp4 (or pipe another format, e.g. -f nut)")
        if self.stopped_at_damage or self.corrupt_packets:
            return (f"{where} is damaged or truncated: no frame of its video could be decoded "
                    f"({self._damage_reason})")
        return f"{where} has a video stream but no frame could be decoded from it"

    def peek(self, count: int) -> list[av.VideoFrame]:
        """Decode up to `count` frames ahead without consuming them (fewer if the video is shorter)."""
        while len(self._peeked) < count:
            frame = next(self._decoded, None)
            if frame is None:
                break
            self._peeked.append(frame)
        return self._peeked[:count]

    def require_frames(self, count: int) -> None:
        """Fail with a clear message unless the video has at least `count` frames."""
        have = len(self.peek(count))
        if have < count:
            frames = f"{have} frame{'s' if have != 1 else ''}"
            raise VidinterpError(f"{_describe(self.path)} has only {frames}; at least {count} are needed")

    def _raw_frames(self) -> Iterator[av.VideoFrame]:
        while self._peeked:
            yield self._peeked.pop(0)
        yield from self._decoded

    def frames(self) -> Iterator[VideoFrame]:
        """RGB frames in presentation order; `time` is seconds since the first frame, from the PTS.

        Times are strictly increasing: where the clock restarts (concatenated MPEG-TS segments) the frames after
        it follow on, as ffmpeg plays them; elsewhere a frame whose time does not move forward (duplicate or
        broken timestamps) is dropped and counted in `timeline.dropped` (the caller reports it).
        """
        rgb_format = self.info.rgb_format
        step = 1 / self.info.frame_rate
        index = 0
        for raw in self._raw_frames():
            restarts = self.timeline.restarts
            time = self.timeline.place(self._frame_time(raw, index), step)
            if time is None:
                continue
            if self.timeline.restarts > restarts and restarts == 0:
                log.warning("the timestamps of %s restart or jump after frame %d (concatenated segments?); the "
                            "frames after it follow on without a gap, as ffmpeg plays them",
                            _describe(self.path), index)
            image = raw.to_ndarray(format=rgb_format, src_color_range=raw.color_range or None)
            yield VideoFrame(image=np.ascontiguousarray(image), time=time, index=index)
            index += 1
            self.frames_read = index

    def drop_audio(self) -> None:
        """From a pipe: stop queueing audio packets nobody will take (the output has no audio), so memory stays flat."""
        self._keep_audio = False
        while True:
            try:
                self.audio_queue.get_nowait()
            except queue.Empty:
                return

    def audio_streams(self) -> list:
        """The input's audio streams (for the writer to copy or re-encode)."""
        return list(self._container.streams.audio)

    def container_metadata(self) -> dict:
        return dict(self._container.metadata)

    def video_metadata(self) -> dict:
        return dict(self._stream.metadata)

    def side_streams(self) -> list:
        """The input's audio, subtitle and data streams, which the writer carries beside the video."""
        return [s for s in self._container.streams if s.type in ("audio", "subtitle", "data")]

    @property
    def ended_early(self) -> bool:
        """True once the video has been read and it stopped at damaged data, or clearly short of the frame count
        the container announced (a truncated file): more than 2 frames and 2 % missing."""
        if self.stopped_at_damage:
            return True
        if self.timeline.restarts:
            return False  # the container's duration spans the restarted clock: its frame count means nothing
        expected = self.info.frame_count
        return bool(expected) and expected - self.frames_decoded > max(2, expected // 50)

    @property
    def frames_decoded(self) -> int:
        """Frames decoded so far: those yielded and those dropped for timestamps that did not move forward."""
        return self.frames_read + self.timeline.dropped

    def shortfall(self) -> str | None:
        """'input ended after 23 of 50 frames' when `ended_early`, else None."""
        if not self.ended_early:
            return None
        expected = self.info.frame_count
        if expected and expected > self.frames_decoded:
            return f"input ended after {self.frames_decoded} of {expected} frames"
        return f"input ended at damaged data after {self.frames_decoded} frames"

    def _frame_time(self, frame: av.VideoFrame, index: int) -> Fraction:
        pts = frame.pts
        if pts is None or frame.time_base is None:
            return Fraction(index) / self.info.frame_rate
        if self._first_pts is None:
            self._first_pts = pts
        return Fraction(pts - self._first_pts) * Fraction(frame.time_base)

    # -- lifetime -------------------------------------------------------------------------------------
    def close(self) -> None:
        self._container.close()
        if self._stream_file is not None:
            self._stream_file.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_video(path: str | Path, input_format: str | None = None, frame_threads: bool = True) -> VideoReader:
    """Open a video file, or stdin for '-' (`input_format` names the demuxer when probing is not enough).

    `frame_threads`: decode with frame threads as well as slice threads (faster decoding, more memory). Off
    suits a consumer far slower than the decoder, such as interpolation on the CPU."""
    return VideoReader(path, input_format, frame_threads)
