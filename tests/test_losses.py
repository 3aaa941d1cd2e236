"""Loss registry: names, weights, the CLI string form, and the value of each built-in loss on known inputs."""

from __future__ import annotations

import math

import pytest
import torch
from tensor_frames import run_model

from vidinterp.errors import UsageError
from vidinterp.losses import (
    available_losses,
    build_loss,
    census_loss,
    charbonnier_loss,
    get_loss,
    gradient_loss,
    l1_loss,
    parse_loss_spec,
    reconstruction_loss,
    register_loss,
    ssim_loss,
    warping_loss,
)
from vidinterp.losses import registry as loss_registry
from vidinterp.models import VFIModel, tiny_config
from vidinterp.ops import backward_warp
from vidinterp.train.objective import Objective


def _image(seed=0, size=(2, 3, 24, 32)):
    return torch.rand(*size, generator=torch.Generator().manual_seed(seed))


def test_builtins_are_registered():
    assert {"l1", "charbonnier", "census", "gradient", "ssim"} <= set(available_losses())
    assert get_loss("census") is census_loss


def test_spec_forms_agree():
    assert parse_loss_spec("charbonnier=1,census=0.1") == {"charbonnier": 1.0, "census": 0.1}
    assert parse_loss_spec(["charbonnier=1", "census=0.1"]) == {"charbonnier": 1.0, "census": 0.1}
    assert parse_loss_spec({"charbonnier": 1, "census": 0.1}) == {"charbonnier": 1.0, "census": 0.1}
    assert parse_loss_spec("l1") == {"l1": 1.0}
    assert parse_loss_spec(["l1=0.5", "l1=0.25"]) == {"l1": 0.75}


@pytest.mark.parametrize(
    "spec,message",
    [
        ("charbonier=1", "unknown loss 'charbonier'; available losses: census, charbonnier"),
        ("l1=abc", "must be a number"),
        ("l1=-1", "≥ 0"),
        ("l1=nan", "finite"),
        ("l1=0", "at least one loss"),
        ("", "at least one loss"),
    ],
)
def test_bad_specs_are_usage_errors(spec, message):
    with pytest.raises(UsageError, match=message):
        build_loss(spec)


def test_combined_loss_is_the_weighted_sum_of_its_parts():
    pred, target = _image(0).requires_grad_(), _image(1)
    loss = build_loss({"charbonnier": 1.0, "census": 0.1, "gradient": 0.5})
    total, parts = loss(pred, target)
    assert set(parts) == {"charbonnier", "census", "gradient"}
    expected = charbonnier_loss(pred, target) + 0.1 * census_loss(pred, target) + 0.5 * gradient_loss(pred, target)
    torch.testing.assert_close(total, expected)
    assert not any(p.requires_grad for p in parts.values())
    total.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_user_registered_loss_is_usable_by_name(monkeypatch):
    monkeypatch.setattr(loss_registry, "_REGISTRY", dict(loss_registry._REGISTRY))

    @register_loss("mean_shift")
    def mean_shift(pred, target):
        return (pred.mean() - target.mean()).abs()

    assert "mean_shift" in available_losses()
    total, parts = build_loss("mean_shift=2")(torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    assert total.item() == pytest.approx(2.0) and parts["mean_shift"].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="already registered"):
        register_loss("mean_shift")(lambda p, t: p.sum())


def test_l1_and_charbonnier_values():
    zeros, halves = torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.5)
    assert l1_loss(zeros, halves).item() == pytest.approx(0.5)
    assert charbonnier_loss(halves, halves).item() == pytest.approx(1e-3)
    assert charbonnier_loss(zeros, halves).item() == pytest.approx(math.sqrt(0.25 + 1e-6))


def test_census_values():
    image = _image(2)
    assert census_loss(image, image).item() == 0.0
    # census compares orderings, so a brightness offset costs (almost) nothing while an inversion costs a lot
    shifted = (image * 0.8 + 0.1, image * 0.8 + 0.2)
    assert census_loss(*shifted).item() < 1e-6
    assert census_loss(image, 1 - image).item() > 0.5
    assert 0 < census_loss(image, _image(3)).item() < 1


def test_gradient_loss_values():
    ramp = torch.linspace(0, 1, 11).view(1, 1, 1, 11).expand(1, 3, 6, 11)
    assert gradient_loss(ramp, torch.zeros_like(ramp)).item() == pytest.approx(0.5 * 0.1)
    assert gradient_loss(ramp, ramp + 0.3).item() == pytest.approx(0.0, abs=1e-7)


def test_ssim_loss_values():
    image = _image(4)
    assert ssim_loss(image, image).item() == pytest.approx(0.0, abs=1e-5)
    assert ssim_loss(image, _image(5)).item() > 0.5


def test_the_training_ssim_is_the_reported_ssim_on_the_unit_scale():
    """Two SSIMs, one measure: the loss's (differentiable, [0, 1]) and evaluation's (float64, 0..255) agree."""
    from vidinterp.evaluate import metrics
    from vidinterp.losses import batch_ssim

    smooth = torch.nn.functional.avg_pool2d(_image(4, (1, 3, 40, 40)), 3, 1)  # some structure to compare
    noisy = (smooth + 0.1 * _image(5, (1, 3, 38, 38))).clamp(0, 1)
    expected = metrics.ssim(smooth * 255, noisy * 255).item()
    assert 0.2 < expected < 0.95
    assert batch_ssim(smooth.double(), noisy.double()).item() == pytest.approx(expected, rel=1e-9)


def test_reconstruction_loss():
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config())
    f0, f1 = _image(6, (1, 3, 16, 16)), _image(7, (1, 3, 16, 16))
    out = run_model(model, f0, f1, 0.5)
    expected = 0.5 * ((out.recon0 - f0).abs().mean() + (out.recon1 - f1).abs().mean())
    torch.testing.assert_close(reconstruction_loss(out, f0, f1), expected)
    with pytest.raises(ValueError, match="reconstruct=True"):
        reconstruction_loss(run_model(model, f0, f1, 0.5, reconstruct=False), f0, f1)


@pytest.mark.parametrize("name", ["l1", "charbonnier", "census", "gradient", "ssim"])
def test_losses_gradcheck_fp64(name):
    fn = get_loss(name)
    g = torch.Generator().manual_seed(8)
    # ssim needs at least an 11×11 image; offsets keep l1 away from its kink at zero difference
    pred = torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64).requires_grad_()
    target = (pred.detach() + 0.05 + 0.1 * torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert torch.autograd.gradcheck(lambda p: fn(p, target), (pred,), eps=1e-6, atol=1e-5)


def test_warping_loss_is_the_mean_of_its_four_warps():
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config())
    f0, f1, target = _image(9, (1, 3, 16, 16)), _image(10, (1, 3, 16, 16)), _image(11, (1, 3, 16, 16))
    out = run_model(model, f0, f1, 0.5)
    expected = (
        charbonnier_loss(out.warped0, target)
        + charbonnier_loss(out.warped1, target)
        + charbonnier_loss(backward_warp(f1, out.flow_01), f0)
        + charbonnier_loss(backward_warp(f0, out.flow_10), f1)
    ) / 4
    torch.testing.assert_close(warping_loss(out, f0, f1, target), expected)


def test_warping_loss_vanishes_for_a_static_scene_and_trains_the_flow():
    """Identical frames: every warp is exact up to the flows' error, and the gradient reaches the motion estimator."""
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config())
    frame = _image(12, (1, 3, 16, 16))
    out = run_model(model, frame, frame, 0.5)
    loss = warping_loss(out, frame, frame, frame)
    assert loss.item() < 0.05
    loss.backward()
    grads = [p.grad for p in model.interpolation.flow_estimator.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_objective_adds_the_weighted_warping_term():
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config())
    f0, f1, target = _image(13, (1, 3, 16, 16)), _image(14, (1, 3, 16, 16)), _image(15, (1, 3, 16, 16))
    out = run_model(model, f0, f1, 0.5)
    plain, _ = Objective({"l1": 1.0})(out, f0, f1, target)
    total, terms = Objective({"l1": 1.0}, warp_weight=0.25)(out, f0, f1, target)
    assert terms["warp"] == pytest.approx(warping_loss(out, f0, f1, target).item())
    assert total.item() == pytest.approx(plain.item() + 0.25 * terms["warp"], rel=1e-6)
