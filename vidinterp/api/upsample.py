"""Retime a video or an image sequence to a new frame rate: what `vidinterp upsample` runs, as a function.

Inputs: a video file, '-' (stdin), a folder of numbered images or a pattern such as 'frames/%06d.png'.
Outputs: a video file, '-' (stdout) or a pattern such as 'out/%06d.png' (lossless PNG). Every check that can
fail is made before the model is loaded, and the output appears only when the whole run succeeded.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vidinterp.api.options import UpsampleOptions, as_options
from vidinterp.api.pair import FrameInterpolator, load
from vidinterp.errors import UsageError, VidinterpError
from vidinterp.execution.settings import Settings
from vidinterp.interpolators.runtime import resolve_settings
from vidinterp.io.atomic import check_output_path
from vidinterp.io.paths import os_error_message
from vidinterp.io.reader import VideoReader, open_video
from vidinterp.io.sequence import (
    DEFAULT_SEQUENCE_RATE,
    SEQUENCE_EXTENSIONS,
    ImageSequenceReader,
    find_sequence,
    is_pattern,
    is_sequence_input,
)
from vidinterp.io.sequence_writer import (
    DEFAULT_START_NUMBER,
    ImageSequenceWriter,
    check_sequence_output,
)
from vidinterp.io.writer import VideoWriter, preflight_video_output
from vidinterp.pipeline.dedupe import Deduplicator, HoldStats, RepeatProbe
from vidinterp.pipeline.engine import RetimeStats, retime
from vidinterp.pipeline.montage import SourceRecorder, montage
from vidinterp.pipeline.threads import configure_torch_threads, run_threaded
from vidinterp.pipeline.timing import (
    USUAL_MAX_RATE,
    USUAL_SCENE_THRESHOLDS,
    selects_frames,
    target_rate,
)

log = logging.getLogger("vidinterp")

#: called after each written frame with (frames written, expected total or None)
ProgressCallback = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class UpsampleSummary:
    """What a finished `upsample` did (the numbers of the CLI's last log line)."""

    input: str
    output: str
    width: int
    height: int
    input_rate: Fraction
    output_rate: Fraction
    input_frames: int
    output_frames: int
    #: output frames made by the interpolator / copied from the input / cross-faded at cuts
    interpolated_frames: int
    copied_frames: int
    blended_frames: int
    scene_cuts: int
    #: damaged packets of a video input that were skipped (the frames around them held)
    damaged_packets: int
    seconds: float
    method: str
    device: str
    #: with dedupe: input frames that repeated the frame before them, and how the input held its pictures
    #: ('on twos', 'on threes', 'mixed (...)', 'none'); 0 and None without dedupe
    held_frames: int = 0
    hold_pattern: str | None = None

    @property
    def frames_per_second(self) -> float:
        """Output frames written per second of wall time."""
        return self.output_frames / max(self.seconds, 1e-9)


def format_rate(rate: Fraction) -> str:
    """'24', or '30000/1001 (29.97)' for rates that are not whole numbers."""
    rate = Fraction(rate)
    if rate.denominator == 1:
        return str(rate.numerator)
    decimal = f"{float(rate):.3f}".rstrip("0").rstrip(".")
    return f"{rate.numerator}/{rate.denominator} ({decimal})"


def _out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA or CPU allocator) and Python's MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ()))


def upsample(
    input: str | Path,
    output: str | Path,
    options: UpsampleOptions | Mapping[str, Any] | None = None,
    *,
    interpolator: FrameInterpolator | None = None,
    on_progress: ProgressCallback | None = None,
    use_all_cores: bool = False,
) -> UpsampleSummary:
    """Retime `input` into `output` as `options` say (default: twice the frame rate with the shipped model).

    input: video file, '-' (stdin), folder of numbered images, or a pattern like 'frames/%06d.png'.
    output: video file, '-' (stdout, y4m), or a pattern like 'out/%06d.png' (lossless PNG, 16-bit for deep
        sources, numbered from `options.start_number`).
    interpolator: one from `vidinterp.load`, reused instead of loading one from the options' method/model/device.
    on_progress: called after every written frame with (frames written, expected total or None).
    use_all_cores: let torch use every CPU core this process may run on (the CLI does; a library leaves the
        process's thread setting alone unless asked).
    options: an `UpsampleOptions`, or a mapping of its fields such as {"factor": 4}; None = the defaults.
    Raises VidinterpError (UsageError for bad options) with a one-line message; nothing is written then.
    """
    options = as_options(options, UpsampleOptions)
    # Resolved once, here: the input is opened for this device and the interpolator is loaded onto it.
    settings = interpolator.settings if interpolator is not None else resolve_settings(options.settings)
    try:
        return _upsample(str(input), str(output), options, settings, interpolator, on_progress, use_all_cores)
    except av.error.FFmpegError as exc:
        # Anything ffmpeg refuses that the checks did not foresee: still one line, not a traceback.
        raise VidinterpError(f"ffmpeg failed: {exc.strerror or exc}") from None
    except BrokenPipeError:
        raise  # the reader of stdout went away: the CLI ends quietly, as `| head` expects
    except OSError as exc:
        # The file system refused something the checks could not foresee (a disk that filled up, a folder removed
        # while running): one line naming the path.
        if exc.filename is not None:
            raise VidinterpError(os_error_message(exc, exc.filename, "cannot use")) from None
        raise VidinterpError(f"input/output error: {exc.strerror or exc}") from None
    except (MemoryError, RuntimeError) as exc:
        if not _out_of_memory(exc):
            raise
        # The one runtime failure a user can fix themselves: say how.
        raise VidinterpError(
            "ran out of memory while interpolating; lower --batch-size (now "
            f"{settings.batch_size}), or use --device cpu if the GPU is the one that is full"
        ) from None


def _check_applicable(
    in_path: str, out_path: str, sequence_in: bool, sequence_out: bool, options: UpsampleOptions
) -> None:
    """Refuse options that have no meaning for this kind of input or output."""
    if options.input_fps is not None and not sequence_in:
        raise UsageError(
            f"--input-fps sets the frame rate of an image sequence; '{in_path}' is a video, which has its own"
        )
    if options.start_number is not None and not sequence_out:
        raise UsageError("--start-number only applies to an image-sequence output such as out/%06d.png")
    if sequence_out:
        video_only = [name for name, value in (("--codec", options.codec), ("--crf", options.crf),
                      ("--pix-fmt", options.pix_fmt), ("--format", options.output_format)) if value is not None]
        if video_only:
            raise UsageError(f"{', '.join(video_only)} only apply to a video output; an image sequence is lossless PNG")


def _open_input(in_path: str, sequence_in: bool, out_path: str, sequence_out: bool, options: UpsampleOptions,
                on_cpu: bool):
    """Check the output path against the input, then open the input (a video, stdin or an image sequence).

    `on_cpu`: frames are interpolated on the CPU. A decoder on one thread stays far ahead of it (at 1080p about
    11 ms a frame, against 0.5 s per new frame for the model), so frame threads would only add memory and
    compete for the cores."""
    if sequence_in:
        sequence = find_sequence(in_path)
        inputs: tuple[Path, ...] = sequence.files
    else:
        sequence, inputs = None, (Path(in_path),) if in_path != "-" else ()
    if sequence_out:
        check_sequence_output(out_path)
    elif out_path != "-":
        check_output_path(Path(out_path), overwrite=options.overwrite, inputs=inputs)
    if sequence is not None:
        return ImageSequenceReader(sequence, options.input_fps or DEFAULT_SEQUENCE_RATE)
    return open_video(in_path, options.input_format, frame_threads=not on_cpu)


def _describe_input(in_path: str, reader: VideoReader | ImageSequenceReader, options: UpsampleOptions) -> str:
    info = reader.info
    if isinstance(reader, ImageSequenceReader):
        how = "--input-fps" if options.input_fps is not None else "the default; set another with --input-fps"
        return (f"{reader.sequence.pattern}: {info.frame_count} images, {info.width}×{info.height}, "
                f"{info.bit_depth}-bit, read at {format_rate(info.frame_rate)} fps ({how})")
    count = f"{info.frame_count} frames" if info.frame_count else "length unknown"
    name = "stdin" if in_path == "-" else in_path
    return f"{name}: {info.width}×{info.height}, {format_rate(info.frame_rate)} fps, {count}"


def _warn_unusual(options, input_rate: Fraction, rate: Fraction) -> None:
    """Say so when a setting is allowed but rarely what was meant, or changes how frames are made."""
    low, high = USUAL_SCENE_THRESHOLDS
    if options.scene_cut != "off" and not low <= options.scene_threshold <= high:
        effect = ("ordinary motion may count as a cut" if options.scene_threshold < low
                  else "even unrelated shots may not count as a cut")
        log.warning("--scene-threshold %g is outside the usual %g to %g: %s", options.scene_threshold, low, high,
                    effect)
    if rate > USUAL_MAX_RATE:
        log.warning("the output rate is %s fps; displays show at most a few hundred "
                    "(for slow motion, retime the result)",
                    format_rate(rate))
    if selects_frames(options, input_rate):
        log.info("--fps %s is below the input's %s fps: frames are dropped or repeated by their timestamps "
                 "(as ffmpeg's "
                 "fps filter does), not interpolated", format_rate(options.fps), format_rate(input_rate))


def _log_holds(holds: HoldStats, input_frames: int) -> None:
    """One line on what --dedupe found: how many frames repeated the one before, and the hold pattern."""
    if not holds.repeated_frames:
        log.info("--dedupe: no frame repeated the one before; nothing was dropped")
        return
    kept = (f"; {holds.kept_copies} kept to hold a picture through a still, until a scene cut or to the end"
            if holds.kept_copies else "")
    log.info("--dedupe: %d of %d frames repeated the one before (hold pattern: %s); interpolated across %d of them%s",
             holds.repeated_frames, input_frames, holds.pattern(), holds.dropped_frames, kept)


def _expected_output_frames(info, factor: int | None, rate: Fraction) -> int | None:
    """Output frame count for progress (an estimate when the container's count is)."""
    if factor is not None and info.frame_count:
        return info.frame_count * factor
    if info.duration:
        return max(1, round(info.duration * rate))
    return None


def _upsample(in_path: str, out_path: str, options: UpsampleOptions, settings: Settings,
              interpolator: FrameInterpolator | None, on_progress, use_all_cores: bool) -> UpsampleSummary:
    sequence_in = is_sequence_input(in_path)
    # A '%d' in a video's name is just a name; a still-image extension makes it a sequence (PNG is checked later).
    sequence_out = out_path != "-" and is_pattern(out_path) and Path(out_path).suffix.lower() in SEQUENCE_EXTENSIONS
    _check_applicable(in_path, out_path, sequence_in, sequence_out, options)

    on_cpu = settings.device.type == "cpu"
    with _open_input(in_path, sequence_in, out_path, sequence_out, options, on_cpu) as reader, \
            contextlib.ExitStack() as output:
        reader.require_frames(2)
        info = reader.info
        rate = target_rate(options.output_factor, options.fps, info.frame_rate)
        _warn_unusual(options, info.frame_rate, rate)
        width = info.width * (2 if options.montage else 1)
        # Every check of the output before a model is loaded. An image sequence is staged from here on (its writer
        # makes the checks); the output's `with` below removes the staging again if anything fails.
        if sequence_out:
            writer = output.enter_context(ImageSequenceWriter(
                out_path, width=width, height=info.height, overwrite=options.overwrite,
                start_number=options.start_number if options.start_number is not None else DEFAULT_START_NUMBER,
                inputs=getattr(reader, "files", ())))
        else:
            preflight_video_output(out_path, width=width, height=info.height, rate=rate, bit_depth=info.bit_depth,
                                   codec=options.codec, crf=options.crf, pix_fmt=options.pix_fmt,
                                   container_format=options.output_format, source_pix_fmt=info.pix_fmt)
        if interpolator is None:
            interpolator = load(settings=settings)
        if use_all_cores:
            configure_torch_threads(interpolator.settings)
        log.info("%s → %s fps with %s on %s", _describe_input(in_path, reader, options), format_rate(rate),
                 interpolator.method, interpolator.device)
        expected = _expected_output_frames(info, options.output_factor, rate)
        deduplicator = None
        probe = RepeatProbe() if not options.dedupe else None
        if options.dedupe:
            deduplicator = Deduplicator(
                cut_threshold=options.scene_threshold if options.scene_cut != "off" else None)
        # With --dedupe output frames are placed by time between the frames that remain, so factor N is N × the
        # input rate.
        retime_options = options.retiming(settings.batch_size, rate if options.dedupe else None)
        stats = RetimeStats()
        started = time.monotonic()
        if sequence_out:
            if info.has_audio:
                log.warning("the input's audio is dropped: an image sequence has no audio")
        else:
            writer = output.enter_context(VideoWriter(
                out_path, width=width, height=info.height, rate=rate, codec=options.codec, crf=options.crf,
                pix_fmt=options.pix_fmt, container_format=options.output_format, bit_depth=info.bit_depth,
                source=reader, overwrite=options.overwrite, source_pix_fmt=info.pix_fmt))
        labels = (f"source {format_rate(info.frame_rate)} fps", f"{interpolator.method} {format_rate(rate)} fps")

        def process(frames: Iterator) -> Iterator:
            recorder = SourceRecorder() if options.montage else None
            if recorder is not None:
                frames = recorder.record(frames)  # the source side shows every input frame, repeats included
            if deduplicator is not None:
                frames = deduplicator.frames(frames)
            if probe is not None:
                frames = probe.frames(frames)
            outputs = retime(frames, interpolator.interpolator, retime_options, input_rate=info.frame_rate,
                             stats=stats)
            return outputs if recorder is None else montage(outputs, recorder, *labels)

        def sink(frame) -> None:
            writer.write(frame)
            if on_progress is not None:
                on_progress(writer.frames_written, expected)

        run_threaded(reader.frames(), process, sink, queue_size=2 * retime_options.batch_size)
        output.close()  # finish the output: flushed, moved into place
        seconds = time.monotonic() - started
    dropped = reader.timeline.dropped if isinstance(reader, VideoReader) else 0
    if dropped:
        log.warning("%d frame%s dropped: %s time did not move forward (duplicated or broken timestamps)", dropped,
                    *(("s", "their") if dropped > 1 else ("", "its")))
    if reader.corrupt_packets:
        many = "s" if reader.corrupt_packets > 1 else ""
        log.warning("%d damaged packet%s skipped; the frames around them were held", reader.corrupt_packets, many)
    shortfall = reader.shortfall()
    if shortfall:
        log.warning("%s (truncated or damaged); the output is that much shorter, its audio cut to match", shortfall)
    if probe is not None and probe.suggests_dedupe:
        log.info("%d of the first %d frames repeat the one before (held drawings or a stalled capture?); "
                 "--dedupe interpolates across such holds instead of copying them", probe.repeats, probe.probed)
    holds = deduplicator.stats if deduplicator is not None else None
    # the frames --dedupe dropped never reached the retiming, but they were read
    input_frames = stats.input_frames + (holds.dropped_frames if holds is not None else 0)
    if holds is not None:
        _log_holds(holds, input_frames)
    summary = UpsampleSummary(
        input=in_path, output=out_path, width=width, height=info.height, input_rate=info.frame_rate,
        output_rate=rate, input_frames=input_frames, output_frames=writer.frames_written,
        interpolated_frames=stats.interpolated_frames, copied_frames=stats.copied_frames,
        blended_frames=stats.blended_frames, scene_cuts=stats.scene_cuts, damaged_packets=reader.corrupt_packets,
        seconds=seconds, method=interpolator.method, device=str(interpolator.device),
        held_frames=holds.repeated_frames if holds else 0, hold_pattern=holds.pattern() if holds else None,
    )
    target = "stdout" if out_path == "-" else out_path
    cuts = f", {stats.scene_cuts} scene cut{'s' if stats.scene_cuts != 1 else ''}" if stats.scene_cuts else ""
    short = f"; {shortfall}" if shortfall else ""
    log.info("%d frames at %s fps → %d frames at %s fps in %.1f s (%.1f frames/s%s) → %s%s", summary.input_frames,
             format_rate(info.frame_rate), summary.output_frames, format_rate(rate), seconds,
             summary.frames_per_second, cuts, target, short)
    return summary
