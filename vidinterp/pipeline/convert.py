"""Moving pictures between the decoder's numpy arrays and the interpolator's tensors."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from vidinterp.io.frames import max_value


def to_tensor(images: Sequence[np.ndarray], device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Stack H×W×3 uint8/uint16 images into an N×3×H×W tensor on `device`, values in [0, 1].

    The integer pixels travel to the device and are scaled there: a quarter (or half) of the bytes of float32.
    """
    scale = 1.0 / max_value(images[0].dtype)
    batch = torch.from_numpy(np.stack(images)).to(device, non_blocking=False)
    return batch.permute(0, 3, 1, 2).to(torch.float32).mul_(scale).to(dtype)


def to_images(frames: torch.Tensor, dtype: np.dtype) -> list[np.ndarray]:
    """N×3×H×W tensor in [0, 1] → list of H×W×3 C-contiguous arrays of `dtype`, rounded to the nearest level."""
    top = max_value(dtype)
    levels = frames.detach().to(torch.float32).mul(top).round_().clamp_(0, top)
    levels = levels.to(torch.uint8 if top == 255 else torch.int32).permute(0, 2, 3, 1).contiguous().cpu().numpy()
    return [np.ascontiguousarray(image, dtype=dtype) for image in levels]


def blend_images(image0: np.ndarray, image1: np.ndarray, t: float) -> np.ndarray:
    """(1 − t)·image0 + t·image1 in the images' dtype, rounded: the cross-fade used at scene cuts."""
    mixed = image0.astype(np.float32) * (1.0 - t) + image1.astype(np.float32) * t
    return np.rint(mixed).astype(image0.dtype)
