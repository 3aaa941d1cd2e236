"""The execution layer's loop and the interpolator contract: the pipeline's frames in and out, one prepare per
batch, chunks of at most batch_size, and on the CPU no full-size frame ever becomes a tensor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthetic import pattern_frame
from vidinterp.execution.loop import synthesize_in_chunks
from vidinterp.interpolators import BlendInterpolator
from vidinterp.interpolators.model import ModelInterpolator
from vidinterp.models import VFIModel, tiny_config


class CountingBlend(BlendInterpolator):
    def __init__(self) -> None:
        super().__init__("cpu")
        self.prepares, self.chunks = 0, []

    def _prepare(self, frame0, frame1):
        self.prepares += 1
        return super()._prepare(frame0, frame1)

    def _synthesize(self, state, pair_index, t):
        self.chunks.append(pair_index.tolist())
        return super()._synthesize(state, pair_index, t)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_one_prepare_then_chunks_of_the_pipelines_frames(dtype):
    top = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    images0 = [(pattern_frame(i, 20, 12) / 255 * top).astype(dtype) for i in range(3)]
    images1 = [(pattern_frame(i + 2, 20, 12) / 255 * top).astype(dtype) for i in range(3)]
    requests = [(pair, t) for pair in range(3) for t in (0.25, 0.5, 0.75)][:7]
    blend = CountingBlend()
    made = list(synthesize_in_chunks(blend, images0, images1, requests, batch_size=3))
    assert blend.prepares == 1 and [start for start, _ in made] == [0, 3, 6]
    assert blend.chunks == [[0, 0, 0], [1, 1, 1], [2]]
    frames = [frame for _, chunk in made for frame in chunk]
    for (pair, t), frame in zip(requests, frames):
        assert frame.dtype == dtype and frame.shape == (12, 20, 3)
        want = (1 - t) * images0[pair].astype(np.float64) + t * images1[pair]
        assert np.abs(frame - want).max() <= (1e-6 if dtype == np.float32 else 0.5 + 1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        next(synthesize_in_chunks(blend, images0, images1, requests, batch_size=0))


def test_on_the_cpu_no_full_size_frame_crosses_into_torch(monkeypatch):
    """The model at a reduced working size on the CPU: the full-size frames stay arrays from decoder to encoder
    (OpenCV shrinks and renders them); only the small frames and the network's outputs are tensors."""
    height, width = 96, 160  # max_side 80: the network runs at 48×80
    full = height * width * 3
    crossings = []
    from_numpy, numpy = torch.from_numpy, torch.Tensor.numpy
    monkeypatch.setattr(torch, "from_numpy", lambda array: crossings.append(array.size) or from_numpy(array))
    monkeypatch.setattr(torch.Tensor, "numpy",
                        lambda tensor, **kw: crossings.append(tensor.numel()) or numpy(tensor, **kw))
    torch.manual_seed(0)
    interpolator = ModelInterpolator(device="cpu", model=VFIModel.from_config(tiny_config("dis")), max_side=80,
                                     precision="fp32")
    images0 = [pattern_frame(0, width, height)]
    images1 = [pattern_frame(2, width, height)]
    assert interpolator.runtime.opencv_render
    crossings.clear()
    (frame,) = interpolator.interpolate(images0, images1, 0.5)
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
    assert crossings and max(crossings) < full, crossings
