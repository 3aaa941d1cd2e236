"""`vidinterp bench`: time the custom operators per backend and shape, and optionally a whole interpolation."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Optional

import typer

from vidinterp.cli.model_options import Device, Fp16, MaxSide, Method, Model, Precision
from vidinterp.execution.settings import DEFAULT_DEVICE

EPILOG = """**Examples**

* `vidinterp bench --quick`: a small sweep (well under a minute on a laptop CPU)
* `vidinterp bench --ops warp --resolutions 1080p --scales 1 --channels 3,32 --json > warp.json`
* `vidinterp bench --backends cuda,torch --dtypes fp16`: compare the CUDA kernels with the PyTorch fallback
* `vidinterp bench --skip-ops --end-to-end`: only time create_interpolator(...).interpolate
"""


def _progress_line() -> Callable[[dict], None] | None:
    """A one-line count of the measurements so far, rewritten in place on a terminal's stderr (None elsewhere)."""
    if not sys.stderr.isatty():
        return None
    count = 0

    def on_row(row: dict) -> None:
        nonlocal count
        count += 1
        sys.stderr.write(f"\rvidinterp: bench: {count} measurements ({row['op']} {row['backend']} "
                         f"{row['width']}×{row['height']} C={row['channels']} {row['dtype']})\x1b[K")
        sys.stderr.flush()

    return on_row


def register(app: typer.Typer) -> None:
    @app.command("bench", epilog=EPILOG)
    def bench(
        ops: Annotated[Optional[str], typer.Option(
            help="Operators to time, comma-separated: warp, correlation.")] = None,
        backends: Annotated[Optional[str], typer.Option(
            help="Backends, comma-separated: cuda, cupy, torch (default: all available; grid_sample comes with "
                 "torch)."
        )] = None,
        resolutions: Annotated[Optional[str], typer.Option(help="Frame sizes: 720p, 1080p, 4k.")] = None,
        scales: Annotated[Optional[str], typer.Option(help="Pyramid levels as divisors: 1,2,4,8,16.")] = None,
        dtypes: Annotated[Optional[str], typer.Option(help="Data types: fp32, fp16, bf16, fp64.")] = None,
        channels: Annotated[Optional[str], typer.Option(
            help="Channel counts (default: 3 and the model's feature channels for the warp, its matching "
                 "channels for correlation).")] = None,
        max_displacement: Annotated[Optional[int], typer.Option(
            help="Correlation search radius in pixels (default: the model's largest).", min=0)] = None,
        device: Device = DEFAULT_DEVICE,
        method: Method = None,
        model: Model = None,
        precision: Precision = None,
        fp16: Fp16 = False,
        max_side: MaxSide = None,
        repeats: Annotated[Optional[int], typer.Option(help="Timed runs per measurement; the median is reported.",
                                                       min=1)] = None,
        quick: Annotated[bool, typer.Option(
            "--quick", help="A small sweep that finishes in well under a minute.")] = False,
        backward: Annotated[bool, typer.Option(help="Also time forward+backward.")] = True,
        skip_ops: Annotated[bool, typer.Option("--skip-ops", help="Do not time the operators.")] = False,
        end_to_end: Annotated[bool, typer.Option(
            "--end-to-end", help="Also time create_interpolator(method).interpolate at 640×480 and 1280×720, and "
            "run benchmarks/throughput.py's cases (upsample vs minterpolate at 720p and 1080p; --quick: 720p, 3 "
            "frames).")] = False,
        backend: Annotated[Optional[str], typer.Option(
            help="Backend the ops use elsewhere in this run (auto, cuda, cupy, torch), e.g. for --end-to-end.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    ) -> None:
        """Time the warp and correlation operators (and optionally a whole interpolation) on this machine."""
        from vidinterp.api.bench import parse_ints, parse_list, run_bench
        from vidinterp.bench.report import print_tables
        from vidinterp.execution.settings import build_settings

        settings = build_settings(method=method, model=model, device=device, precision=precision, fp16=fp16,
                                  max_side=max_side)
        on_row = _progress_line()
        try:
            result = run_bench(
                ops=parse_list(ops, "--ops"),
                backends=parse_list(backends, "--backends"),
                resolutions=parse_list(resolutions, "--resolutions"),
                scales=parse_ints(scales, "--scales"),
                dtypes=parse_list(dtypes, "--dtypes"),
                channels=parse_ints(channels, "--channels"),
                max_displacement=max_displacement,
                device=device,
                repeats=repeats,
                quick=quick,
                backward=backward,
                skip_ops=skip_ops,
                end_to_end=end_to_end,
                backend=backend,
                on_row=on_row,
                settings=settings,
            )
        finally:
            if on_row is not None:
                sys.stderr.write("\n")
        print_tables(result, sys.stderr if as_json else sys.stdout)
        if as_json:
            sys.stdout.write(json.dumps(result, indent=2) + "\n")
