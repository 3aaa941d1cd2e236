"""Training losses: a registry of image losses by name, weighted sums of them, and keyframe reconstruction.

    loss = build_loss("charbonnier=1,census=0.1")      # or {"charbonnier": 1.0, "census": 0.1}
    total, parts = loss(output.frame, target)         # parts: {"charbonnier": tensor, "census": tensor}
    total = total + recon_weight * reconstruction_loss(output, frame0, frame1)
    total = total + warp_weight * warping_loss(output, frame0, frame1, target)
    total = total + distill_weight * distillation_loss(output, teacher_flows, frame0, frame1, target)

Add a loss with `@register_loss("name")` on a function `(pred, target) -> scalar`.
"""

from vidinterp.losses import image as _builtin  # noqa: F401  (registers the built-in losses)
from vidinterp.losses.image import batch_ssim, census_loss, charbonnier_loss, gradient_loss, l1_loss, ssim_loss
from vidinterp.losses.motion import distillation_loss, warping_loss
from vidinterp.losses.reconstruction import reconstruction_loss
from vidinterp.losses.registry import (
    CombinedLoss,
    available_losses,
    build_loss,
    get_loss,
    parse_loss_spec,
    register_loss,
)

__all__ = [
    "register_loss",
    "available_losses",
    "get_loss",
    "parse_loss_spec",
    "build_loss",
    "CombinedLoss",
    "reconstruction_loss",
    "warping_loss",
    "distillation_loss",
    "l1_loss",
    "charbonnier_loss",
    "census_loss",
    "gradient_loss",
    "ssim_loss",
    "batch_ssim",
]
