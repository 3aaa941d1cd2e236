"""The one numpy ↔ torch frame conversion (vidinterp.execution.frames): exact rounding and clamping, one scale for
every path, no shared-memory surprises."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from vidinterp.execution.frames import (
    FrameCache,
    check_frames,
    to_images,
    to_tensor,
    to_unit_array,
    unit_arrays_to_images,
)


def _reference_levels(frames: torch.Tensor, top: int) -> np.ndarray:
    """Rounding to the nearest level and clamping, in float64."""
    levels = np.clip(np.rint(frames.double().numpy() * top), 0, top)
    return levels.transpose(0, 2, 3, 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("height", [1, 64, 133])
@pytest.mark.parametrize("channels_last", [False, True])  # any layout: no path depends on it
def test_to_images_rounds_and_clamps_to_levels(dtype, height, channels_last):
    top = np.iinfo(dtype).max
    # Values beyond [0, 1] must clamp; exact levels must stay exact.
    frames = torch.rand(2, 3, height, 7, generator=torch.Generator().manual_seed(height)) * 1.4 - 0.2
    frames[0, 0, 0, :4] = torch.tensor([0.0, 1.0, 3 / top, 0.5])
    if channels_last:
        frames = frames.contiguous(memory_format=torch.channels_last)
    images = to_images(frames, dtype)
    expected = _reference_levels(frames, top)
    assert len(images) == 2
    for image, want in zip(images, expected):
        assert image.dtype == dtype and image.shape == (height, 7, 3) and image.flags.c_contiguous
        # float32 products may land on the other side of a .5 boundary than float64 ones: at most one level
        assert np.abs(image.astype(np.int64) - want).max() <= 1
    assert images[0][0, :4, 0].tolist() == [0, top, 3, round(0.5 * top)]


@pytest.mark.parametrize("channels_last", [False, True])
def test_to_images_leaves_its_input_alone(channels_last):
    frames = torch.rand(1, 3, 67, 5) * 1.4 - 0.2
    if channels_last:
        frames = frames.contiguous(memory_format=torch.channels_last)
    before = frames.clone()
    to_images(frames, np.uint8)
    assert torch.equal(frames, before)


@pytest.mark.parametrize("writeable", [True, False])
def test_one_image_to_tensor_is_a_copy_and_never_warns(writeable):
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    image.flags.writeable = writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when it shares memory it may not write
        tensor = to_tensor([image], torch.device("cpu"))
    assert tensor.shape == (1, 3, 4, 5) and tensor.dtype == torch.float32
    torch.testing.assert_close(tensor[0].permute(1, 2, 0), torch.from_numpy(image.astype(np.float32) / 255))
    if writeable:
        image[...] = 0  # the caller may reuse its picture: the tensor must not change with it
        assert tensor.max() > 0


def test_several_images_stack_in_order():
    images = [np.full((2, 3, 3), value, dtype=np.uint16) for value in (0, 65535, 257)]
    tensor = to_tensor(images, torch.device("cpu"))
    assert tensor.shape == (3, 3, 2, 3)
    assert tensor[:, 0, 0, 0].tolist() == pytest.approx([0.0, 1.0, 257 / 65535])


def test_integers_become_unit_floats_by_one_true_division_on_every_path():
    """The tensor path and the array path give the same floats: k / 255 and k / 65535, correctly rounded (not
    k · (1/255), which differs in the last bit for 126 of the 256 levels)."""
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        levels = np.arange(top + 1, dtype=dtype)
        image = np.resize(levels, (levels.size // 3 + 1) * 3).reshape(1, -1, 3).astype(dtype)
        exact = (image.astype(np.float64) / top).astype(np.float32)
        np.testing.assert_array_equal(to_unit_array(image), exact)
        np.testing.assert_array_equal(to_tensor([image], torch.device("cpu"))[0].permute(1, 2, 0).numpy(), exact)
    floats = np.random.default_rng(0).random((4, 5, 3), dtype=np.float32)
    assert to_unit_array(floats) is floats  # float32 frames are already in [0, 1]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_the_cpu_renders_arrays_round_like_tensors(dtype):
    frames = (torch.rand(3, 3, 17, 9, generator=torch.Generator().manual_seed(5)) * 1.2 - 0.1).clamp(0, 1)
    arrays = list(frames.permute(0, 2, 3, 1).contiguous().numpy())
    for ours, theirs in zip(unit_arrays_to_images(arrays, dtype), to_images(frames, dtype)):
        assert ours.dtype == theirs.dtype == dtype
        np.testing.assert_array_equal(ours, theirs)


def test_frames_are_checked_once_with_a_clear_message():
    good = [np.zeros((4, 5, 3), np.uint8)]
    check_frames(good, good)
    for bad, says in (([np.zeros((4, 5), np.uint8)], "H×W×3"), ([np.zeros((4, 6, 3), np.uint8)], "differ"),
                      ([np.zeros((4, 5, 3), np.int16)], "differ"), ([], "equally long")):
        with pytest.raises(ValueError, match=says):
            check_frames(good, bad)
    with pytest.raises(ValueError, match="uint8, uint16 or float32"):
        check_frames([np.zeros((2, 2, 3), np.int32)], [np.zeros((2, 2, 3), np.int32)])


def test_the_frame_cache_converts_a_shared_frame_once():
    cache, calls = FrameCache(), []
    first, second = np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)
    convert = lambda image: calls.append(image) or image.sum()  # noqa: E731
    assert [cache.get(image, convert) for image in (first, second, second, first)] == [0, 12, 12, 0]
    assert [id(image) for image in calls] == [id(first), id(second), id(first)]
