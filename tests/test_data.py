"""Training data: source discovery, the decode-once cache, sampling windows, targets/t, augmentation."""

from __future__ import annotations

import logging
import os

import av
import numpy as np
import pytest
import torch

from synthetic import make_clip
from vidinterp.data import cache as cache_module
from vidinterp.data.augment import AugmentConfig
from vidinterp.data.cache import build_cache, scaled_size
from vidinterp.data.dataset import (
    ClipDataset,
    Window,
    WindowBatchSampler,
    check_sampling,
    split_pairs,
    split_targets,
    split_windows,
    window_length,
)
from vidinterp.data.sources import discover_sources, natural_key
from vidinterp.errors import UsageError, VidinterpError


def write_png(path, image):
    """Save an RGB uint8 image as PNG with PyAV (no PIL needed)."""
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "rgb24"
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def index_frame(i: int, height: int = 32, width: int = 48) -> np.ndarray:
    """A frame whose every pixel encodes its index (i · 10 in red), so tests can tell which frame they got."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = i * 10
    image[..., 1] = np.arange(width, dtype=np.uint8)[None, :]  # a horizontal ramp shows flips
    image[..., 2] = np.arange(height, dtype=np.uint8)[:, None]
    return image


@pytest.fixture
def frame_folder(tmp_path):
    folder = tmp_path / "data" / "seq"
    folder.mkdir(parents=True)
    for i in range(12):  # names that sort wrongly as plain strings
        write_png(folder / f"f{i}.png", index_frame(i))
    return folder


def test_natural_sort_and_discovery(tmp_path, frame_folder):
    (tmp_path / "data" / "sub").mkdir()
    make_clip(tmp_path / "data" / "sub" / "a.mp4", n_frames=4)
    (tmp_path / "data" / "notes.txt").write_text("not a video")
    (tmp_path / "data" / ".vidinterp-cache").mkdir()
    write_png(tmp_path / "data" / ".vidinterp-cache" / "x.png", index_frame(0))
    write_png(tmp_path / "data" / ".vidinterp-cache" / "y.png", index_frame(1))
    sources = discover_sources(tmp_path / "data")
    assert [s.path.name for s in sources] == ["seq", "a.mp4"]
    assert [p.name for p in sources[0].frames][:3] == ["f0.png", "f1.png", "f2.png"]
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]


def test_cache_of_frame_folder_is_exact(tmp_path, frame_folder):
    report = build_cache(discover_sources(frame_folder.parent), tmp_path / "cache", progress=False)
    (clip,) = report.clips
    frames = clip.frames()
    assert frames.shape == (12, 32, 48, 3) and frames.dtype == np.uint8
    for i in range(12):
        np.testing.assert_array_equal(frames[i], index_frame(i))


def test_cache_built_once_reused_and_invalidated(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    video = make_clip(data / "a.mp4", n_frames=8, width=96, height=64)
    before = cache_module.DECODE_COUNT
    first = build_cache(discover_sources(data), tmp_path / "cache", cache_size=32, progress=False)
    assert first.decoded == 1 and first.reused == 0 and cache_module.DECODE_COUNT == before + 1
    (clip,) = first.clips
    assert (clip.num_frames, clip.height, clip.width) == (8, 32, 48)  # short side 64 → 32, aspect kept
    data_mtime = os.stat(clip.data_path).st_mtime_ns

    second = build_cache(discover_sources(data), tmp_path / "cache", cache_size=32, progress=False)
    assert second.decoded == 0 and second.reused == 1 and cache_module.DECODE_COUNT == before + 1
    assert os.stat(second.clips[0].data_path).st_mtime_ns == data_mtime

    make_clip(video, n_frames=10, width=96, height=64)  # the source changes: new entry, stale one removed
    third = build_cache(discover_sources(data), tmp_path / "cache", cache_size=32, progress=False)
    assert third.decoded == 1 and third.clips[0].num_frames == 10
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1 and len(list((tmp_path / "cache").glob("*.u8"))) == 1


def test_corrupt_video_is_skipped_with_warning(tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir()
    make_clip(data / "good.mp4", n_frames=6)
    (data / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (data / "empty.mkv").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="vidinterp"):
        report = build_cache(discover_sources(data), tmp_path / "cache", progress=False)
    assert [os.path.basename(c.source) for c in report.clips] == ["good.mp4"]
    assert sorted(os.path.basename(p) for p, _ in report.skipped) == ["broken.mp4", "empty.mkv"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("broken.mp4" in m for m in warned) and any("empty.mkv" in m for m in warned)


def test_scaled_size_never_upscales():
    assert scaled_size(1920, 1080, 540) == (960, 540)
    assert scaled_size(320, 240, 540) == (320, 240)
    assert scaled_size(1080, 1920, 540) == (540, 960)
    assert scaled_size(100, 50, 0) == (100, 50)


def test_window_length_and_sampling_checks():
    assert (
        window_length(3, 2) == 3 and window_length(5, 2) == 5 and window_length(5, 3) == 4 and window_length(5, 4) == 5
    )
    with pytest.raises(UsageError):
        check_sampling(3, 1, 1)
    with pytest.raises(UsageError):
        check_sampling(3, 2, 4)
    check_sampling(5, 2, 4)


def _folder_dataset(tmp_path, frame_folder, clip_length, augment, crop=16):
    report = build_cache(discover_sources(frame_folder.parent), tmp_path / "cache", progress=False)
    windows = [Window(0, 0, clip_length)]
    return ClipDataset(report.clips, windows, crop, clip_length, augment)


@pytest.mark.parametrize("interval", [2, 4])
def test_targets_and_t(tmp_path, frame_folder, interval):
    clip_length = interval + 1 if interval == 4 else 5  # interval 2 over 5 frames: two keyframe pairs
    dataset = _folder_dataset(tmp_path, frame_folder, clip_length, AugmentConfig(False, False, False, False))
    sample = dataset[(0, interval, 123)]
    frames = sample["frames"]
    assert frames.shape == (clip_length, 3, 16, 16) and frames.dtype == torch.uint8
    f0, f1, target, t = split_targets(frames[None], interval)
    index = lambda x: (x[:, 0, 0, 0].long() // 10).tolist()  # noqa: E731
    if interval == 2:
        assert index(f0) == [0, 2] and index(f1) == [2, 4] and index(target) == [1, 3]
        assert t.tolist() == [0.5, 0.5]
    else:
        assert index(f0) == [0, 0, 0] and index(f1) == [4, 4, 4] and index(target) == [1, 2, 3]
        assert t.tolist() == [0.25, 0.5, 0.75]


def test_temporal_reversal_flips_t(tmp_path, frame_folder):
    dataset = _folder_dataset(tmp_path, frame_folder, 5, AugmentConfig(False, False, True, False))
    seen = set()
    for seed in range(20):
        f0, f1, target, t = split_targets(dataset[(0, 4, seed)]["frames"][None], 4)
        first, last = int(f0[0, 0, 0, 0]) // 10, int(f1[0, 0, 0, 0]) // 10
        for j in range(3):
            truth = int(target[j, 0, 0, 0]) // 10
            # The target at t sits t of the way from frame0's index to frame1's, in either direction.
            assert truth == first + t[j].item() * (last - first)
        seen.add((first, last))
    assert seen == {(0, 4), (4, 0)}  # both playback directions occur


def test_crop_shape_and_flips(tmp_path, frame_folder):
    dataset = _folder_dataset(tmp_path, frame_folder, 3, AugmentConfig(True, True, False, False), crop=24)
    flipped_x = flipped_y = False
    for seed in range(16):
        frames = dataset[(0, 2, seed)]["frames"]
        assert frames.shape == (3, 3, 24, 24)
        ramp_x, ramp_y = frames[0, 1, 0].int(), frames[0, 2, :, 0].int()
        flipped_x |= bool((ramp_x.diff() < 0).all())
        flipped_y |= bool((ramp_y.diff() < 0).all())
        assert (ramp_x.diff().abs() == 1).all() and (ramp_y.diff().abs() == 1).all()
    assert flipped_x and flipped_y


def test_same_request_same_sample(tmp_path, frame_folder):
    dataset = _folder_dataset(tmp_path, frame_folder, 3, AugmentConfig(True, True, True, True))
    assert torch.equal(dataset[(0, 2, 5)]["frames"], dataset[(0, 2, 5)]["frames"])


def test_sampler_is_deterministic_and_rank_sharded():
    single = WindowBatchSampler(10, 4, 2, 4, seed=3)
    rank0 = WindowBatchSampler(10, 2, 2, 4, seed=3, rank=0, world_size=2)
    rank1 = WindowBatchSampler(10, 2, 2, 4, seed=3, rank=1, world_size=2)
    for step in range(12):
        assert rank0.batch_for_step(step) + rank1.batch_for_step(step) == single.batch_for_step(step)
    resumed = iter(WindowBatchSampler(10, 4, 2, 4, seed=3, start_step=5))
    assert next(resumed) == single.batch_for_step(5)
    intervals = {single.batch_for_step(s)[0][1] for s in range(40)}
    assert intervals == {2, 3, 4}
    # within an epoch every window is used once
    epoch = [r[0] for s in range(single.steps_per_epoch) for r in single.batch_for_step(s)]
    assert len(set(epoch)) == len(epoch) == 8


def test_split_holds_out_without_overlap(tmp_path):
    clips = [cache_module.CachedClip(f"/v{i}.mp4", "", 40, 64, 64) for i in range(3)]
    split = split_windows(clips, clip_length=5, crop=32, val_count=4)
    assert len(split.val) == 4
    for w in split.val:
        assert w.length == 3
        for tw in split.train:
            if tw.clip == w.clip:
                assert tw.start + tw.length <= w.start
    assert split_windows(clips, 5, 32, 4).val == split.val  # deterministic
    with pytest.raises(VidinterpError):
        split_windows(clips, 5, crop=128)


def test_split_pairs_gives_each_pair_once_and_indexes_its_targets():
    frames = torch.arange(2 * 5).view(2, 5, 1, 1, 1).expand(2, 5, 3, 2, 2).contiguous()  # value = 5·clip + frame
    frame0, frame1, target, t, pair_index = split_pairs(frames, 2)
    assert frame0[:, 0, 0, 0].tolist() == [0, 5, 2, 7] and frame1[:, 0, 0, 0].tolist() == [2, 7, 4, 9]
    assert target[:, 0, 0, 0].tolist() == [1, 6, 3, 8] and pair_index.tolist() == [0, 1, 2, 3]
    frame0, frame1, target, t, pair_index = split_pairs(frames, 4)
    assert frame0[:, 0, 0, 0].tolist() == [0, 5] and frame1[:, 0, 0, 0].tolist() == [4, 9]
    assert target[:, 0, 0, 0].tolist() == [1, 6, 2, 7, 3, 8] and pair_index.tolist() == [0, 1, 0, 1, 0, 1]
    assert t.tolist() == [0.25, 0.25, 0.5, 0.5, 0.75, 0.75]
    repeated = split_targets(frames, 4)
    assert torch.equal(repeated[0], frame0[pair_index]) and torch.equal(repeated[2], target)
