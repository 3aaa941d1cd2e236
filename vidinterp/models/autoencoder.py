"""Keyframe autoencoder: the feature pyramid used for motion and synthesis, plus a reconstruction decoder."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidinterp.models.blocks import conv
from vidinterp.models.config import ModelConfig


class FeatureEncoder(nn.Module):
    """Light conv encoder: one stride-2 stage per pyramid level (a single conv at 1/2, where pixels are costly).

    Input: N×3×H×W frames in [0, 1], H and W multiples of 2**levels.
    Output: list of features, finest first; level k is N×C_k×H/2**(k+1)×W/2**(k+1).
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        stages, previous = [], 3
        for level, c in enumerate(channels):
            layers = [conv(previous, c, stride=2)] + ([conv(c, c)] if level > 0 else [])
            stages.append(nn.Sequential(*layers))
            previous = c
        self.stages = nn.ModuleList(stages)

    def forward(self, frames: torch.Tensor) -> list[torch.Tensor]:
        # No input centring: the first conv's bias absorbs the offset, and a full-resolution subtraction is not free.
        x = frames
        pyramid = []
        for stage in self.stages:
            x = stage(x)
            pyramid.append(x)
        return pyramid


class KeyframeDecoder(nn.Module):
    """Reconstructs the keyframe from the latent alone (training only: it forces the encoder to keep detail).

    Input: the latent, N×C_{L-1}×H/2**L×W/2**L. Output: N×3×H×W in [0, 1].
    """

    def __init__(self, latent_channels: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        stages, previous = [], latent_channels
        for width in widths:
            stages.append(conv(previous, width))
            previous = width
        self.stages = nn.ModuleList(stages)
        self.head = nn.Conv2d(previous, 3, 3, 1, 1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = latent
        for stage in self.stages:
            x = F.interpolate(stage(x), scale_factor=2, mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(x))


class KeyframeAutoencoder(nn.Module):
    """Encoder (feature pyramid + latent) and decoder (latent → keyframe) for one frame at a time.

    `encode(frames)` → pyramid, finest first; the latent is its last (coarsest) entry.
    `decode(latent)` → N×3×H×W reconstruction in [0, 1].
    """

    def __init__(self, encoder: FeatureEncoder, decoder: KeyframeDecoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    @classmethod
    def from_config(cls, config: ModelConfig) -> "KeyframeAutoencoder":
        """Build both halves from a `ModelConfig`."""
        return cls(
            FeatureEncoder(config.encoder_channels),
            KeyframeDecoder(config.encoder_channels[-1], config.decoder_widths),
        )

    def encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """Feature pyramid of N×3×H×W frames in [0, 1], finest first."""
        return self.encoder(frames)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Reconstruct frames from the coarsest features."""
        return self.decoder(latent)

    def forward(self, frames: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(pyramid, reconstruction) of the frames."""
        pyramid = self.encode(frames)
        return pyramid, self.decode(pyramid[-1])
