"""The full-size render of a frame synthesised on shrunk frames, on the CPU with OpenCV, from the pipeline's
frames as float32 arrays (`ModelInterpolator` on the CPU: no full-size frame becomes a tensor).

`FrameSynthesizer.render` is the reference: upsample the result's flows (rescaled), mask and residual bilinearly
to the full size, backward-warp both full-size frames, blend and add. At 720p it took a third of the model's
time per frame: every step is a separate pass over full-size float tensors, and PyTorch's bilinear upsampling
and grid_sample are general-purpose kernels. OpenCV's `resize` and `remap` do the
same arithmetic in SIMD code for few-channel images; this module composes them, one request at a time.

Both interpolate bilinearly at the same float32 positions (OpenCV's `remap` with float maps on float images
does not round them to its 1/32-pixel tables), so they agree to float rounding: on 720p video within 0.004 of
an 8-bit level. Borders repeat the edge pixels (the reference's "border" padding), and the resize maps pixel
centres like `align_corners=False`. Everything runs in float32, whatever the result's dtype.

The frame is made in bands of `BAND_ROWS` output rows, the bands shared out to a few threads. Done whole, the
render allocated about ten full-size float temporaries per frame (about 100 MB at 720p, 230 MB at 1080p);
fresh pages for them cost as much kernel time as the arithmetic, and they raised the peak memory. A band's
temporaries are a few hundred kB, stay in the caches and are recycled. On 2 cores, with a real 720p and 1080p
frame's flows, the banded render took 0.55-0.75× the whole-frame time over four side-by-side runs (720p 20-29
against 31-45 ms, 1080p 53-90 against 78-126 ms), with identical output (see `_band`).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from vidinterp.execution.frames import opencv, unit_arrays_to_images


def _planes(tensor: torch.Tensor, index: int) -> list[np.ndarray]:
    """The channels of item `index` of an N×C×h×w tensor as contiguous h×w float32 arrays."""
    return list(tensor[index].float().contiguous().numpy())


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) coordinates of every pixel, two H×W float32 arrays (read-only: shared between calls)."""
    columns = np.broadcast_to(np.arange(width, dtype=np.float32), (height, width)).copy()
    rows = np.broadcast_to(np.arange(height, dtype=np.float32)[:, None], (height, width)).copy()
    columns.flags.writeable = rows.flags.writeable = False
    return columns, rows


#: output rows per band (a multiple of the shrink factor is used)
BAND_ROWS = 64


def _band(cv2, rows: slice, factor: int, width: int, full_height: int):
    """Upsampling restricted to the output rows `rows` (whole small rows: multiples of `factor`).

    Returns `up(plane)`: the rows `rows` of `cv2.resize(plane, (width, full_height))`, computed from the
    plane's small rows under the band plus one on either side. Bilinear upsampling by a whole factor reads at
    most one small row past the band's own, and its positions shift with the band (source row = (row + ½) /
    factor − ½), so the band's rows are exactly those of the whole resize.
    """
    small_height = full_height // factor
    first, stop = rows.start // factor, rows.stop // factor
    low, high = max(0, first - 1), min(small_height, stop + 1)
    skip = (first - low) * factor
    size = (width, (high - low) * factor)

    def up(plane: np.ndarray) -> np.ndarray:
        return cv2.resize(plane[low:high], size, interpolation=cv2.INTER_LINEAR)[skip:skip + rows.stop - rows.start]

    return up


@dataclass
class _Request:
    """One request's inputs as OpenCV arrays, and the H×W×3 array its frame is written into."""

    #: (full-size H×W×3 frame, (flow x, flow y) at the small size) for frame 0 and frame 1
    sources: tuple[tuple[np.ndarray, list[np.ndarray]], ...]
    weight: np.ndarray
    detail: np.ndarray
    target: np.ndarray
    columns: np.ndarray
    rows: np.ndarray
    factor: int

    def render(self, cv2, band: slice) -> None:
        """Write the rows `band` of the frame."""
        height, width = self.target.shape[:2]
        up = _band(cv2, band, self.factor, width, height)
        warped = []
        for frame, (flow_x, flow_y) in self.sources:
            # Absolute source positions: factor·flow + pixel grid (scaleAdd is one SIMD pass).
            map_x = cv2.scaleAdd(up(flow_x), float(self.factor), self.columns[band])
            map_y = cv2.scaleAdd(up(flow_y), float(self.factor), self.rows[band])
            warped.append(cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        weight = up(self.weight)
        # blend = mask·warped0 + (1 − mask)·warped1, plus the residual, clamped: `compose`'s arithmetic. OpenCV's
        # blend takes one weight per pixel for all three channels, which tensor broadcasting does slowly here.
        blend = cv2.blendLinear(warped[0], warped[1], weight, cv2.subtract(1.0, weight))
        if self.target.dtype == np.float32:
            out = self.target[band]
            cv2.add(blend, up(self.detail), dst=out)
            np.clip(out, 0.0, 1.0, out=out)
            return
        # An integer frame is rounded band by band (the band's float rows stay in the caches): no full-size float
        # frame is made, 11 MB at 720p and 25 MB at 1080p of peak memory. Same rounding as for a whole frame.
        out = cv2.add(blend, up(self.detail))
        np.clip(out, 0.0, 1.0, out=out)
        self.target[band] = unit_arrays_to_images([out], self.target.dtype)[0]


def render_opencv(frame0: Sequence[np.ndarray], frame1: Sequence[np.ndarray], pair_index: torch.Tensor,
                  flow_t0: torch.Tensor, flow_t1: torch.Tensor, mask: torch.Tensor, residual: torch.Tensor,
                  band_rows: int = BAND_ROWS, pool: ThreadPoolExecutor | None = None,
                  dtype: np.dtype = np.float32) -> list[np.ndarray]:
    """M frames at t, H×W×3 arrays, like `FrameSynthesizer.render` (see the module docstring): float32 clamped to
    [0, 1], or with `dtype` uint8/uint16 the frames rounded as `unit_arrays_to_images` rounds them.

    frame0, frame1: N full-size H×W×3 float32 frames in [0, 1] (N pairs); request j renders pair `pair_index[j]`
    (LongTensor[M]). flow_t0, flow_t1: M×2×h×w flows from t to each frame in pixels of the small size; mask:
    M×1×h×w weight of frame 0; residual: M×3×h×w (already faded by t). H and W must be the same whole multiple
    of h and w. `band_rows`: output rows rendered at a time (rounded down to a multiple of the factor, at least
    one). `pool`: threads the bands are shared out to (None: this thread renders them all). OpenCV releases the
    GIL, and a call made while its own pool is busy runs on the calling thread, so the bands share the cores
    without nested threading.
    """
    cv2 = opencv()
    height, width = frame0[0].shape[:2]
    n = flow_t0.shape[0]
    if pair_index.shape != (n,):
        raise ValueError(f"pair_index must hold one pair per request ({n}), got shape {tuple(pair_index.shape)}")
    factor = width // flow_t0.shape[-1]
    if factor * flow_t0.shape[-1] != width or factor * flow_t0.shape[-2] != height:
        raise ValueError(f"full size {height}×{width} is not a whole multiple of {tuple(flow_t0.shape[-2:])}")
    columns, rows = _pixel_grid(height, width)
    step = max(1, band_rows // factor) * factor
    bands = [slice(top, min(height, top + step)) for top in range(0, height, step)]
    out = []
    for i, pair in enumerate(pair_index.tolist()):
        target = np.empty((height, width, 3), dtype)
        request = _Request(
            sources=((frame0[pair], _planes(flow_t0, i)), (frame1[pair], _planes(flow_t1, i))),
            weight=_planes(mask, i)[0], detail=residual[i].float().permute(1, 2, 0).contiguous().numpy(),
            target=target, columns=columns, rows=rows, factor=factor,
        )
        if pool is None or len(bands) == 1:
            for band in bands:
                request.render(cv2, band)
        else:
            list(pool.map(functools.partial(request.render, cv2), bands))
        out.append(target)
    return out


__all__ = ["BAND_ROWS", "render_opencv"]
