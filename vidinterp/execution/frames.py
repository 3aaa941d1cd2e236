"""The one place where pictures change between NumPy arrays and torch tensors.

The pipeline's frames are H×W×3 RGB NumPy arrays: uint8 or uint16 as decoded, or float32 in [0, 1] (what the
API takes as floats and what evaluation scores). The interpolators take and return those; inside, the runtime
turns them into what it computes on once (`to_unit_arrays` for OpenCV on the CPU, `to_tensor` for torch) and
back once (`to_images`, which rounds and clamps).

Integers become [0, 1] by a true division by the full-scale value (255 or 65535), the same value whichever
path runs. Both directions make as few frame-sized temporaries as they can: at 1080p a uint8 frame is 6 MB
and a float32 one 25 MB, and each short-lived block costs the time to fill it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from vidinterp.io.frames import max_value

#: the dtypes of the frames the interpolators take and give back
FRAME_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


class FrameCache:
    """The last frame converted for an interpolator and what it became, so that a frame shared by consecutive
    pairs (pair k's second frame is pair k + 1's first) is converted once. Holds one frame; a loop owns one for
    the frames it hands out (never reuse it for frames a caller may change in place between calls)."""

    __slots__ = ("image", "converted")

    def __init__(self) -> None:
        self.image: np.ndarray | None = None
        self.converted: object = None

    def get(self, image: np.ndarray, convert):
        """`convert(image)`, or what it gave for this very frame object last time."""
        if image is not self.image:
            self.image, self.converted = image, convert(image)
        return self.converted


def opencv():
    """The cv2 module, or a UsageError saying how to install it."""
    try:
        import cv2
    except ImportError:  # a core dependency; only a broken install gets here
        from vidinterp.errors import UsageError

        raise UsageError("vidinterp needs OpenCV: pip install opencv-python-headless") from None
    return cv2


def full_scale(dtype: np.dtype) -> int | None:
    """What 1.0 is in frames of `dtype`: 255, 65535, or None for float32 frames (already in [0, 1])."""
    return None if np.dtype(dtype) == np.float32 else max_value(dtype)


def check_frames(images0: Sequence[np.ndarray], images1: Sequence[np.ndarray]) -> None:
    """Refuse anything but two equally long lists of H×W×3 frames of one shape and one of `FRAME_DTYPES`."""
    if len(images0) != len(images1) or not images0:
        raise ValueError(f"expected two equally long, non-empty lists of frames, got {len(images0)} and "
                         f"{len(images1)}")
    first = images0[0]
    for image in (*images0, *images1):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"frames must be H×W×3 NumPy arrays, got {getattr(image, 'shape', type(image))}")
        if image.shape != first.shape or image.dtype != first.dtype:
            raise ValueError(f"frames differ: {first.shape} {first.dtype} and {image.shape} {image.dtype}")
    if first.dtype not in FRAME_DTYPES:
        raise ValueError(f"frames must be uint8, uint16 or float32 (0..1), got {first.dtype}")


def to_unit_array(image: np.ndarray) -> np.ndarray:
    """One H×W×3 frame as float32 in [0, 1] (a float32 frame is returned as it is: no copy)."""
    top = full_scale(image.dtype)
    if top is None:
        return image
    return np.divide(image, np.float32(top), dtype=np.float32)


def host_tensor(arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """N H×W×3 float32 frames → one N×3×H×W CPU tensor over the same pixels (laid out channels-last): a view
    for one writeable frame, one stacking copy otherwise."""
    pixels = arrays[0][None] if len(arrays) == 1 and arrays[0].flags.writeable else np.stack(arrays)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2)


def to_tensor(images: Sequence[np.ndarray], device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Stack H×W×3 frames into an N×3×H×W tensor on `device`, values in [0, 1] (laid out channels-last).

    Integer pixels travel to the device and are scaled there: a quarter (or half) of the bytes of float32.
    One frame is not stacked: the float conversion is the only copy.
    """
    top = full_scale(images[0].dtype)
    single = len(images) == 1 and images[0].flags.writeable  # torch warns about sharing read-only memory
    pixels = images[0][None] if single else np.stack(images)
    batch = torch.from_numpy(pixels).to(device, non_blocking=False).permute(0, 3, 1, 2)
    if top is None:
        return batch.to(dtype, copy=single)  # the caller's float frames are never written through
    return batch.to(torch.float32).div_(top).to(dtype)


def images_tensor(images: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
    """N H×W×3 frames (a sequence, or an N×H×W×3 array such as a memory-mapped clip) → an NCHW-contiguous
    N×3×H×W CPU tensor of their own dtype, values unchanged, sharing no memory with them."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def tensor_images(frames: torch.Tensor) -> list[np.ndarray]:
    """An N×3×H×W tensor (any device) → N H×W×3 C-contiguous host arrays of its dtype, values unchanged."""
    return list(frames.detach().permute(0, 2, 3, 1).contiguous().cpu().numpy())


def to_images(frames: torch.Tensor, dtype: np.dtype) -> list[np.ndarray]:
    """N×3×H×W tensor in [0, 1] → list of H×W×3 C-contiguous frames of `dtype`: integers rounded to the nearest
    level (half to even) and clamped, float32 clamped to [0, 1].

    The rounded levels are copied straight into the H×W×3 integer array: type and layout change in one pass.
    """
    frames = frames.detach()
    if np.dtype(dtype) == np.float32:
        return tensor_images(frames.float().clamp(0, 1))
    top = max_value(dtype)
    levels = frames.to(torch.float32).mul(top).round_().clamp_(0, top)
    count, _, height, width = levels.shape
    images = torch.empty((count, height, width, 3), dtype=torch.uint8 if top == 255 else torch.int32,
                         device=levels.device)
    arrays = images.copy_(levels.permute(0, 2, 3, 1)).cpu().numpy()
    if top == 255:
        return list(arrays)
    return [image.astype(dtype) for image in arrays]


def unit_arrays_to_images(frames: Sequence[np.ndarray], dtype: np.dtype) -> list[np.ndarray]:
    """H×W×3 float32 frames already clamped to [0, 1] (the CPU render's) → C-contiguous frames of `dtype`, rounded
    like `to_images`. 8 bits: OpenCV rounds (half to even), saturates and narrows in one pass, without a float
    temporary. Frames already of `dtype` (float32 asked for, or a render that rounded as it went) are kept."""
    if frames and frames[0].dtype == np.dtype(dtype):
        return [np.ascontiguousarray(frame) for frame in frames]
    top = max_value(dtype)
    if top == 255:
        cv2 = opencv()
        return [cv2.addWeighted(frame, 255.0, frame, 0.0, 0.0, dtype=cv2.CV_8U) for frame in frames]
    return [np.rint(np.multiply(frame, np.float32(top))).astype(dtype) for frame in frames]


def to_levels(images: Sequence[np.ndarray]) -> torch.Tensor:
    """H×W×3 uint8/uint16 frames → N×3×H×W float64 on the 0..255 scale (the scale the metrics use)."""
    pixels = np.stack([np.ascontiguousarray(image) for image in images])
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).double() * (255 / max_value(images[0].dtype))


def levels_to_image(levels: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """1×3×H×W quantized values on the 0..255 scale → H×W×3 frame of `dtype` (for saving pictures)."""
    return torch.round(levels[0].permute(1, 2, 0) * (max_value(dtype) / 255)).numpy().astype(dtype)


def blend_images(image0: np.ndarray, image1: np.ndarray, t: float) -> np.ndarray:
    """(1 − t)·image0 + t·image1 in the images' dtype, rounded: the cross-fade used at scene cuts."""
    mixed = image0.astype(np.float32) * (1.0 - t) + image1.astype(np.float32) * t
    return np.rint(mixed).astype(image0.dtype)


__all__ = [
    "FRAME_DTYPES", "FrameCache", "blend_images", "check_frames", "full_scale", "host_tensor", "images_tensor",
    "levels_to_image", "opencv", "tensor_images", "to_images", "to_levels", "to_tensor", "to_unit_array",
    "unit_arrays_to_images",
]
