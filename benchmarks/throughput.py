"""Throughput benchmark: `vidinterp upsample` against ffmpeg `minterpolate` on the same 720p clip, in one run.

    python benchmarks/throughput.py                               # 720p clip from ../shared (or the sample, upscaled)
    python benchmarks/throughput.py --clip my720p.mp4 --frames 60 --factor 2 --model runs/a/best/model.safetensors

Every contender reads the same clip and writes H.264 crf 18 at factor × the input rate, so decoding and encoding
are in every figure, as they are for a user. Reported per contender: the median wall time of `--repeats` runs,
output frames, output frames per second, and seconds per interpolated frame. Hardware and versions go into the
JSON (`--json-out`), the table to stdout as Markdown.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Optional

try:
    import vidinterp  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import typer

from vidinterp.bench.environment import hardware_info, software_versions
from vidinterp.interpolators import default_method

#: A real 1280×720, 30 fps clip of the training footage (a talking-head medium shot).
DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "videos" / "KwaiVGI__LivePortrait" / "s18.mp4"


def prepare_clip(source: Path | None, frames: int, workdir: Path) -> Path:
    """The first `frames` frames of `source` as a 1280×720 H.264 clip (lossless-ish, crf 10), so every run reads the same file."""
    if source is None:
        from vidinterp.io.sample import sample_clip_path

        source = DEFAULT_CLIP if DEFAULT_CLIP.is_file() else sample_clip_path()
    clip = workdir / "clip720p.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-frames:v", str(frames), "-an",
         "-vf", "scale=1280:720:flags=bicubic,setsar=1", "-c:v", "libx264", "-crf", "10", "-preset", "fast",
         "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )
    return clip


def probe(path: Path) -> tuple[int, Fraction]:
    """Decoded frame count and average rate of a clip."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, Fraction(stream.average_rate)


def time_command(command: list[str], output: Path, repeats: int) -> tuple[float, int]:
    """Median wall seconds of `command` over `repeats` runs, and the frame count of what it wrote."""
    seconds = []
    for _ in range(repeats):
        output.unlink(missing_ok=True)
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), probe(output)[0]


def contenders(clip: Path, out_dir: Path, factor: int, rate: Fraction, model: Path | None, methods: list[str]) -> dict[str, tuple[list[str], Path]]:
    """Name → (command, output path) for every contender; all write H.264 crf 18 at factor × rate."""
    target = rate * factor
    commands: dict[str, tuple[list[str], Path]] = {}
    for method in methods:
        out = out_dir / f"vidinterp-{method}.mp4"
        command = [sys.executable, "-m", "vidinterp", "upsample", str(clip), str(out), "--factor", str(factor),
                   "--method", method, "--quiet", "--overwrite", "--crf", "18"]
        if method == "model" and model is not None:
            command += ["--model", str(model)]
        commands[f"vidinterp --method {method}"] = (command, out)
    for mode in ("mci", "blend"):
        out = out_dir / f"minterpolate-{mode}.mp4"
        commands[f"ffmpeg minterpolate mi_mode={mode}"] = (
            ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-vf", f"minterpolate=fps={target.numerator}/{target.denominator}:mi_mode={mode}",
             "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(out)],
            out,
        )
    return commands


def main(
    clip: Annotated[Optional[Path], typer.Option(help="Source clip (scaled to 1280×720). Default: a 720p training clip, or the bundled sample.")] = None,
    frames: Annotated[int, typer.Option(min=2, help="Input frames to use from the clip.")] = 48,
    factor: Annotated[int, typer.Option(min=2, help="Frame-rate factor for every contender.")] = 2,
    model: Annotated[Optional[Path], typer.Option(help="Weights for the model contender (default: the shipped weights).")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per contender (median reported).")] = 3,
    json_out: Annotated[Optional[Path], typer.Option(help="Write all figures, hardware and versions here as JSON.")] = None,
) -> None:
    """Output frames per second of vidinterp upsample and ffmpeg minterpolate on one 720p clip."""
    if shutil.which("ffmpeg") is None:
        raise SystemExit("throughput.py needs the ffmpeg command-line tool")
    methods = ["blend"]
    if model is not None or default_method() == "model":
        methods.append("model")
    else:
        print("note: no shipped model weights and no --model: timing blend only", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="vidinterp-throughput-") as tmp:
        workdir = Path(tmp)
        source = prepare_clip(clip, frames, workdir)
        input_frames, rate = probe(source)
        rows = []
        for name, (command, output) in contenders(source, workdir, factor, rate, model, methods).items():
            print(f"timing {name} ...", file=sys.stderr)
            seconds, output_frames = time_command(command, output, repeats)
            new_frames = output_frames - input_frames
            rows.append({
                "contender": name, "seconds": seconds, "output_frames": output_frames,
                "output_fps": output_frames / seconds, "seconds_per_new_frame": seconds / max(new_frames, 1),
            })
    print(f"\n1280×720, {input_frames} frames at {float(rate):g} fps → ×{factor}; median of {repeats} runs, decode + encode included\n")
    print("| contender | wall s | output frames | output fps | s per new frame |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['contender']} | {row['seconds']:.2f} | {row['output_frames']} | {row['output_fps']:.1f} | {row['seconds_per_new_frame']:.3f} |")
    if json_out is not None:
        report = {
            "clip": {"width": 1280, "height": 720, "frames": input_frames, "rate": str(rate), "factor": factor},
            "repeats": repeats, "rows": rows, "hardware": hardware_info(), "versions": software_versions(),
        }
        json_out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    typer.run(main)
