"""Throughput benchmark: `vidinterp upsample` against ffmpeg `minterpolate`, all contenders side by side in one run.

    python benchmarks/throughput.py                          # default + high-motion clip, 720p and 1080p, ×2
    python benchmarks/throughput.py --sizes 720p --frames 48 --repeats 3 --json-out t.json
    python benchmarks/throughput.py --clip my.mp4 --model runs/a/best/model.safetensors

Per clip × size and contender: the median wall time, output fps, seconds per new frame, peak RSS and CPU
time (each contender is its own process), and the output fps and peak RSS as ratios to minterpolate mci in the
same run. Decoding and H.264 encoding are in every figure. The table goes to stdout as Markdown; `--json-out`
adds every run, the hardware and the versions. The code is `vidinterp.bench.throughput`, which
`vidinterp bench --end-to-end` runs too.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

try:
    import vidinterp  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import typer

from vidinterp.bench.environment import hardware_info, software_versions
from vidinterp.bench.throughput import SIZES, default_clips, markdown, run_throughput
from vidinterp.interpolators import default_method


def main(
    clip: Annotated[Optional[list[Path]], typer.Option(
        help="Source clip(s); default: the talking-head and the high-motion training clips (or the bundled sample).",
        show_default=False)] = None,
    sizes: Annotated[str, typer.Option(help="Comma-separated output sizes: 720p, 1080p.")] = "720p,1080p",
    frames: Annotated[int, typer.Option(min=2, help="Input frames to use from each clip.")] = 48,
    factor: Annotated[int, typer.Option(min=2, help="Frame-rate factor for every contender.")] = 2,
    model: Annotated[Optional[Path], typer.Option(
        help="Weights for the model contender (default: the shipped weights).", show_default=False)] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per contender, round-robin (median reported).")] = 3,
    json_out: Annotated[Optional[Path], typer.Option(
        help="Write all figures, every run, hardware and versions here as JSON.", show_default=False)] = None,
) -> None:
    """Output frames per second and peak memory of vidinterp upsample and ffmpeg minterpolate."""
    chosen = [s.strip() for s in sizes.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SIZES]
    if unknown:
        raise typer.BadParameter(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    methods = ["blend"]
    if model is not None or default_method() == "model":
        methods.insert(0, "model")
    else:
        print("note: no shipped model weights and no --model: timing blend only", file=sys.stderr)
    clips = {path.stem: path for path in clip} if clip else default_clips()
    with tempfile.TemporaryDirectory(prefix="vidinterp-throughput-") as tmp:
        cases = run_throughput(clips, chosen, frames, factor, repeats, methods, Path(tmp), model,
                               progress=lambda text: print(f"timing {text} ...", file=sys.stderr))
    print(markdown(cases))
    if json_out is not None:
        report = {"cases": cases, "hardware": hardware_info(), "versions": software_versions(),
                  "load_average_1min": os.getloadavg()[0]}
        temporary = json_out.with_name(f".{json_out.name}.partial")
        temporary.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(temporary, json_out)


if __name__ == "__main__":
    typer.run(main)
