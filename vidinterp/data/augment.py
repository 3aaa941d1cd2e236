"""Augmentations applied to a whole clip at once, so every frame of a sample gets the same crop, flip and order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Which random augmentations training uses (validation uses none)."""

    hflip: bool = True
    vflip: bool = True
    reverse: bool = True  # play the clip backwards: a target at t becomes one at 1 - t
    channel_shuffle: bool = False  # permute RGB: colour-invariant motion cues, off by default


def random_crop_box(height: int, width: int, crop: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left (y, x) of a uniformly random crop×crop box inside a height×width frame."""
    return int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1))


def center_crop_box(height: int, width: int, crop: int) -> tuple[int, int]:
    """Top-left (y, x) of the centred crop×crop box."""
    return (height - crop) // 2, (width - crop) // 2


def augment_clip(clip: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """F×H×W×3 uint8 clip → same shape, with random flips, temporal reversal and channel order applied.

    Every choice is drawn from `rng` in a fixed order whether or not the augmentation is enabled, so turning one
    augmentation off does not change the random choices of the others.
    """
    draws = rng.random(4)
    permutation = rng.permutation(3)
    if config.hflip and draws[0] < 0.5:
        clip = clip[:, :, ::-1]
    if config.vflip and draws[1] < 0.5:
        clip = clip[:, ::-1]
    if config.reverse and draws[2] < 0.5:
        clip = clip[::-1]
    if config.channel_shuffle and draws[3] < 0.5:
        clip = clip[..., permutation]
    return clip
