"""`vidinterp upsample`: raise a video's frame rate by interpolating new frames between the existing ones."""

from __future__ import annotations

import logging
import os
import sys
import time
from fractions import Fraction
from typing import Annotated, Optional

import typer

from vidinterp.cli.model_options import BatchSize, Device, Fp16, MaxSide, Method, Model, Precision
from vidinterp.errors import Interrupted, UsageError, VidinterpError
from vidinterp.execution.settings import DEFAULT_DEVICE
from vidinterp.io.sequence import DEFAULT_SEQUENCE_RATE
from vidinterp.io.sequence_writer import DEFAULT_START_NUMBER
from vidinterp.pipeline.timing import (
    DEFAULT_FACTOR,
    DEFAULT_SCENE_CUT,
    DEFAULT_SCENE_THRESHOLD,
    MAX_FACTOR,
    MAX_RATE,
    MIN_RATE,
    USUAL_SCENE_THRESHOLDS,
)

log = logging.getLogger("vidinterp")

EPILOG = """**Examples**

* `vidinterp upsample --sample /tmp/airplane_100fps.mp4 --factor 4`: try it on the bundled 3 s, 25 fps sample clip
  (out: 100 fps)
* `vidinterp upsample holiday.mp4 holiday_60.mp4 --factor 2`: 30 fps → 60 fps; audio, colours and rotation are kept
* `vidinterp upsample talk.mkv talk_5994.mkv --fps 59.94`: any target rate (also 60000/1001); works for
  variable-frame-rate input
* `vidinterp upsample clip.mp4 frames.mkv --codec ffv1`: lossless RGB output, e.g. to score the new frames exactly
* `ffmpeg -i in.mp4 -f yuv4mpegpipe - | vidinterp upsample - - --factor 2 | ffmpeg -i - out.mp4`: in a pipe: '-' reads
  stdin / writes y4m to stdout (logs go to stderr)
* `vidinterp upsample 'frames/%06d.png' 'out/%06d.png' --input-fps 24 --factor 2`: image sequence in and out (a folder
  of numbered images works as IN too); lossless PNG, 16-bit for deep sources
* `vidinterp upsample anime.mkv smooth.mkv --dedupe --fps 24000/1001`: animation held on twos/threes: drop the repeats
  and fill the holds at the input's own rate (or --factor 2 for 48 fps)
* `vidinterp upsample clip.mp4 compare.mp4 --montage`: source and result side by side in one video
"""


# -- small helpers ------------------------------------------------------------------------------------
def _setup_logging(quiet: bool) -> None:
    """Logs on stderr as 'vidinterp: warning: ...' lines; --quiet keeps only errors."""
    from vidinterp.cli.logs import setup_logging

    setup_logging(logging.ERROR if quiet else logging.INFO)


def _parse_factor(text: str) -> int:
    """--factor as a whole number from 2 to MAX_FACTOR, with a one-line error otherwise."""
    wanted = f"--factor must be a whole number from 2 to {MAX_FACTOR}, got '{text}'"
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UsageError(wanted) from None
    if value.denominator != 1 or not 2 <= value <= MAX_FACTOR:
        raise UsageError(f"{wanted} (for other rates use --fps)")
    return int(value)


def _resolve_paths(paths: list[str], sample: bool) -> tuple[str, str]:
    if sample:
        if len(paths) != 1:
            raise UsageError(
                "with --sample give just the output path, e.g. vidinterp upsample --sample out.mp4 --factor 4"
            )
        from vidinterp.io.sample import sample_clip_path

        return str(sample_clip_path()), paths[0]
    if len(paths) != 2:
        raise UsageError(
            (
                "give an input and an output path, e.g. vidinterp upsample in.mp4 out.mp4 --factor 2 (or --sample "
                "out.mp4)"
            )
        )
    return paths[0], paths[1]


def _progress():
    """The rich progress bar itself (transient: it disappears when the run ends)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]upsampling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]} frames/s"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )


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
        typer.Argument(
            metavar="IN OUT",
            help=(
                "Input and output: a video, '-' (stdin / stdout), a folder of numbered images (IN) or a pattern such "
                "as frames/%06d.png. With --sample, only OUT."
            ),
            show_default=False,
        ),
    ] = None,
    factor: Annotated[
        Optional[str],
        typer.Option(
            "--factor",
            help=(
                f"Multiply the frame rate by this whole number, 2 to {MAX_FACTOR} (2 = twice as many frames). "
                f"Default {DEFAULT_FACTOR} when --fps is not given."
            ),
            show_default=False,
        ),
    ] = None,
    fps: Annotated[
        Optional[str],
        typer.Option(
            "--fps",
            help=(
                f"Target frame rate instead of a factor: 60, 60000/1001 or 59.94 ({MIN_RATE} to {MAX_RATE}). Frames "
                "are placed by their timestamps, so variable-rate input comes out even. Below the input rate, frames "
                "are dropped or repeated by their timestamps like ffmpeg's fps filter, not interpolated."
            ),
            show_default=False,
        ),
    ] = None,
    method: Method = None,
    model: Model = None,
    device: Device = DEFAULT_DEVICE,
    fp16: Fp16 = False,
    precision: Precision = None,
    max_side: MaxSide = None,
    batch_size: BatchSize = None,
    scene_cut: Annotated[
        str,
        typer.Option(
            "--scene-cut",
            help=(
                "At a cut between shots: 'hold' repeats the nearer real frame, 'blend' cross-fades, 'off' interpolates "
                "anyway."
            ),
        ),
    ] = DEFAULT_SCENE_CUT,
    scene_threshold: Annotated[
        Optional[float],
        typer.Option(
            "--scene-threshold",
            help=f"The share of the picture that motion cannot explain for two frames to count as a cut, above 0 "
            f"and below 1 (default {DEFAULT_SCENE_THRESHOLD}, usual {USUAL_SCENE_THRESHOLDS[0]} to "
            f"{USUAL_SCENE_THRESHOLDS[1]}). Lower catches cuts between "
            "look-alike shots but may hold a frame (a stutter) in violent motion; higher never stutters but may "
            "interpolate across a cut (a ghostly double image). A cut must also stand out by 0.15 from the median of "
            "the 8 pairs before it; a pair with no context (a 2-frame input) needs 0.45. Where the colours also jump "
            "as they did in none of those pairs (a jump cut between two takes of one place), 0.3 times the threshold "
            "is enough.",
            show_default=False,
        ),
    ] = None,
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe",
            help=(
                "Animation held on twos/threes, stalled screen or game captures: drop frames that repeat the one "
                "before (within codec noise, over the whole frame and block by block) and interpolate between the "
                "others at their real times, so motion is even. With --factor N the output rate is N × the input's; "
                "--fps at the input's own rate fills the holds. The log says how many frames repeated and the hold "
                "pattern."
            ),
        ),
    ] = False,
    codec: Annotated[
        Optional[str],
        typer.Option(
            "--codec",
            "-c",
            help=(
                "Video encoder, e.g. libx264, ffv1 (lossless RGB), libvpx-vp9, rawvideo. Default: by OUT's extension "
                "(.mp4/.mov/.mkv/.ts → libx264, .webm → VP9, or AV1 for a source deeper than VP9 here can write, "
                ".y4m/.nut → raw)."
            ),
            show_default=False,
        ),
    ] = None,
    crf: Annotated[
        Optional[int],
        typer.Option(
            "--crf",
            help="Quality for libx264/libx265 (0 to 51) or VP9/AV1 (0 to 63): lower is better and bigger (libx264 "
            "default 18).",
            min=0,
            max=63,
            show_default=False,
        ),
    ] = None,
    pix_fmt: Annotated[
        Optional[str],
        typer.Option(
            "--pix-fmt",
            help=(
                "Output pixel format, e.g. yuv420p, yuv444p, yuv420p10le. Default keeps the source's chroma (4:4:4, "
                "4:2:2) and bit depth where the codec has them."
            ),
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        Optional[str],
        typer.Option(
            "--format",
            "-f",
            help=(
                "Container for stdout: y4m (default), nut, matroska or mpegts; also overrides OUT's extension (as "
                "ffmpeg's -f does)."
            ),
            show_default=False,
        ),
    ] = None,
    input_format: Annotated[
        Optional[str],
        typer.Option(
            "--input-format",
            help="Container of IN when it cannot be guessed (stdin): y4m, nut, matroska, mpegts.",
            show_default=False,
        ),
    ] = None,
    input_fps: Annotated[
        Optional[str],
        typer.Option(
            "--input-fps",
            help=f"Frame rate of an image-sequence IN: 24, 30000/1001 or 29.97. Default {DEFAULT_SEQUENCE_RATE} (said "
            "in the log).",
            show_default=False,
        ),
    ] = None,
    start_number: Annotated[
        Optional[int],
        typer.Option(
            "--start-number",
            help="Number of the first file of an image-sequence OUT (like ffmpeg's -start_number). Default "
            f"{DEFAULT_START_NUMBER}.",
            min=0,
            show_default=False,
        ),
    ] = None,
    montage: Annotated[
        bool,
        typer.Option(
            "--montage",
            help="Write the source and the result side by side (twice as wide), each labelled, to compare them.",
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", "-y", help="Replace OUT if it exists (never the input); for a pattern, the files it names."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    sample: Annotated[
        bool, typer.Option("--sample", help="Use the bundled 3 s sample clip as IN; then give only OUT.")
    ] = False,
) -> None:
    """Make a video smoother by adding interpolated frames between its frames.

    --factor N puts N−1 new frames between each pair of frames: the frame rate becomes exactly N times the
    input's (30000/1001 × 4 = 120000/1001) and the duration stays the same, so the audio stays in sync.
    --fps RATE instead resamples to any frame rate. Audio, colour tags and rotation are carried over; OUT
    is written only when everything succeeded. IN and OUT may be image sequences ('frames/%06d.png').
    """
    _setup_logging(quiet)
    from vidinterp.api.options import UpsampleOptions

    in_path, out_path = _resolve_paths(paths or [], sample)
    options = UpsampleOptions(
        factor=_parse_factor(factor) if factor is not None else None,
        fps=fps,
        method=method,
        model=model,
        device=device,
        fp16=fp16,
        precision=precision,
        max_side=max_side,
        batch_size=batch_size,
        scene_cut=scene_cut,
        dedupe=dedupe,
        codec=codec,
        crf=crf,
        pix_fmt=pix_fmt,
        output_format=output_format,
        input_format=input_format,
        input_fps=input_fps,
        start_number=start_number,
        montage=montage,
        overwrite=overwrite,
        **({} if scene_threshold is None else {"scene_threshold": scene_threshold}),
    )
    from vidinterp.cli.stdio import is_closed

    if in_path == "-" and is_closed("stdin"):
        raise UsageError(
            (
                "IN is '-' but stdin is closed; pipe a video in, e.g. ffmpeg -i in.mp4 -f yuv4mpegpipe - | vidinterp "
                "upsample - out.mp4"
            )
        )
    if in_path == "-" and sys.stdin.isatty():
        raise UsageError(
            (
                "IN is '-' but stdin is a terminal; pipe a video in, e.g. ffmpeg -i in.mp4 -f yuv4mpegpipe - | "
                "vidinterp upsample - out.mp4"
            )
        )
    if out_path == "-" and is_closed("stdout"):
        raise UsageError(
            "OUT is '-' but stdout is closed; pipe it into another program, e.g. ... | ffmpeg -i - out.mp4"
        )
    if out_path == "-" and sys.stdout.isatty():
        raise UsageError(
            "OUT is '-' but stdout is a terminal; pipe it into another program, e.g. ... | ffmpeg -i - out.mp4"
        )
    # `kill`, `timeout` or a pipeline shutting down send SIGTERM: treat it like Ctrl-C, so the writer still
    # removes its temporary file instead of dying with a half-written .partial file left beside OUT.
    from vidinterp.api.upsample import upsample as run_upsample
    from vidinterp.signals import sigterm_as_interrupt

    try:
        with (
            sigterm_as_interrupt(),
            _ProgressBar(enabled=not is_closed("stderr") and sys.stderr.isatty() and not quiet) as progress,
        ):
            run_upsample(in_path, out_path, options, on_progress=progress.update, use_all_cores=True)
    except BrokenPipeError:
        # Said here: click would end a BrokenPipeError with a silent exit status 1.
        _silence_stdout()
        raise VidinterpError(
            "stdout was closed by the program reading it (broken pipe); the output stopped there"
        ) from None
    except KeyboardInterrupt as exc:
        # Typer turns a bare KeyboardInterrupt into a silent exit status; say it and exit 130 (143 after
        # SIGTERM) like a shell does. (The writer has already removed its temporary output on the way out.)
        from vidinterp.signals import describe, exit_status

        raise Interrupted(describe(getattr(exc, "signum", None)), exit_status(exc)) from None


class _ProgressBar:
    """A rich progress bar on stderr, started at the first written frame (when the expected total is known)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None
        self._task = None
        self._started = time.monotonic()

    def update(self, done: int, expected: int | None) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = _progress()
            self._bar.start()
            self._task = self._bar.add_task("upsample", total=expected, fps="–")
        rate = done / max(time.monotonic() - self._started, 1e-9)
        self._bar.update(self._task, completed=done, fps=f"{rate:.1f}")

    def __enter__(self) -> "_ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def register(app: typer.Typer) -> None:
    """Add `vidinterp upsample` to the app."""
    app.command(
        "upsample",
        epilog=EPILOG,
        short_help="Raise the frame rate (2×, 4×, 60 fps, ...) by interpolating new frames.",
    )(upsample)
