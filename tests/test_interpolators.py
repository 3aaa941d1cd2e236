"""The interpolator factory, device selection and the blend baseline."""

from __future__ import annotations

import pytest
import torch
from tensor_frames import interpolate, prepare, synthesize

from vidinterp.api.options import UpsampleOptions
from vidinterp.errors import UsageError, VidinterpError
from vidinterp.interpolators import BlendInterpolator, create_interpolator, default_method, resolve_device
from vidinterp.models import io as model_io


def test_blend_factory_defaults():
    interpolator = create_interpolator("blend", device="cpu")
    assert isinstance(interpolator, BlendInterpolator)
    assert interpolator.name == "blend" and interpolator.pad_multiple == 1
    assert interpolator.device == torch.device("cpu") and interpolator.dtype == torch.float32
    # fp16 is a CUDA feature: on the CPU it is refused, whichever way it is asked for
    with pytest.raises(UsageError, match="fp16 runs only on CUDA"):
        create_interpolator("blend", device="cpu", fp16=True)


def test_unknown_method_lists_the_choices():
    with pytest.raises(UsageError, match="model, classical, blend"):
        create_interpolator("rife")


def test_blend_refuses_model_weights(tmp_path):
    with pytest.raises(UsageError):
        create_interpolator("blend", model_path=tmp_path / "weights.safetensors", device="cpu")


@pytest.mark.parametrize("method", ["model", "classical", "blend"])
def test_the_options_accept_every_method_the_factory_builds(method):
    """The options once knew only model and blend, so `upsample --method classical` was refused."""
    assert UpsampleOptions(method=method, factor=2).method == method
    with pytest.raises(UsageError, match="model, classical, blend"):
        UpsampleOptions(method="rife", factor=2)
    with pytest.raises(UsageError, match="--model only applies"):
        UpsampleOptions(method="classical", model="w.safetensors", factor=2)


def test_model_without_weights_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(model_io, "DEFAULT_WEIGHTS", tmp_path / "missing.safetensors")
    with pytest.raises(VidinterpError, match="--method blend"):
        create_interpolator("model", device="cpu")
    with pytest.raises(VidinterpError, match="not found"):
        create_interpolator("model", model_path=tmp_path / "nope.safetensors", device="cpu")


def test_default_method_follows_shipped_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(model_io, "DEFAULT_WEIGHTS", tmp_path / "default.safetensors")
    assert default_method() == "blend"
    (tmp_path / "default.safetensors").write_bytes(b"")
    assert default_method() == "model"


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(UsageError):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error seen without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(VidinterpError, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blend_matches_linear_mix(dtype, device):
    generator = torch.Generator().manual_seed(0)
    frame0 = torch.rand(3, 3, 7, 9, generator=generator, dtype=torch.float64)
    frame1 = torch.rand(3, 3, 7, 9, generator=generator, dtype=torch.float64)
    blend = BlendInterpolator(device, dtype)
    prepared = prepare(blend, frame0, frame1)
    pair_index = torch.tensor([0, 2, 2, 1])
    t = torch.tensor([0.25, 0.5, 0.75, 0.1])
    out = synthesize(blend, prepared, pair_index, t)
    want = (1 - t.double().view(-1, 1, 1, 1)) * frame0[pair_index] + t.double().view(-1, 1, 1, 1) * frame1[pair_index]
    # it computes in `dtype`; the frames it gives back are of the inputs' dtype (float32 here)
    assert out.shape == (4, 3, 7, 9) and out.dtype == torch.float32
    torch.testing.assert_close(out.double(), want, atol=1e-6, rtol=0)


@pytest.mark.cuda
def test_blend_fp16_on_cuda():
    interpolator = create_interpolator("blend", device="cuda", fp16=True)
    assert interpolator.dtype == torch.float16
    frame0, frame1 = torch.zeros(1, 3, 8, 8, device="cuda"), torch.ones(1, 3, 8, 8, device="cuda")
    out = interpolate(interpolator, frame0, frame1, 0.25)
    assert torch.allclose(out.float(), torch.full_like(out.float(), 0.25), atol=1e-3)


def test_model_through_the_factory_and_the_pipeline(tmp_path, device):
    """The learned model end to end: factory loads saved weights, retime pads odd frames and crops them back."""
    from fractions import Fraction

    import numpy as np

    from synthetic import pattern_frame
    from vidinterp.io.frames import VideoFrame
    from vidinterp.models import VFIModel, save_model, tiny_config
    from vidinterp.pipeline import RetimeOptions, RetimeStats, retime

    torch.manual_seed(0)
    save_model(VFIModel.from_config(tiny_config()), tmp_path / "tiny")
    interpolator = create_interpolator("model", model_path=tmp_path / "tiny.safetensors", device=device,
                                       precision="fp32")  # fp32 on every CPU, so the bound below holds everywhere
    assert interpolator.name == "model" and interpolator.pad_multiple > 1
    frames = [VideoFrame(pattern_frame(i, 45, 27), Fraction(i, 24), i) for i in range(4)]
    outputs = []
    for batch_size in (1, 8):
        stats = RetimeStats()
        out = list(retime(frames, interpolator, RetimeOptions(factor=3, batch_size=batch_size), stats=stats))
        assert len(out) == 12 and all(f.image.shape == (27, 45, 3) and f.image.dtype == np.uint8 for f in out)
        assert stats.interpolated_frames == 6 and stats.prepare_calls == (3 if batch_size == 1 else 1)
        outputs.append(np.stack([f.image for f in out]).astype(int))
    # batching may change float summation order, never the picture
    assert np.abs(outputs[0] - outputs[1]).max() <= 1
