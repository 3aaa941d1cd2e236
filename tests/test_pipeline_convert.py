"""numpy ↔ torch picture conversion: exact rounding and clamping, layout, no shared-memory surprises."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from vidinterp.pipeline.convert import to_images, to_tensor


def _reference_levels(frames: torch.Tensor, top: int) -> np.ndarray:
    """Rounding to the nearest level and clamping, in float64."""
    levels = np.clip(np.rint(frames.double().numpy() * top), 0, top)
    return levels.transpose(0, 2, 3, 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("height", [1, 64, 133])
@pytest.mark.parametrize("channels_last", [False, True])  # True: the CPU render's layout (OpenCV's path for 8 bits)
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
