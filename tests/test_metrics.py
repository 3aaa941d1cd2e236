"""PSNR, SSIM, MAE, quantization and temporal error against closed forms and a slow reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidinterp.evaluate import metrics


def _random_images(n=2, h=20, w=24, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), generator=generator).double()


@pytest.mark.parametrize("offset", [1, 5, 16])
def test_psnr_of_constant_offset(offset):
    truth = torch.full((1, 3, 16, 16), 100.0)
    assert metrics.psnr(truth + offset, truth).item() == pytest.approx(20 * math.log10(255 / offset), abs=1e-9)


def test_psnr_identical_is_the_cap_and_never_exceeds_it():
    x = _random_images(1)
    assert metrics.psnr(x, x).item() == metrics.PSNR_CAP_DB
    tiny = x.clone()
    tiny[0, 0, 0, 0] += 1e-6  # MSE so small that the formula would give > 100 dB
    assert metrics.psnr(tiny, x).item() == metrics.PSNR_CAP_DB


def test_psnr_is_per_item_not_of_the_pooled_mse():
    truth = torch.zeros(2, 3, 8, 8)
    pred = truth.clone()
    pred[0] += 1
    pred[1] += 10
    values = metrics.psnr(pred, truth)
    assert values.tolist() == pytest.approx([20 * math.log10(255), 20 * math.log10(25.5)])
    assert metrics.mean(values.tolist()) == pytest.approx((48.1308036 + 28.1308036) / 2, abs=1e-6)


def test_mae_known_value():
    truth = torch.zeros(1, 3, 4, 4)
    pred = truth.clone()
    pred[0, 0] = 12  # one channel off by 12, the others exact
    assert metrics.mae(pred, truth).item() == pytest.approx(4.0)
    assert metrics.mae(truth - 3, truth).item() == pytest.approx(3.0)


def test_quantize_rounds_like_a_saved_frame():
    x = torch.tensor([0.0, 0.1 / 255, 0.6 / 255, 1.4 / 255, 254.6 / 255, 1.2, -0.3]).view(1, 1, 1, -1)
    assert metrics.quantize(x).flatten().tolist() == [0, 0, 1, 1, 255, 255, 0]  # rounded and clamped
    # Exact halves (representable with 4 levels) round to even, like torch.round / numpy.rint.
    halves = torch.tensor([0.125, 0.375, 0.625, 0.875]).view(1, 1, 1, -1)  # 0.5, 1.5, 2.5, 3.5 levels
    assert (metrics.quantize(halves, 4) * 4 / 255).flatten().tolist() == [0, 2, 2, 4]
    sixteen = metrics.quantize(torch.tensor([0.5]).view(1, 1, 1, 1), 65535)
    assert sixteen.item() == pytest.approx(32768 * 255 / 65535)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError):
        metrics.psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))


def test_ssim_of_identical_images_is_one():
    x = _random_images()
    assert metrics.ssim(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-12)


@pytest.mark.parametrize("a,b", [(100.0, 100.0), (100.0, 120.0), (10.0, 240.0)])
def test_ssim_of_flat_images_is_the_luminance_term(a, b):
    # Flat images have zero variance: SSIM reduces to (2ab + C1) / (a² + b² + C1).
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    value = metrics.ssim(torch.full((1, 3, 16, 16), a), torch.full((1, 3, 16, 16), b)).item()
    assert value == pytest.approx(expected, abs=1e-12)


def _slow_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook SSIM, window by window with explicit weighted moments (the oracle)."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    g /= g.sum()
    window = np.outer(g, g)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for c in range(x.shape[0]):
        for i in range(x.shape[1] - 10):
            for j in range(x.shape[2] - 10):
                px, py = x[c, i : i + 11, j : j + 11], y[c, i : i + 11, j : j + 11]
                mx, my = (window * px).sum(), (window * py).sum()
                vx, vy = (window * (px - mx) ** 2).sum(), (window * (py - my) ** 2).sum()
                cov = (window * (px - mx) * (py - my)).sum()
                values.append(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_ssim_matches_a_slow_reference():
    truth = _random_images(1, 17, 19, seed=1)
    noisy = (truth + torch.randn(truth.shape, generator=torch.Generator().manual_seed(2)) * 20).clamp(0, 255)
    smooth = torch.nn.functional.avg_pool2d(truth, 3, stride=1, padding=1)
    for pred in (noisy, smooth):
        fast = metrics.ssim(pred, truth).item()
        assert fast == pytest.approx(_slow_ssim(pred[0].numpy(), truth[0].numpy()), abs=1e-10)
        assert 0 < fast < 1


def test_ssim_properties():
    x, y = _random_images(1, seed=3), _random_images(1, seed=4)
    assert metrics.ssim(x, y).item() == pytest.approx(metrics.ssim(y, x).item(), abs=1e-12)  # symmetric
    assert metrics.ssim(x, 255 - x).item() < 0  # inverted structure correlates negatively
    with pytest.raises(ValueError):
        metrics.ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))  # smaller than the window


def test_temporal_error():
    truth = _random_images(4, 8, 8, seed=5)
    assert metrics.temporal_error(truth, truth) == 0
    assert metrics.temporal_error(truth + 7, truth) == pytest.approx(0)  # a steady error does not flicker
    signs = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(4, 1, 1, 1)
    assert metrics.temporal_error(truth + 3 * signs, truth) == pytest.approx(6.0)  # ±3 alternating: jumps of 6
    with pytest.raises(ValueError):
        metrics.temporal_error(truth[:1], truth[:1])
