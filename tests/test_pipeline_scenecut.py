"""The scene-change score: near zero for moving content, high for unrelated shots, blind to global flashes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from synthetic import pattern_frame
from vidinterp.io.frames import VideoFrame
from vidinterp.pipeline import DEFAULT_SCENE_THRESHOLD, SceneCutDetector, scene_change_score, thumbnail


def score(image0, image1):
    return scene_change_score(thumbnail(image0), thumbnail(image1))


def test_thumbnail_shape_and_normalisation():
    thumb = thumbnail(np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8))
    assert thumb.shape[1] == 64 and thumb.shape[0] in (32, 40) and thumb.dtype == np.float32  # 16:9 in 8-px blocks
    assert abs(float(thumb.mean())) < 1e-5 and abs(float(thumb.std()) - 1) < 1e-3
    assert thumbnail(np.zeros((6, 5, 3), np.uint8)).shape == (8, 8)  # tiny pictures still work
    assert not np.isnan(thumbnail(np.full((64, 96, 3), 7, np.uint8))).any()  # flat pictures are not divided by 0


def test_same_scores_for_uint8_and_uint16():
    a, b = pattern_frame(0), pattern_frame(3)
    assert score(a, b) == pytest.approx(score(a.astype(np.uint16) * 257, b.astype(np.uint16) * 257), abs=1e-4)


def test_identical_frames_score_zero():
    image = pattern_frame(2)
    assert score(image, image) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("speed", [(2.0, 1.0), (6.0, 3.0), (-8.0, 4.0)])
def test_motion_scores_low(speed):
    for i in range(3):
        assert score(pattern_frame(i, speed=speed), pattern_frame(i + 1, speed=speed)) < DEFAULT_SCENE_THRESHOLD / 2


def test_unrelated_content_scores_high():
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    assert score(pattern_frame(0), noise) > 2 * DEFAULT_SCENE_THRESHOLD
    # A different smooth shot (see test_pipeline_engine.other_scene): still clearly above the threshold.
    ys, xs = np.mgrid[0:64, 0:96].astype(np.float64)
    other = np.clip(np.stack([128 + 100 * np.cos(xs / 5 + ys / 3), 128 + 90 * np.sin(ys / 4), 128 + 80 * np.cos((xs - ys) / 6)], -1), 0, 255).astype(np.uint8)
    assert score(pattern_frame(0), other) > 1.3 * DEFAULT_SCENE_THRESHOLD


def test_flash_and_fade_are_not_cuts():
    image = pattern_frame(4)
    flash = np.clip(image.astype(np.float64) * 1.4 + 40, 0, 255).astype(np.uint8)  # brighter, some clipping
    fade = (image.astype(np.float64) * 0.3).astype(np.uint8)
    assert score(image, flash) < DEFAULT_SCENE_THRESHOLD
    assert score(image, fade) < DEFAULT_SCENE_THRESHOLD


def test_detector_reuses_thumbnails_and_flags_size_changes():
    detector = SceneCutDetector(DEFAULT_SCENE_THRESHOLD)
    frames = [VideoFrame(pattern_frame(i), Fraction(i, 24), i) for i in range(3)]
    assert not detector.is_cut(frames[0], frames[1])
    assert detector._cached[0] is frames[1].image  # the next pair starts from this thumbnail
    assert not detector.is_cut(frames[1], frames[2])
    resized = VideoFrame(pattern_frame(3, 48, 32), Fraction(3, 24), 3)
    assert detector.is_cut(frames[2], resized)


@pytest.mark.slow
def test_real_cuts_in_sintel(shared_data):
    """The first 330 frames of the Sintel trailer have three hard cuts (checked by eye) and fast camera moves."""
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
