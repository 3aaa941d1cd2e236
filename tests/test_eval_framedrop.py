"""The frame-drop protocol and the evaluation driver, with small stand-in interpolators."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from vidinterp.errors import UsageError, VidinterpError
from vidinterp.evaluate.evaluate import EvalOptions, evaluate_triplets, evaluate_video, expected_items
from vidinterp.evaluate.framedrop import compared_frame_count, drop_groups
from vidinterp.evaluate.layouts import VideoItem, discover
from vidinterp.io.frames import VideoFrame
from vidinterp.io.images import read_image, write_png
from vidinterp.labels import line_height, text_scale


def _frames(n: int, times=None) -> list[VideoFrame]:
    times = times or [Fraction(i, 24) for i in range(n)]
    return [VideoFrame(np.full((4, 4, 3), i, np.uint8), time, i) for i, time in enumerate(times)]


def test_drop_two_keeps_even_frames_and_asks_for_the_middle():
    groups = list(drop_groups(_frames(12), 2))
    assert [(g.before.index, [f.index for f in g.dropped], g.after.index) for g in groups] == [
        (2 * i, [2 * i + 1], 2 * i + 2) for i in range(5)
    ]
    assert all(g.times == [0.5] for g in groups)
    assert compared_frame_count(12, 2) == 5  # frame 11 has no kept frame after it


def test_drop_three_and_variable_frame_rate():
    groups = list(drop_groups(_frames(10), 3))
    assert [[f.index for f in g.dropped] for g in groups] == [[1, 2], [4, 5], [7, 8]]
    assert groups[0].times == pytest.approx([1 / 3, 2 / 3])
    assert compared_frame_count(10, 3) == 6
    vfr = _frames(3, [Fraction(0), Fraction(1, 10), Fraction(4, 10)])
    (group,) = drop_groups(vfr, 2)
    assert group.times == pytest.approx([0.25])  # t follows the timestamps, not the frame count
    with pytest.raises(UsageError):
        list(drop_groups(_frames(4), 1))


def test_video_protocol_on_a_synthetic_clip(clip, recording_interpolator, device):
    interpolator = recording_interpolator(pad_multiple=8, device=device)
    result = evaluate_video(VideoItem("clip", clip), interpolator, EvalOptions(drop=2))
    assert [item.name for item in result.items] == [f"frame {i}" for i in (1, 3, 5, 7, 9)]
    assert interpolator.times == [0.5] * 5 and all(item.t == 0.5 for item in result.items)
    assert interpolator.padded_sizes[0] == (64, 96)
    summary = result.summary()
    assert 20 < summary["psnr"] < 100 and 0 < summary["ssim"] < 1 and summary["mae"] > 0
    # Kept frames are exact, so at drop 2 each frame pair's change error is the interpolated frame's error.
    assert summary["temporal_error"] == pytest.approx(summary["mae"])
    assert expected_items(VideoItem("clip", clip), EvalOptions(drop=2)) == 5

    three = evaluate_video(VideoItem("clip", clip), recording_interpolator(pad_multiple=8, device=device),
                           EvalOptions(drop=3, limit=3))
    assert [(item.name, round(item.t, 4)) for item in three.items] == [
        ("frame 1", 0.3333),
        ("frame 2", 0.6667),
        ("frame 4", 0.3333),
    ]
    # The temporal error is the mean over every frame pair of the reconstruction F0 P1 P2 F3 | F3 P4 F6: the
    # group cut short by --limit (2 pairs) weighs less than the full one (3 pairs).
    from vidinterp.evaluate import metrics
    from vidinterp.execution.frames import to_levels
    from vidinterp.io.reader import open_video

    with open_video(clip) as reader:
        frames = [frame.image for frame in reader.frames()][:7]
    blend = lambda a, b, t: metrics.quantize(((1 - t) * to_levels([frames[a]]) + t * to_levels([frames[b]])) / 255)  # noqa: E731
    truth = [to_levels([f]) for f in frames]
    predicted = [truth[0], blend(0, 3, 1 / 3), blend(0, 3, 2 / 3), truth[3], blend(3, 6, 1 / 3), truth[6]]
    real = [truth[i] for i in (0, 1, 2, 3, 4, 6)]
    changes = [(predicted[i + 1] - predicted[i]) - (real[i + 1] - real[i]) for i in range(5)]
    assert three.temporal_error == pytest.approx(float(torch.cat(changes).abs().mean()), rel=1e-9)


def test_video_too_short(tmp_path, recording_interpolator, device):
    from synthetic import make_clip

    short = make_clip(tmp_path / "short.mp4", n_frames=2)
    with pytest.raises(VidinterpError, match="too short"):
        evaluate_video(VideoItem("short", short), recording_interpolator(pad_multiple=8, device=device),
                       EvalOptions(drop=2))


def _triplet_folder(tmp_path, size=(13, 21)):
    """A Vimeo-layout set of two items whose truth is exactly the mean of the inputs (so blend is perfect)."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        frame0 = rng.integers(0, 128, (*size, 3), dtype=np.uint8) * 2
        frame1 = rng.integers(0, 128, (*size, 3), dtype=np.uint8) * 2
        folder = tmp_path / "set" / name
        folder.mkdir(parents=True)
        write_png(folder / "im1.png", frame0)
        write_png(folder / "im3.png", frame1)
        write_png(folder / "im2.png", ((frame0.astype(int) + frame1) // 2).astype(np.uint8))
    return tmp_path / "set"


def test_triplets_use_the_interpolator_with_padding_and_save_pictures(tmp_path, recording_interpolator, device):
    (dataset,) = discover(_triplet_folder(tmp_path))
    interpolator = recording_interpolator(pad_multiple=8, device=device)
    result = evaluate_triplets(dataset, interpolator, EvalOptions(save_dir=tmp_path / "pictures"))
    assert interpolator.padded_sizes == [(16, 24), (16, 24)]  # 13×21 padded to multiples of 8, cropped back
    assert interpolator.times == [0.5, 0.5]
    assert [(item.psnr, item.ssim, item.mae) for item in result.items] == [(100.0, pytest.approx(1.0), 0.0)] * 2
    pictures = sorted((tmp_path / "pictures" / "set").iterdir())
    assert [p.name for p in pictures] == ["a.png", "b.png"]
    picture = read_image(pictures[0])
    strip = line_height(text_scale(21))  # the label strip above the panels; two lines of scores below
    assert picture.shape == (strip + 13 + 2 * strip, 5 * 21 + 4 * 4, 3)  # five panels with 4-pixel gaps
    panels = picture[strip : strip + 13]
    assert np.array_equal(panels[:, 2 * 25 : 2 * 25 + 21], read_image(tmp_path / "set" / "a" / "im2.png"))  # result
    assert panels[:, 4 * 25 :].max() == 0  # error map of a perfect result is black
    assert picture[:strip].max() > 0 and picture[strip + 13 :].max() > 0  # labels and scores are drawn


def test_triplet_scores_equal_metrics_of_the_rounded_prediction(tmp_path, recording_interpolator, device):
    (dataset,) = discover(_triplet_folder(tmp_path))

    class FirstFrame(recording_interpolator):
        def _synthesize(self, state, pair_index, t):
            return state[0][pair_index]

    result = evaluate_triplets(dataset, FirstFrame(pad_multiple=8, device=device), EvalOptions(limit=1))
    assert len(result.items) == 1
    frame0 = read_image(tmp_path / "set" / "a" / "im1.png").astype(np.float64)
    truth = read_image(tmp_path / "set" / "a" / "im2.png").astype(np.float64)
    mse = ((frame0 - truth) ** 2).mean()
    assert result.items[0].psnr == pytest.approx(10 * math.log10(255**2 / mse))
    assert result.items[0].mae == pytest.approx(np.abs(frame0 - truth).mean())


def test_mismatched_sizes_are_a_clear_error(tmp_path, recording_interpolator, device):
    folder = _triplet_folder(tmp_path)
    write_png(folder / "a" / "im2.png", np.zeros((5, 5, 3), np.uint8))
    (dataset,) = discover(folder)
    with pytest.raises(VidinterpError, match="differ in size"):
        evaluate_triplets(dataset, recording_interpolator(pad_multiple=8, device=device), EvalOptions())


def test_sixteen_bit_triplets_are_scored_at_their_own_depth(tmp_path, recording_interpolator, device):
    rng = np.random.default_rng(3)
    frame0 = rng.integers(0, 32768, (12, 12, 3), dtype=np.uint16) * 2
    frame1 = rng.integers(0, 32768, (12, 12, 3), dtype=np.uint16) * 2
    truth = ((frame0.astype(np.int64) + frame1) // 2).astype(np.uint16)
    folder = tmp_path / "deep" / "x"
    folder.mkdir(parents=True)
    for name, image in (("im1.png", frame0), ("im3.png", frame1), ("im2.png", truth)):
        write_png(folder / name, image)
    (dataset,) = discover(tmp_path / "deep")
    (item,) = evaluate_triplets(dataset, recording_interpolator(pad_multiple=8, device=device), EvalOptions()).items
    # The exact mean survives only if the prediction is rounded to 65535 levels, not to 255.
    assert item.psnr == 100.0 and item.mae == 0.0


def test_lpips_reports_why_it_is_unavailable(monkeypatch):
    import importlib.util

    from vidinterp.evaluate import perceptual

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    metric, reason = perceptual.load_lpips("cpu")
    assert metric is None and "lpips" in reason and "not installed" in reason
