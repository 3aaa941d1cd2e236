"""Custom operators for motion-compensated interpolation: bilinear backward warp and local correlation.

Tensor contracts:

* `backward_warp(image, flow, padding="border")`: `image` N×C×H×W, `flow` N×2×H×W relative pixels (channel 0 =
  x to the right, 1 = y down), same dtype (float32/float64/float16/bfloat16) and device. Returns N×C×H×W with
  `out[n, c, y, x] = bilinear(image[n, c], x + flow_x, y + flow_y)`. "border" clamps the sample position to the
  image; "zeros" gives corners outside the image weight 0 (grid_sample align_corners=True, zeros padding).
  A NaN flow component gives 0 (and zero gradients) at that pixel in both modes.
* `correlation(f0, f1, max_displacement=4)`: equal-shape N×C×H×W features → N×(2d+1)²×H×W cost volume,
  channel `(dy+d)(2d+1) + (dx+d)` = mean over channels of f0[y, x]·f1[y+dy, x+dx], 0 where outside.

Both are differentiable w.r.t. every tensor input, and under autocast run in float32 (image and flow, or f0 and
f1, may then differ in dtype). CPU tensors run `torch.ops.vidinterp.*` with the vectorised PyTorch kernels;
CUDA tensors run the compiled extension, CuPy/NVRTC or PyTorch (see `vidinterp.ops.backends`; the choice is
made once per device and process).
"""

from __future__ import annotations

import torch

from vidinterp.ops import library
from vidinterp.ops._validate import check_correlation_inputs, check_warp_inputs
from vidinterp.ops.backends import (
    BACKEND_NAMES,
    BackendUnavailableError,
    available_backends,
    backend_for,
    backend_status,
    implementation_for,
    set_backend,
)

__all__ = [
    "BACKEND_NAMES",
    "BackendUnavailableError",
    "available_backends",
    "backend_for",
    "backend_status",
    "backward_warp",
    "correlation",
    "set_backend",
]


def _autocasting(tensor: object) -> bool:
    """Whether autocast is on for the tensor's device (the ops then cast their inputs to float32 themselves)."""
    return isinstance(tensor, torch.Tensor) and torch.is_autocast_enabled(tensor.device.type)


def _float32_under_autocast(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Under autocast both inputs go to float32 here, so every backend (the CuPy kernels read raw bytes of one
    element type) receives one dtype, whichever path it takes past the dispatcher's own autocast cast."""
    if _autocasting(a):
        return a.to(torch.float32), b.to(torch.float32)
    return a, b


def backward_warp(image: torch.Tensor, flow: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """Sample `image` (N×C×H×W) bilinearly at each pixel plus `flow` (N×2×H×W, x then y); returns N×C×H×W."""
    check_warp_inputs(image, flow, padding, same_dtype=not _autocasting(image))
    image, flow = _float32_under_autocast(image, flow)
    if image.device.type == "cpu":  # always the PyTorch backend: straight to the op, nothing to decide
        return library.backward_warp(image, flow, padding)
    return implementation_for(image.device).backward_warp(image, flow, padding)


def correlation(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int = 4) -> torch.Tensor:
    """Cost volume N×(2d+1)²×H×W: channel-mean dot products of f0 with f1 shifted by up to ±d pixels."""
    check_correlation_inputs(f0, f1, max_displacement, same_dtype=not _autocasting(f0))
    f0, f1 = _float32_under_autocast(f0, f1)
    if f0.device.type == "cpu":
        return library.correlation(f0, f1, max_displacement)
    return implementation_for(f0.device).correlation(f0, f1, max_displacement)
