"""The frame pair the latency benchmarks time: real consecutive frames, in the pipeline's layout."""

from __future__ import annotations

import pytest
import torch

from synthetic import pattern_frame, write_clip
from vidinterp.bench.frames import FIRST_FRAME, benchmark_images, benchmark_pair
from vidinterp.execution.frames import to_tensor


def test_the_packaged_sample_at_any_size_laid_out_like_the_pipeline():
    f0, f1 = benchmark_pair(72, 128)
    for frame in (f0, f1):
        assert frame.shape == (1, 3, 72, 128) and frame.dtype == torch.float32
        assert frame.is_contiguous(memory_format=torch.channels_last)  # what to_tensor gives the interpolators
        assert 0 <= frame.min() and frame.max() <= 1
    assert (f0 - f1).abs().mean() > 1e-4  # two different moments of a moving scene
    image0, image1 = benchmark_images(72, 128)  # the same frames as the pipeline hands them to an interpolator
    assert image0.shape == (72, 128, 3) and image0.dtype.name == "uint8"
    torch.testing.assert_close(to_tensor([image0], torch.device("cpu")), f0)


def test_frames_of_a_given_clip(tmp_path):
    images = [pattern_frame(i, 64, 48) for i in range(FIRST_FRAME + 3)]
    clip = write_clip(tmp_path / "moving.mp4", images)
    f0, f1 = benchmark_pair(48, 64, clip)
    # Frames FIRST_FRAME and FIRST_FRAME + 1 (through a near-lossless encode), not any other pair.
    def distance(frame, index):
        return (frame - to_tensor([images[index]], torch.device("cpu"))).abs().mean()

    for frame, index in ((f0, FIRST_FRAME), (f1, FIRST_FRAME + 1)):
        assert distance(frame, index) < distance(frame, index - 2)


def test_a_clip_without_two_frames_is_refused(tmp_path):
    clip = write_clip(tmp_path / "still.mp4", [pattern_frame(0, 64, 48)])
    with pytest.raises(ValueError, match="fewer than two frames"):
        benchmark_pair(48, 64, clip)
