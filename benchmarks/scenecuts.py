"""Scene-cut benchmark: does the detector catch real and spliced cuts without firing on fast action?

    python benchmarks/scenecuts.py [--data ../shared/data] [--threshold T] [--json out.json] [--scores scores.json]

Every case is built from the training clips in `DATA/train/videos` (listed below, so the set is reproducible;
the synthetic effects use fixed seeds). A case is a short run of frames fed to one fresh detector in order, as
`vidinterp upsample` would; only its labelled pairs are scored. Each labelled pair is judged twice: *in context*
(after the run's earlier pairs, up to 8) and *lone* (a fresh detector sees only that pair: a triplet or a
2-frame input).

Cut categories (recall: the share caught):
- cut:real: hard cuts in an edited film (the Sintel trailer; checked by eye);
- cut:splice: the end of one clip followed by another, chosen at random;
- cut:look-alike: a splice between two clips of the same kind of scene (two dashcam drives, two ASL signers in
  the same office, two talking heads, two scenes of one gift-unwrapping video, two action-cam sports clips);
- cut:look-alike+: 24 more, added after the detector's constants were chosen (ASL office, hands over a table,
  people talking to the camera, dashcam), drawn with their own seed.

Non-cut categories (false cuts: the share wrongly held, each one a frozen frame):
- action:strideN: fast pans and action with every Nth frame kept (N = 1, 2, 4, 8), the last pair judged;
- flash: a global flash (brighter, with clipping) and a local one (a bright blob on half the picture), into and
  out of the flashed frame;
- fade: to black over 8 frames; dissolve: from one clip to another over 8 frames;
- shake: random translation (up to 6 % of the width) and rotation (up to 2°) of every frame;
- object: a patch of another clip crossing a still shot at 12 % of the width per frame.

Clips are split by name into a *tune* half (the decision's constants were chosen on it) and a *held-out* half;
a case is tune only when all its clips are. Frames are shrunk to at most 320 px on the longer side when decoded
(the detector works on 160-px thumbnails; the cost per pair is timed separately, on 1280×720 frames).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

# Run from a checkout: its vidinterp first. (Copied elsewhere, whatever `vidinterp` PYTHONPATH names is measured:
# that is how the old detector was run for the before/after comparison.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402

from vidinterp.io.frames import VideoFrame  # noqa: E402
from vidinterp.pipeline import DEFAULT_SCENE_THRESHOLD, SceneCutDetector  # noqa: E402

SEED = 20
#: Longer side the clips are decoded at.
WORK_SIDE = 320
#: Pairs of context before a judged pair.
CONTEXT = 8

#: Fast pans and action (the stride cases, and the backgrounds of the synthetic effects).
ACTION = [
    "brjathu__PHALP/vid.mp4",  # sprint, panning camera
    "showlab__Tune-A-Video/man-skiing.mp4",
    "showlab__Tune-A-Video/man-surfing.mp4",
    "LiheYoung__Depth-Anything/davis_rollercoaster.mp4",
    "OpenGVLab__Ask-Anything/jesse_dance.mp4",
    "DAMO-NLP-SG__Video-LLaMA/skateboarding_dog.mp4",
    "STVIR__pysot/bag.avi",
    "OpenGVLab__Ask-Anything/hitting_baseball.mp4",
    "nvidia-cosmos__cosmos-predict1/batch_input_0.mp4",
    "nvidia-cosmos__cosmos-predict1/batch_input_4.mp4",
    "udacity__CarND-LaneLines-P1/solidWhiteRight.mp4",
    "google__ExoPlayer/sample.avi",
    "TooCoolLa__ZipMap/great_wall.mp4",
    "yformer__EfficientTAM/car.mp4",
    "gaomingqi__Track-Anything/test-sample2.mp4",
    "Qengineering__TensorFlow_Lite_Pose_RPi_64-bits/Dance.mp4",
    "KwaiVGI__LivePortrait/s13.mp4",
    "facebookresearch__sam2/05_default_juggle.mp4",
    "facebookresearch__sam2/01_dog.mp4",
    "lixiaowen-xw__DiffuEraser/tennis.mp4",
    "YBYBZhang__ControlVideo/mallard-water.mp4",
    "lixirui142__VidToMe/breakdance.mp4",
    "TooCoolLa__ZipMap/pyramid.mp4",
    "Zulko__moviepy/video_with_failing_audio.mp4",
]
#: Look-alike groups: splices inside a group are cuts between shots of the same kind of scene.
LOOK_ALIKE = {
    "dashcam": ["nvidia-cosmos__cosmos-predict1/batch_input_0.mp4", "nvidia-cosmos__cosmos-predict1/batch_input_2.mp4",
                "nvidia-cosmos__cosmos-predict1/batch_input_3.mp4", "nvidia-cosmos__cosmos-predict1/batch_input_4.mp4",
                "nvidia-cosmos__cosmos-predict1/batch_input_5.mp4", "nvidia-cosmos__cosmos-predict1/batch_input_6.mp4",
                "nvidia-cosmos__cosmos-predict1/batch_input_7.mp4", "nvidia-cosmos__cosmos-predict1/batch_input_8.mp4",
                "udacity__CarND-Vehicle-Detection/test_video.mp4", "udacity__CarND-LaneLines-P1/solidWhiteRight.mp4"],
    "asl-office": ["intel-iot-devkit__sample-videos/book.mkv", "intel-iot-devkit__sample-videos/sister.mkv",
                   "intel-iot-devkit__sample-videos/walk.mkv", "intel-iot-devkit__sample-videos/again.mkv",
                   "intel-iot-devkit__sample-videos/night.mkv", "intel-iot-devkit__sample-videos/please.mkv"],
    "talking-head": ["KwaiVGI__LivePortrait/s18.mp4", "KwaiVGI__LivePortrait/s32.mp4", "KwaiVGI__LivePortrait/d9.mp4",
                     "KwaiVGI__LivePortrait/d3.mp4", "KwaiVGI__LivePortrait/d6.mp4"],
    "gift-video": ["aigc-apps__VideoX-Fun/--C66yU3LjM_2-Scene-001.mp4",
                   "aigc-apps__VideoX-Fun/--C66yU3LjM_2-Scene-003.mp4",
                   "aigc-apps__VideoX-Fun/--C66yU3LjM_2-Scene-005.mp4"],
    "action-cam": ["showlab__Tune-A-Video/man-skiing.mp4", "showlab__Tune-A-Video/man-surfing.mp4",
                   "OpenGVLab__Ask-Anything/hitting_baseball.mp4", "brjathu__PHALP/vid.mp4"],
}
#: More look-alike groups, drawn with their own seed after the cases above (so those stay as they were): cuts the
#: detector's constants were not chosen on.
EXTRA_LOOK_ALIKE = {
    "asl-office": LOOK_ALIKE["asl-office"],
    "tabletop-hands": ["facebookresearch__sam2/02_cups.mp4", "facebookresearch__sam2/03_blocks.mp4",
                       "facebookresearch__sam2/04_coffee.mp4", "aigc-apps__VideoX-Fun/--C66yU3LjM_2-Scene-001.mp4",
                       "aigc-apps__VideoX-Fun/--C66yU3LjM_2-Scene-005.mp4"],
    "talking-to-camera": ["bytedance__LatentSync/demo1_video.mp4", "bytedance__LatentSync/demo3_video.mp4",
                          "KwaiVGI__LivePortrait/s18.mp4", "KwaiVGI__LivePortrait/s32.mp4",
                          "KwaiVGI__LivePortrait/d13.mp4"],
    "dashcam": LOOK_ALIKE["dashcam"],
}
EXTRA_LOOK_ALIKES = 24
#: Hard cuts in edited footage: clip → index of the last frame before each cut (checked by eye).
REAL_CUTS = {"Mangomm__FFmpegC/sintel.mp4": [75, 120, 318, 456, 544, 610]}
#: Still shots that fast objects are pasted over.
STILL = ["intel-iot-devkit__sample-videos/book.mkv", "KwaiVGI__LivePortrait/s32.mp4",
         "OpenGVLab__Ask-Anything/playing_guitar.mp4", "Jeff-sjtu__HybrIK/taiji.mp4"]

STRIDES = (1, 2, 4, 8)
SPLICES, LOOK_ALIKES, EFFECT_CASES = 24, 24, 8
#: Frames a clip is decoded to at most (long clips only lend their start; the edited films are read whole).
MAX_FRAMES = 160


def _assign_splits() -> dict[str, str]:
    """Clip → "tune" or "held-out": alternating down each list, so both halves hold every kind of clip (and
    look-alike pairs of every group)."""
    splits: dict[str, str] = {}
    for group in [*LOOK_ALIKE.values(), ACTION, STILL, list(REAL_CUTS), *EXTRA_LOOK_ALIKE.values()]:
        for clip in group:
            if clip not in splits:
                splits[clip] = "tune" if sum(s == "tune" for c, s in splits.items() if c in group) * 2 <= sum(
                    c in splits for c in group) else "held-out"
    return splits


SPLITS = _assign_splits()


def split_of(clip: str) -> str:
    return SPLITS[clip]


@dataclass
class Case:
    category: str
    clips: tuple[str, ...]
    #: frames as (clip, index) references, or arrays once built
    frames: list = field(default_factory=list)
    #: label of each pair (frames[i], frames[i + 1]): True cut, False non-cut, None context only
    labels: list = field(default_factory=list)

    @property
    def split(self) -> str:
        return "tune" if all(split_of(c) == "tune" for c in self.clips) else "held-out"


class Clips:
    """Decoded clips at WORK_SIDE, each decoded once and kept (they are small)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._frames: dict[str, list[np.ndarray]] = {}

    def __getitem__(self, clip: str) -> list[np.ndarray]:
        if clip not in self._frames:
            import av

            frames = []
            with av.open(str(self.root / clip)) as container:
                for decoded in container.decode(video=0):
                    scale = WORK_SIDE / max(decoded.width, decoded.height)
                    width, height = round(decoded.width * scale) // 2 * 2, round(decoded.height * scale) // 2 * 2
                    frames.append(decoded.to_ndarray(format="rgb24", width=width, height=height))
                    if len(frames) >= MAX_FRAMES and clip not in REAL_CUTS:
                        break
            self._frames[clip] = frames
        return self._frames[clip]


def _fit(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`image` resized to `shape` (a splice joins clips of different sizes, as an editor's timeline would)."""
    return image if image.shape == shape else cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _run(clips: Clips, clip: str, start: int, stride: int, count: int) -> list[np.ndarray]:
    frames = clips[clip]
    return [frames[start + k * stride] for k in range(count)]


def build_cases(clips: Clips) -> list[Case]:
    rng = np.random.default_rng(SEED)
    cases: list[Case] = []

    for clip, cuts in REAL_CUTS.items():
        for last in cuts:
            run = clips[clip][last - CONTEXT: last + 2]
            cases.append(Case("cut:real", (clip,), run, [None] * CONTEXT + [True]))

    def splice(a: str, b: str, category: str) -> Case:
        fa, fb = clips[a], clips[b]
        start = int(rng.integers(0, len(fa) - CONTEXT - 1))
        other = int(rng.integers(0, len(fb)))
        run = fa[start: start + CONTEXT + 1] + [_fit(fb[other], fa[0].shape)]
        return Case(category, (a, b), run, [None] * CONTEXT + [True])

    # Both clips of a case come from one half, so held-out cases are wholly unseen.
    halves = ("tune", "held-out")
    pool = sorted({c for group in LOOK_ALIKE.values() for c in group} | set(ACTION) | set(STILL))
    for k in range(SPLICES):
        members = [c for c in pool if split_of(c) == halves[k % 2]]
        a, b = rng.choice(len(members), 2, replace=False)
        cases.append(splice(members[a], members[b], "cut:splice"))
    groups = sorted(LOOK_ALIKE)
    for k in range(LOOK_ALIKES):
        group = LOOK_ALIKE[groups[k % len(groups)]]
        members = [c for c in group if split_of(c) == halves[(k // len(groups)) % 2]]
        members = members if len(members) >= 2 else group  # a group too small to halve: any two of it
        a, b = rng.choice(len(members), 2, replace=False)
        cases.append(splice(members[a], members[b], "cut:look-alike"))

    for clip in ACTION:
        frames = clips[clip]
        for stride in STRIDES:
            pairs = min(CONTEXT + 1, (len(frames) - 1) // stride)
            if pairs < 1:
                continue
            for _ in range(2):
                start = int(rng.integers(0, len(frames) - pairs * stride))
                run = _run(clips, clip, start, stride, pairs + 1)
                cases.append(Case(f"action:stride{stride}", (clip,), run, [None] * (pairs - 1) + [False]))

    def background(k: int, length: int, half: str | None = None) -> tuple[str, list[np.ndarray]]:
        candidates = [c for c in ACTION if half in (None, split_of(c))]
        clip = candidates[k % len(candidates)]
        frames = clips[clip]
        start = int(rng.integers(0, max(1, len(frames) - length)))
        return clip, [frames[min(start + i, len(frames) - 1)] for i in range(length)]

    for k in range(EFFECT_CASES):
        clip, run = background(k, CONTEXT + 3)
        image = run[CONTEXT + 1].astype(np.float32)
        if k % 2 == 0:  # a global flash: brighter, highlights clipped
            flashed = image * 1.6 + 60
        else:  # a local flash on half the picture (a flash gun on the near subject)
            h, w = image.shape[:2]
            ys, xs = np.mgrid[0:h, 0:w]
            cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
            blob = np.exp(-(((ys - cy) / (0.45 * h)) ** 2 + ((xs - cx) / (0.45 * w)) ** 2))[..., None]
            flashed = image + 180 * blob
        run[CONTEXT + 1] = np.clip(flashed, 0, 255).astype(np.uint8)
        cases.append(Case("flash", (clip,), run, [None] * CONTEXT + [False, False]))

    for k in range(EFFECT_CASES):
        clip, run = background(k + 3, 2 * CONTEXT + 1)
        alphas = [1.0] * CONTEXT + [1 - i / CONTEXT for i in range(1, CONTEXT + 1)]
        run = [np.clip(frame.astype(np.float32) * a, 0, 255).astype(np.uint8) for frame, a in zip(run, alphas + [0.0])]
        cases.append(Case("fade", (clip,), run, [None] * CONTEXT + [False] * CONTEXT))

    for k in range(EFFECT_CASES):
        clip_a, run_a = background(k + 5, 2 * CONTEXT + 1)
        clip_b, run_b = background(k + 11, CONTEXT + 1, split_of(clip_a))
        run = run_a[:CONTEXT]
        for i in range(CONTEXT + 1):
            mix = i / CONTEXT
            b = _fit(run_b[i], run_a[0].shape).astype(np.float32)
            run.append(np.clip(run_a[CONTEXT + i].astype(np.float32) * (1 - mix) + b * mix, 0, 255).astype(np.uint8))
        cases.append(Case("dissolve", (clip_a, clip_b), run, [None] * (CONTEXT - 1) + [False] * (CONTEXT + 1)))

    for k in range(EFFECT_CASES):
        clip, run = background(k + 7, 2 * CONTEXT)
        h, w = run[0].shape[:2]
        shaken = []
        for frame in run:
            angle = rng.uniform(-2, 2)
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            matrix[:, 2] += rng.uniform(-0.06, 0.06, 2) * w
            shaken.append(cv2.warpAffine(frame, matrix, (w, h), borderMode=cv2.BORDER_REFLECT))
        cases.append(Case("shake", (clip,), shaken, [None] * CONTEXT + [False] * (CONTEXT - 1)))

    for k in range(EFFECT_CASES):
        still = STILL[k % len(STILL)]
        frames = clips[still]
        start = int(rng.integers(0, len(frames) - 2 * CONTEXT))
        run = [frame.copy() for frame in frames[start: start + 2 * CONTEXT]]
        source_clip, source = background(k + 13, 1, split_of(still))
        h, w = run[0].shape[:2]
        side = h // 3
        patch = cv2.resize(source[0], (side, side), interpolation=cv2.INTER_AREA)
        y = int(rng.integers(0, h - side))
        speed = 0.12 * w * (1 if k % 2 == 0 else -1)
        x0 = -side if speed > 0 else w
        for i, frame in enumerate(run):
            x = int(round(x0 + speed * i))
            lo, hi = max(0, x), min(w, x + side)
            if hi > lo:
                frame[y: y + side, lo:hi] = patch[:, lo - x: hi - x]
        cases.append(Case("object", (still, source_clip), run, [None] + [False] * (2 * CONTEXT - 2)))

    rng = np.random.default_rng(SEED + 1)
    groups = sorted(EXTRA_LOOK_ALIKE)
    for k in range(EXTRA_LOOK_ALIKES):
        group = EXTRA_LOOK_ALIKE[groups[k % len(groups)]]
        members = [c for c in group if split_of(c) == halves[(k // len(groups)) % 2]]
        members = members if len(members) >= 2 else group
        a, b = rng.choice(len(members), 2, replace=False)
        cases.append(splice(members[a], members[b], "cut:look-alike+"))
    return cases


def _judge(detector, frame0: VideoFrame, frame1: VideoFrame) -> tuple[bool, float, float]:
    """(cut?, score, seconds) from either the current detector or an older one without `last_score`."""
    start = time.perf_counter()
    cut = detector.is_cut(frame0, frame1)
    seconds = time.perf_counter() - start
    score = getattr(detector, "last_score", None)
    if score is None:
        score = detector.score(frame0, frame1)
    return cut, float(score), seconds


def evaluate(cases: list[Case], threshold: float) -> list[dict]:
    records = []
    for number, case in enumerate(cases):
        frames = [VideoFrame(image, Fraction(i, 30), i) for i, image in enumerate(case.frames)]
        detector = SceneCutDetector(threshold)
        context_scores = []
        for i, label in enumerate(case.labels):
            cut, score, seconds = _judge(detector, frames[i], frames[i + 1])
            if label is not None:
                lone, _, _ = _judge(SceneCutDetector(threshold), frames[i], frames[i + 1])
                records.append({"case": number, "category": case.category, "split": case.split, "clips": case.clips,
                                "pair": i, "cut": label, "context": cut, "lone": lone, "score": score,
                                "context_scores": list(context_scores), "seconds": seconds})
            context_scores.append(score)
    return records


def summarise(records: list[dict]) -> dict:
    table: dict = defaultdict(lambda: defaultdict(lambda: {"pairs": 0, "context": 0, "lone": 0}))
    for r in records:
        for split in (r["split"], "all"):
            row = table[r["category"]][split]
            row["pairs"] += 1
            row["context"] += r["context"]
            row["lone"] += r["lone"]
    overall = {}
    for mode in ("context", "lone"):
        true_positive = sum(r[mode] and r["cut"] for r in records)
        predicted = sum(r[mode] for r in records)
        cuts = sum(r["cut"] for r in records)
        overall[mode] = {"precision": true_positive / predicted if predicted else 1.0,
                         "recall": true_positive / cuts if cuts else 1.0}
    return {"categories": {c: dict(s) for c, s in sorted(table.items())}, "overall": overall}


def time_pairs(root: Path, threshold: float, pairs: int = 20) -> dict:
    """Median wall and CPU seconds per detector call on consecutive 1280×720 frames of a 720p clip (CPU time is
    the steadier figure on a shared machine)."""
    import av

    frames = []
    with av.open(str(root / "SysCV__sam-pt/bees.mp4")) as container:
        for decoded in container.decode(video=0):
            image = decoded.to_ndarray(format="rgb24", width=1280, height=720)
            frames.append(VideoFrame(image, Fraction(len(frames), 25), len(frames)))
            if len(frames) > pairs:
                break
    detector = SceneCutDetector(threshold)
    wall, cpu = [], []
    for i in range(pairs):
        start = time.process_time()
        wall.append(_judge(detector, frames[i], frames[i + 1])[2])
        cpu.append(time.process_time() - start)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}


def print_report(summary: dict, cost: dict, threshold: float, out) -> None:
    print(f"threshold {threshold:g}; cut rows: recall (caught / cuts); other rows: false cuts (held / pairs)", file=out)
    print(f"{'category':18} {'split':9} {'pairs':>5}  {'in context':>16}  {'lone pair':>16}", file=out)
    for category, splits in summary["categories"].items():
        for split in ("tune", "held-out", "all"):
            if split not in splits:
                continue
            row = splits[split]
            cells = [f"{row[m]:>3}/{row['pairs']:<3} {row[m] / row['pairs']:6.1%}" for m in ("context", "lone")]
            print(f"{category:18} {split:9} {row['pairs']:>5}  {cells[0]:>16}  {cells[1]:>16}", file=out)
    for mode, figures in summary["overall"].items():
        print(f"overall {mode:8} precision {figures['precision']:.3f} recall {figures['recall']:.3f}", file=out)
    print(f"cost per pair at 1280×720 (median of 20): {cost['wall'] * 1000:.2f} ms wall, "
          f"{cost['cpu'] * 1000:.2f} ms CPU", file=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--threshold", type=float, default=DEFAULT_SCENE_THRESHOLD)
    parser.add_argument("--json", type=Path, help="write the summary (and versions, hardware) to this JSON file")
    parser.add_argument("--scores", type=Path, help="write every judged pair's record to this JSON file")
    args = parser.parse_args()
    root = args.data / "train" / "videos"
    if not root.is_dir():
        sys.exit(f"scenecuts: error: no training clips at {root}")
    clips = Clips(root)
    cases = build_cases(clips)
    records = evaluate(cases, args.threshold)
    summary = summarise(records)
    cost = time_pairs(root, args.threshold)
    print_report(summary, cost, args.threshold, sys.stdout)
    if args.json:
        from vidinterp.bench.environment import hardware_info, software_versions

        _write_json(args.json, {"threshold": args.threshold, "seed": SEED, "summary": summary,
                                "seconds_per_pair_720p": cost, "hardware": hardware_info(),
                                "versions": software_versions()})
    if args.scores:
        _write_json(args.scores, records)


def _write_json(path: Path, document) -> None:
    # Written beside the target and renamed, so an interrupted run leaves no half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=".scenecuts-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
