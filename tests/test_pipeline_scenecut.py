"""The scene-cut decision: the share of the picture motion cannot explain, judged against the pairs before it."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from synthetic import pattern_frame
from vidinterp.io.frames import VideoFrame
from vidinterp.pipeline import DEFAULT_SCENE_THRESHOLD, SceneCutDetector, scene_change_score, scenecut, thumbnail
from vidinterp.pipeline.scenecut import ColourEvidence

WIDTH, HEIGHT = 320, 180


def textured_scene(seed: int, position: float = 0.0, speed: tuple[float, float] = (0.0, 0.0),
                   width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A textured shot (smoothed noise at three scales, like foliage or gravel) seen through a window moved by
    position·speed px.

    Different seeds are different shots of the same kind: what a splice between two clips of one place looks like
    to a detector that only sees texture."""
    import cv2

    rng = np.random.default_rng(seed)
    margin = 160
    canvas = np.zeros((height + 2 * margin, width + 2 * margin, 3))
    for sigma, weight in ((1.5, 0.5), (4.0, 1.0), (12.0, 1.5)):
        canvas += weight * sigma * cv2.GaussianBlur(rng.normal(size=canvas.shape), (0, 0), sigma)
    canvas = np.clip(128 + 50 * (canvas - canvas.mean()) / canvas.std(), 0, 255).astype(np.uint8)
    dx, dy = round(position * speed[0]), round(position * speed[1])
    return canvas[margin - dy: margin - dy + height, margin - dx: margin - dx + width]


def frames_of(images):
    return [VideoFrame(image, Fraction(i, 24), i) for i, image in enumerate(images)]


def decisions(images, threshold=DEFAULT_SCENE_THRESHOLD):
    detector = SceneCutDetector(threshold)
    frames = frames_of(images)
    return [detector.is_cut(a, b) for a, b in zip(frames, frames[1:])]


def test_thumbnail_size_and_normalisation():
    import cv2

    thumb = thumbnail(cv2.resize(textured_scene(0), (1920, 1080)))
    assert thumb.grey.shape == thumb.detail.shape == thumb.texture.shape == (90, 160) and thumb.grey.dtype == np.uint8
    values = thumb.grey.astype(np.float64)
    assert abs(values.mean() - 128) < 1 and abs(values.std() - scenecut.LEVELS_PER_STD) < 1
    assert thumbnail(np.zeros((6, 5, 3), np.uint8)).grey.shape == (6, 5)  # small pictures are not enlarged
    flat = thumbnail(np.full((64, 96, 3), 7, np.uint8))
    assert (flat.grey == 128).all() and (flat.texture == 0).all()  # flat pictures: not divided by 0, no evidence
    # Texture is measured on the picture as shot: the same content at a tenth of the contrast (a fade) has less.
    image = textured_scene(0)
    dim = thumbnail((image * 0.1).astype(np.uint8))
    assert dim.texture.mean() < 0.5 * thumbnail(image).texture.mean()


def test_same_scores_for_uint8_and_uint16():
    a, b = textured_scene(1), textured_scene(1, 1, (9, 3))
    wide = scene_change_score(a.astype(np.uint16) * 257, b.astype(np.uint16) * 257)
    assert scene_change_score(a, b) == pytest.approx(wide, abs=0.02)


def test_identical_frames_score_zero():
    image = textured_scene(2)
    assert scene_change_score(image, image) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("speed", [(4.0, 1.0), (24.0, 6.0), (-32.0, 12.0)])
def test_large_translation_is_explained(speed):
    # Up to 32 px a frame on a 320-px picture (a tenth of the width): every pixel changes, motion explains it.
    for i in range(2):
        score = scene_change_score(textured_scene(3, i, speed), textured_scene(3, i + 1, speed))
        assert score < DEFAULT_SCENE_THRESHOLD / 3
    assert not any(decisions([textured_scene(3, i, (32.0, 12.0)) for i in range(5)]))


def test_spliced_scenes_are_cuts():
    # Two shots of the same kind (same texture statistics, both panning): nothing in the second is a moved first.
    score = scene_change_score(textured_scene(4), textured_scene(5, 1, (6.0, 0.0)))
    assert score > 1.5 * DEFAULT_SCENE_THRESHOLD
    images = [textured_scene(4, i, (6.0, 0.0)) for i in range(5)] + [textured_scene(5, i, (6.0, 0.0)) for i in range(4)]
    assert decisions(images) == [False] * 4 + [True] + [False] * 3
    # The engine's two test shots (tests/test_pipeline_engine.py) at their own small size.
    from test_pipeline_engine import other_scene

    assert scene_change_score(pattern_frame(3), other_scene(0)) > DEFAULT_SCENE_THRESHOLD


@pytest.mark.parametrize("gain, offset", [(1.6, 60), (0.35, 0), (1.0, -50)])
def test_flash_and_fade_are_not_cuts(gain, offset):
    images = [textured_scene(6, i, (5.0, 2.0)) for i in range(6)]
    images[4] = np.clip(images[4].astype(np.float64) * gain + offset, 0, 255).astype(np.uint8)
    assert not any(decisions(images))
    assert scene_change_score(images[3], images[4]) < DEFAULT_SCENE_THRESHOLD


def test_score_is_the_share_motion_cannot_explain():
    """The threshold's meaning: the score grows with the share of the picture that is not a moved copy of the
    other frame, and a threshold just below a pair's score makes it a cut (after calm pairs), just above it not."""
    before = textured_scene(7, 0, (8.0, 2.0))
    moving = textured_scene(7, 1, (8.0, 2.0))
    scores = []
    for share in (0, 3, 2, 1):  # none, a third, half, all of the picture from another shot
        patched = moving.copy()
        if share:
            patched[:, : WIDTH // share] = textured_scene(8)[:, : WIDTH // share]
        scores.append(scene_change_score(before, patched))
    assert scores[0] < 0.02 and scores == sorted(scores) and scores[3] > 2 * scores[1]
    half = scores[2]
    calm = [0.0] * 4
    assert half > scenecut.CONTEXT_MARGIN
    assert scenecut.decide(half, calm, threshold=half - 0.01)
    assert not scenecut.decide(half, calm, threshold=half + 0.01)


def test_context_raises_the_bar_where_every_pair_is_hard():
    # A pair that stands out from calm neighbours is a cut; the same score among pairs that all leave much
    # unexplained (hand-held footage at a third of its frame rate) is not.
    score = DEFAULT_SCENE_THRESHOLD + scenecut.CONTEXT_MARGIN
    assert scenecut.decide(score, [0.01, 0.02, 0.0, 0.01], DEFAULT_SCENE_THRESHOLD)
    assert not scenecut.decide(score, [score - 0.05, score - 0.1, score - 0.02], DEFAULT_SCENE_THRESHOLD)
    # Only the last CONTEXT_PAIRS pairs count: an old busy stretch does not hide a cut after a calm one.
    detector = SceneCutDetector(DEFAULT_SCENE_THRESHOLD)
    detector._recent.extend([0.9] * scenecut.CONTEXT_PAIRS + [0.0] * scenecut.CONTEXT_PAIRS)
    assert scenecut.decide(score, list(detector._recent), DEFAULT_SCENE_THRESHOLD)


def test_lone_pair_is_judged_conservatively():
    # Without context (a triplet, a 2-frame input) only a pair that motion explains almost nowhere is a cut.
    assert not scenecut.decide(scenecut.LONE_THRESHOLD - 0.01, [], DEFAULT_SCENE_THRESHOLD)
    assert scenecut.decide(scenecut.LONE_THRESHOLD + 0.01, [], DEFAULT_SCENE_THRESHOLD)
    assert scenecut.decide(DEFAULT_SCENE_THRESHOLD + scenecut.CONTEXT_MARGIN + 0.01, [0.0, 0.0],
                           DEFAULT_SCENE_THRESHOLD)
    assert not scenecut.decide(DEFAULT_SCENE_THRESHOLD + scenecut.CONTEXT_MARGIN + 0.01, [], DEFAULT_SCENE_THRESHOLD)
    # Two unrelated random pictures are unexplained nearly everywhere: a cut even alone.
    rng = np.random.default_rng(9)
    noise = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(2)]
    assert decisions(noise) == [True]


def take_of_one_place(person: int, step: int, balance=(1.0, 1.0, 1.0), gain: float = 1.0) -> np.ndarray:
    """A still textured room with a 'person' (another texture, moving a little) over a fifth of it, as one take
    of a static camera shows it; `balance` (per-channel gains: the take's white balance) and `gain` (its light)."""
    image = textured_scene(11).astype(np.float64)
    y, x, h, w = 30, 110, 130, 100
    image[y: y + h, x: x + w] = textured_scene(person, step, (2.0, 1.0))[y: y + h, x: x + w]
    return np.clip(image * np.array(balance) * gain, 0, 255).astype(np.uint8)


def test_jump_cut_between_takes_is_corroborated_by_colour():
    # A jump cut between two takes of one room: a fifth of the picture changes, too little for the motion
    # evidence alone (below the threshold) ...
    first = [take_of_one_place(12, i) for i in range(6)]
    second = [take_of_one_place(13, i, balance=(1.12, 1.0, 0.85)) for i in range(4)]
    assert scenecut.CORROBORATED_SHARE * DEFAULT_SCENE_THRESHOLD < scene_change_score(first[-1], second[0])
    assert scene_change_score(first[-1], second[0]) < DEFAULT_SCENE_THRESHOLD
    # ... but the second take's white balance moves the colours as no pair before it did: a cut.
    assert decisions(first + second) == [False] * 5 + [True] + [False] * 3
    # The same change with the colours kept (a person swapping places in one take) stays interpolated, and so
    # does one whose colours move with the light (a flash or a change of exposure explains them).
    same_balance = [take_of_one_place(13, i) for i in range(4)]
    assert not any(decisions(first + same_balance))
    flashed = [take_of_one_place(13, i, balance=(1.12, 1.0, 0.85), gain=1.4) for i in range(4)]
    assert not any(decisions(first + flashed[:1] + first[:3]))
    # Colours alone are no evidence: a colour jump with everything explained by motion is not a cut.
    shifted = [take_of_one_place(12, i + 6, balance=(1.12, 1.0, 0.85)) for i in range(4)]
    assert not any(decisions(first + shifted))


def test_colour_evidence_needs_a_calm_context():
    thumb0 = thumbnail(take_of_one_place(12, 0))
    thumb1 = thumbnail(take_of_one_place(13, 0, balance=(1.12, 1.0, 0.85)))
    assert ColourEvidence.of(thumb0, thumb1, (0.01, 0.0, 0.02)).stands_out()
    assert not ColourEvidence.of(thumb0, thumb1, ()).stands_out()  # a lone pair: motion alone decides
    assert not ColourEvidence.of(thumb0, thumb1, (0.01, 0.0, 0.1)).stands_out()  # a ramp: a dissolve or fade
    assert not ColourEvidence.of(thumb0, thumb0, (0.0, 0.0)).stands_out()
    # histograms sum to 1 whatever the bit depth
    wide = thumbnail(take_of_one_place(12, 0).astype(np.uint16) * 257)
    assert wide.colours.sum() == pytest.approx(1) and wide.colours == pytest.approx(thumb0.colours, abs=0.01)


def test_detector_reuses_thumbnails_and_flags_size_changes():
    detector = SceneCutDetector(DEFAULT_SCENE_THRESHOLD)
    frames = frames_of([textured_scene(10, i, (3.0, 1.0)) for i in range(3)])
    assert not detector.is_cut(frames[0], frames[1])
    assert detector._cached[0] is frames[1].image  # the next pair starts from this thumbnail
    assert not detector.is_cut(frames[1], frames[2])
    resized = VideoFrame(textured_scene(10, 3, (3.0, 1.0), 160, 90), Fraction(3, 24), 3)
    assert detector.score(frames[2], resized) == 1.0


@pytest.mark.slow
def test_real_cuts_in_sintel(shared_data):
    """The Sintel trailer's hard cuts (checked by eye) among fast camera moves, and nothing else, in its first 330
    frames."""
    import av

    path = shared_data / "train" / "videos" / "Mangomm__FFmpegC" / "sintel.mp4"
    if not path.is_file():
        pytest.skip("sintel.mp4 is not in ../shared/data")
    detector = SceneCutDetector(DEFAULT_SCENE_THRESHOLD)
    cuts, previous = [], None
    with av.open(str(path)) as container:
        for i, decoded in enumerate(container.decode(video=0)):
            if i >= 330:
                break
            frame = VideoFrame(decoded.to_ndarray(format="rgb24"), Fraction(i, 24), i)
            if previous is not None and detector.is_cut(previous, frame):
                cuts.append(previous.index)
            previous = frame
    assert cuts == [75, 120, 318]


@pytest.mark.slow
def test_benchmark_targets(shared_data):
    """benchmarks/scenecuts.py on the training clips: no frozen frame on any non-cut up to stride 4 (in context or
    alone), and at least 98 % of the cuts caught in context (look-alike jump cuts included)."""
    from benchmark_scripts import load_benchmark

    benchmark = load_benchmark("scenecuts")
    records = benchmark.evaluate(benchmark.build_cases(benchmark.Clips(shared_data / "train" / "videos")),
                                 DEFAULT_SCENE_THRESHOLD)
    held = [r for r in records if not r["cut"] and r["category"] != "action:stride8" and (r["context"] or r["lone"])]
    assert held == []
    cuts = [r for r in records if r["cut"]]
    assert sum(r["context"] for r in cuts) >= 0.98 * len(cuts)
    assert all(r["context"] for r in cuts if r["category"] in ("cut:real", "cut:splice"))
