"""Options that say how the model runs, shared by `upsample` and `eval` so their names and help agree."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Precision = Annotated[
    Optional[str],
    typer.Option(
        "--precision",
        help="Model arithmetic: 'auto' (bf16 on CPUs with AMX, else fp32), 'fp32', 'bf16' (CPUs with AMX or "
        "AVX512-BF16; the same PSNR as fp32 to 0.01 dB on the eval sets, 1.12× faster at 720p) or 'fp16' "
        "(GPU only, like --fp16). Default: auto, or VIDINTERP_PRECISION.",
        show_default=False,
    ),
]

MaxSide = Annotated[
    Optional[int],
    typer.Option(
        "--max-side",
        help="The model estimates motion on frames shrunk by halves until their longer side is at most this many "
        "pixels, then warps the full-size frames (like RIFE's --scale). Default 1024, so 720p and 1080p run at "
        "half size; 0 = always full size: 2.6× the model's time at 720p. Half size costs 0.4 dB on 640×480 "
        "Middlebury frames, so lower it only for speed.",
        min=0,
        show_default=False,
    ),
]
