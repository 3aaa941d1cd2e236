"""VFIModel: shapes, t handling, flow conventions, motion/synthesis split, save/load, size and learnability."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from tensor_frames import model_prior, run_model

from synthetic import pattern_frame
from tolerances import assert_close_to_scale, assert_tensors_close_to_scale
from vidinterp.errors import VidinterpError
from vidinterp.models import (
    ModelConfig,
    MotionState,
    VFIModel,
    intermediate_flows,
    load_model,
    save_model,
    tiny_config,
)
from vidinterp.models import io as model_io
from vidinterp.models.blocks import cat_for_conv
from vidinterp.models.motion import SoftArgmax


def _frames(batch: int, height: int, width: int, dtype=torch.float32, seed: int = 0, device="cpu"):
    g = torch.Generator().manual_seed(seed)  # drawn on the CPU: the same pictures on every device
    return (torch.rand(batch, 3, height, width, generator=g, dtype=dtype).to(device),
            torch.rand(batch, 3, height, width, generator=g, dtype=dtype).to(device))


PRIORS = ["dis", "none"]


def _tiny(seed: int = 0, dtype=torch.float32, prior: str = "none", trained: bool = True, device="cpu") -> VFIModel:
    """A tiny model; `trained` gives its zero-initialised heads (with a prior) random values, like a model that
    has learned something, so that tests see every component act."""
    torch.manual_seed(seed)
    model = VFIModel.from_config(tiny_config(prior)).to(dtype)
    if trained and prior != "none":
        with torch.no_grad():
            for p in model.parameters():
                if not p.any():
                    p.normal_(0.0, 0.05)
    return model.to(device)


def _tolerance(dtype: torch.dtype, floor: float) -> float:
    """`floor` in float32 and float64; a few units in the last place of half-precision types."""
    return max(floor, 8 * torch.finfo(dtype).eps)


# -- shapes and t -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch,height,width", [(1, 16, 48), (3, 32, 64)])
def test_forward_shapes_and_ranges_default_config(batch, height, width, device, dtype):
    torch.manual_seed(0)
    model = VFIModel.from_config().to(device, dtype)
    f0, f1 = _frames(batch, height, width, dtype, device=device)
    out = run_model(model, f0, f1, torch.rand(batch).to(device, dtype))
    assert out.frame.shape == (batch, 3, height, width) and out.frame.dtype == dtype
    assert out.recon0.shape == out.recon1.shape == (batch, 3, height, width)
    for flow in (out.flow_t0, out.flow_t1, out.flow_01, out.flow_10):
        assert flow.shape == (batch, 2, height, width)
    assert out.mask.shape == (batch, 1, height, width)
    assert out.frame.min() >= 0 and out.frame.max() <= 1
    assert out.mask.min() >= 0 and out.mask.max() <= 1


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tiny_model_dtypes_and_odd_batch(dtype, prior, device):
    model = _tiny(dtype=dtype, prior=prior, device=device)
    f0, f1 = _frames(5, 24, 40, dtype=dtype, device=device)
    out = run_model(model, f0, f1, 0.5, reconstruct=False)
    assert out.frame.shape == (5, 3, 24, 40) and out.frame.dtype == dtype
    assert out.recon0 is None and out.recon1 is None


def test_sizes_not_multiple_of_pad_multiple_are_rejected():
    model = _tiny()
    assert model.pad_multiple == 8 and VFIModel.from_config().pad_multiple == 2 ** len(ModelConfig().encoder_channels)
    f0, f1 = _frames(1, 20, 24)
    with pytest.raises(ValueError, match="multiples of 8"):
        run_model(model, f0, f1, 0.5)
    with pytest.raises(ValueError, match="one value per sample"):
        run_model(model, *_frames(2, 16, 16), torch.rand(3))


@pytest.mark.parametrize("prior", PRIORS)
def test_output_depends_on_t(prior, device, dtype):
    model = _tiny(prior=prior, dtype=dtype, device=device)
    f0, f1 = _frames(2, 32, 32, dtype, device=device)
    with torch.no_grad():
        early, late = run_model(model, f0, f1, 0.1).frame, run_model(model, f0, f1, 0.9).frame
    assert (early - late).abs().mean() > 1e-2


@pytest.mark.parametrize("prior", PRIORS)
def test_keyframe_times_return_the_keyframes(prior, device, dtype):
    """At t = 0 the flow to frame 0 is exactly zero and the blend weight ≈ 1 (the model's built-in prior)."""
    if dtype in (torch.float16, torch.bfloat16):
        # 1 − _T_EPSILON in models/synthesis.py rounds to 1 in these types: a −inf mask logit, NaN after upsampling
        pytest.xfail("the mask logit at t = 1 is -inf in float16/bfloat16 (the t clamp rounds to 1)")
    model = _tiny(prior=prior, dtype=dtype, device=device)
    f0, f1 = _frames(2, 32, 40, dtype, device=device)
    with torch.no_grad():
        at0, at1 = run_model(model, f0, f1, 0.0), run_model(model, f0, f1, 1.0)
    assert torch.equal(at0.flow_t0, torch.zeros_like(at0.flow_t0))
    assert torch.equal(at1.flow_t1, torch.zeros_like(at1.flow_t1))
    torch.testing.assert_close(at0.frame, f0, atol=_tolerance(dtype, 2e-3), rtol=0)
    torch.testing.assert_close(at1.frame, f1, atol=_tolerance(dtype, 2e-3), rtol=0)


def test_intermediate_flows_scale_linearly_for_constant_motion():
    v = torch.tensor([3.0, -2.0]).view(1, 2, 1, 1).expand(4, 2, 5, 6)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    flow_t0, flow_t1 = intermediate_flows(v, -v, t)
    tt = t.view(-1, 1, 1, 1)
    torch.testing.assert_close(flow_t0, -tt * v)
    torch.testing.assert_close(flow_t1, (1 - tt) * v)


def _silence_learned_corrections(model: VFIModel) -> None:
    """Zero the t-refiner and residual heads so synthesis is pure warp-and-blend with the prior mask."""
    with torch.no_grad():
        synth = model.interpolation.synthesizer
        for head in (synth.flow_refiner.head, synth.context_refiner.head):
            head.weight.zero_()
            head.bias.zero_()


@pytest.mark.parametrize("prior", PRIORS)
def test_flow_sign_and_channel_order_end_to_end(prior):
    """frame1 = frame0 moved 8 px right and 0 px down; with the true flows the midpoint is frame0 moved 4 px right."""
    model = _tiny(prior=prior)
    _silence_learned_corrections(model)
    frame0 = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    frame1 = torch.roll(frame0, shifts=8, dims=-1)
    features = model.autoencoder.encode(torch.cat([frame0, frame1]))[1]
    # flow_01 = +8 px in x (full-resolution pixels): frame0[y, x] = frame1[y, x + 8]
    flow = torch.zeros(1, 2, 32, 48)
    flow[:, 0] = 8.0
    state = MotionState(frame0, frame1, features[:1], features[1:], flow, -flow)
    out = model.synthesize_detailed(state, torch.tensor([0]), torch.tensor([0.5]))
    torch.testing.assert_close(out.flow_t0[:, 0], torch.full((1, 32, 48), -4.0))
    torch.testing.assert_close(out.flow_t1[:, 0], torch.full((1, 32, 48), 4.0))
    assert torch.equal(out.flow_t0[:, 1], torch.zeros(1, 32, 48))
    expected = torch.roll(frame0, shifts=4, dims=-1)
    # a wrong sign or channel order is off by O(0.1); leave float32 warping room on any CPU
    assert_close_to_scale(out.frame[..., 8:-8], expected[..., 8:-8], rtol=1e-4)


# -- motion / synthesis split -----------------------------------------------------------------------------
@pytest.mark.parametrize("prior", PRIORS)
def test_estimate_motion_then_synthesize_equals_forward(prior, device, dtype):
    model = _tiny(prior=prior, dtype=dtype, device=device).eval()
    f0, f1 = _frames(3, 24, 32, dtype, device=device)
    pair_index = torch.tensor([2, 0, 2, 1, 2], device=device)
    t = torch.tensor([0.25, 0.5, 0.5, 0.9, 0.75], device=device, dtype=dtype)
    with torch.no_grad():
        state = model.estimate_motion(f0, f1, prior=model_prior(model, f0, f1))
        split = model.synthesize(state, pair_index, t)
        joint = run_model(model, f0[pair_index], f1[pair_index], t, reconstruct=False).frame
    assert split.shape == (5, 3, 24, 32)
    torch.testing.assert_close(split, joint, atol=_tolerance(dtype, 1e-5), rtol=_tolerance(dtype, 1e-5))


# -- config, size, range ----------------------------------------------------------------------------------
def test_default_config_is_small_and_refines_a_dis_prior():
    config = ModelConfig()
    model = VFIModel.from_config(config)
    assert config.motion_prior == "dis" and model.interpolation.uses_prior
    assert sum(p.numel() for p in model.parameters()) <= 3_000_000
    # DIS sees large motion; the correlation corrects it by up to ±(radius · stride) full-resolution pixels.
    assert config.coarsest_search_radius >= 16


def test_learned_motion_config_is_small_and_sees_large_motion():
    from vidinterp.train.config import load_recipe

    config = ModelConfig(**load_recipe("learned")["model"])
    model = VFIModel.from_config(config)
    assert not model.interpolation.uses_prior
    assert sum(p.numel() for p in model.parameters()) <= 3_000_000
    # The coarsest correlation (radius d at stride 2**levels) must cover ≥ 64 px of motion at 720p.
    assert config.max_displacement[-1] * model.pad_multiple == config.coarsest_search_radius >= 64
    assert config.total_search_radius > config.coarsest_search_radius


@pytest.mark.parametrize("displacements, first_level, radius",
                         [((4,), 3, 64), ((3, 4), 2, 24 + 64), ((2, 3, 4), 1, 8 + 24 + 64)])
def test_motion_levels_are_the_coarsest_ones(displacements, first_level, radius):
    """One displacement per motion level, coarsest last; flows come out at the finest of them, at any size."""
    config = ModelConfig(encoder_channels=(16, 24, 48, 96), decoder_widths=(96, 48, 32, 16), motion_prior="none",
                         max_displacement=displacements, flow_decoder_widths=(16,) * len(displacements))
    assert config.finest_motion_level == first_level and config.total_search_radius == radius
    model = VFIModel.from_config(config).eval()
    f0, f1 = _frames(1, 32, 48)
    with torch.no_grad():
        state = model.estimate_motion(f0, f1, prior=model_prior(model, f0, f1))
        out = run_model(model, f0, f1, 0.5, reconstruct=False)
    assert model.interpolation.flow_estimator.first_level == first_level
    assert state.flow_01.shape == out.flow_01.shape == out.flow_t0.shape == (1, 2, 32, 48)
    assert out.frame.shape == (1, 3, 32, 48)


def test_config_round_trip_and_validation():
    config = tiny_config()
    data = json.loads(json.dumps(config.to_dict()))
    assert ModelConfig.from_dict(data) == config
    with pytest.raises(VidinterpError, match="unknown keys"):
        ModelConfig.from_dict({**data, "colour": 3})
    none = {"motion_prior": "none", "encoder_channels": (16, 24, 48, 96), "decoder_widths": (96, 48, 32, 16)}
    with pytest.raises(VidinterpError, match="one entry per motion level"):
        ModelConfig(max_displacement=(2, 3, 4), flow_decoder_widths=(32, 64), **none)
    with pytest.raises(VidinterpError, match="1 to 3 entries"):
        ModelConfig(max_displacement=(1, 2, 3, 4), flow_decoder_widths=(8, 16, 32, 64), **none)
    with pytest.raises(VidinterpError, match="one motion level"):
        ModelConfig(max_displacement=(2, 3), flow_decoder_widths=(32, 32))
    with pytest.raises(VidinterpError, match="motion_prior"):
        ModelConfig(motion_prior="raft")
    with pytest.raises(VidinterpError, match="prior_preset"):
        ModelConfig(prior_preset="slow")
    with pytest.raises(VidinterpError, match="at least 3"):
        ModelConfig(encoder_channels=(8, 8), max_displacement=(), flow_decoder_widths=(), decoder_widths=(8, 8))


@pytest.mark.parametrize("prior", PRIORS)
def test_gradients_reach_every_parameter(prior):
    """From the first step without a prior; with one, the zero heads get gradients first and everything after
    one optimizer step (an untrained prior model is the classical baseline, so its bodies start unused)."""
    model = _tiny(prior=prior, trained=False)
    f0, f1 = _frames(2, 24, 24)
    f1 = torch.roll(f0, 2, dims=-1) * 0.9 + f1 * 0.1  # some real motion for the prior to find
    target = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(3))

    def backward() -> list[str]:
        model.zero_grad()
        out = run_model(model, f0, f1, torch.tensor([0.3, 0.6]))
        loss = (out.frame - target).abs().mean() + (out.recon0 - f0).abs().mean() + (out.recon1 - f1).abs().mean()
        loss.backward()
        return [name for name, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]

    missing = backward()
    if prior != "none":
        # Behind the refiner's zero gate the flow decoder waits for the gate; everything else at zero learns now.
        zero = {name for name, p in model.named_parameters() if not p.detach().any()
                and not name.startswith("interpolation.flow_estimator.decoder.")}
        assert "interpolation.flow_estimator.gate" in zero and not zero & set(missing), missing
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        missing = backward()
    assert not missing


# -- save / load ------------------------------------------------------------------------------------------
def test_save_load_round_trip_is_bit_identical(tmp_path):
    model = _tiny(seed=7).eval()
    weights, config_path = save_model(model, tmp_path / "net")
    assert weights.name == "net.safetensors" and config_path.name == "net.json"
    assert json.loads(config_path.read_text()) == model.config.to_dict()
    raw = weights.read_bytes()
    header_len = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + header_len])  # safetensors: a JSON header, raw tensors, no pickle
    assert json.loads(header["__metadata__"][model_io.CONFIG_KEY]) == model.config.to_dict()
    assert b"\x80\x04" not in raw[:2]
    loaded = load_model(tmp_path / "net.safetensors")
    assert not loaded.training and loaded.config == model.config
    f0, f1 = _frames(2, 16, 24)
    with torch.no_grad():
        assert torch.equal(run_model(model, f0, f1, 0.4).frame, run_model(loaded, f0, f1, 0.4).frame)
    assert list(tmp_path.iterdir()).__len__() == 2  # no temp files left behind


def test_load_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(VidinterpError, match="not found"):
        load_model(tmp_path / "absent")
    (tmp_path / "junk.safetensors").write_bytes(b"this is not a model")
    with pytest.raises(VidinterpError, match="not a readable safetensors weights file"):
        load_model(tmp_path / "junk")
    # weights that do not match their config
    save_model(_tiny(), tmp_path / "net")
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / "net.safetensors"))
    state.pop(next(iter(state)))
    save_file(state, str(tmp_path / "bad.safetensors"),
              metadata={model_io.CONFIG_KEY: json.dumps(tiny_config().to_dict())})
    with pytest.raises(VidinterpError, match="does not match"):
        load_model(tmp_path / "bad")
    monkeypatch.setattr(model_io, "DEFAULT_WEIGHTS", tmp_path / "none" / "default.safetensors")
    with pytest.raises(VidinterpError, match="no default model weights are shipped yet"):
        load_model(None)


# -- learnability -----------------------------------------------------------------------------------------
def _pattern(position: float) -> torch.Tensor:
    image = pattern_frame(position, width=64, height=64, speed=(3.0, 1.0))
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255


def test_tiny_model_overfits_one_pair():
    """At most 500 Adam steps on one 64×64 pair cut the loss at least tenfold: the model can learn. (It takes
    about 300; how many depends on the CPU's summation order, so the bound leaves room.)"""
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config("none"))
    f0, f1, target = _pattern(0.0), _pattern(2.0), _pattern(1.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss_fn():
        out = run_model(model, f0, f1, 0.5)
        recon = (out.recon0 - f0).abs().mean() + (out.recon1 - f1).abs().mean()
        return (out.frame - target).abs().mean() + 0.1 * recon

    first = loss_fn().item()
    best = first
    for _ in range(500):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
        best = min(best, loss.item())
        if best * 10 <= first:
            break
    assert best * 10 <= first, (first, best)


# -- soft-argmax matcher ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dx, dy", [(0, 0), (2, -1), (-3, 3)])
def test_soft_argmax_reads_a_sharp_peak_as_its_displacement(dx, dy):
    """Channel (dy + d)·(2d+1) + (dx + d) holds displacement (dx, dy): the ops.correlation layout."""
    d, k = 3, 7
    cost = torch.full((2, k * k, 4, 5), -1.0)
    cost[:, (dy + d) * k + (dx + d)] = 1.0
    out = SoftArgmax(d, sharpness=50.0)(cost)
    assert out.shape == (2, 2, 4, 5)
    torch.testing.assert_close(out[:, 0], torch.full((2, 4, 5), float(dx)), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[:, 1], torch.full((2, 4, 5), float(dy)), atol=1e-4, rtol=0)


def test_soft_argmax_is_zero_on_a_flat_cost_and_sub_pixel_between_two_peaks():
    d, k = 2, 5
    flat = SoftArgmax(d)(torch.zeros(1, k * k, 3, 3))
    torch.testing.assert_close(flat, torch.zeros(1, 2, 3, 3))
    cost = torch.full((1, k * k, 1, 1), -1.0)
    cost[:, (0 + d) * k + (1 + d)] = 1.0  # dx = 1
    cost[:, (0 + d) * k + (2 + d)] = 1.0  # dx = 2
    out = SoftArgmax(d)(cost)
    assert out[0, 0].item() == pytest.approx(1.5, abs=1e-4)
    assert out[0, 1].item() == pytest.approx(0.0, abs=1e-4)


def test_soft_argmax_gradcheck_fp64():
    module = SoftArgmax(2).double()
    cost = torch.rand(1, 25, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).requires_grad_()
    assert torch.autograd.gradcheck(module, (cost,), eps=1e-6, atol=1e-5)


def test_cost_volume_is_a_cosine_similarity_of_centred_features():
    """Identical frames: the zero-displacement cost is 1 wherever features are non-zero, and no cost exceeds 1."""
    model = _tiny(prior="none").eval()
    estimator = model.interpolation.flow_estimator
    seen = []
    original = SoftArgmax.forward
    try:
        SoftArgmax.forward = lambda self, cost: seen.append(cost.detach()) or original(self, cost)
        frame = torch.from_numpy(pattern_frame(0, 48, 32)).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            pyramid = model.autoencoder.encode(torch.cat([frame, frame]))
            estimator([p[:1] for p in pyramid], [p[1:] for p in pyramid])
    finally:
        SoftArgmax.forward = original
    cost = seen[0]
    d = estimator.max_displacement[-1]
    centre = (2 * d + 1) * d + d
    assert cost.max().item() <= 1 + 1e-5
    torch.testing.assert_close(cost[:, centre], torch.ones_like(cost[:, centre]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("prior", PRIORS)
def test_forward_on_distinct_pairs_equals_the_forward_on_repeated_pairs(prior):
    """pair_index: each pair computed once for all its targets, with the values and gradients of repeating it.

    In float64, so that the two summation orders agree to ~1e-15 of the gradients' scale on any CPU. Some
    parameters cannot change the loss (the matcher's bias sits before a softmax): their gradient is rounding
    noise at the scale of the others, so each gradient is compared to its own size with the model's largest
    gradient as the floor (see tests/tolerances.py).
    """
    f0, f1 = _frames(2, 24, 32, dtype=torch.float64, seed=4)
    pair_index, t = torch.tensor([0, 0, 1, 0]), torch.tensor([0.25, 0.5, 0.5, 0.75], dtype=torch.float64)
    target = torch.rand(4, 3, 24, 32, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def run(shared: bool):
        model = _tiny(dtype=torch.float64, prior=prior)
        if shared:
            out = run_model(model, f0, f1, t, pair_index=pair_index)
        else:
            out = run_model(model, f0[pair_index], f1[pair_index], t)
        loss = (out.frame - target).abs().mean() + (out.recon0 - f0[pair_index]).abs().mean() + out.flow_01.abs().mean()
        loss.backward()
        return out, {name: p.grad for name, p in model.named_parameters()}

    (shared, shared_grads), (repeated, repeated_grads) = run(True), run(False)
    for field in ("frame", "recon0", "recon1", "flow_t0", "flow_t1", "flow_01", "flow_10", "mask"):
        assert_close_to_scale(getattr(shared, field), getattr(repeated, field), rtol=1e-9, msg=field)
    assert_tensors_close_to_scale(shared_grads, repeated_grads, rtol=1e-9)
    with pytest.raises(ValueError, match="one value per sample"):
        VFIModel.from_config(tiny_config())(f0, f1, torch.tensor([0.5, 0.5]), pair_index=pair_index)


def test_convolution_inputs_are_concatenated_in_the_dtype_autocast_casts_them_to():
    maps = [torch.rand(1, 3, 8, 10), torch.rand(1, 1, 8, 10)]
    assert torch.equal(cat_for_conv(maps), torch.cat(maps, dim=1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        joined = cat_for_conv(maps)
    assert joined.dtype == torch.bfloat16
    assert torch.equal(joined, torch.cat(maps, dim=1).to(torch.bfloat16))  # what the convolution saw before
