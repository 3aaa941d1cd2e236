"""The retiming engine: frame counts and exact times, which pairs and t reach the interpolator, batching,
values and dtypes, padding, scene cuts, and memory that does not grow with the video."""

from __future__ import annotations

import gc
import weakref
from fractions import Fraction

import numpy as np
import pytest
import torch

from synthetic import pattern_frame
from vidinterp.errors import VidinterpError
from vidinterp.execution.frames import blend_images
from vidinterp.interpolators import BlendInterpolator
from vidinterp.io.frames import VideoFrame
from vidinterp.pipeline import RetimeOptions, RetimeStats, retime

NTSC = Fraction(30000, 1001)


def numbered_frames(times, width=24, height=16, dtype=np.uint8):
    """Frames at the given times: a smooth pattern, with the frame number in pixel (0, 0)'s red channel."""
    frames = []
    for i, time in enumerate(times):
        image = pattern_frame(i, width, height).copy()
        image[0, 0, 0] = i
        if dtype == np.uint16:
            image = image.astype(np.uint16) * 257
        frames.append(VideoFrame(image, Fraction(time), i))
    return frames


@pytest.fixture
def run(recording_interpolator, device):
    """run(frames, options, interpolator=None, **retime_kwargs) -> (output frames, interpolator): the frames retimed
    by `interpolator`, by default a fresh recording one (float64, on the test's device)."""

    def retime_all(frames, options, interpolator=None, **kwargs):
        interpolator = interpolator or recording_interpolator(dtype=torch.float64, device=device)
        return list(retime(iter(frames), interpolator, options, **kwargs)), interpolator

    return retime_all


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_factor_counts_times_and_passthrough(factor, run):
    n = 7
    frames = numbered_frames([i / NTSC for i in range(n)])
    stats = RetimeStats()
    out, fake = run(frames, RetimeOptions(factor=factor), stats=stats)
    assert len(out) == factor * n
    assert [f.index for f in out] == list(range(factor * n))
    assert [f.time for f in out] == [Fraction(m, factor) / NTSC for m in range(factor * n)]
    for i, frame in enumerate(frames):
        assert out[factor * i].image is frame.image  # input frames pass through untouched
    for k in range(factor):
        np.testing.assert_array_equal(out[factor * (n - 1) + k].image, frames[-1].image)  # last frame held
    expected = [((i, i + 1), k / factor) for i in range(n - 1) for k in range(1, factor)]
    assert [r[0] for r in fake.requests] == [e[0] for e in expected]
    assert [r[1] for r in fake.requests] == pytest.approx([e[1] for e in expected], abs=1e-7)
    assert stats.output_frames == factor * n and stats.input_frames == n
    assert stats.interpolated_frames == (factor - 1) * (n - 1)


@pytest.mark.parametrize("batch_size", [1, 3, 8, 100])
def test_factor4_prepares_each_pair_once(batch_size, run):
    frames = numbered_frames([i / 24 for i in range(9)])
    _, fake = run(frames, RetimeOptions(factor=4, batch_size=batch_size))
    prepared = [pair for call in fake.prepared_pairs for pair in call]
    assert prepared == [(i, i + 1) for i in range(8)]
    # batches never exceed batch_size requests, except a single pair that alone needs more
    assert all(len(call) * 3 <= max(batch_size, 3) for call in fake.prepared_pairs)


def test_each_input_frame_is_converted_to_a_tensor_once_with_one_pair_per_batch(monkeypatch, run, device):
    from vidinterp.interpolators import base

    converted = []
    real = base.to_tensor
    monkeypatch.setattr(base, "to_tensor", lambda images, *args: converted.extend(images) or real(images, *args))
    frames = numbered_frames([i / 24 for i in range(6)])
    _, fake = run(frames, RetimeOptions(factor=2, batch_size=1))
    assert fake.prepared_pairs == [[(i, i + 1)] for i in range(5)]  # the shared tensor is the right frame
    assert [id(image) for image in converted] == [id(frame.image) for frame in frames]


def test_batch_size_does_not_change_output(run, device):
    frames = numbered_frames([Fraction(i, 24) for i in range(10)])
    outputs = []
    for batch_size in (1, 2, 5, 64):
        for options in (RetimeOptions(factor=3, batch_size=batch_size),
                        RetimeOptions(fps=Fraction(61), batch_size=batch_size)):
            out, _ = run(frames, options, BlendInterpolator(device))
            outputs.append((options.factor, [(f.index, f.time, f.image.tobytes()) for f in out]))
    by_mode = {}
    for mode, out in outputs:
        by_mode.setdefault(mode, []).append(out)
    for runs in by_mode.values():
        assert all(r == runs[0] for r in runs[1:])


def reference_fps_plan(times, fps, end):
    """Brute force: for every output time, the bracketing pair and t (None for exact hits / held frames)."""
    plan, m = [], 0
    while (time := times[0] + m / fps) < end:
        i = max(j for j, tj in enumerate(times) if tj <= time)
        if time == times[i] or i == len(times) - 1:
            plan.append((time, i, None))
        else:
            plan.append((time, i, (time - times[i]) / (times[i + 1] - times[i])))
        m += 1
    return plan


@pytest.mark.parametrize(
    "times, fps",
    [
        ([Fraction(i, 24) for i in range(8)], Fraction(60)),  # CFR up
        ([Fraction(i, 60) for i in range(15)], Fraction(24)),  # CFR down
        ([Fraction(i) / NTSC for i in range(9)], Fraction(60000, 1001)),  # NTSC doubling
        ([Fraction(0), Fraction(40, 1000), Fraction(100, 1000), Fraction(130, 1000), Fraction(210, 1000)],
         Fraction(50)),  # VFR
        ([Fraction(0), Fraction(7, 100), Fraction(9, 100), Fraction(30, 100)], Fraction(25, 2)),  # VFR down
    ],
)
def test_fps_mode_pairs_and_t(times, fps, run):
    frames = numbered_frames(times)
    end = times[-1] + (times[-1] - times[-2])
    expected = reference_fps_plan(times, fps, end)
    out, fake = run(frames, RetimeOptions(fps=fps))
    assert [f.time for f in out] == [time for time, _, _ in expected]
    assert [f.index for f in out] == list(range(len(expected)))
    wanted = [((i, i + 1), float(t)) for _, i, t in expected if t is not None]
    assert [r[0] for r in fake.requests] == [w[0] for w in wanted]
    assert [r[1] for r in fake.requests] == pytest.approx([w[1] for w in wanted], abs=1e-7)
    for frame, (_, i, t) in zip(out, expected):
        if t is None:
            assert frame.image is frames[i].image  # exact hits and held frames are the input, bit for bit


def test_fps_downsampling_by_two_never_interpolates(run):
    frames = numbered_frames([Fraction(i, 60) for i in range(20)])
    out, fake = run(frames, RetimeOptions(fps=Fraction(30)))
    assert fake.prepared_pairs == [] and fake.requests == []
    assert [f.image[0, 0, 0] for f in out] == list(range(0, 20, 2))


def test_millisecond_timestamps_pass_through_at_their_own_rate(run):
    # 29.97 fps with PTS rounded to 1 ms (Matroska) retimed to 29.97 fps: every output is an input frame.
    frames = numbered_frames([Fraction(round(i * 1000 / NTSC), 1000) for i in range(40)])
    out, fake = run(frames, RetimeOptions(fps=NTSC))
    assert fake.requests == []
    assert [f.image[0, 0, 0] for f in out] == list(range(40))
    assert [f.time for f in out] == [i / NTSC for i in range(40)]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_blend_values_and_dtype(dtype, run, device):
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    images = [rng.integers(0, top + 1, (10, 14, 3), dtype=dtype) for _ in range(3)]
    frames = [VideoFrame(image, Fraction(i, 25), i) for i, image in enumerate(images)]
    out, _ = run(frames, RetimeOptions(factor=4, scene_cut="off"), BlendInterpolator(device))
    for i in range(2):
        a, b = images[i].astype(np.float64), images[i + 1].astype(np.float64)
        for k in range(1, 4):
            got = out[4 * i + k].image
            assert got.dtype == dtype and got.shape == a.shape and got.flags.c_contiguous
            want = (1 - k / 4) * a + k / 4 * b
            # rounded, not truncated: within half a level, plus float32 slack at exact .5 ties
            assert np.abs(got - want).max() <= 0.5 + 1e-3 * top / 255


def test_odd_sizes_are_padded_and_cropped(run, recording_interpolator, device):
    frames = numbered_frames([Fraction(i, 24) for i in range(3)], width=37, height=29)
    fake = recording_interpolator(pad_multiple=8, dtype=torch.float64, device=device)
    out, _ = run(frames, RetimeOptions(factor=2), fake)
    assert fake.padded_sizes == [(32, 40)]
    assert all(f.image.shape == (29, 37, 3) for f in out)
    want = blend_images(frames[0].image, frames[1].image, 0.5)
    assert np.abs(out[1].image.astype(int) - want.astype(int)).max() <= 1


def test_size_change_mid_stream_is_a_clear_error(run):
    frames = numbered_frames([0, Fraction(1, 24)]) + [VideoFrame(pattern_frame(2, 32, 16), Fraction(2, 24), 2)]
    with pytest.raises(VidinterpError, match="picture size changes"):
        run(frames, RetimeOptions(factor=2))


def test_empty_input_gives_nothing(run):
    out, fake = run([], RetimeOptions(factor=2))
    assert out == [] and fake.prepared_pairs == []


# -- scene cuts ------------------------------------------------------------------------------------------------

def other_scene(i: int, width: int = 96, height: int = 64) -> np.ndarray:
    """A second, unrelated shot: different colours and texture, also moving."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    xs = xs - 1.5 * i
    image = np.stack([128 + 100 * np.cos(xs / 5 + ys / 3), 128 + 90 * np.sin(ys / 4),
                      128 + 80 * np.cos((xs - ys) / 6)], -1)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def cut_clip():
    """Frames 0–3 show one moving shot, frames 4–7 another: one cut, between frames 3 and 4."""
    images = [pattern_frame(i) for i in range(4)] + [other_scene(i) for i in range(4)]
    return [VideoFrame(image, Fraction(i, 24), i) for i, image in enumerate(images)]


@pytest.mark.parametrize("mode", ["hold", "blend", "off"])
def test_scene_cut_modes(mode, run, device):
    frames = cut_clip()
    stats = RetimeStats()
    out, fake = run(frames, RetimeOptions(factor=4, scene_cut=mode), BlendInterpolator(device), stats=stats)
    assert len(out) == 32
    across = out[13:16]  # the three frames between input 3 and input 4
    if mode == "off":
        assert stats.scene_cuts == 0
        assert stats.interpolated_frames == 7 * 3
    else:
        assert stats.scene_cuts == 1
        assert stats.interpolated_frames == 6 * 3
    if mode == "hold":
        assert across[0].image is frames[3].image  # t = 1/4: nearer to frame 3
        assert across[1].image is frames[4].image and across[2].image is frames[4].image  # t = 1/2, 3/4
        assert stats.copied_frames == 8 + 3 + 3  # inputs, the held tail, the hold at the cut
    if mode == "blend":
        for k, frame in enumerate(across, start=1):
            np.testing.assert_array_equal(frame.image, blend_images(frames[3].image, frames[4].image, k / 4))
        assert stats.blended_frames == 3


def test_hold_shows_the_nearer_shot_at_any_rate(run, device):
    """--fps 60 from 24 fps puts output frames at t = 0.2 and 0.6 of the cut interval (frames 3 → 4): the first is
    nearer the earlier shot, the second the later one."""
    frames = cut_clip()
    stats = RetimeStats()
    out, _ = run(frames, RetimeOptions(fps=Fraction(60)), BlendInterpolator(device), stats=stats)
    across = [frame for frame in out if frames[3].time < frame.time < frames[4].time]
    assert [frame.time for frame in across] == [Fraction(8, 60), Fraction(9, 60)]
    assert across[0].image is frames[3].image and across[1].image is frames[4].image
    assert stats.scene_cuts == 1


def test_cut_pair_never_reaches_the_interpolator(run):
    frames = cut_clip()
    for image in frames:
        image.image[0, 0, 0] = image.index
    _, fake = run(frames, RetimeOptions(factor=2))
    assert (3, 4) not in [pair for call in fake.prepared_pairs for pair in call]
    assert len(fake.requests) == 6


def test_no_false_cuts_on_fast_smooth_motion(run, device):
    # 6 px/frame background and 12 px/frame square on a 96-px-wide picture: fast, but interpolatable.
    frames = [VideoFrame(pattern_frame(i, speed=(6.0, 3.0)), Fraction(i, 24), i) for i in range(10)]
    stats = RetimeStats()
    run(frames, RetimeOptions(factor=2), BlendInterpolator(device), stats=stats)
    assert stats.scene_cuts == 0


# -- streaming ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [RetimeOptions(factor=4, batch_size=4, scene_cut="off"),
                                     RetimeOptions(fps=Fraction(50), batch_size=4)])
def test_memory_does_not_grow_with_length(options, device):
    """Count input pictures still alive while a long stream goes through; the consumer drops outputs at once."""
    alive = 0
    peak = 0

    def released():
        nonlocal alive
        alive -= 1

    def source(n):
        nonlocal alive, peak
        base = pattern_frame(0, 32, 24)
        for i in range(n):
            image = base.copy()
            alive += 1
            peak = max(peak, alive)
            weakref.finalize(image, released)
            yield VideoFrame(image, Fraction(i, 24), i)

    count = 0
    for frame in retime(source(300), BlendInterpolator(device), options):
        count += 1
        del frame
        gc.collect(0) if count % 100 == 0 else None
    assert count == (1200 if options.factor else 625)
    assert peak <= 2 * options.batch_size + 4


def test_a_pair_needing_more_than_a_batch_streams_chunk_by_chunk(recording_interpolator, device):
    # factor 16 with batch size 2: the 15 frames of one pair are made 2 at a time, and each is passed on before
    # the next chunk is computed, so never more than a batch of new pictures is held (the docstring's promise).
    frames = numbered_frames([Fraction(i, 24) for i in range(3)])
    fake = recording_interpolator(dtype=torch.float64, device=device)
    made_before = []  # requests computed when each output frame came out
    for frame in retime(iter(frames), fake, RetimeOptions(factor=16, batch_size=2, scene_cut="off")):
        made_before.append((frame.index, len(fake.requests)))
    assert len(made_before) == 48
    for index, made in made_before:
        if index < 32 and index % 16:  # interpolated frame k of pair index // 16 (k = index % 16)
            needed = 15 * (index // 16) + index % 16
            assert made <= needed + 1, (index, made)  # at most the rest of its own chunk ahead
