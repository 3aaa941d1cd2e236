"""--dedupe: which frames count as repeats (whole frame and block by block), which are dropped and which kept
(holds at the start and end, long stills, a held drawing before a cut), the hold pattern, and what upsample makes
of held clips through the API, the CLI and image sequences."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from synthetic import pattern_frame, write_clip
from vidinterp.api.options import UpsampleOptions
from vidinterp.api.upsample import upsample
from vidinterp.errors import UsageError
from vidinterp.interpolators import BlendInterpolator
from vidinterp.io.frames import VideoFrame
from vidinterp.io.images import write_png
from vidinterp.io.reader import open_video
from vidinterp.pipeline import RetimeOptions, RetimeStats, retime
from vidinterp.pipeline.dedupe import (
    DEFAULT_THRESHOLDS,
    MAX_HOLD,
    Deduplicator,
    HoldStats,
    block_differences,
    is_repeat,
    luma,
)
from vidinterp.pipeline.timing import DEFAULT_SCENE_THRESHOLD

RATE = Fraction(24)


def differences(image0: np.ndarray, image1: np.ndarray) -> np.ndarray:
    return block_differences(luma(image0), luma(image1))


def stamped(images: list[np.ndarray], rate: Fraction = RATE) -> list[VideoFrame]:
    return [VideoFrame(image=image, time=i / rate, index=i) for i, image in enumerate(images)]


def drawings(lengths: list[int], width: int = 96, height: int = 64) -> list[np.ndarray]:
    """Drawing k (the pattern at position 3k) shown for lengths[k] frames, each copy a distinct array."""
    images = []
    for k, length in enumerate(lengths):
        images.extend(pattern_frame(3 * k, width, height).copy() for _ in range(length))
    return images


def noisy(image: np.ndarray, seed: int, amplitude: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(-amplitude, amplitude + 1, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


# -- what counts as a repeat ------------------------------------------------------------------------------
def test_codec_noise_is_a_repeat():
    image = pattern_frame(0, 160, 96)
    assert is_repeat(differences(image, noisy(image, 1)))
    assert is_repeat(differences(image, image))


def test_a_small_object_moving_on_a_still_background_is_not_a_repeat():
    """Block by block: 1 % of the frame changes, the whole-frame mean barely moves, yet it is new content."""
    background = pattern_frame(0, 320, 192)
    moved = background.copy()
    moved[40:56, 100:116] = 255 - moved[40:56, 100:116]
    blocks = differences(background, moved)
    assert blocks.mean() < DEFAULT_THRESHOLDS.mean  # the whole frame alone would call it a repeat
    assert not is_repeat(blocks)


def test_a_slight_change_everywhere_is_not_a_repeat():
    """Over the whole frame: a fade of a few levels moves no block much, but every block a little."""
    image = pattern_frame(0, 160, 96)
    faded = np.clip(image.astype(np.int16) + 4, 0, 255).astype(np.uint8)
    blocks = differences(image, faded)
    assert blocks.max() < DEFAULT_THRESHOLDS.hi  # no block alone is enough
    assert not is_repeat(blocks)


def test_sixteen_bit_frames_are_judged_on_the_same_scale():
    image = pattern_frame(0, 64, 48).astype(np.uint16) * 257
    np.testing.assert_allclose(luma(image), luma(pattern_frame(0, 64, 48)), atol=0.51)  # 8-bit luma is rounded


# -- which frames are dropped -----------------------------------------------------------------------------
def dedupe(images, **kwargs):
    deduplicator = Deduplicator(**kwargs)
    frames = list(deduplicator.frames(stamped(images)))
    return frames, deduplicator.stats


def test_twos_keep_each_drawing_at_its_time_and_the_last_frame():
    images = drawings([2] * 6)
    frames, stats = dedupe(images)
    # Each drawing's first frame, then the last input frame (a copy of the last drawing) so the output lasts as
    # long as the input.
    assert [frame.index for frame in frames] == [0, 2, 4, 6, 8, 10, 11]
    assert [frame.time for frame in frames] == [Fraction(i, 24) for i in (0, 2, 4, 6, 8, 10, 11)]
    assert frames[-1].image is frames[-2].image  # the kept copy carries the drawing's own picture
    assert (stats.dropped_frames, stats.kept_copies, stats.repeated_frames) == (5, 1, 6)
    assert stats.pattern() == "on twos"


def test_codec_noise_on_the_repeats_does_not_matter():
    images = [noisy(image, seed) for seed, image in enumerate(drawings([3] * 5))]
    frames, stats = dedupe(images)
    assert [frame.index for frame in frames] == [0, 3, 6, 9, 12, 13, 14]  # the input's last two frames stay
    assert stats.pattern() == "on threes"


def test_hold_at_the_start_is_interpolated_across():
    frames, stats = dedupe(drawings([3, 1, 1, 1]))
    assert [frame.index for frame in frames] == [0, 3, 4, 5]
    assert stats.dropped_frames == 2 and stats.kept_copies == 0


def test_a_still_longer_than_a_hold_keeps_its_last_copy():
    """A picture shown for more than MAX_HOLD frames is a pause: motion after it starts on time."""
    length = MAX_HOLD + 2
    frames, stats = dedupe(drawings([length, 1, 1]))
    assert [frame.index for frame in frames] == [0, length - 1, length, length + 1]
    assert frames[1].image is frames[0].image
    assert stats.kept_copies == 1 and stats.dropped_frames == length - 2
    assert "longer" in stats.pattern()


def test_a_held_drawing_before_a_cut_is_held_until_the_cut():
    rng = np.random.default_rng(0)
    other_shot = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)]
    images = drawings([1, 2]) + [other_shot[0], other_shot[0].copy(), pattern_frame(40, 96, 64)]
    frames, _ = dedupe(images, cut_threshold=DEFAULT_SCENE_THRESHOLD)
    # Frame 2, the held copy before the cut, stays; so does frame 4 (shot B held, then another cut).
    assert [frame.index for frame in frames] == [0, 1, 2, 3, 4, 5]
    frames, _ = dedupe(images, cut_threshold=None)  # cuts not handled (--scene-cut off): interpolated across
    assert [frame.index for frame in frames] == [0, 1, 3, 5]


def test_mixed_pattern_and_none():
    stats = HoldStats(dropped_frames=5, lengths={1: 4, 2: 3, 3: 1})
    assert stats.pattern().startswith("mixed") and "3 × 2 frames" in stats.pattern()
    assert HoldStats(lengths={1: 10}).pattern() == "none"
    frames, stats = dedupe(drawings([1] * 8))
    assert len(frames) == 8 and stats.repeated_frames == 0 and stats.pattern() == "none"


def test_engine_shows_a_kept_still_as_it_is():
    """Both ends the same picture: copied, never sent to the interpolator."""
    image = pattern_frame(0, 32, 24)
    frames = [VideoFrame(image, Fraction(0), 0), VideoFrame(image, Fraction(5, 24), 5),
              VideoFrame(pattern_frame(1, 32, 24), Fraction(6, 24), 6)]
    stats = RetimeStats()
    out = list(retime(frames, BlendInterpolator(), RetimeOptions(fps=RATE), input_rate=RATE, stats=stats))
    assert len(out) == 7 and stats.interpolated_frames == 0
    assert all(frame.image is image for frame in out[:6])


# -- through upsample ---------------------------------------------------------------------------------------
def held_clip(path, lengths, width=96, height=64):
    """A lossless clip whose drawings (the moving pattern at the time of their first frame) are held."""
    truth = [pattern_frame(i, width, height) for i in range(sum(lengths))]
    images, start = [], 0
    for length in lengths:  # every frame of a drawing shows the drawing's first frame
        images.extend([truth[start]] * length)
        start += length
    write_clip(path, images, fps=RATE, codec="ffv1", pix_fmt="bgr0")
    return path, truth


def read(path):
    with open_video(path) as reader:
        return list(reader.frames()), reader.info


def mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_fill_the_holds_at_the_input_rate(tmp_path):
    source, truth = held_clip(tmp_path / "held.mkv", [2] * 8)
    out = tmp_path / "out.mkv"
    summary = upsample(source, out, UpsampleOptions(fps=RATE, dedupe=True, method="classical", codec="ffv1"))
    frames, info = read(out)
    assert info.frame_rate == RATE and len(frames) == 16
    assert all(abs(frame.time - Fraction(i, 24)) <= Fraction(1, 1000) for i, frame in enumerate(frames))  # ms in mkv
    assert summary.held_frames == 8 and summary.hold_pattern == "on twos" and summary.input_frames == 16
    # The held frames (odd) are rebuilt: far closer to the real motion than the hold, which shows the frame before.
    for i in range(1, 15, 2):
        assert mean_error(frames[i].image, truth[i]) < 0.5 * mean_error(truth[i - 1], truth[i])
    # Without --dedupe the holds are copied as they are.
    upsample(source, out, UpsampleOptions(fps=RATE, method="classical", codec="ffv1", overwrite=True))
    plain, _ = read(out)
    assert all(np.array_equal(plain[i].image, plain[i - 1].image) for i in range(1, 15, 2))


def test_factor_with_dedupe_moves_every_output_frame(tmp_path):
    """The issue's case: a clip with every other frame a repeat, --factor 2. Without dedupe half the output
    repeats the frame before; with it, only the hold at the very end does."""
    source, _ = held_clip(tmp_path / "held.mkv", [2] * 10)
    out = tmp_path / "out.mkv"
    summary = upsample(source, out, UpsampleOptions(factor=2, dedupe=True, method="blend", codec="ffv1"))
    frames, info = read(out)
    assert info.frame_rate == 2 * RATE and len(frames) == 40 and summary.output_frames == 40
    repeats = [i for i in range(1, 40) if np.array_equal(frames[i].image, frames[i - 1].image)]
    assert repeats == [37, 38, 39]  # the last drawing, held to the end as in the source
    upsample(source, out, UpsampleOptions(factor=2, method="blend", codec="ffv1", overwrite=True))
    plain, _ = read(out)
    assert sum(np.array_equal(plain[i].image, plain[i - 1].image) for i in range(1, 40)) >= 19


@pytest.mark.slow
def test_the_issues_case_on_the_sample_clip(tmp_path):
    """The packaged sample with every other frame replaced by its predecessor (50 frames, 25 of them repeats):
    --factor 2 made 100 frames of which 51 repeated the one before; with --dedupe only the end's hold does."""
    from vidinterp.io.sample import sample_clip_path

    with open_video(sample_clip_path()) as reader:
        rate = reader.info.frame_rate
        images = [frame.image for _, frame in zip(range(50), reader.frames())]
    source = write_clip(tmp_path / "held.mp4", [images[i - i % 2] for i in range(50)], fps=rate)
    out = tmp_path / "out.mkv"
    summary = upsample(source, out, UpsampleOptions(factor=2, dedupe=True, method="blend", codec="ffv1"))
    frames, _ = read(out)
    assert len(frames) == 100 and summary.held_frames == 25 and summary.hold_pattern == "on twos"
    repeats = [i for i in range(1, 100) if np.array_equal(frames[i].image, frames[i - 1].image)]
    assert repeats == [97, 98, 99]


def test_held_drawing_before_a_cut_stays_until_the_cut(tmp_path):
    """Shot A on twos, then an unrelated shot B: the output shows A until B's time, then B; no cross-fade."""
    rng = np.random.default_rng(3)
    shot_b = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)] * 2
    shot_a = [pattern_frame(0, 96, 64)] * 2 + [pattern_frame(2, 96, 64)] * 2
    source = write_clip(tmp_path / "cut.mkv", shot_a + shot_b, fps=RATE, codec="ffv1", pix_fmt="bgr0")
    out = tmp_path / "out.mkv"
    upsample(source, out, UpsampleOptions(factor=2, dedupe=True, method="blend", codec="ffv1"))
    frames, _ = read(out)
    assert len(frames) == 12
    for frame in frames[4:8]:  # times 2/24 .. 3.5/24: the second drawing of shot A, held until the cut
        assert np.array_equal(frame.image, shot_a[2])
    for frame in frames[8:]:
        assert np.array_equal(frame.image, shot_b[0])


def test_image_sequence_on_threes(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(drawings([3] * 4)):
        write_png(folder / f"{i + 1:04d}.png", image)
    summary = upsample(folder, tmp_path / "out" / "%04d.png",
                       UpsampleOptions(factor=2, dedupe=True, method="blend", input_fps=RATE))
    assert summary.hold_pattern == "on threes" and summary.held_frames == 8 and summary.output_frames == 24


def test_cli_logs_the_hold_pattern(tmp_path, run_cli):
    source, _ = held_clip(tmp_path / "held.mkv", [2] * 6)
    code, _, err = run_cli("upsample", "--method", "blend", "--dedupe", source, tmp_path / "out.mkv")
    assert code == 0, err
    assert "--dedupe: 6 of 12 frames repeated the one before (hold pattern: on twos)" in err


def test_dedupe_option_is_checked():
    with pytest.raises(UsageError, match="dedupe"):
        UpsampleOptions(dedupe="yes")


def test_without_dedupe_a_clip_full_of_repeats_gets_a_hint(tmp_path, run_cli, clip):
    """Dedupe is not automatic (live action repeats frames too); a clip that starts with many repeats gets a hint."""
    source, _ = held_clip(tmp_path / "held.mkv", [2] * 6)
    for path, hinted in ((source, True), (clip, False)):
        code, _, err = run_cli("upsample", "--method", "blend", path, tmp_path / "out.mkv", "-y")
        assert code == 0, err
        assert ("6 of the first 12 frames repeat the one before" in err) is hinted, err
        assert ("--dedupe interpolates across such holds" in err) is hinted


#: Real live-action clips with motion in every frame (a walk, a skateboard ride, a chewing camel, a dancer, a
#: snowboarder): with --dedupe none may lose a frame.
LIVE_ACTION = ("DAMO-NLP-SG__Video-LLaMA/dog_barking.mp4", "DAMO-NLP-SG__Video-LLaMA/skateboarding_dog.mp4",
               "aharley__pips2/camel.mp4", "YBYBZhang__ControlVideo/moonwalk.mp4",
               "showlab__Tune-A-Video/man-skiing.mp4")


@pytest.mark.slow
@pytest.mark.parametrize("name", LIVE_ACTION)
def test_live_action_loses_no_frame(shared_data, name):
    from vidinterp.pipeline.dedupe import RepeatProbe

    with open_video(shared_data / "train" / "videos" / name) as reader:
        deduplicator, probe = Deduplicator(cut_threshold=DEFAULT_SCENE_THRESHOLD), RepeatProbe()
        count = sum(1 for _ in deduplicator.frames(probe.frames(reader.frames())))
        assert count == reader.info.frame_count or reader.info.frame_count is None
    assert deduplicator.stats.repeated_frames == 0 and deduplicator.stats.pattern() == "none"
    assert probe.repeats == 0 and not probe.suggests_dedupe
