"""Encode RGB `VideoFrame`s to a file (atomically) or to stdout, carrying over audio, colour tags and rotation.

    with VideoWriter("out.mp4", width=w, height=h, rate=Fraction(60), source=reader) as writer:
        for frame in frames:
            writer.write(frame)

The file appears only when the `with` block ends cleanly; an exception (including KeyboardInterrupt) removes
the temporary file and leaves any existing output untouched. Encoder defaults live in `vidinterp.io.codecs`.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import av
import numpy as np

from vidinterp.errors import VidinterpError
from vidinterp.io.atomic import AtomicFile, check_output_path, is_stream_target
from vidinterp.io.audio import AudioCarrier, can_carry_audio
from vidinterp.io.codecs import EncoderChoice, choose_encoder
from vidinterp.io.frames import VideoFrame
from vidinterp.io.paths import shown

if TYPE_CHECKING:
    from vidinterp.io.reader import ColourInfo, VideoReader

log = logging.getLogger("vidinterp.io")

# ffmpeg's AVColorSpace values that swscale can convert with; others fall back to its default (BT.601).
_SWSCALE_MATRICES = {1, 4, 5, 6, 7, 9, 10}
_AVCOL_SPC_RGB = 0
_AVCOL_SPC_BT709 = 1


class _PipeOutput:
    """A write-only, non-seekable view of stdout, so muxers stream instead of seeking back."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write(data)
        return len(data)

    def flush(self) -> None:
        self._stream.flush()


#: Byte alignment swscale wants of a source picture's address and row stride (else a slower path and a warning).
_SWSCALE_ALIGN = 16


def _wrap_rgb(image: np.ndarray) -> av.VideoFrame:
    """An RGB `av.VideoFrame` of an H×W×3 uint8/uint16 picture: its memory wrapped where swscale can read it as is.

    The reformat to the encoder's pixel format is a copy anyway, so a second copy (`from_ndarray`) would only add
    a frame-sized allocation per output frame. An encoder that keeps a frame it was given copies what it keeps
    (libavcodec references a frame that does not own its buffers by copying it).
    """
    image = np.ascontiguousarray(image)
    rgb_format = "rgb24" if image.dtype == np.uint8 else "rgb48le"
    if image.ctypes.data % _SWSCALE_ALIGN == 0 and image.strides[0] % _SWSCALE_ALIGN == 0:
        return av.VideoFrame.from_numpy_buffer(image, format=rgb_format)
    return av.VideoFrame.from_ndarray(image, format=rgb_format)


def _is_rgb(pix_fmt: str) -> bool:
    return av.VideoFormat(pix_fmt).is_rgb


def check_streamable(path: str | Path, choice: EncoderChoice) -> None:
    """Refuse mp4/mov into stdout, a FIFO or a device: their muxer seeks back to write the index at the end."""
    if is_stream_target(path) and choice.container_format in ("mp4", "mov"):
        where = "stdout" if str(path) == "-" else f"'{shown(path)}' (not a regular file)"
        raise VidinterpError(f"mp4/mov cannot be streamed to {where}; use --format nut, matroska or y4m (the default)")


def check_encoder_opens(choice: EncoderChoice, *, width: int, height: int, rate: Fraction) -> None:
    """Open the chosen encoder once on its own, so that one this machine cannot run (h264_nvenc without an NVIDIA
    GPU, a size the encoder refuses) is refused before anything is loaded or written."""
    try:
        encoder = av.CodecContext.create(choice.codec, "w")
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = choice.pix_fmt
        encoder.time_base = 1 / Fraction(rate)
        encoder.framerate = Fraction(rate)
        encoder.options = dict(choice.options)
        encoder.open()
    except (av.error.FFmpegError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise VidinterpError(f"the {choice.codec} encoder cannot run here ({reason}); choose another --codec") from None


def preflight_video_output(path: str | Path, *, width: int, height: int, rate: Fraction, bit_depth: int = 8,
                           codec: str | None = None, crf: int | None = None, pix_fmt: str | None = None,
                           container_format: str | None = None, source_pix_fmt: str | None = None) -> EncoderChoice:
    """Every check `VideoWriter` would make of its encoder and output, without creating anything ('-' = stdout)."""
    choice = choose_encoder(None if str(path) == "-" else path, width=width, height=height, bit_depth=bit_depth,
                            codec=codec, crf=crf, pix_fmt=pix_fmt, container_format=container_format,
                            source_pix_fmt=source_pix_fmt)
    check_streamable(path, choice)
    check_encoder_opens(choice, width=width, height=height, rate=rate)
    return choice


class VideoWriter:
    """Encodes frames at a constant `rate` to `path` ('-' = stdout, y4m unless container_format='nut').

    width, height: frame size; frames passed to `write` must have it.
    bit_depth: of the source; picks 10-bit output formats where the codec has them.
    source: a `VideoReader` whose audio streams, colour tags and rotation are carried over.
    codec/crf/pix_fmt/container_format: None = the defaults of `vidinterp.io.codecs` for the output path.
    overwrite: replace an existing file (it is never the input: that is refused).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        rate: Fraction,
        codec: str | None = None,
        crf: int | None = None,
        pix_fmt: str | None = None,
        container_format: str | None = None,
        bit_depth: int = 8,
        source: "VideoReader | None" = None,
        overwrite: bool = False,
        colour: "ColourInfo | None" = None,
        rotation: int | None = None,
        source_pix_fmt: str | None = None,
    ) -> None:
        self.to_stdout = str(path) == "-"
        #: stdout, a FIFO or a character device (/dev/null): written in order, nothing to rename into place
        self.streaming = is_stream_target(path)
        self._stream_file: BinaryIO | None = None
        self.rate = Fraction(rate)
        self.width, self.height = width, height
        self.frames_written = 0
        self.choice: EncoderChoice = choose_encoder(
            None if self.to_stdout else path,
            width=width, height=height, bit_depth=bit_depth, codec=codec, crf=crf, pix_fmt=pix_fmt,
            container_format=container_format,
            source_pix_fmt=source_pix_fmt or (source.info.pix_fmt if source is not None else None),
        )
        check_streamable(path, self.choice)
        self._atomic: AtomicFile | None = None
        self._container = None
        self._audio: AudioCarrier | None = None
        self._last_pts = -1
        # write() may run on an encode thread while Ctrl-C aborts from the main thread: never close the
        # container under a frame that is being encoded.
        self._lock = threading.RLock()
        self.path = None
        if not self.to_stdout:
            inputs = (source.path,) if source is not None and not source.is_pipe else ()
            self.path = check_output_path(Path(path), overwrite=overwrite, inputs=inputs)
        try:
            if self.path is not None and not self.streaming:
                self._atomic = AtomicFile(self.path, overwrite=overwrite)
            self._open(source, colour, rotation)
        except BaseException:
            self._abort()
            raise

    # -- setup ----------------------------------------------------------------------------------------
    def _open(self, source: "VideoReader | None", colour: "ColourInfo | None", rotation: int | None) -> None:
        choice = self.choice
        if self.to_stdout:
            if sys.stdout is None:  # started with stdout closed
                raise VidinterpError("stdout is closed; there is nowhere to write the video")
            target = _PipeOutput(sys.stdout.buffer)
        elif self.streaming:
            try:
                self._stream_file = open(self.path, "wb", buffering=0)
            except OSError as exc:
                raise VidinterpError(f"cannot write to '{self.path}': {exc.strerror}") from None
            target = _PipeOutput(self._stream_file)
        else:
            target = str(self._atomic.path)
        # y4m calls its 10-bit variants "non-standard" and refuses them unless told to be lenient (ffmpeg's
        # `-strict -1`); every y4m reader we care about (ffmpeg, x264, ...) reads them.
        options = {"strict": "-1"} if choice.container_format == "yuv4mpegpipe" else {}
        if choice.codec == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints a banner to stderr otherwise; errors only
        try:
            self._container = av.open(target, "w", format=choice.container_format, options=options)
        except (av.error.FFmpegError, ValueError) as exc:
            raise VidinterpError(f"cannot create the output: {exc}") from None
        try:
            stream = self._container.add_stream(choice.codec, rate=self.rate, options=dict(choice.options))
        except (av.error.FFmpegError, ValueError) as exc:  # e.g. "'matroska' format does not support 'png' codec"
            raise VidinterpError(f"cannot write {choice.codec} video to {choice.container_format}: {exc}") from None
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = choice.pix_fmt
        time_base = 1 / self.rate
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        self._stream = stream
        # Kept apart: the muxer may change stream.time_base when it writes the header (mp4 picks its own).
        self._time_base = time_base

        if colour is None and source is not None:
            colour = source.info.colour
        self._set_colour(colour)
        if rotation is None and source is not None:
            rotation = source.info.rotation
        if rotation and choice.container_format not in ("yuv4mpegpipe", "nut"):
            stream.set_display_rotation(rotation)
        elif rotation:
            log.warning("%s output cannot record the %d° rotation; the picture is stored unrotated",
                        choice.container_format, rotation)

        self._source = source
        if source is not None:
            self._carry_tags(source)
        if source is not None and source.info.side_streams:
            if not can_carry_audio(choice.container_format):
                only_audio = source.info.side_streams == len(source.audio_streams())
                what = "audio is" if only_audio else "audio, subtitle and data streams are"
                log.warning("the input's %s dropped: y4m output holds video only (write .mkv/.mp4 or use --format "
                            "nut)", what)
                if source.is_pipe:
                    source.drop_audio()  # else its packets would pile up in memory for the whole video
            elif source.is_pipe:
                self._audio = AudioCarrier(self._container, pipe_reader=source, start=source.start_time,
                                           video_timeline=source.timeline)
            else:
                self._audio = AudioCarrier(self._container, source_path=source.path, start=source.start_time,
                                           video_timeline=source.timeline)
        # Open the encoders and write the header now, with every stream in place: otherwise the first
        # muxed packet (audio, while the video encoder is still buffering) would start the file early.
        try:
            with self._write_errors():
                self._container.start_encoding()
        except av.error.FFmpegError as exc:
            raise VidinterpError(
                f"cannot start writing {choice.codec} ({choice.pix_fmt}) to {choice.container_format}: {exc.strerror}"
            ) from None

    def _carry_tags(self, source: "VideoReader") -> None:
        """Titles, language and other descriptive tags of the source's container and video stream."""
        from vidinterp.io.audio import carried_tags

        try:
            self._container.metadata.update(carried_tags(source.container_metadata()))
            self._stream.metadata.update(carried_tags(source.video_metadata()))
        except Exception:  # noqa: BLE001 - tags are a courtesy; a muxer that refuses one must not fail the run
            pass

    def _set_colour(self, colour: "ColourInfo | None") -> None:
        """Tag the stream (and remember how to convert RGB → the output format) like the source."""
        cc = self._stream.codec_context
        rgb = _is_rgb(self.choice.pix_fmt)
        self._matrix = None
        self._range = None
        if colour is not None and colour.is_specified:
            cc.color_primaries = colour.primaries
            cc.color_trc = colour.transfer
            if not rgb:
                # Tag the matrix the pixels are converted with. An RGB source (GBR "matrix"), or a matrix swscale
                # cannot convert with (YCgCo, ICtCp, ...), is written and tagged as BT.709: H.264 and HEVC forbid the
                # GBR tag on subsampled YUV, and a tag that differs from the conversion shifts every colour.
                matrix = colour.matrix
                if matrix != 2 and matrix not in _SWSCALE_MATRICES:
                    matrix = _AVCOL_SPC_BT709
                if matrix != 2:
                    cc.colorspace = matrix
                    self._matrix = matrix
                if colour.range:
                    cc.color_range = colour.range
                    self._range = colour.range
        if rgb:
            cc.colorspace = _AVCOL_SPC_RGB
            cc.color_range = 2  # RGB is always full range

    # -- writing --------------------------------------------------------------------------------------
    def write(self, frame: VideoFrame) -> None:
        """Encode one frame; its `time` (seconds from the start) sets where it goes on the output's time grid."""
        with self._lock:
            if self._container is None:
                raise VidinterpError("the video writer is already closed")
            with self._write_errors():
                self._write(frame)

    @contextmanager
    def _write_errors(self) -> Iterator[None]:
        """What writing the output raises, as one line: a full disk or pipe (/dev/full, ENOSPC raised inside PyAV's
        write callback), a reader that went away (a FIFO's; stdout's ends the run quietly, as `| head` expects)."""
        where = "stdout" if self.to_stdout else f"'{shown(self.path)}'"
        try:
            yield
        except BrokenPipeError:
            if self.to_stdout:
                raise
            raise VidinterpError(f"cannot write to {where}: its reader went away (broken pipe)") from None
        except av.error.FFmpegError as exc:
            if self.to_stdout and exc.errno == errno.EPIPE:  # whoever read stdout has gone
                raise BrokenPipeError(errno.EPIPE, "Broken pipe") from None
            raise
        except OSError as exc:
            raise VidinterpError(f"cannot write to {where}: {exc.strerror or exc}") from None

    def _write(self, frame: VideoFrame) -> None:
        image = frame.image
        if image.shape != (self.height, self.width, 3):
            raise ValueError(f"frame is {image.shape}, writer expects {(self.height, self.width, 3)}")
        av_frame = _wrap_rgb(image)
        av_frame = av_frame.reformat(
            format=self.choice.pix_fmt,
            dst_colorspace=self._matrix,
            dst_color_range=self._range,
        )
        pts = max(round(frame.time * self.rate), self._last_pts + 1)
        self._last_pts = pts
        av_frame.pts = pts
        av_frame.time_base = self._time_base
        av_frame.duration = 1
        self._mux(self._stream.encode(av_frame))
        if self._audio is not None:
            self._audio.feed_until(Fraction(pts + 1) / self.rate)
        self.frames_written += 1

    def _mux(self, packets) -> None:
        for packet in packets:
            # Every frame lasts one tick of 1/rate: without this the muxer guesses the last frame's length
            # and the file comes out a fraction of a frame short (audio would outlast it).
            if not packet.duration and packet.time_base == self._time_base:
                packet.duration = 1
        self._container.mux(packets)

    # -- finishing ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Flush the encoder, finish the audio and move the file into place."""
        with self._lock, self._write_errors():
            self._finish()

    def _finish(self) -> None:
        if self._container is None:
            return
        self._mux(self._stream.encode(None))
        if self._audio is not None:
            # An input that ended early (truncated, damaged): its audio ends where the video does.
            ended_early = self._source is not None and self._source.ended_early
            self._audio.finish(Fraction(self._last_pts + 1) / self.rate if ended_early else None)
            self._audio = None
        self._container.close()
        self._container = None
        if self._atomic is not None:
            self._atomic.commit()
            self._atomic = None
        elif self.to_stdout:
            sys.stdout.buffer.flush()
        self._close_stream_file()

    def _abort(self) -> None:
        """Drop everything written so far: no partial output, no temporary file."""
        # Wait (briefly) for a frame being encoded on another thread; the file is deleted either way.
        locked = self._lock.acquire(timeout=5)
        try:
            self._close_and_discard(close=locked)
        finally:
            if locked:
                self._lock.release()

    def _close_and_discard(self, close: bool = True) -> None:
        """`close`: False while another thread is stuck in the container (writing into a pipe nobody reads):
        closing it under that thread is unsafe and would block on the same pipe; it is left to the process's exit."""
        if not close:
            self._container = self._audio = None
        if self._audio is not None:
            try:
                self._audio.close()
            except Exception:
                pass
            self._audio = None
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None
        if self._atomic is not None:
            self._atomic.discard()
            self._atomic = None
        self._close_stream_file()

    def _close_stream_file(self) -> None:
        if self._stream_file is not None:
            try:
                self._stream_file.close()
            except OSError:
                pass
            self._stream_file = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self._abort()
                raise
        else:
            self._abort()
