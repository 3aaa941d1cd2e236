"""The training objective: weighted frame losses from `vidinterp.losses` plus the keyframe reconstruction,
warping and flow-distillation terms."""

from __future__ import annotations

import torch
import torch.nn as nn

from vidinterp.losses import build_loss, distillation_loss, reconstruction_loss, warping_loss


class Objective(nn.Module):
    """loss = Σ weight·frame_loss(prediction, target) + recon_weight · reconstruction_loss(output, keyframes)
    + warp_weight · warping_loss(output, keyframes, target) + distill_weight · distillation_loss(output, teacher, ...).

    All images are B×3×H×W in [0, 1]; `teacher` is B×8×H×W teacher flows (see `vidinterp.train.teacher`), needed
    only when distill_weight > 0. Returns (scalar loss, {term name: float}) for logging; an unknown loss name
    or bad weight raises UsageError (from vidinterp.losses).
    """

    def __init__(
        self,
        loss_weights: dict[str, float],
        recon_weight: float = 0.0,
        warp_weight: float = 0.0,
        distill_weight: float = 0.0,
    ):
        super().__init__()
        self.frame_loss = build_loss(dict(loss_weights))
        self.recon_weight = recon_weight
        self.warp_weight = warp_weight
        self.distill_weight = distill_weight

    def forward(
        self,
        output,
        frame0: torch.Tensor,
        frame1: torch.Tensor,
        target: torch.Tensor,
        teacher: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        # Losses in float32 even under autocast: small differences matter near convergence.
        total, parts = self.frame_loss(output.frame.float(), target)
        logged = {name: float(value) for name, value in parts.items()}
        if self.recon_weight > 0 and output.recon0 is not None:
            recon = reconstruction_loss(output, frame0, frame1)
            logged["recon"] = float(recon.detach())
            total = total + self.recon_weight * recon.float()
        if self.warp_weight > 0:
            warp = warping_loss(output, frame0, frame1, target)
            logged["warp"] = float(warp.detach())
            total = total + self.warp_weight * warp
        if self.distill_weight > 0:
            if teacher is None:
                raise ValueError("distill_weight > 0 needs the teacher flows of the batch")
            distill = distillation_loss(output, teacher, frame0, frame1, target)
            logged["distill"] = float(distill.detach())
            total = total + self.distill_weight * distill
        return total, logged
