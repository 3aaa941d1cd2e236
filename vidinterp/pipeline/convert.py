"""Moving pictures between the decoder's numpy arrays and the interpolator's tensors.

Both directions make as few frame-sized temporaries as they can: at 1080p a uint8 frame is 6 MB and a float32 one
25 MB, and each short-lived block costs the time to fill it and is one more hole the C allocator may keep.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from vidinterp.io.frames import max_value
from vidinterp.models.classical import opencv, opencv_images


def to_tensor(images: Sequence[np.ndarray], device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Stack H×W×3 uint8/uint16 images into an N×3×H×W tensor on `device`, values in [0, 1].

    The integer pixels travel to the device and are scaled there: a quarter (or half) of the bytes of float32.
    One image (every CPU batch) is not stacked: the float conversion is the only copy.
    """
    scale = 1.0 / max_value(images[0].dtype)
    single = len(images) == 1 and images[0].flags.writeable  # torch warns about sharing read-only memory
    pixels = images[0][None] if single else np.stack(images)
    batch = torch.from_numpy(pixels).to(device, non_blocking=False)
    return batch.permute(0, 3, 1, 2).to(torch.float32).mul_(scale).to(dtype)


def to_images(frames: torch.Tensor, dtype: np.dtype) -> list[np.ndarray]:
    """N×3×H×W tensor in [0, 1] → list of H×W×3 C-contiguous arrays of `dtype`, rounded to the nearest level.

    The rounded levels are copied straight into the H×W×3 integer array: type and layout change in one pass.
    (Quantizing in bands of rows, to avoid the float temporary, was measured 2–7× slower on 2 busy cores: torch
    synchronises its threads once per small op.)
    """
    top = max_value(dtype)
    views = opencv_images(frames.detach()) if top == 255 else None
    if views is not None:
        # What the CPU render returns: OpenCV rounds (half to even, like torch), saturates and narrows in one
        # pass, without the float temporary (11 MB at 720p) and in 0.6× the time.
        cv2 = opencv()
        return [cv2.addWeighted(view, 255.0, view, 0.0, 0.0, dtype=cv2.CV_8U) for view in views]
    levels = frames.detach().to(torch.float32).mul(top).round_().clamp_(0, top)
    count, _, height, width = levels.shape
    images = torch.empty((count, height, width, 3), dtype=torch.uint8 if top == 255 else torch.int32,
                         device=levels.device)
    arrays = images.copy_(levels.permute(0, 2, 3, 1)).cpu().numpy()
    if top == 255:
        return list(arrays)
    return [image.astype(dtype) for image in arrays]


def blend_images(image0: np.ndarray, image1: np.ndarray, t: float) -> np.ndarray:
    """(1 − t)·image0 + t·image1 in the images' dtype, rounded: the cross-fade used at scene cuts."""
    mixed = image0.astype(np.float32) * (1.0 - t) + image1.astype(np.float32) * t
    return np.rint(mixed).astype(image0.dtype)
