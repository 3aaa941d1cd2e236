"""`vidinterp eval`: measure interpolation quality on triplet datasets or on videos."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from vidinterp.cli.model_options import Device, Fp16, MaxSide, Method, Model, Precision
from vidinterp.evaluate.framedrop import DEFAULT_DROP
from vidinterp.execution.settings import DEFAULT_DEVICE

HELP = """Measure how well an interpolator recreates real frames.

PATH is a triplet dataset, a folder holding several, a video, or a folder of videos. Triplet layouts are
recognised automatically: Middlebury (other-data + other-gt-interp), Vimeo-90K triplet (im1/im2/im3.png, also
the official sequences/ + tri_testlist.txt), UCF101 DVF (frame_00, frame_01_gt, frame_02.png). Each triplet is
interpolated at t = 0.5 from its outer frames.

Videos use the frame-drop protocol: keep every k-th frame (--drop k), interpolate the dropped ones at their
time t and compare with the real frames. Their 'temporal err' is the mean |(P(i+1) − P(i)) − (T(i+1) − T(i))|
(0..255) over consecutive frames P of the result and T of the real video, kept frames included: 0 means the
result changes from frame to frame exactly as the real video does; flicker and judder raise it. With --drop 2
every interpolated frame sits between two real ones and it equals the MAE; with --drop 3 or more it also
catches interpolated frames that jump relative to each other.

Metrics: PSNR (dB, RGB 0..255, prediction rounded like a saved frame, mean of per-item PSNR, identical
images = 100 dB), SSIM (11×11 Gaussian window, σ 1.5, per RGB channel, averaged), MAE (0..255, Middlebury
'IE'), VMAF v0.6.1 when vmaf-torch is installed (luma, each item scored as a one-frame video, so not the
score of a whole video), LPIPS when the lpips package and its weights are on disk. 's / item' is
interpolation time only.
"""

EPILOG = """**Examples**

* `vidinterp eval datasets/ --method blend`: every dataset under the folder; table on stdout
* `vidinterp eval vimeo_triplet --limit 100 --json > vimeo.json`: first 100 test triplets, JSON (per item and
  summary) on stdout
* `vidinterp eval clip.mp4 --drop 4 --save-dir failures/`: keep every 4th frame, score the 3 in between at
  t = 1/4, 2/4, 3/4, save side-by-side pictures
"""


def register(app: typer.Typer) -> None:
    """Add the `eval` command to the app."""
    app.command("eval", help=HELP, epilog=EPILOG)(eval_command)


def eval_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="Triplet dataset (or a folder of them), video file, or folder of videos.", show_default=False
        ),
    ],
    method: Method = None,
    model: Model = None,
    device: Device = DEFAULT_DEVICE,
    fp16: Fp16 = False,
    precision: Precision = None,
    max_side: MaxSide = None,
    drop: Annotated[
        int,
        typer.Option(
            "--drop", "-k", help="Videos: keep every k-th frame and interpolate the k − 1 frames between.", min=2
        ),
    ] = DEFAULT_DROP,
    limit: Annotated[
        Optional[int],
        typer.Option(
            "--limit", "-n", help="Score at most N items per dataset or video (quick runs).", min=1, show_default=False
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Write the results as JSON on stdout (per item and summary); the table then goes to stderr."
        ),
    ] = False,
    lpips: Annotated[
        Optional[bool],
        typer.Option(
            "--lpips/--no-lpips",
            help="LPIPS (AlexNet): computed when the lpips package and its weights are on disk; --lpips also says "
            "why when they are not, --no-lpips skips it.",
            show_default=False,
        ),
    ] = None,
    vmaf: Annotated[
        Optional[bool],
        typer.Option(
            "--vmaf/--no-vmaf",
            help="VMAF v0.6.1 per item and per set: computed when vmaf-torch is installed (pip install "
            "'vidinterp[vmaf]'); --vmaf also says why when it is not, --no-vmaf skips it.",
            show_default=False,
        ),
    ] = None,
    save_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--save-dir",
            help="Write a labelled side-by-side PNG per item here: frame 0, frame 1, result, truth, error map "
            "with its scale, and the item's PSNR/SSIM.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Evaluate an interpolator (see HELP)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from vidinterp.api.evaluation import evaluate_on
    from vidinterp.api.options import EvaluationOptions
    from vidinterp.evaluate.report import render_table, say_unavailable

    options = EvaluationOptions(
        method=method, model=model, device=device, fp16=fp16, precision=precision, max_side=max_side, drop=drop,
        limit=limit, save_dir=save_dir, lpips=lpips, vmaf=vmaf,
    )
    # Not a terminal (a log file, CI): rich would assume 80 columns and cut the names; give the tables room.
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    # Started once the data is found and the model loaded, so an error before that is one clean line.
    progress = Progress(*columns, console=console, transient=True)
    task = progress.add_task("eval", total=None, start=False)

    def start(total: int | None) -> None:
        progress.update(task, total=total)
        progress.start()
        progress.start_task(task)

    def advance(set_name: str, _item) -> None:
        progress.update(task, advance=1, description=f"eval: {set_name}")

    try:
        report = evaluate_on(path, options, on_item=advance, on_start=start)
    finally:
        if progress.live.is_started:
            progress.stop()

    title = (
        f"vidinterp eval — method {report.method}"
        + (f" ({report.model})" if report.model else "")
        + f", device {report.device}"
    )
    # The report goes to stdout, unless the JSON takes it.
    stream = sys.stderr if as_json else sys.stdout
    render_table(report.sets, Console(file=stream, width=None if stream.isatty() else 120), title=title,
                 lpips_reason=report.lpips_reason, vmaf_reason=report.vmaf_reason)
    # Why a perceptual score is missing, only when it was asked for (it is in the JSON either way).
    for metric, asked, reason in (("LPIPS", lpips, report.lpips_reason), ("VMAF", vmaf, report.vmaf_reason)):
        if asked:
            say_unavailable(console, metric, reason)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        sys.stdout.flush()
