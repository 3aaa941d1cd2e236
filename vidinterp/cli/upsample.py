"""`vidinterp upsample`: raise a video's frame rate by interpolating new frames between the existing ones."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Iterator, Optional

import av
import typer

from vidinterp.errors import UsageError, VidinterpError

log = logging.getLogger("vidinterp")

EPILOG = """**Examples**

* `vidinterp upsample --sample /tmp/airplane_100fps.mp4 --factor 4`: try it on the bundled 3 s, 25 fps sample clip (out: 100 fps)
* `vidinterp upsample holiday.mp4 holiday_60.mp4 --factor 2`: 30 fps → 60 fps; audio, colours and rotation are kept
* `vidinterp upsample talk.mkv talk_5994.mkv --fps 59.94`: any target rate (also 60000/1001); works for variable-frame-rate input
* `vidinterp upsample clip.mp4 frames.mkv --codec ffv1`: lossless RGB output, e.g. to score the new frames exactly
* `ffmpeg -i in.mp4 -f yuv4mpegpipe - | vidinterp upsample - - --factor 2 | ffmpeg -i - out.mp4`: in a pipe: '-' reads stdin / writes y4m to stdout (logs go to stderr)
"""


class Interrupted(VidinterpError):
    """Ctrl-C: reported as one line, exit status 130 (128 + SIGINT)."""

    exit_code = 130


# -- small helpers ------------------------------------------------------------------------------------
def _setup_logging(quiet: bool) -> None:
    """Logs on stderr as 'vidinterp: warning: ...' lines; --quiet keeps only errors."""
    logger = logging.getLogger("vidinterp")
    for old in [h for h in logger.handlers if isinstance(h.formatter, _Formatter)]:
        logger.removeHandler(old)  # a previous in-process run's handler (tests call main() repeatedly)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR if quiet else logging.INFO)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "vidinterp: " if record.levelno < logging.WARNING else f"vidinterp: {record.levelname.lower()}: "
        return prefix + record.getMessage()


def _parse_factor(text: str) -> int:
    """--factor as a whole number ≥ 2, with a one-line error otherwise."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--factor must be a whole number of at least 2, got '{text}'") from None
    if value.denominator != 1 or value < 2:
        raise UsageError(f"--factor must be a whole number of at least 2, got '{text}' (for other rates use --fps)")
    return int(value)


def format_rate(rate: Fraction) -> str:
    """'24', or '30000/1001 (29.97)' for rates that are not whole numbers."""
    rate = Fraction(rate)
    if rate.denominator == 1:
        return str(rate.numerator)
    decimal = f"{float(rate):.3f}".rstrip("0").rstrip(".")
    return f"{rate.numerator}/{rate.denominator} ({decimal})"


def _resolve_paths(paths: list[str], sample: bool) -> tuple[str, str]:
    if sample:
        if len(paths) != 1:
            raise UsageError("with --sample give just the output path, e.g. vidinterp upsample --sample out.mp4 --factor 4")
        from vidinterp.io.sample import sample_clip_path

        return str(sample_clip_path()), paths[0]
    if len(paths) != 2:
        raise UsageError("give an input and an output path, e.g. vidinterp upsample in.mp4 out.mp4 --factor 2 (or --sample out.mp4)")
    return paths[0], paths[1]


def _progress(total: int | None, enabled: bool):
    """A rich progress bar on stderr, or None when stderr is not a terminal (or --quiet)."""
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]upsampling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]} frames/s"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )


def _out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA or CPU allocator) and Python's MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ()))


def _silence_stdout() -> None:
    """After the reader of stdout has gone, point fd 1 at /dev/null so Python's exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


# -- the command --------------------------------------------------------------------------------------
def upsample(
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="IN OUT", help="Input and output video. '-' = stdin / stdout. With --sample, only OUT.", show_default=False),
    ] = None,
    factor: Annotated[Optional[str], typer.Option("--factor", "-f", help="Multiply the frame rate by this whole number (2 = twice as many frames). Default 2 when --fps is not given.", show_default=False)] = None,
    fps: Annotated[Optional[str], typer.Option("--fps", help="Target frame rate instead of a factor: 60, 60000/1001 or 59.94. Frames are placed by their timestamps, so variable-rate input comes out even.", show_default=False)] = None,
    method: Annotated[Optional[str], typer.Option("--method", "-m", help="How new frames are made: 'model' (learned motion, best) or 'blend' (cross-fade, fast). Default: model when its weights are installed, else blend.", show_default=False)] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="Weights for --method model: a .safetensors file from 'vidinterp train' (its .json config beside it). Default: the shipped weights.", show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", help="Where to run the model: auto (GPU if there is one), cpu or cuda.")] = "auto",
    fp16: Annotated[bool, typer.Option("--fp16", help="Half precision on the GPU: faster, a little less exact.")] = False,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="New frames made per model call; lower it if the GPU runs out of memory. Default: 1 on the CPU (bigger batches only cost memory there), 8 on a GPU.", show_default=False)] = None,
    scene_cut: Annotated[str, typer.Option("--scene-cut", help="At a cut between shots: 'hold' repeats the nearer real frame, 'blend' cross-fades, 'off' interpolates anyway.")] = "hold",
    scene_threshold: Annotated[Optional[float], typer.Option("--scene-threshold", help="How different two frames must be to count as a cut (higher = fewer cuts).", show_default=False)] = None,
    codec: Annotated[Optional[str], typer.Option("--codec", "-c", help="Video encoder, e.g. libx264, ffv1 (lossless RGB), libvpx-vp9, rawvideo. Default: by OUT's extension (.mp4/.mov/.mkv → libx264, .webm → VP9, .y4m → raw).", show_default=False)] = None,
    crf: Annotated[Optional[int], typer.Option("--crf", help="Quality for libx264/VP9/AV1: lower is better and bigger (libx264 default 18).", show_default=False)] = None,
    pix_fmt: Annotated[Optional[str], typer.Option("--pix-fmt", help="Output pixel format, e.g. yuv420p, yuv444p, yuv420p10le. Default keeps 10-bit sources 10-bit.", show_default=False)] = None,
    output_format: Annotated[Optional[str], typer.Option("--format", help="Container for stdout: y4m (default) or nut; also overrides OUT's extension.", show_default=False)] = None,
    input_format: Annotated[Optional[str], typer.Option("--input-format", help="Container of IN when it cannot be guessed (stdin): y4m, nut, matroska, mpegts.", show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", "-y", help="Replace OUT if it exists (never the input).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    sample: Annotated[bool, typer.Option("--sample", help="Use the bundled 3 s sample clip as IN; then give only OUT.")] = False,
) -> None:
    """Make a video smoother by adding interpolated frames between its frames.

    --factor N puts N−1 new frames between each pair of frames: the frame rate becomes exactly N times the
    input's (30000/1001 × 4 = 120000/1001) and the duration stays the same, so the audio stays in sync.
    --fps RATE instead resamples to any frame rate. Audio, colour tags and rotation are carried over; OUT
    is written only when everything succeeded.
    """
    _setup_logging(quiet)
    # `kill`, `timeout` or a pipeline shutting down send SIGTERM: treat it like Ctrl-C, so the writer still
    # removes its temporary file instead of dying with a half-written .partial file left beside OUT.
    from vidinterp.signals import sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():
            _upsample(
                paths or [], factor, fps, method, model, device, fp16, batch_size, scene_cut, scene_threshold,
                codec, crf, pix_fmt, output_format, input_format, overwrite, quiet, sample,
            )
    except BrokenPipeError:
        _silence_stdout()
        raise
    except av.error.FFmpegError as exc:
        # Anything ffmpeg refuses that the checks above did not foresee: still one line, not a traceback.
        raise VidinterpError(f"ffmpeg failed: {exc.strerror or exc}") from None
    except (MemoryError, RuntimeError) as exc:
        if not _out_of_memory(exc):
            raise
        # The one runtime failure a user can fix themselves: say how (the --batch-size help promises it).
        raise VidinterpError(
            "ran out of memory while interpolating; lower --batch-size (now "
            f"{batch_size or 'the default'}), or use --device cpu if the GPU is the one that is full"
        ) from None
    except KeyboardInterrupt:
        # Typer turns a bare KeyboardInterrupt into a silent exit status; say it and exit 130 like a shell does.
        # (The writer has already removed its temporary file on the way out.)
        raise Interrupted("interrupted") from None



def _upsample(paths, factor, fps, method, model, device, fp16, batch_size, scene_cut, scene_threshold,
              codec, crf, pix_fmt, output_format, input_format, overwrite, quiet, sample) -> None:
    from vidinterp.io.atomic import check_output_path
    from vidinterp.io.codecs import choose_encoder
    from vidinterp.io.reader import open_video
    from vidinterp.io.writer import VideoWriter
    from vidinterp.pipeline.engine import RetimeStats
    from vidinterp.pipeline.threads import configure_torch_threads
    from vidinterp.pipeline.timing import (
        DEFAULT_SCENE_THRESHOLD, RetimeOptions, default_batch_size, output_rate, parse_rate,
    )

    in_path, out_path = _resolve_paths(paths, sample)
    if factor is not None and fps is not None:
        raise UsageError("give either --factor or --fps, not both")
    options = RetimeOptions(
        factor=_parse_factor(factor) if factor is not None else (None if fps is not None else 2),
        fps=parse_rate(fps) if fps is not None else None,
        batch_size=batch_size if batch_size is not None else 1,  # the device's default is set below
        scene_cut=scene_cut,
        scene_threshold=DEFAULT_SCENE_THRESHOLD if scene_threshold is None else scene_threshold,
    )
    if in_path == "-" and sys.stdin.isatty():
        raise UsageError("IN is '-' but stdin is a terminal; pipe a video in, e.g. ffmpeg -i in.mp4 -f yuv4mpegpipe - | vidinterp upsample - out.mp4")
    if out_path == "-" and sys.stdout.isatty():
        raise UsageError("OUT is '-' but stdout is a terminal; pipe it into another program, e.g. ... | ffmpeg -i - out.mp4")
    if out_path != "-":
        # Fail on the output path before decoding or loading a model.
        check_output_path(Path(out_path), overwrite=overwrite, inputs=(Path(in_path),) if in_path != "-" else ())

    with open_video(in_path, input_format) as reader:
        reader.require_frames(2)
        info = reader.info
        rate = output_rate(options, info.frame_rate)
        # Check codec/pix-fmt/extension now, before a model is loaded.
        choose_encoder(None if out_path == "-" else out_path, width=info.width, height=info.height, bit_depth=info.bit_depth,
                       codec=codec, crf=crf, pix_fmt=pix_fmt, container_format=output_format)
        from vidinterp.interpolators import create_interpolator, default_method

        method = method or default_method()
        interpolator = create_interpolator(method, model_path=model, device=device, fp16=fp16)
        configure_torch_threads(interpolator.device)
        if batch_size is None:
            options = dataclasses.replace(options, batch_size=default_batch_size(interpolator.device.type))
        expected = _expected_output_frames(info, options, rate)
        log.info("%s: %d×%d, %s fps, %s → %s fps with %s on %s", "stdin" if in_path == "-" else in_path, info.width,
                 info.height, format_rate(info.frame_rate), f"{info.frame_count} frames" if info.frame_count else "length unknown",
                 format_rate(rate), method, interpolator.device)
        started = time.monotonic()
        stats = RetimeStats()
        with VideoWriter(
            out_path, width=info.width, height=info.height, rate=rate, codec=codec, crf=crf, pix_fmt=pix_fmt,
            container_format=output_format, bit_depth=info.bit_depth, source=reader, overwrite=overwrite,
        ) as writer:
            progress = _progress(expected, enabled=sys.stderr.isatty() and not quiet)
            _run(reader, interpolator, options, stats, writer, progress, expected, started)
        elapsed = time.monotonic() - started
    if reader.corrupt_packets:
        log.warning("%d damaged packet%s skipped; the frames around them were held", reader.corrupt_packets, "s" if reader.corrupt_packets > 1 else "")
    target = "stdout" if out_path == "-" else out_path
    cuts = f", {stats.scene_cuts} scene cut{'s' if stats.scene_cuts != 1 else ''}" if stats.scene_cuts else ""
    log.info("%d frames at %s fps → %d frames at %s fps in %.1f s (%.1f frames/s%s) → %s", stats.input_frames, format_rate(info.frame_rate),
             writer.frames_written, format_rate(rate), elapsed, writer.frames_written / max(elapsed, 1e-9), cuts, target)


def _expected_output_frames(info, options, rate: Fraction) -> int | None:
    """Output frame count for the progress bar (an estimate when the container's count is)."""
    if options.factor is not None and info.frame_count:
        return info.frame_count * options.factor
    if info.duration:
        return max(1, round(info.duration * rate))
    return None


def _run(reader, interpolator, options, stats, writer, progress, expected, started) -> None:
    """Decode → interpolate → encode on separate threads with bounded queues (memory flat in video length)."""
    from vidinterp.pipeline.engine import retime
    from vidinterp.pipeline.threads import run_threaded

    def process(frames: Iterator) -> Iterator:
        return retime(frames, interpolator, options, input_rate=reader.info.frame_rate, stats=stats)

    if progress is None:
        run_threaded(reader.frames(), process, writer.write, queue_size=2 * options.batch_size)
        return
    with progress:
        task = progress.add_task("upsample", total=expected, fps="–")

        def sink(frame) -> None:
            writer.write(frame)
            done = writer.frames_written
            progress.update(task, completed=done, fps=f"{done / max(time.monotonic() - started, 1e-9):.1f}")

        run_threaded(reader.frames(), process, sink, queue_size=2 * options.batch_size)


def register(app: typer.Typer) -> None:
    """Add `vidinterp upsample` to the app."""
    app.command(
        "upsample",
        epilog=EPILOG,
        short_help="Raise the frame rate (2×, 4×, 60 fps, ...) by interpolating new frames.",
    )(upsample)
