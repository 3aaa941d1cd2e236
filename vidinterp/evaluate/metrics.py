"""Image quality metrics for interpolated frames, as frame interpolation papers report them.

All metrics take N×3×H×W tensors on the 0..255 scale (float; any device) and return one value per item
(a length-N float64 tensor); datasets report the mean of the per-item values.

- PSNR: 10·log10(255² / MSE) over all RGB samples of an item, capped at `PSNR_CAP_DB` (identical images have
  an infinite PSNR; the cap keeps means and JSON finite).
- SSIM: Wang et al. 2004 with an 11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, L = 255, computed on
  each RGB channel separately over the 'valid' region (no padding, as in the reference MATLAB code), then
  averaged over channels and positions.
- MAE: mean absolute difference over all RGB samples (what RIFE's Middlebury script calls IE).

Predictions are first quantized with `quantize` exactly as a saved frame would be, so the scores are those
of the frames a user gets.
"""

from __future__ import annotations

import math

import torch

#: PSNR reported for identical images (and the upper bound for all items)
PSNR_CAP_DB = 100.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
PEAK = 255.0


def quantize(frames: torch.Tensor, max_value: int = 255) -> torch.Tensor:
    """Frames in [0, 1] → float64 on the 0..255 scale, rounded to `max_value` levels like a saved frame.

    max_value: 255 for 8-bit output, 65535 for 16-bit; rounding is half-to-even (`torch.round`), after clamping.
    """
    levels = torch.round(frames.double().clamp(0, 1) * max_value)
    return levels * (PEAK / max_value)


def _check(pred: torch.Tensor, truth: torch.Tensor) -> None:
    if pred.shape != truth.shape or pred.ndim != 4:
        raise ValueError(f"expected two N×C×H×W tensors of one shape, got {tuple(pred.shape)} and {tuple(truth.shape)}")


def mse(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-item mean squared error on the 0..255 scale."""
    _check(pred, truth)
    return (pred.double() - truth.double()).pow(2).flatten(1).mean(1)


def psnr(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-item PSNR in dB for a peak of 255, at most `PSNR_CAP_DB` (which identical items get)."""
    error = mse(pred, truth)
    value = 10 * torch.log10(PEAK**2 / error.clamp_min(1e-300))
    return torch.where(error > 0, value, torch.full_like(value, PSNR_CAP_DB)).clamp(max=PSNR_CAP_DB)


def mae(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-item mean absolute error on the 0..255 scale."""
    _check(pred, truth)
    return (pred.double() - truth.double()).abs().flatten(1).mean(1)


def gaussian_window(
    size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, dtype=torch.float64, device=None
) -> torch.Tensor:
    """1-D Gaussian weights that sum to 1 (the separable factor of SSIM's 2-D window)."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    weights = torch.exp(-(coords**2) / (2 * sigma**2))
    return weights / weights.sum()


def _filter(images: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter of N×C×H×W, per channel.

    Accumulates weighted shifted views in place: exact like a convolution, and several times faster than a
    depthwise float64 `conv2d` on CPU.
    """
    size = window.numel()
    height, width = images.shape[-2:]
    weights = window.tolist()
    rows = images[..., :, : width - size + 1] * weights[0]
    for k in range(1, size):
        rows.add_(images[..., :, k : width - size + 1 + k], alpha=weights[k])
    out = rows[..., : height - size + 1, :] * weights[0]
    for k in range(1, size):
        out.add_(rows[..., k : height - size + 1 + k, :], alpha=weights[k])
    return out


def ssim_applies(images: torch.Tensor) -> bool:
    """Whether N×C×H×W images are large enough for SSIM's window (at least 11×11 pixels)."""
    return min(images.shape[-2:]) >= SSIM_WINDOW


def ssim_map(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """SSIM at every 'valid' window position: N×C×(H−10)×(W−10), float64."""
    _check(pred, truth)
    if not ssim_applies(pred):
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels, got {tuple(pred.shape[-2:])}"
        )
    x, y = pred.double(), truth.double()
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    # One filtering pass over all five local statistics at once.
    stats = _filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), gaussian_window(device=x.device))
    mu_x, mu_y, xx, yy, xy = stats.chunk(5, dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-item SSIM (mean over RGB channels and window positions); 1 for identical images."""
    return ssim_map(pred, truth).flatten(1).mean(1)


def temporal_error(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Flicker score of a reconstructed sequence, on the 0..255 scale (lower is better; 0 = no added flicker).

    pred, truth: T×3×H×W, consecutive frames of the reconstructed sequence and of the real one (T ≥ 2).
    The mean absolute difference between the frame-to-frame changes of the result and those of the truth,
    mean |(P[i+1] − P[i]) − (T[i+1] − T[i])|, over all pairs given. A constant error that stays put (a steady
    blur) scores 0; errors that jump from frame to frame (flicker, judder) score high.
    In the frame-drop protocol the kept frames are exact, so with drop 2 this equals the MAE of the
    interpolated frames; with drop ≥ 3 it also measures how consecutive interpolated frames disagree.
    """
    _check(pred, truth)
    if pred.shape[0] < 2:
        raise ValueError("temporal_error needs at least two consecutive frames")
    error = pred.double() - truth.double()
    return float((error[1:] - error[:-1]).abs().mean())


def mean(values: list[float]) -> float:
    """Mean of per-item values (NaN for none)."""
    return math.fsum(values) / len(values) if values else float("nan")
