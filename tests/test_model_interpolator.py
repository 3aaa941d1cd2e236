"""ModelInterpolator: the learned model through the Interpolator interface (padding, cropping, loading)."""

from __future__ import annotations

import pytest
import torch
from tensor_frames import interpolate, prepare, run_model, synthesize

from vidinterp.errors import UsageError, VidinterpError
from vidinterp.interpolators.base import Interpolator
from vidinterp.interpolators.model import ModelInterpolator
from vidinterp.models import VFIModel, save_model, tiny_config
from vidinterp.models import io as model_io


@pytest.fixture
def saved_tiny(tmp_path):
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config())
    save_model(model, tmp_path / "tiny")
    return tmp_path / "tiny.safetensors", model.eval()


def test_interpolate_odd_sized_frames(saved_tiny, device):
    path, model = saved_tiny
    interp = ModelInterpolator(model_path=path, device=device, precision="fp32")  # the same on every CPU
    assert isinstance(interp, Interpolator) and interp.pad_multiple == model.pad_multiple == 8
    g = torch.Generator().manual_seed(0)
    f0, f1 = torch.rand(3, 3, 37, 51, generator=g), torch.rand(3, 3, 37, 51, generator=g)
    out = interpolate(interp, f0, f1, torch.tensor([0.25, 0.5, 0.75]))
    assert out.shape == (3, 3, 37, 51) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    # same as running the model on replicate-padded frames and cropping
    padded = [torch.nn.functional.pad(f, (0, 5, 0, 3), mode="replicate") for f in (f0, f1)]
    with torch.no_grad():
        direct = run_model(model, *padded, torch.tensor([0.25, 0.5, 0.75]), reconstruct=False).frame[..., :37, :51]
    # The runtime may run channels_last (another convolution summation order): a padding or cropping mistake
    # would differ by whole levels, float rounding stays far below one 8-bit level (1/255).
    torch.testing.assert_close(out, direct, atol=1e-3, rtol=1e-3)


def test_one_motion_estimate_serves_many_times(saved_tiny, device):
    path, _ = saved_tiny
    interp = ModelInterpolator(model_path=path, device=device, precision="fp32")  # whatever the CPU's default
    g = torch.Generator().manual_seed(1)
    f0, f1 = torch.rand(2, 3, 20, 30, generator=g), torch.rand(2, 3, 20, 30, generator=g)
    prepared = prepare(interp, f0, f1)
    index = torch.tensor([0, 0, 0, 1, 1, 1])
    t = torch.tensor([0.25, 0.5, 0.75] * 2)
    many = synthesize(interp, prepared, index, t)
    assert many.shape == (6, 3, 20, 30)
    torch.testing.assert_close(many[4:5], interpolate(interp, f0[1:], f1[1:], 0.5))
    # t ≈ 0 gives back frame 0 for any model (the flow to frame 0 vanishes, the blend weight → 1)
    torch.testing.assert_close(interpolate(interp, f0, f1, 0.0), f0, atol=2e-3, rtol=0)


def test_fp16_on_cpu_is_refused_like_precision_fp16(saved_tiny):
    """--fp16 is --precision fp16: on the CPU both are one clear error (it used to be a warning for one spelling and
    an error for the other)."""
    path, _ = saved_tiny
    for asked in ({"fp16": True}, {"precision": "fp16"}):
        with pytest.raises(UsageError, match="fp16 runs only on CUDA"):
            ModelInterpolator(model_path=path, device="cpu", **asked)


def test_missing_model_file_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(VidinterpError, match="model file not found"):
        ModelInterpolator(model_path=tmp_path / "nope.safetensors")
    monkeypatch.setattr(model_io, "DEFAULT_WEIGHTS", tmp_path / "default.safetensors")
    with pytest.raises(VidinterpError, match="--method blend"):
        ModelInterpolator()


@pytest.mark.cuda
def test_fp16_on_cuda(saved_tiny):
    path, _ = saved_tiny
    half = ModelInterpolator(model_path=path, device="cuda", fp16=True)
    full = ModelInterpolator(model_path=path, device="cuda")
    assert half.dtype == torch.float16 and full.dtype == torch.float32
    f0 = torch.rand(1, 3, 24, 40, generator=torch.Generator().manual_seed(0)).cuda()
    out = interpolate(half, f0, f0.flip(-1), 0.5)  # returned on f0's device
    assert out.dtype == torch.float32 and out.shape == (1, 3, 24, 40) and out.is_cuda
    # half precision changes the last bits, not the picture: within a few 8-bit levels of the float32 result
    reference = interpolate(full, f0, f0.flip(-1), 0.5)
    assert (out - reference).abs().max().item() < 4 / 255
