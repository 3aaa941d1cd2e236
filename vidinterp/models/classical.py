"""Classical motion: OpenCV's DIS optical flow, the motion prior that the default model refines.

DIS (Kroeger et al., ECCV 2016: dense inverse search) is a fast patch-based estimator with variational
refinement. On our evaluation sets DIS flow both ways plus a plain blend already beats ffmpeg's minterpolate
and the first learned model, in a fraction of the time, so the default model starts from it and spends its
parameters on what it gets wrong (occlusions, motion boundaries, residual detail).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn

from vidinterp.errors import UsageError
from vidinterp.models.blocks import shrink_factor


@dataclass(frozen=True)
class DisSettings:
    """The DIS parameters that differ between presets (OpenCV's `DISOpticalFlow` setters of the same names);
    patch size 8, mean normalisation, spatial propagation and the refinement weights are OpenCV's defaults."""

    #: the finest pyramid level searched: 0 = full resolution, 1 = half, ...
    finest_scale: int
    #: pixels between the centres of neighbouring patches (cost ∝ 1 / stride²)
    patch_stride: int
    #: inverse-search iterations per patch and level
    gradient_descent_iterations: int
    #: variational refinement iterations per level (0 = none)
    variational_refinement_iterations: int

    def apply(self, dis) -> None:
        """Set these parameters on an OpenCV DIS instance."""
        dis.setFinestScale(self.finest_scale)
        dis.setPatchStride(self.patch_stride)
        dis.setGradientDescentIterations(self.gradient_descent_iterations)
        dis.setVariationalRefinementIterations(self.variational_refinement_iterations)


#: DIS presets by name: OpenCV's three, spelt out (so naming one does not need cv2 imported), and "balanced",
#: the default model's prior. Against "medium" it costs 0.54× the CPU time (640×360, both directions), and
#: the shipped model on it (with full resolution for frames up to QVGA) scores 0.02-0.12 dB higher on every
#: eval set: the refiner after it recovers what fewer iterations and sparser patches lose.
DIS_PRESETS = {
    "ultrafast": DisSettings(2, 4, 12, 0),
    "fast": DisSettings(2, 4, 16, 5),
    "medium": DisSettings(1, 3, 25, 5),
    "balanced": DisSettings(1, 4, 12, 2),
}

#: DIS needs frames with a side of at least this; smaller ones get zero flow
MIN_SIDE = 12

#: ITU-R BT.601 luma weights, what OpenCV's RGB2GRAY uses (DIS works on one grey channel)
_LUMA = (0.299, 0.587, 0.114)


def opencv():
    """The cv2 module, or a UsageError saying how to install it."""
    try:
        import cv2
    except ImportError:  # a core dependency; only a broken install gets here
        raise UsageError("DIS optical flow needs OpenCV: pip install opencv-python-headless") from None
    return cv2


def opencv_images(frames: torch.Tensor) -> np.ndarray | None:
    """N×H×W×3 float32 views of N×3×H×W CPU float32 frames laid out channels-last (the pipeline's layout), which
    OpenCV reads without a copy; None for frames of any other device, dtype or layout."""
    if frames.device.type != "cpu" or frames.dtype != torch.float32 or frames.shape[1] != 3 \
            or not frames.is_contiguous(memory_format=torch.channels_last):
        return None
    return frames.permute(0, 2, 3, 1).numpy()


def check_preset(preset: str) -> str:
    """`preset` if it names a DIS preset, else a UsageError listing them."""
    if preset not in DIS_PRESETS:
        raise UsageError(f"unknown DIS preset {preset!r}; choose one of: {', '.join(DIS_PRESETS)}")
    return preset


def grey_uint8(frames: torch.Tensor) -> np.ndarray:
    """N×3×H×W RGB in [0, 1] (any device, any float dtype) → N×H×W uint8 luma on the host.

    Float32 CPU frames laid out channels-last (the pipeline's) go through OpenCV's RGB2GRAY, ten times faster
    than the tensor arithmetic on that layout; the two round a few pixels to neighbouring levels.
    """
    images = opencv_images(frames)
    if images is not None:
        cv2 = opencv()
        grey = np.empty((frames.shape[0], *frames.shape[2:]), np.uint8)
        for image, out in zip(images, grey):
            # convertScaleAbs rounds and saturates: round(255·luma) clamped to 0…255, as below.
            out[...] = cv2.convertScaleAbs(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), alpha=255.0)
        return grey
    weights = frames.new_tensor(_LUMA, dtype=torch.float32).view(1, 3, 1, 1)
    luma = (frames.float() * weights).sum(1).mul_(255).round_().clamp_(0, 255)
    return luma.to(device="cpu", dtype=torch.uint8).numpy()


class DisFlow(nn.Module):
    """Bidirectional DIS optical flow between frame pairs. No parameters and no gradient: a fixed prior.

    `forward(frame0, frame1)` takes N×3×H×W RGB in [0, 1] and returns (flow_01, flow_10), N×2×H×W float32 on
    the frames' device, in full-resolution pixels, channel 0 = x (right), 1 = y (down), backward-warp
    convention: frame0[p] ≈ frame1[p + flow_01[p]] and frame1[p] ≈ frame0[p + flow_10[p]].

    `max_side`: when a frame's longer side exceeds it, flow is estimated on frames shrunk by a power of two
    until it fits, then upsampled (RIFE's `--scale`). 0 estimates at full resolution. `full_resolution_pixels`:
    frames of at most this many pixels (as estimated) get the preset at finest scale 0 (full resolution): on
    small frames a half-resolution grid is too coarse, and at QVGA full resolution costs less than the preset
    on a 640×360 frame. 0 never does. The 2N flows of a batch run on a small thread pool (OpenCV releases the
    GIL).

    Every flow gets a fresh DIS instance (creating one costs ~15 µs): a reused instance gives different flow on
    its first call than on later ones for small frames, so with reused instances a frame's flow depended on
    which thread had computed what before.
    """

    def __init__(self, preset: str = "medium", max_side: int = 0, threads: int = 2,
                 full_resolution_pixels: int = 0) -> None:
        super().__init__()
        self.preset = check_preset(preset)
        self.max_side = int(max_side)
        self.full_resolution_pixels = int(full_resolution_pixels)
        self.threads = max(1, int(threads))
        self._pool: ThreadPoolExecutor | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_pool"] = None  # per-process: rebuilt on first use
        return state

    def use_threads(self, threads: int) -> None:
        """Run the flows of a call on `threads` threads from now on (the pool is rebuilt at its next use)."""
        threads = max(1, int(threads))
        if threads != self.threads and self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        self.threads = threads

    def extra_repr(self) -> str:
        return f"preset={self.preset!r}, max_side={self.max_side}, full_resolution_pixels={self.full_resolution_pixels}"

    def scale_for(self, height: int, width: int) -> int:
        """The power-of-two factor the frames are shrunk by before DIS (1 = full resolution)."""
        return shrink_factor(height, width, self.max_side)

    def settings_for(self, height: int, width: int) -> DisSettings:
        """The DIS parameters used on frames of this size (after any shrinking by `max_side`)."""
        if height * width <= self.full_resolution_pixels:
            return replace(DIS_PRESETS[self.preset], finest_scale=0)
        return DIS_PRESETS[self.preset]

    @staticmethod
    def _engine(settings: DisSettings):
        cv2 = opencv()
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        settings.apply(dis)
        return dis

    def _flow(self, source: np.ndarray, target: np.ndarray, factor: int) -> np.ndarray:
        cv2 = opencv()
        height, width = source.shape
        if factor > 1:
            size = (max(1, width // factor), max(1, height // factor))
            source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
            target = cv2.resize(target, size, interpolation=cv2.INTER_AREA)
        if max(source.shape) < MIN_SIDE:  # DIS refuses such frames; they are too small to hold motion
            flow = np.zeros((*source.shape, 2), np.float32)
        else:
            flow = self._engine(self.settings_for(*source.shape)).calc(source, target, None)
        if factor > 1:
            # Resize to the exact frame size; values scale by the true ratio on each axis.
            scale_x, scale_y = width / flow.shape[1], height / flow.shape[0]
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= scale_x
            flow[..., 1] *= scale_y
        return flow

    @torch.no_grad()
    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if frame0.shape != frame1.shape or frame0.ndim != 4 or frame0.shape[1] != 3:
            raise ValueError(f"expected two N×3×H×W tensors of one shape, got {tuple(frame0.shape)} and {tuple(frame1.shape)}")
        flow_01, flow_10 = self.from_grey(grey_uint8(frame0), grey_uint8(frame1))
        return flow_01.to(frame0.device), flow_10.to(frame0.device)

    def from_grey(self, grey0: np.ndarray, grey1: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow_01, flow_10) on the host from N×H×W uint8 luma (see `grey_uint8`): the part that needs no
        device, so a caller can run it on a worker thread while the GPU does other work."""
        n, height, width = grey0.shape
        factor = self.scale_for(height, width)
        jobs = [(grey0[i], grey1[i]) for i in range(n)] + [(grey1[i], grey0[i]) for i in range(n)]
        if self.threads > 1 and len(jobs) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="vidinterp-dis")
            flows = list(self._pool.map(lambda job: self._flow(*job, factor), jobs))
        else:
            flows = [self._flow(*job, factor) for job in jobs]
        stacked = torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2)
        return stacked[:n].contiguous(), stacked[n:].contiguous()


__all__ = ["DIS_PRESETS", "DisFlow", "DisSettings", "check_preset", "grey_uint8", "opencv", "opencv_images"]
