"""Held drawings benchmark: what `upsample --dedupe` does for video whose frames repeat, and what it costs live action.

    python benchmarks/dedupe.py run                      # held clips, with and without --dedupe (model, CPU)
    python benchmarks/dedupe.py thresholds               # repeat vs live-action frame differences, all clips

`run`: clips with full motion (the packaged sample and real clips from ../shared/data/train) are held on twos,
threes and a mixed 1–3 pattern (each drawing's frame repeated in place, as animation is drawn), encoded with
x264 CRF 18, and retimed with and without --dedupe at the input's own rate ("fill the holds", --fps = input
rate) and at ×2. Reported per case, as medians over clips:
- PSNR (dB, RGB, mean over frames) against the original full-motion frames, of the output frames at the times
  of the frames the holds replaced (the JSON also has it over all original frame times);
- judder: the spread of per-frame motion, std / mean of the mean DIS flow magnitude between consecutive output
  frames (0 = every frame moves by the same amount; the original clips' own figure is given beside it).

`thresholds`: the block-difference statistics behind `dedupe.DEFAULT_THRESHOLDS`: for repeats (clips held on
twos and re-encoded with x264 at CRF 18, 23 and 28) and for every consecutive pair of the real clips, and how
many live-action frames `Deduplicator` would drop (it must be none).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Iterator, Optional

try:
    import vidinterp  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import cv2
import numpy as np
import typer

from vidinterp.evaluate.report import versions
from vidinterp.pipeline.dedupe import DEFAULT_THRESHOLDS, Deduplicator, block_differences, luma

TRAIN_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "videos"
#: Clips with motion in most frames (pans, dancing, sport, CGI), from the training set's manifest.
RUN_CLIPS = (
    "Zulko__moviepy/example3.mp4",
    "Qengineering__TensorFlow_Lite_Pose_RPi_64-bits/Dance.mp4",
    "LiheYoung__Depth-Anything/davis_rollercoaster.mp4",
    "showlab__Tune-A-Video/man-surfing.mp4",
    "google__ExoPlayer/sample.avi",
)
PATTERNS = ("twos", "threes", "mixed")

app = typer.Typer(add_completion=False)


def frame_rate(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        return Fraction(container.streams.video[0].average_rate or 25)


def iterate(path: Path, max_width: int | None = None) -> Iterator[np.ndarray]:
    """The RGB frames of a video, shrunk to at most `max_width` (even sizes)."""
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            image = frame.to_ndarray(format="rgb24")
            if max_width and image.shape[1] > max_width:
                height = round(image.shape[0] * max_width / image.shape[1] / 2) * 2
                image = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
            yield np.ascontiguousarray(image)


def decode(path: Path, frames: int | None, max_width: int | None = None) -> tuple[list[np.ndarray], Fraction]:
    """The first `frames` RGB frames (all when None), shrunk to at most `max_width`, and the rate."""
    return list(itertools.islice(iterate(path, max_width), frames)), frame_rate(path)


def hold_lengths(pattern: str, count: int, seed: int = 0) -> list[int]:
    """How many frames each drawing is shown for, covering `count` frames."""
    rng = random.Random(seed)
    lengths: list[int] = []
    while sum(lengths) < count:
        lengths.append({"twos": 2, "threes": 3}.get(pattern) or rng.randint(1, 3))
    return lengths


def held(frames: list[np.ndarray], lengths: list[int]) -> list[np.ndarray]:
    """Each drawing's first frame repeated over its hold, as animation on twos/threes shows it."""
    out: list[np.ndarray] = []
    for length in lengths:
        out.extend([frames[len(out)]] * length)
    return out[: len(frames)]


def encode(frames: list[np.ndarray], path: Path, rate: Fraction, crf: int) -> Path:
    """H.264 (yuv420p, CRF `crf`) of RGB frames at `rate`."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "fast"})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 100.0 if error == 0 else float(10 * np.log10(255**2 / error))


def judder(frames: list[np.ndarray]) -> float:
    """std / mean of the mean DIS flow magnitude between consecutive frames (the spread of per-frame motion)."""
    from vidinterp.execution.prior import DisFlow

    flow = DisFlow(preset="medium", threads=1)
    greys = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in frames]
    magnitudes = []
    for grey0, grey1 in zip(greys, greys[1:]):
        forward, _ = flow.from_grey(grey0[None], grey1[None])
        magnitudes.append(float(forward[0].norm(dim=0).mean()))
    mean = statistics.fmean(magnitudes)
    return statistics.pstdev(magnitudes) / mean if mean > 0 else 0.0


@app.command()
def run(
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 48,
    max_width: Annotated[int, typer.Option(help="Clips are shrunk to at most this width (CPU time).")] = 320,
    clips: Annotated[Optional[str], typer.Option(help="Comma-separated clip paths under the training videos "
                                                 "(default: five clips with full motion).", show_default=False)] = None,
    method: Annotated[Optional[str], typer.Option(help="Interpolator (default: the shipped model).",
                                                  show_default=False)] = None,
    json_out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path("dedupe_results.json"),
) -> None:
    """Held clips retimed with and without --dedupe: PSNR against the full-motion original, and judder."""
    from vidinterp.api.options import UpsampleOptions
    from vidinterp.api.pair import load
    from vidinterp.api.upsample import upsample
    from vidinterp.io.sample import sample_clip_path

    sources = [sample_clip_path()] + [TRAIN_ROOT / name for name in (clips.split(",") if clips else RUN_CLIPS)]
    interpolator = load(method=method, device="cpu")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for source in sources:
            if not source.is_file():
                print(f"skipped (not found): {source}", file=sys.stderr)
                continue
            original, rate = decode(source, frames, max_width)
            reference_judder = judder(original)
            for pattern in PATTERNS:
                lengths = hold_lengths(pattern, len(original))
                clip = encode(held(original, lengths), folder / "held.mp4", rate, 18)
                starts = set(itertools.accumulate([0, *lengths]))
                repeats = [i for i in range(len(original)) if i not in starts]  # the frames the holds replaced
                for dedupe in (False, True):
                    for mode, kwargs, step in (("1x", {"fps": rate}, 1), ("2x", {"factor": 2}, 2)):
                        out = folder / "out.nut"
                        started = time.perf_counter()
                        summary = upsample(clip, out, UpsampleOptions(**kwargs, dedupe=dedupe, overwrite=True),
                                           interpolator=interpolator)
                        seconds = time.perf_counter() - started
                        result, _ = decode(out, None)
                        row = {"clip": source.name, "pattern": pattern, "dedupe": dedupe, "rate": mode,
                               "psnr": statistics.fmean(psnr(result[i * step], original[i]) for i in repeats),
                               "psnr_all": statistics.fmean(psnr(result[i * step], original[i])
                                                            for i in range(len(original))),
                               "judder": judder(result),
                               "original_judder": reference_judder, "dropped": summary.held_frames,
                               "hold_pattern": summary.hold_pattern, "interpolated": summary.interpolated_frames,
                               "seconds": seconds}
                        rows.append(row)
                        print(f"{source.name:<28} {pattern:<6} {mode} dedupe={dedupe!s:<5} PSNR {row['psnr']:6.2f}  "
                              f"judder {row['judder']:.3f} (original {reference_judder:.3f})  held "
                              f"{row['dropped']} {row['hold_pattern']}", file=sys.stderr)
    print(markdown(rows))
    document = {"frames": frames, "max_width": max_width, "method": interpolator.method, "versions": versions(),
                "rows": rows}
    _write_json(json_out, document)


def markdown(rows: list[dict]) -> str:
    """Medians over clips: one line per pattern and rate, without and with --dedupe side by side."""
    lines = ["| pattern | rate | held frames: PSNR dB (holds) | PSNR dB (--dedupe) | judder (holds) | "
             "judder (--dedupe) | judder of the originals |", "|---|---|---|---|---|---|---|"]
    for pattern in PATTERNS:
        for mode in ("1x", "2x"):
            def median(key: str, dedupe: bool, pattern: str = pattern, mode: str = mode) -> float:
                return statistics.median(
                    row[key] for row in rows
                    if row["pattern"] == pattern and row["rate"] == mode and row["dedupe"] == dedupe
                )
            lines.append(f"| {pattern} | {mode} | {median('psnr', False):.2f} | {median('psnr', True):.2f} | "
                         f"{median('judder', False):.3f} | {median('judder', True):.3f} | "
                         f"{median('original_judder', False):.3f} |")
    return "\n".join(lines)


def _write_json(path: Path, document: dict) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(temporary, path)
    print(f"wrote {path}", file=sys.stderr)


def stamped(path: Path, rate: Fraction) -> Iterator:
    from vidinterp.io.frames import VideoFrame

    return (VideoFrame(image, Fraction(i) / rate, i) for i, image in enumerate(iterate(path)))


def _remember(frames: Iterator, store: dict, first: list, count: int) -> Iterator:
    """Pass frames on; keep each picture in `store` by index, and the first `count` in `first`."""
    for frame in frames:
        store[frame.index] = frame.image
        if len(first) < count:
            first.append(frame.image)
        yield frame


def _pair_statistics(frames: list[np.ndarray], pairs: list[tuple[int, int]]) -> list[tuple[float, float, float]]:
    """(largest block difference, share of blocks above `lo`, whole-frame mean) for each pair of frame indices."""
    greys = [luma(image) for image in frames]
    out = []
    for a, b in pairs:
        blocks = block_differences(greys[a], greys[b])
        out.append((float(blocks.max()), float(np.mean(blocks > DEFAULT_THRESHOLDS.lo)), float(blocks.mean())))
    return out


@app.command()
def thresholds(
    frames: Annotated[int, typer.Option(help="Frames per clip for the repeat statistics.")] = 48,
    repeat_clips: Annotated[int, typer.Option(help="Clips held on twos and re-encoded.")] = 24,
    json_out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path("dedupe_thresholds.json"),
) -> None:
    """Block differences of codec-noise repeats against those of live-action frame pairs."""
    from vidinterp.io.frames import VideoFrame

    paths = sorted(path for path in TRAIN_ROOT.rglob("*") if path.suffix in (".mp4", ".mkv", ".avi"))
    repeats: dict[int, list[tuple[float, float, float]]] = {18: [], 23: [], 28: []}
    found = {crf: [0, 0] for crf in repeats}  # repeats found by the default thresholds, of how many
    live: list[tuple[float, float, float]] = []
    dropped: dict[str, int] = {}
    rebuilt: list[float] = []  # PSNR of each live-action frame dropped, against the kept picture it repeats
    with tempfile.TemporaryDirectory() as folder:
        for number, path in enumerate(paths):
            rate = frame_rate(path)
            # Live action: every frame of every clip through the deduplicator: which frames are dropped, and are they
            # really repeats?
            deduplicator = Deduplicator(cut_threshold=None)
            original: list[np.ndarray] = []  # the first frames, for the pair statistics
            recent: dict[int, np.ndarray] = {}  # the frames since the last one kept, to score the dropped ones
            previous: VideoFrame | None = None
            for frame in deduplicator.frames(_remember(stamped(path, rate), recent, original, frames)):
                if previous is not None and frame.index > previous.index + 1:
                    # Dropped frames: how far each is from the picture it was judged to repeat.
                    for index in range(previous.index + 1, frame.index):
                        rebuilt.append(psnr(previous.image, recent[index]))
                previous = frame
                for index in [index for index in recent if index < frame.index]:
                    del recent[index]
            name = str(path.relative_to(TRAIN_ROOT))
            dropped[name] = deduplicator.stats.repeated_frames
            live.extend(_pair_statistics(original, [(i, i + 1) for i in range(len(original) - 1)]))
            if repeat_clips and number % max(1, len(paths) // repeat_clips) == 0 and len(original) >= 4:
                base = original[: frames - frames % 2]
                for crf in repeats:
                    clip = encode(held(base, hold_lengths("twos", len(base))), Path(folder) / "held.mp4", rate, crf)
                    decoded, _ = decode(clip, None)
                    repeats[crf].extend(_pair_statistics(decoded, [(i, i + 1) for i in range(0, len(decoded) - 1, 2)]))
                    detector = Deduplicator(cut_threshold=None)
                    list(detector.frames(VideoFrame(image, Fraction(i) / rate, i) for i, image in enumerate(decoded)))
                    found[crf][0] += detector.stats.repeated_frames
                    found[crf][1] += len(decoded) // 2
            print(f"{name}: {dropped[name]} frames judged repeats", file=sys.stderr)

    def describe(values: list[tuple[float, float, float]]) -> dict:
        if not values:
            return {"pairs": 0}
        columns = np.array(values)
        return {"pairs": len(values), **{f"{name}_{stat}": float(function(columns[:, k]))
                for k, name in enumerate(("max_block", "share_above_lo", "mean"))
                for stat, function in (("min", np.min), ("p1", lambda c: np.percentile(c, 1)),
                                       ("p99", lambda c: np.percentile(c, 99)), ("max", np.max))}}

    document = {"thresholds": vars(DEFAULT_THRESHOLDS),
                "repeats_by_crf": {crf: describe(v) for crf, v in repeats.items()},
                "repeats_found_by_crf": {crf: {"found": a, "of": b} for crf, (a, b) in found.items()},
                "live_action": describe(live), "live_action_frames_judged_repeats": dropped,
                "live_action_dropped_psnr_against_the_picture_kept": {
                    "frames": len(rebuilt), "min": min(rebuilt, default=None),
                    "p1": float(np.percentile(rebuilt, 1)) if rebuilt else None,
                    "median": statistics.median(rebuilt) if rebuilt else None}, "versions": versions()}
    keys = ("thresholds", "repeats_by_crf", "repeats_found_by_crf", "live_action",
            "live_action_dropped_psnr_against_the_picture_kept")
    print(json.dumps({key: document[key] for key in keys}, indent=2))
    print(f"live-action frames judged repeats: {sum(dropped.values())} in {len(dropped)} clips "
          f"({', '.join(f'{k}: {v}' for k, v in dropped.items() if v) or 'none'})")
    _write_json(json_out, document)


if __name__ == "__main__":
    app()
