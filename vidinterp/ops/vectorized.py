"""Vectorised PyTorch forward and backward of the ops: the CPU kernels of `torch.ops.vidinterp.*`, the fallback.

They follow the contracts of `vidinterp.ops.reference` (the oracle they are tested against) with two
vectorised formulations:

* Warp: `grid_sample` with the sampling grid computed in float32 (float64 for float64 inputs) whatever the
  storage type. Half-precision grids never reach grid_sample: fp16 cannot hold x = 3800.5, and this torch build's
  CPU kernel crashes on them at 720p. NaN flows are zeroed with a mask. On a GPU it is always applied, so there
  is no host synchronisation (`bool(nan.any())`) in the op; on the CPU only when the flow has a NaN. The
  backward calls grid_sample's backward with an output mask, so it computes only the gradients autograd asks
  for.
* Correlation: batched matrix products. With features channels-last and each row padded to Wq = W + 2d
  columns, flattened pixel i = y·Wq + x reads f1 at i + dy·Wq + dx. Tiles of T consecutive pixels then need one
  (T × C) · (C × (T + 2d)) product per vertical shift dy, whose diagonal band holds the 2d + 1 horizontal
  shifts: (2d + 1) `bmm` calls per image replace the (2d + 1)² products-and-sums of a displacement loop, and the
  backward is two more `bmm`s per shift. The temporary is (T + 2d)/(2d + 1) × one shift row of the output.

1-pixel-wide or -high images (where grid_sample's normalisation divides by zero) use the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vidinterp.ops import reference

#: Pixels per correlation tile: more means fewer, larger products and more wasted columns ((T + 2d)/(2d + 1)).
CORRELATION_TILE = 16
_BILINEAR = 0
_GRID_PADDING = {"zeros": 0, "border": 1}


# -- warp -----------------------------------------------------------------------------------------------------
def _exact_only(image: torch.Tensor) -> bool:
    """Shapes grid_sample's align_corners normalisation cannot express (an axis of one pixel), or empty input."""
    return image.numel() == 0 or min(image.shape[2], image.shape[3]) < 2


def _sampling_grid(flow: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N×H×W×2 normalised grid in the compute dtype, N×1×H×W NaN mask or None) for relative pixel `flow`.

    Positions are normalised as g = x / s − 1 with s = (W − 1)/2, which grid_sample undoes as (g + 1)·s; the
    round trip costs a few float32 ulps of the pixel coordinate (≈1e-3 px at 4K width), far below
    half-precision resolution. Huge values are clipped so the normalisation cannot overflow (far outside is
    far outside in both padding modes; the clip's zero gradient there matches the reference's).
    NaN positions are zeroed and reported in the mask. On the CPU, where asking costs no device
    synchronisation, a flow without NaN (the usual case) skips that work and the mask is None.
    """
    cdt = reference.compute_dtype(flow.dtype)
    flow = flow.to(cdt)
    x = torch.arange(width, dtype=cdt, device=flow.device).view(1, 1, width) + flow[:, 0]
    y = torch.arange(height, dtype=cdt, device=flow.device).view(1, height, 1) + flow[:, 1]
    nan = None
    if flow.device.type != "cpu" or bool(torch.isnan(flow).any()):
        nan = (torch.isnan(x) | torch.isnan(y)).unsqueeze(1)
        x, y = x.nan_to_num(nan=0.0), y.nan_to_num(nan=0.0)
    x = x.clamp(-2.0 * width - 2, 3.0 * width + 2)
    y = y.clamp(-2.0 * height - 2, 3.0 * height + 2)
    grid = torch.stack([x * (2.0 / (width - 1)) - 1.0, y * (2.0 / (height - 1)) - 1.0], dim=-1)
    return grid, nan


def warp_forward(image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
    """Bilinear backward warp (contract of `reference.warp_forward`), N×C×H×W contiguous in `image`'s dtype."""
    if _exact_only(image):
        return reference.warp_forward(image, flow, padding).contiguous()
    h, w = image.shape[2:]
    grid, nan = _sampling_grid(flow, h, w)
    out = torch.grid_sampler_2d(image.to(grid.dtype), grid, _BILINEAR, _GRID_PADDING[padding], True)
    if nan is not None:
        out.masked_fill_(nan, 0.0)
    return out.to(image.dtype).contiguous()


def warp_backward(
    grad_output: torch.Tensor, image: torch.Tensor, flow: torch.Tensor, padding: str, mask: tuple[bool, bool]
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(∂/∂image, ∂/∂flow) of `warp_forward`, each None where `mask` does not ask for it.

    The image gradient is grid_sample's (its weights are continuous in the position, so any rounding of the
    grid costs ulps). The flow gradient is not: grid_sample picks the bilinear cell from a position that went
    through the normalised grid and back, so at integer positions (zero flow, the model's starting state) it
    takes the left or the right difference at random, and it gives the border rows and columns no gradient. It
    follows the one convention of `reference.warp_backward` instead (see `reference` "Gradient convention"),
    with the cell chosen from the exact pixel position (`_flow_gradient`).
    """
    if _exact_only(image):
        grad_image, grad_flow = reference.warp_backward(grad_output, image, flow, padding)
        return (grad_image if mask[0] else None), (grad_flow if mask[1] else None)
    h, w = image.shape[2:]
    grad_image = grad_flow = None
    if mask[0]:
        grid, nan = _sampling_grid(flow, h, w)
        grad = grad_output.to(grid.dtype)
        if nan is not None:
            grad = grad.masked_fill(nan, 0.0)
        grad_image, _ = torch.ops.aten.grid_sampler_2d_backward(
            grad, image.to(grid.dtype), grid, _BILINEAR, _GRID_PADDING[padding], True, [True, False])
        grad_image = grad_image.to(image.dtype).contiguous()
    if mask[1]:
        grad_flow = _flow_gradient(grad_output, image, flow, padding).to(flow.dtype).contiguous()
    return grad_image, grad_flow


#: How far inside its cell a position is moved for the flow gradient: far above the grid round trip's error
#: (≈1e-3 px at 4K in float32), and harmless: the derivative along an axis does not depend on the position
#: within the cell along that axis.
_NUDGE = 1.0 / 64


def _flow_gradient(grad_output: torch.Tensor, image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
    """∂/∂flow (N×2×H×W, compute dtype) under the convention of `reference.warp_backward`.

    ∂/∂x is the x-difference of the position's cell (x0 chosen exactly here), interpolated linearly along y;
    it does not depend on where in the cell x lies. So grid_sample's backward is asked for it at x moved at
    least _NUDGE inside that cell (whichever side the grid's rounding then lands on, it is the same cell) and
    the exact y; and for ∂/∂y the other way round.
    """
    n, c, h, w = image.shape
    cdt = reference.compute_dtype(image.dtype)
    values = image.to(cdt)
    grad = grad_output.to(cdt)
    flow = flow.to(cdt)
    x = torch.arange(w, dtype=cdt, device=flow.device).view(1, 1, w) + flow[:, 0]
    y = torch.arange(h, dtype=cdt, device=flow.device).view(1, h, 1) + flow[:, 1]
    nan = torch.isnan(x) | torch.isnan(y)
    x, y = x.nan_to_num(nan=0.0), y.nan_to_num(nan=0.0)
    if padding == "border":
        # The clamp passes the gradient on the closed interval; the cell stays inside (x0 ≤ W − 2).
        live_x = (x >= 0) & (x <= w - 1) & ~nan
        live_y = (y >= 0) & (y <= h - 1) & ~nan
        x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
        cell_x, cell_y = x.floor().clamp(max=w - 2), y.floor().clamp(max=h - 2)
    else:
        # Far positions are clipped (their cell is outside either way) so the normalisation cannot overflow.
        live_x = live_y = torch.isfinite(x) & torch.isfinite(y) & ~nan
        x = x.nan_to_num(posinf=0.0, neginf=0.0).clamp(-2.0 * w - 2, 3.0 * w + 2)
        y = y.nan_to_num(posinf=0.0, neginf=0.0).clamp(-2.0 * h - 2, 3.0 * h + 2)
        cell_x, cell_y = x.floor(), y.floor()
    inside_x = cell_x + (x - cell_x).clamp(_NUDGE, 1 - _NUDGE)
    inside_y = cell_y + (y - cell_y).clamp(_NUDGE, 1 - _NUDGE)
    # A pixel's grid gradient depends only on its own incoming gradient: NaN positions (parked at 0 above) are
    # zeroed by the live masks below, with no host synchronisation to ask whether there are any.
    scale_x, scale_y = 2.0 / (w - 1), 2.0 / (h - 1)

    def grid_gradient(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
        grid = torch.stack([px * scale_x - 1.0, py * scale_y - 1.0], dim=-1)
        _, grad_grid = torch.ops.aten.grid_sampler_2d_backward(
            grad, values, grid, _BILINEAR, _GRID_PADDING[padding], True, [False, True])
        return grad_grid

    grad_x = (grid_gradient(inside_x, y)[..., 0] * scale_x).masked_fill_(~live_x, 0.0)
    grad_y = (grid_gradient(x, inside_y)[..., 1] * scale_y).masked_fill_(~live_y, 0.0)
    return torch.stack([grad_x, grad_y], 1)


# -- correlation ------------------------------------------------------------------------------------------------
def _rows_flat(features: torch.Tensor, d: int, rows_pad: int, length: int) -> torch.Tensor:
    """N×L×C: channels-last features with every row padded to W + 2d columns (d each side) and `rows_pad` zero
    rows above and below, flattened over (row, column) and zero-extended to `length` pixels."""
    n, c = features.shape[:2]
    padded = F.pad(features, (d, d, rows_pad, rows_pad)).permute(0, 2, 3, 1).reshape(n, -1, c)
    return F.pad(padded, (0, 0, 0, length - padded.shape[1]))


def _layout(h: int, w: int, d: int) -> tuple[int, int, int, int]:
    """(Wq, tile, tiles, length of the padded f1 buffer) of the flattened correlation layout."""
    wq = w + 2 * d
    tile = max(CORRELATION_TILE, 2 * d)  # so the 2d-row tails of consecutive tiles in the backward never overlap
    tiles = -(-h * wq // tile)
    # f1 is read from (tile start) + dy·Wq + (0 … T + 2d − 1) with dy up to 2d, plus the d rows above.
    length = tiles * tile + 2 * d * wq + tile + 2 * d
    return wq, tile, tiles, length


def _f0_tiles(f0: torch.Tensor, d: int, tiles: int, tile: int) -> torch.Tensor:
    """N×J×T×C tiles of f0 in the flattened layout (the first d padding columns dropped: pixel i is y·Wq + x)."""
    n, c = f0.shape[:2]
    flat = F.pad(f0, (0, 2 * d)).permute(0, 2, 3, 1).reshape(n, -1, c)
    return F.pad(flat, (0, 0, 0, tiles * tile - flat.shape[1])).view(n, tiles, tile, c)


def _f1_window(flat: torch.Tensor, image: int, dy: int, wq: int, tiles: int, tile: int, d: int) -> torch.Tensor:
    """J×(T + 2d)×C overlapping view of padded f1 for vertical shift dy (0 … 2d) of one image."""
    c = flat.shape[2]
    plane = flat[image]
    return plane.as_strided((tiles, tile + 2 * d, c), (tile * c, c, 1), plane.storage_offset() + dy * wq * c)


def _band(products: torch.Tensor, tile: int, k: int) -> torch.Tensor:
    """The J×T×(2d + 1) diagonal band [j, t, t + dx] of J×T×(T + 2d) tile products (a view)."""
    j, _, width = products.shape
    return products.as_strided((j, tile, k), (tile * width, width + 1, 1), products.storage_offset())


def correlation_forward(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
    """Cost volume N×(2d+1)²×H×W (contract of `reference.correlation_forward`), contiguous, in the inputs' dtype."""
    n, c, h, w = f0.shape
    d = max_displacement
    k = 2 * d + 1
    cdt = reference.compute_dtype(f0.dtype)
    if n * h * w == 0 or c == 0:
        return torch.zeros(n, k * k, h, w, dtype=f0.dtype, device=f0.device)
    wq, tile, tiles, length = _layout(h, w, d)
    a = _f0_tiles(f0.to(cdt), d, tiles, tile)
    b = _rows_flat(f1.to(cdt), d, d, length)
    out = torch.empty(n, k, k, h, w, dtype=cdt, device=f0.device)
    for image in range(n):
        for dy in range(k):
            products = torch.bmm(a[image], _f1_window(b, image, dy, wq, tiles, tile, d).transpose(1, 2))
            band = _band(products, tile, k).reshape(tiles * tile, k)[: h * wq].view(h, wq, k)[:, :w]
            out[image, dy] = band.permute(2, 0, 1)
    return out.view(n, k * k, h, w).div_(c).to(f0.dtype)


def correlation_backward(
    grad_output: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor, max_displacement: int, mask: tuple[bool, bool]
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(∂/∂f0, ∂/∂f1) of `correlation_forward`, each None where `mask` does not ask for it."""
    n, c, h, w = f0.shape
    d = max_displacement
    k = 2 * d + 1
    cdt = reference.compute_dtype(f0.dtype)
    if n * h * w == 0 or c == 0 or not (mask[0] or mask[1]):
        zeros = [torch.zeros_like(f0, memory_format=torch.contiguous_format), torch.zeros_like(f1)]
        return tuple(z if m else None for z, m in zip(zeros, mask))
    wq, tile, tiles, length = _layout(h, w, d)
    a = _f0_tiles(f0.to(cdt), d, tiles, tile) if mask[1] else None
    b = _rows_flat(f1.to(cdt), d, d, length) if mask[0] else None
    # The incoming gradient in the flattened layout, one J×T×(2d+1) band per dy (junk columns are zero).
    grad = F.pad(grad_output.to(cdt).view(n, k, k, h, w), (0, 2 * d)).permute(0, 1, 3, 4, 2)
    grad = F.pad(grad.reshape(n, k, h * wq, k), (0, 0, 0, tiles * tile - h * wq)).div_(c)
    grad_a = torch.zeros(n, tiles, tile, c, dtype=cdt, device=f0.device) if mask[0] else None
    grad_b = torch.zeros(n, length, c, dtype=cdt, device=f0.device) if mask[1] else None
    banded = torch.zeros(tiles, tile, tile + 2 * d, dtype=cdt, device=f0.device)
    band = _band(banded, tile, k)
    for image in range(n):
        for dy in range(k):
            band.copy_(grad[image, dy].view(tiles, tile, k))
            if grad_a is not None:
                grad_a[image].baddbmm_(banded, _f1_window(b, image, dy, wq, tiles, tile, d))
            if grad_b is not None:
                # Each tile's T + 2d rows overlap the next tile's first 2d: add the two disjoint parts apart.
                scattered = torch.bmm(banded.transpose(1, 2), a[image])
                window = _f1_window(grad_b, image, dy, wq, tiles, tile, d)
                window[:, :tile].add_(scattered[:, :tile])
                plane = grad_b[image]
                offset = plane.storage_offset() + (dy * wq + tile) * c
                tail = plane.as_strided((tiles, 2 * d, c), (tile * c, c, 1), offset)
                tail.add_(scattered[:, tile:])
    grad_f0 = grad_f1 = None
    if grad_a is not None:
        grad_f0 = grad_a.view(n, -1, c)[:, : h * wq].view(n, h, wq, c)[:, :, :w].permute(0, 3, 1, 2)
        grad_f0 = grad_f0.to(f0.dtype).contiguous()
    if grad_b is not None:
        rows = grad_b[:, : (h + 2 * d) * wq].view(n, h + 2 * d, wq, c)[:, d : d + h, d : d + w]
        grad_f1 = rows.permute(0, 3, 1, 2).to(f1.dtype).contiguous()
    return grad_f0, grad_f1
