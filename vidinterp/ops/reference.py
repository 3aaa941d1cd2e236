"""Pure-PyTorch forward and backward of the ops: the CPU backend and the oracle every other backend is tested against.

Contracts (shared by all backends):

* Warp: `image` N×C×H×W, `flow` N×2×H×W in pixels (channel 0 = x right, 1 = y down);
  `out[n, c, y, x] = bilinear(image[n, c], x + flow[n, 0, y, x], y + flow[n, 1, y, x])`.
  - "border": the sample position is clamped to [0, W-1] × [0, H-1] first (so ±inf and huge flows read the edge).
  - "zeros": each of the four corners outside the image has weight 0 (like grid_sample, align_corners=True).
  - A NaN in either flow component gives output 0 and zero gradients at that pixel in both modes: there is no
    position to clamp to, and a NaN must not leak into the neighbours through the image gradient.
* Correlation: `out[n, (dy+d)(2d+1) + (dx+d), y, x] = (1/C) Σ_c f0[n,c,y,x] f1[n,c,y+dy,x+dx]`, 0 where the
  shifted position is outside; C = 0 gives zeros.

Gradient convention (every backend follows it, so training sees the same gradients on CPU and GPU): bilinear
sampling is not differentiable at integer positions (zero flow, the model's starting state, puts every sample
there) and at the clamp of "border". The derivative used is the one of the bilinear cell the position falls in,
x0 = floor(x), i.e. the difference to the next pixel, v(x0 + 1) − v(x0) (the derivative from the right), with
the cell kept inside the image in "border": at the last column (row) it is v(W − 1) − v(W − 2). "border"'s clamp
passes the gradient on the closed interval [0, W − 1] (as torch.clamp's does) and none outside; "zeros" reads the
image continued by zeros, so the last column's derivative is 0 − v(W − 1). Along the other axis the derivative is
interpolated linearly. NaN and (in "zeros") non-finite positions get no gradient.

Coordinates and accumulation use float32 (float64 for float64 inputs); half inputs are computed in float32 and
the result cast back. Correlation never holds more than one row of 2d+1 shifted products of the feature
map at a time (one product when a row would exceed ROW_BUDGET_BYTES).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the math runs in: float64 for float64 inputs, float32 otherwise."""
    return torch.float64 if dtype == torch.float64 else torch.float32


@dataclass
class _Corners:
    """The four bilinear corners of every output pixel: flat indices into H*W, weights and weight derivatives."""

    index: torch.Tensor  # N×4×HW long, corners in order (y0,x0), (y0,x1), (y1,x0), (y1,x1); clamped in range
    weight: torch.Tensor  # N×4×HW, zero for corners that do not contribute
    dweight_dx: torch.Tensor  # N×4×HW, ∂weight/∂(sample x), zero where the position gets no gradient
    dweight_dy: torch.Tensor  # N×4×HW


def _corners(flow: torch.Tensor, height: int, width: int, padding: str) -> _Corners:
    """Sample positions from relative `flow` (N×2×H×W, compute dtype) and their bilinear corners."""
    n = flow.shape[0]
    dtype = flow.dtype
    base_x = torch.arange(width, dtype=dtype, device=flow.device).view(1, 1, width)
    base_y = torch.arange(height, dtype=dtype, device=flow.device).view(1, height, 1)
    x = base_x + flow[:, 0]
    y = base_y + flow[:, 1]
    is_nan = torch.isnan(x) | torch.isnan(y)

    if padding == "border":
        # The clamp's gradient passes inside the closed interval and is zero outside, like torch.clamp's.
        grad_x = (x >= 0) & (x <= width - 1)
        grad_y = (y >= 0) & (y <= height - 1)
        xc = torch.nan_to_num(x, nan=0.0).clamp(0, width - 1)
        yc = torch.nan_to_num(y, nan=0.0).clamp(0, height - 1)
        # Keep x0 ≤ W-2 so that x1 = x0 + 1 is still inside; at the right edge the weight of x1 becomes 1.
        x0 = torch.floor(xc).clamp(max=max(width - 2, 0))
        y0 = torch.floor(yc).clamp(max=max(height - 2, 0))
        wx = xc - x0
        wy = yc - y0
        ok = ~is_nan
        valid = (ok, ok, ok, ok)
        x1 = (x0 + 1).clamp(max=width - 1)
        y1 = (y0 + 1).clamp(max=height - 1)
    else:
        finite = torch.isfinite(x) & torch.isfinite(y)
        grad_x = grad_y = finite
        x0 = torch.floor(x)
        y0 = torch.floor(y)
        # Non-finite positions have no corner inside the image; zero the fractions so no NaN reaches the sums.
        wx = torch.where(finite, x - x0, 0.0)
        wy = torch.where(finite, y - y0, 0.0)
        x1 = x0 + 1
        y1 = y0 + 1
        in_x0 = (x0 >= 0) & (x0 <= width - 1)
        in_x1 = (x1 >= 0) & (x1 <= width - 1)
        in_y0 = (y0 >= 0) & (y0 <= height - 1)
        in_y1 = (y1 >= 0) & (y1 <= height - 1)
        valid = (in_y0 & in_x0, in_y0 & in_x1, in_y1 & in_x0, in_y1 & in_x1)

    def flat_index(yf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        # Clamp before the integer cast: NaN, inf and huge values have no defined integer value.
        xi = torch.nan_to_num(xf, nan=0.0, posinf=0.0, neginf=0.0).clamp(0, max(width - 1, 0)).long()
        yi = torch.nan_to_num(yf, nan=0.0, posinf=0.0, neginf=0.0).clamp(0, max(height - 1, 0)).long()
        return (yi * width + xi).reshape(n, -1)

    index = torch.stack([flat_index(y0, x0), flat_index(y0, x1), flat_index(y1, x0), flat_index(y1, x1)], 1)
    one_x, one_y = 1 - wx, 1 - wy
    zero = torch.zeros((), dtype=dtype, device=flow.device)

    def masked(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, value, zero).reshape(n, -1)

    weight = torch.stack(
        [masked(one_y * one_x, valid[0]), masked(one_y * wx, valid[1]),
         masked(wy * one_x, valid[2]), masked(wy * wx, valid[3])], 1)
    gx = grad_x & ~is_nan
    gy = grad_y & ~is_nan
    dweight_dx = torch.stack(
        [masked(-one_y, valid[0] & gx), masked(one_y, valid[1] & gx),
         masked(-wy, valid[2] & gx), masked(wy, valid[3] & gx)], 1)
    dweight_dy = torch.stack(
        [masked(-one_x, valid[0] & gy), masked(-wx, valid[1] & gy),
         masked(one_x, valid[2] & gy), masked(wx, valid[3] & gy)], 1)
    return _Corners(index, weight, dweight_dx, dweight_dy)


def _gather_corners(image: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """image N×C×H×W, index N×4×HW → N×C×4×HW corner values."""
    n, c, h, w = image.shape
    flat = image.reshape(n, c, h * w)
    picked = torch.gather(flat, 2, index.reshape(n, 1, -1).expand(n, c, index.shape[1] * index.shape[2]))
    return picked.view(n, c, 4, -1)


def warp_forward(image: torch.Tensor, flow: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """Bilinear backward warp (see module contract); returns a tensor with `image`'s shape and dtype."""
    n, c, h, w = image.shape
    cdt = compute_dtype(image.dtype)
    if image.numel() == 0:
        return torch.zeros_like(image, memory_format=torch.contiguous_format)
    corners = _corners(flow.to(cdt), h, w, padding)
    values = _gather_corners(image.to(cdt), corners.index)
    out = (values * corners.weight.unsqueeze(1)).sum(2)
    return out.view(n, c, h, w).to(image.dtype)


def warp_backward(
    grad_output: torch.Tensor, image: torch.Tensor, flow: torch.Tensor, padding: str = "border"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of `warp_forward` w.r.t. `image` and `flow`, in their dtypes."""
    n, c, h, w = image.shape
    cdt = compute_dtype(image.dtype)
    if image.numel() == 0:
        return torch.zeros_like(image), torch.zeros_like(flow)
    corners = _corners(flow.to(cdt), h, w, padding)
    grad = grad_output.to(cdt).reshape(n, c, 1, h * w)
    values = _gather_corners(image.to(cdt), corners.index)
    grad_x = (grad * values * corners.dweight_dx.unsqueeze(1)).sum((1, 2))
    grad_y = (grad * values * corners.dweight_dy.unsqueeze(1)).sum((1, 2))
    grad_flow = torch.stack([grad_x, grad_y], 1).view(n, 2, h, w)
    contributions = (grad * corners.weight.unsqueeze(1)).reshape(n, c, -1)
    grad_image = torch.zeros(n, c, h * w, dtype=cdt, device=image.device)
    grad_image.scatter_add_(2, corners.index.reshape(n, 1, -1).expand(n, c, -1), contributions)
    return grad_image.view(n, c, h, w).to(image.dtype), grad_flow.to(flow.dtype)


# Largest temporary (bytes) the forward may hold for one row of 2d+1 displacements; above it, it goes one
# displacement at a time. Rows cut the number of ops (2d+1)-fold, which dominates on small pyramid levels.
ROW_BUDGET_BYTES = 64 * 2**20


def correlation_forward(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int = 4) -> torch.Tensor:
    """Local cost volume N×(2d+1)²×H×W (see module contract), in the inputs' dtype."""
    n, c, h, w = f0.shape
    d = max_displacement
    k = 2 * d + 1
    cdt = compute_dtype(f0.dtype)
    out = torch.zeros(n, k * k, h, w, dtype=cdt, device=f0.device)
    if out.numel() == 0 or c == 0:
        return out.to(f0.dtype)
    a = f0.to(cdt)
    padded = F.pad(f1.to(cdt), (d, d, d, d))  # the one padded copy; every shift is a view of it
    row_bytes = a.numel() * k * a.element_size()
    for dy in range(k):
        if row_bytes <= ROW_BUDGET_BYTES:
            # All 2d+1 horizontal shifts of this row at once: unfold gives an N×C×H×W×(2d+1) view (no copy).
            band = padded[:, :, dy : dy + h, :].unfold(3, k, 1)
            out[:, dy * k : (dy + 1) * k] = (a.unsqueeze(-1) * band).sum(1).permute(0, 3, 1, 2)
            continue
        for dx in range(k):
            out[:, dy * k + dx] = (a * padded[:, :, dy : dy + h, dx : dx + w]).sum(1)
    return out.div_(c).to(f0.dtype)


def correlation_backward(
    grad_output: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor, max_displacement: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of `correlation_forward` w.r.t. `f0` and `f1`, in their dtypes."""
    n, c, h, w = f0.shape
    d = max_displacement
    k = 2 * d + 1
    cdt = compute_dtype(f0.dtype)
    if f0.numel() == 0:
        return torch.zeros_like(f0), torch.zeros_like(f1)
    a = f0.to(cdt)
    padded = F.pad(f1.to(cdt), (d, d, d, d))
    grad = grad_output.to(cdt) / c
    grad_a = torch.zeros_like(a)
    grad_padded = torch.zeros_like(padded)
    for dy in range(k):
        for dx in range(k):
            g = grad[:, dy * k + dx].unsqueeze(1)
            grad_a.addcmul_(g, padded[:, :, dy : dy + h, dx : dx + w])
            grad_padded[:, :, dy : dy + h, dx : dx + w].addcmul_(g, a)
    grad_b = grad_padded[:, :, d : d + h, d : d + w]
    return grad_a.to(f0.dtype), grad_b.to(f1.dtype).contiguous()
