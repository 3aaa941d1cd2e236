"""The interpolator options, declared once and shared by `upsample`, `eval` and `bench` so their names, help and
defaults agree. Defaults in the help come from the constants that `vidinterp.execution.settings` applies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidinterp.execution.settings import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_MAX_SIDE,
    DEFAULT_PRECISION,
    GPU_BATCH_SIZE,
    PRECISIONS,
    VARIABLES,
)

Method = Annotated[
    Optional[str],
    typer.Option(
        "--method",
        "-m",
        help="How new frames are made: 'model' (DIS optical flow refined by the shipped network, best), 'classical' "
        "(DIS optical flow + blend, no network) or 'blend' (cross-fade, fastest). Default: model when its weights "
        "are installed, else blend.",
        show_default=False,
    ),
]

Model = Annotated[
    Optional[Path],
    typer.Option(
        "--model",
        help="Weights for --method model: a .safetensors file from 'vidinterp train' (its .json config beside it). "
        "Default: the shipped weights.",
        show_default=False,
    ),
]

Device = Annotated[
    str,
    typer.Option(
        "--device", help="Where to run: auto (the first CUDA GPU if there is one, else the CPU), cpu, cuda or cuda:N."
    ),
]
Precision = Annotated[
    Optional[str],
    typer.Option(
        "--precision",
        help=f"Model arithmetic: 'auto' (bf16 on CPUs with AMX, else fp32), 'fp32', 'bf16' (CPUs with AMX or "
        f"AVX512-BF16; the same PSNR as fp32 to 0.01 dB on the eval sets, 1.12× faster at 720p) or 'fp16' (CUDA "
        f"only). One of {', '.join(PRECISIONS)}. Default: {DEFAULT_PRECISION}, or {VARIABLES['precision']}.",
        show_default=False,
    ),
]

Fp16 = Annotated[
    bool,
    typer.Option("--fp16", help="The same as --precision fp16 (half precision, CUDA only; kept from older releases)."),
]

MaxSide = Annotated[
    Optional[int],
    typer.Option(
        "--max-side",
        help="The model estimates motion on frames shrunk by halves until their longer side is at most this many "
        f"pixels, then warps the full-size frames (like RIFE's --scale). Default {DEFAULT_MAX_SIDE}, so 720p and "
        "1080p run at half size; 0 = always full size: 2.6× the model's time at 720p. Half size costs 0.4 dB on "
        "640×480 Middlebury frames, so lower it only for speed.",
        min=0,
        show_default=False,
    ),
]

BatchSize = Annotated[
    Optional[int],
    typer.Option(
        "--batch-size",
        help="New frames made per model call; lower it if the GPU runs out of memory. Default: "
        f"{DEFAULT_BATCH_SIZES['cpu']} on the CPU (bigger batches only cost memory there), {GPU_BATCH_SIZE} on a "
        "GPU.",
        show_default=False,
        min=1,
        max=4096,
    ),
]
