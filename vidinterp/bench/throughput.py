"""End-to-end throughput: `vidinterp upsample` against ffmpeg `minterpolate`, side by side, per clip and size.

Every contender reads the same prepared clip (H.264 crf 10, centre-cropped to 16:9 and scaled, so nothing is
stretched) and writes H.264 crf 18 at factor × the input rate, so decoding and encoding are in every figure,
as they are for a user. Each contender runs as its own process, started by a small launcher interpreter, and
`os.wait4` gives its own peak RSS and CPU times (see `_LAUNCHER`). Repeats go round-robin over the
contenders, so a change in machine load hits all of them alike, and the medians are compared as ratios to
minterpolate mci in the same run.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
_TRAIN = Path(__file__).resolve().parents[3] / "shared" / "data" / "train" / "videos"
#: The default clip: a talking-head medium shot, 1280×720 (mean motion 0.5 px/frame at 720p, DIS flow).
DEFAULT_CLIP = _TRAIN / "KwaiVGI__LivePortrait" / "s18.mp4"
#: The high-motion clip: an action-cam snowboarder. Of eight fast-pan/action candidates in the training clips it
#: had the most motion over its first 48 frames: mean 21 px and 95th percentile 74 px per frame at 720p (DIS
#: "medium" flow), against 10 px for the roller-coaster pan and 0.5 px for the default clip.
HIGH_MOTION_CLIP = _TRAIN / "showlab__Tune-A-Video" / "man-skiing.mp4"
MINTERPOLATE_MODES = ("mci", "blend")
REFERENCE = "ffmpeg minterpolate mi_mode=mci"


@dataclass
class Contender:
    name: str
    command: list[str]
    output: Path


def prepare_clip(source: Path, frames: int, size: tuple[int, int], out: Path) -> Path:
    """The first `frames` frames of `source`, centre-cropped to the aspect of `size`, scaled to it, as H.264.

    Uses PyAV and OpenCV (no ffmpeg command line), so `vidinterp bench --end-to-end` works without one.
    """
    import av
    import cv2

    width, height = size
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        rate = src.streams.video[0].average_rate or Fraction(25)
        stream = dst.add_stream("libx264", rate=rate, options={"crf": "10", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, frame in enumerate(src.decode(video=0)):
            if index >= frames:
                break
            image = frame.to_ndarray(format="rgb24")
            h, w = image.shape[:2]
            crop_w, crop_h = min(w, round(h * width / height)), min(h, round(w * height / width))
            top, left = (h - crop_h) // 2, (w - crop_w) // 2
            image = cv2.resize(image[top : top + crop_h, left : left + crop_w], (width, height),
                               interpolation=cv2.INTER_AREA if crop_w > width else cv2.INTER_CUBIC)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


def probe(path: Path) -> tuple[int, Fraction]:
    """Decoded frame count and average rate of a clip."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for _ in container.decode(stream)), Fraction(stream.average_rate)


def contenders(clip: Path, out_dir: Path, factor: int, rate: Fraction, methods: list[str],
               model: Path | None = None, minterpolate: bool = True) -> list[Contender]:
    """vidinterp per method and ffmpeg minterpolate per mode; all write H.264 crf 18 at factor × rate."""
    found = []
    for method in methods:
        out = out_dir / f"vidinterp-{method}.mp4"
        command = [sys.executable, "-m", "vidinterp", "upsample", str(clip), str(out), "--factor", str(factor),
                   "--method", method, "--quiet", "--overwrite", "--crf", "18"]
        if method == "model" and model is not None:
            command += ["--model", str(model)]
        found.append(Contender(f"vidinterp --method {method}", command, out))
    if minterpolate:
        target = rate * factor
        for mode in MINTERPOLATE_MODES:
            out = out_dir / f"minterpolate-{mode}.mp4"
            found.append(Contender(
                f"ffmpeg minterpolate mi_mode={mode}",
                ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-vf",
                 f"minterpolate=fps={target.numerator}/{target.denominator}:mi_mode={mode}",
                 "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(out)],
                out))
    return found


#: Runs argv[1:] with its output discarded and prints its wall seconds and `wait4` usage as JSON. A child's
#: `ru_maxrss` starts from the RSS of the process it was forked from (the kernel keeps the pre-exec high-water
#: mark): forked straight from a benchmark that has torch and a model loaded, even `/bin/true` reported 527 MB.
#: Forked from this small interpreter instead, a contender's peak is its own to within the launcher's ~10 MB.
_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - started, "returncode": os.waitstatus_to_exitcode(status),
                  "maxrss_kb": usage.ru_maxrss, "user_s": usage.ru_utime, "sys_s": usage.ru_stime}))
"""


def run_once(command: list[str]) -> dict:
    """Wall seconds, peak RSS (MB) and user/sys CPU seconds of one run of `command` (its own: see `_LAUNCHER`)."""
    launcher = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], capture_output=True, check=False)
    try:
        result = json.loads(launcher.stdout)
    except ValueError:
        raise RuntimeError(f"could not run {command[0]}: {launcher.stderr.decode(errors='replace')[-500:]}") from None
    if result["returncode"] != 0:
        raise RuntimeError(f"{command[0]} … exited {result['returncode']}: "
                           f"{launcher.stderr.decode(errors='replace')[-500:]}")
    return {"seconds": result["seconds"], "peak_rss_mb": result["maxrss_kb"] / 1024, "user_s": result["user_s"],
            "sys_s": result["sys_s"]}


def time_contenders(found: list[Contender], input_frames: int, repeats: int,
                    progress: Callable[[str], None] | None = None) -> list[dict]:
    """Median figures per contender over `repeats` round-robin runs, with ratios to minterpolate mci."""
    runs: dict[str, list[dict]] = {c.name: [] for c in found}
    for repeat in range(repeats):
        for contender in found:
            if progress:
                progress(f"{contender.name} (run {repeat + 1}/{repeats})")
            contender.output.unlink(missing_ok=True)
            runs[contender.name].append(run_once(contender.command))
    rows = []
    for contender in found:
        output_frames = probe(contender.output)[0]
        median = {key: statistics.median(run[key] for run in runs[contender.name]) for key in runs[contender.name][0]}
        rows.append({
            "contender": contender.name, **median, "output_frames": output_frames,
            "output_fps": output_frames / median["seconds"],
            "seconds_per_new_frame": median["seconds"] / max(output_frames - input_frames, 1),
            "runs": runs[contender.name],
        })
    reference = next((row for row in rows if row["contender"] == REFERENCE), None)
    for row in rows:
        if reference is not None:
            row["fps_vs_minterpolate_mci"] = row["output_fps"] / reference["output_fps"]
            row["rss_vs_minterpolate_mci"] = row["peak_rss_mb"] / reference["peak_rss_mb"]
    return rows


def run_throughput(clips: dict[str, Path], sizes: list[str], frames: int, factor: int, repeats: int,
                   methods: list[str], workdir: Path, model: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> list[dict]:
    """One case per clip × size: the clip's facts and the contenders' rows (see `time_contenders`)."""
    minterpolate = shutil.which("ffmpeg") is not None
    cases = []
    for label, source in clips.items():
        for size in sizes:
            width, height = SIZES[size]
            clip = prepare_clip(source, frames, (width, height), workdir / f"{label}-{size}.mp4")
            input_frames, rate = probe(clip)
            found = contenders(clip, workdir, factor, rate, methods, model, minterpolate)
            case = {"clip": label, "source": str(source), "size": size, "width": width, "height": height,
                    "frames": input_frames, "rate": str(rate), "factor": factor, "repeats": repeats,
                    "rows": time_contenders(found, input_frames, repeats, progress)}
            if not minterpolate:
                case["note"] = "no ffmpeg command line here: minterpolate not timed"
            cases.append(case)
    return cases


def default_clips() -> dict[str, Path]:
    """The default and high-motion training clips when ../shared is there, else the bundled sample."""
    if DEFAULT_CLIP.is_file() and HIGH_MOTION_CLIP.is_file():
        return {"default (talking head)": DEFAULT_CLIP, "high motion (action cam)": HIGH_MOTION_CLIP}
    from vidinterp.io.sample import sample_clip_path

    return {"bundled sample (airplane pan)": sample_clip_path()}


def markdown(cases: list[dict]) -> str:
    """One table per case: medians, output fps, seconds per new frame, peak RSS, and ratios to minterpolate mci."""
    lines = []
    for case in cases:
        lines += [f"\n**{case['clip']}**, {case['width']}×{case['height']}, {case['frames']} frames at "
                  f"{float(Fraction(case['rate'])):g} fps → ×{case['factor']}; median of {case['repeats']} runs"
                  + (f" ({case['note']})" if "note" in case else ""), "",
                  "| contender | wall s | output fps | s per new frame | peak RSS MB | user+sys s | × mci fps |",
                  "|---|---|---|---|---|---|---|"]
        for row in case["rows"]:
            ratio = row.get("fps_vs_minterpolate_mci")
            lines.append(f"| {row['contender']} | {row['seconds']:.2f} | {row['output_fps']:.1f} | "
                         f"{row['seconds_per_new_frame']:.3f} | {row['peak_rss_mb']:.0f} | "
                         f"{row['user_s'] + row['sys_s']:.1f} | {'-' if ratio is None else f'{ratio:.2f}'} |")
    return "\n".join(lines)
