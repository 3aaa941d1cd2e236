"""The OpenCV full-size render (the CPU default) against the model's own PyTorch render, its reference."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tensor_frames import as_frames, as_tensor, interpolate

from tests.tolerances import assert_close_to_scale
from vidinterp.errors import UsageError
from vidinterp.execution.frames import unit_arrays_to_images
from vidinterp.execution.render import render_opencv as render_arrays
from vidinterp.interpolators.model import ModelInterpolator, shrink_frames, shrink_image
from vidinterp.interpolators.runtime import Runtime
from vidinterp.models import VFIModel, tiny_config
from vidinterp.models.synthesis import FrameSynthesizer, SynthesisResult

pytestmark = pytest.mark.cpu_only("the OpenCV render of the CPU path")

CPU = torch.device("cpu")


def _smooth(generator: torch.Generator, n: int, c: int, h: int, w: int, scale: float) -> torch.Tensor:
    """Smooth random fields (what flows, masks and residuals look like), coarse noise upsampled."""
    coarse = torch.randn(n, c, max(2, h // 6), max(2, w // 6), generator=generator) * scale
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def _case(factor: int, pairs: int = 2, height: int = 12, width: int = 20, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    frames = [_smooth(g, pairs, 3, height * factor, width * factor, 0.3).add(0.5).clamp(0, 1) for _ in range(2)]
    pair_index = torch.tensor([1, 0, 1])
    m = pair_index.shape[0]
    # Flows large enough to reach past the border (where the padding mode shows) and to cross pixels.
    flow_t0 = _smooth(g, m, 2, height, width, 4.0)
    flow_t1 = _smooth(g, m, 2, height, width, 4.0)
    mask = torch.sigmoid(_smooth(g, m, 1, height, width, 2.0))
    residual = _smooth(g, m, 3, height, width, 0.05)
    return frames, pair_index, flow_t0, flow_t1, mask, residual


def render_opencv(frame0: torch.Tensor, frame1: torch.Tensor, *rest, **options) -> torch.Tensor:
    """The render on the frames as the CPU path holds them (H×W×3 float32 arrays), as an M×3×H×W tensor."""
    return as_tensor(render_arrays(as_frames(frame0), as_frames(frame1), *rest, **options))


def _reference(frames, pair_index, flow_t0, flow_t1, mask, residual) -> torch.Tensor:
    full0, full1 = (f.index_select(0, pair_index) for f in frames)
    result = SynthesisResult(torch.zeros(pair_index.shape[0], 3, *flow_t0.shape[-2:]), flow_t0, flow_t1, mask,
                             None, None, None, residual)
    return FrameSynthesizer.render(full0, full1, result)


@pytest.mark.parametrize("factor", [2, 4])
def test_matches_the_pytorch_render(factor):
    frames, pair_index, *rest = _case(factor)
    expected = _reference(frames, pair_index, *rest)
    actual = render_opencv(*frames, pair_index, *rest)
    assert actual.shape == expected.shape and actual.dtype == torch.float32
    # Both interpolate bilinearly at the same float positions in float32: they agree to float rounding.
    assert_close_to_scale(actual, expected, rtol=1e-4)


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("band_rows", [1, 4, 10, 1000])
@pytest.mark.parametrize("threads", [0, 2])
def test_bands_give_the_whole_frame_exactly(factor, band_rows, threads):
    """Bands of any height (below the factor, not dividing the frame, past it), on this thread or shared out,
    make the same pixels: each band upsamples from the small rows under it plus one either side, which is all
    that bilinear upsampling reads."""
    frames, pair_index, *rest = _case(factor, height=13)
    whole = render_opencv(*frames, pair_index, *rest, band_rows=10**6)
    with ThreadPoolExecutor(threads) if threads else contextlib.nullcontext() as pool:
        banded = render_opencv(*frames, pair_index, *rest, band_rows=band_rows, pool=pool)
    assert_close_to_scale(banded, whole, rtol=1e-6)
    assert_close_to_scale(banded, _reference(frames, pair_index, *rest), rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("band_rows", [4, 1000])
def test_integer_frames_are_rounded_band_by_band_as_a_whole_frame_would_be(dtype, band_rows):
    """With the pipeline's integer dtype the render rounds each band as it is made (no full-size float frame):
    the same levels as rounding its whole float32 frame."""
    frames, pair_index, *rest = _case(2, height=13)
    arrays0, arrays1 = as_frames(frames[0]), as_frames(frames[1])
    floats = render_arrays(arrays0, arrays1, pair_index, *rest, band_rows=band_rows)
    integers = render_arrays(arrays0, arrays1, pair_index, *rest, band_rows=band_rows, dtype=dtype)
    for made, whole in zip(integers, unit_arrays_to_images(floats, dtype)):
        assert made.dtype == dtype and made.shape == whole.shape
        np.testing.assert_array_equal(made, whole)


def test_takes_half_precision_results():
    frames, pair_index, flow_t0, flow_t1, mask, residual = _case(2)
    expected = _reference(frames, pair_index, flow_t0, flow_t1, mask, residual)
    actual = render_opencv(*frames, pair_index, flow_t0, flow_t1, mask.bfloat16(), residual.bfloat16())
    assert (actual - expected).abs().max() < 1e-2  # bf16 keeps 8 bits of the mask and residual


def test_refuses_mismatched_inputs():
    frames, pair_index, *rest = _case(2)
    with pytest.raises(ValueError, match="whole multiple"):
        render_opencv(*(f[..., :-1] for f in frames), pair_index, *rest)
    with pytest.raises(ValueError, match="one pair per request"):
        render_opencv(*frames, pair_index[:2], *rest)


def test_runtime_chooses_opencv_on_the_cpu(monkeypatch):
    monkeypatch.delenv("VIDINTERP_RENDER", raising=False)
    assert Runtime.decide(CPU, "fp32").opencv_render
    assert not Runtime.decide(torch.device("cuda"), "fp32").opencv_render
    monkeypatch.setenv("VIDINTERP_RENDER", "torch")
    assert not Runtime.decide(CPU, "fp32").opencv_render
    monkeypatch.setenv("VIDINTERP_RENDER", "opencv")
    with pytest.raises(UsageError, match="CPU only"):
        Runtime.decide(torch.device("cuda"), "fp32")
    monkeypatch.setenv("VIDINTERP_RENDER", "gpu")
    with pytest.raises(UsageError, match="VIDINTERP_RENDER"):
        Runtime.decide(CPU, "fp32")


@pytest.mark.parametrize("height", [48, 52, 51])
def test_the_interpolator_renders_the_same_either_way(monkeypatch, height):
    """A model run at half size (max_side) through both renders: the frames users get agree, also when the
    shrunk frames need padding to the network's multiple (52 → 26 rows → 32) and the frames themselves to the
    shrink factor (51 → 52)."""
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config("none"))
    g = torch.Generator().manual_seed(1)
    f0 = _smooth(g, 2, 3, height, 80, 0.3).add(0.5).clamp(0, 1)
    f1 = torch.roll(f0, shifts=(1, 2), dims=(2, 3))
    t = torch.tensor([0.25, 0.5])
    frames = {}
    for render in ("torch", "opencv"):
        monkeypatch.setenv("VIDINTERP_RENDER", render)
        interpolator = ModelInterpolator(device=CPU, model=model, max_side=40, precision="fp32")
        assert interpolator.runtime.opencv_render == (render == "opencv")
        frames[render] = interpolate(interpolator, f0, f1, t)
    assert frames["opencv"].shape == (2, 3, height, 80)
    assert_close_to_scale(frames["opencv"], frames["torch"], rtol=1e-4)


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_shrinking_frames_is_a_box_average_on_either_path(factor):
    g = torch.Generator().manual_seed(3)
    frames = torch.rand(2, 3, 16, 24, generator=g)
    expected = F.avg_pool2d(frames, factor) if factor > 1 else frames
    small = shrink_frames(frames, factor)  # the device path
    assert small.shape == (2, 3, 16 // factor, 24 // factor)
    assert_close_to_scale(small, expected, rtol=1e-6)
    small = as_tensor([shrink_image(image, factor) for image in as_frames(frames)])  # the CPU path (OpenCV)
    assert_close_to_scale(small, expected, rtol=1e-6)
