"""The keyframe reconstruction term: keeps the encoder's latent informative about the keyframes."""

from __future__ import annotations

import torch

from vidinterp.models.vfi import InterpolationOutput


def reconstruction_loss(output: InterpolationOutput, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the autoencoder's reconstructions and the two keyframes (scalar)."""
    if output.recon0 is None or output.recon1 is None:
        raise ValueError("the model output has no reconstructions; call the model with reconstruct=True")
    return 0.5 * ((output.recon0 - frame0).abs().mean() + (output.recon1 - frame1).abs().mean())
