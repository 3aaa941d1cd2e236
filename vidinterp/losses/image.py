"""Built-in image losses. Each takes pred and target N×C×H×W (values in [0, 1]) and returns a scalar mean."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vidinterp.losses.registry import register_loss

#: Charbonnier's smoothing constant: the loss is ≈ |x| above it and quadratic below
CHARBONNIER_EPSILON = 1e-3
#: census window side and the soft-sign / distance constants (on 0..255 grey levels)
CENSUS_WINDOW = 7
_CENSUS_SOFTSIGN = 0.81
_CENSUS_DISTANCE = 0.1


@register_loss("l1")
def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return (pred - target).abs().mean()


@register_loss("charbonnier")
def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of sqrt(diff² + ε²), a differentiable L1 (equals ε, not 0, for identical images)."""
    return torch.sqrt((pred - target) ** 2 + CHARBONNIER_EPSILON**2).mean()


def _grey255(image: torch.Tensor) -> torch.Tensor:
    """N×1×H×W luma (BT.601 weights) on a 0..255 scale; single-channel input is just rescaled."""
    if image.shape[1] == 3:
        r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
        image = 0.299 * r + 0.587 * g + 0.114 * b
    elif image.shape[1] != 1:
        image = image.mean(1, keepdim=True)
    return image * 255.0


def _census_signature(grey: torch.Tensor) -> torch.Tensor:
    """N×k²×H×W soft ternary census: softsign of (neighbour − centre) for each offset in a k×k window."""
    k = CENSUS_WINDOW
    neighbours = F.unfold(F.pad(grey, (k // 2,) * 4, mode="replicate"), k).view(grey.shape[0], k * k, *grey.shape[-2:])
    diff = neighbours - grey
    return diff / torch.sqrt(_CENSUS_SOFTSIGN + diff**2)


@register_loss("census")
def census_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Ternary census distance on luma: compares local intensity orderings, so it ignores brightness offsets.

    Per pixel: mean over the 7×7 window of d²/(0.1 + d²), d the difference of soft census signatures;
    pixels within 3 of the border are excluded (their windows are padded). 0 for identical images.
    """
    sig_pred, sig_target = _census_signature(_grey255(pred)), _census_signature(_grey255(target))
    d2 = (sig_pred - sig_target) ** 2
    distance = (d2 / (_CENSUS_DISTANCE + d2)).mean(1)
    r = CENSUS_WINDOW // 2
    if distance.shape[-2] > 2 * r and distance.shape[-1] > 2 * r:
        distance = distance[:, r:-r, r:-r]
    return distance.mean()


@register_loss("gradient")
def gradient_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical finite differences (penalises blur and misplaced edges)."""

    def diffs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]

    (px, py), (tx, ty) = diffs(pred), diffs(target)
    return 0.5 * ((px - tx).abs().mean() + (py - ty).abs().mean())


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def batch_ssim(pred: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity of images in [0, 1], one differentiable scalar for the whole batch (Gaussian window,
    valid region only). 1 for identical images.

    The training form of SSIM: in the images' own dtype and on their device, for gradients. What evaluation
    reports is `vidinterp.evaluate.metrics.ssim`: per image, float64, on the 0..255 scale of saved frames.
    """
    c = pred.shape[1]
    w = _gaussian_window(window, sigma, c, pred)
    blur = lambda x: F.conv2d(x, w, groups=c)  # noqa: E731
    mu_p, mu_t = blur(pred), blur(target)
    var_p = blur(pred * pred) - mu_p**2
    var_t = blur(target * target) - mu_t**2
    cov = blur(pred * target) - mu_p * mu_t
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2))
    return s.mean()


@register_loss("ssim")
def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − SSIM (11×11 Gaussian window, σ = 1.5). Needs images of at least 11×11."""
    return 1 - batch_ssim(pred, target)
