"""The classical motion prior: OpenCV's DIS optical flow, which the default model refines.

DIS (Kroeger et al., ECCV 2016: dense inverse search) is a fast patch-based estimator with variational
refinement. On our evaluation sets DIS flow both ways plus a plain blend already beats ffmpeg's minterpolate
and the first learned model, in a fraction of the time, so the default model starts from it and spends its
parameters on what it gets wrong (occlusions, motion boundaries, residual detail).

The model itself is pure torch: it takes the prior flows as tensors (`VFIModel.estimate_motion(..., prior=)`),
and whoever runs it computes them here (`DisFlow.for_config`): the interpolators, training, evaluation.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch

from vidinterp.errors import UsageError
from vidinterp.execution.frames import opencv
from vidinterp.models.blocks import shrink_factor
from vidinterp.models.config import PRIOR_PRESETS, ModelConfig


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


#: DIS presets by name (`models.config.PRIOR_PRESETS`): OpenCV's three, spelt out (so naming one does not need
#: cv2 imported), and "balanced", the default model's prior. Against "medium" it costs 0.54× the CPU time
#: (640×360, both directions), and the shipped model on it (with full resolution for frames up to QVGA) scores
#: 0.02-0.12 dB higher on every eval set: the refiner after it recovers what fewer iterations and sparser
#: patches lose.
DIS_PRESETS = dict(zip(PRIOR_PRESETS, (
    DisSettings(2, 4, 12, 0),  # ultrafast
    DisSettings(2, 4, 16, 5),  # fast
    DisSettings(1, 3, 25, 5),  # medium
    DisSettings(1, 4, 12, 2),  # balanced
)))

#: DIS needs frames with a side of at least this; smaller ones get zero flow
MIN_SIDE = 12

#: ITU-R BT.601 luma weights, what OpenCV's RGB2GRAY uses (DIS works on one grey channel)
_LUMA = (0.299, 0.587, 0.114)


def check_preset(preset: str) -> str:
    """`preset` if it names a DIS preset, else a UsageError listing them."""
    if preset not in DIS_PRESETS:
        raise UsageError(f"unknown DIS preset {preset!r}; choose one of: {', '.join(DIS_PRESETS)}")
    return preset


def grey_uint8(frames: torch.Tensor) -> np.ndarray:
    """N×3×H×W RGB in [0, 1] (any device, any float dtype, any layout) → N×H×W uint8 luma on the host:
    round(255·luma), clamped to 0…255."""
    weights = frames.new_tensor(_LUMA, dtype=torch.float32).view(1, 3, 1, 1)
    luma = (frames.float() * weights).sum(1).mul_(255).round_().clamp_(0, 255)
    return luma.to(device="cpu", dtype=torch.uint8).numpy()


def grey_images(images: list[np.ndarray]) -> np.ndarray:
    """N H×W×3 float32 RGB frames in [0, 1] → N×H×W uint8 luma through OpenCV's RGB2GRAY (ten times faster
    than `grey_uint8` on the arrays the CPU path holds; the two round a few pixels to neighbouring levels)."""
    cv2 = opencv()
    grey = np.empty((len(images), *images[0].shape[:2]), np.uint8)
    for image, out in zip(images, grey):
        # convertScaleAbs rounds and saturates: round(255·luma) clamped to 0…255, as `grey_uint8`.
        out[...] = cv2.convertScaleAbs(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), alpha=255.0)
    return grey


class DisFlow:
    """Bidirectional DIS optical flow between frame pairs: a fixed prior, no parameters, no gradient.

    `DisFlow()(frame0, frame1)` takes N×3×H×W RGB in [0, 1] and returns (flow_01, flow_10), N×2×H×W float32 on
    the frames' device, in full-resolution pixels, channel 0 = x (right), 1 = y (down), backward-warp
    convention: frame0[p] ≈ frame1[p + flow_01[p]] and frame1[p] ≈ frame0[p + flow_10[p]]. `from_grey` takes
    the luma the caller already has (`grey_uint8`, `grey_images`).

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
        self.preset = check_preset(preset)
        self.max_side = int(max_side)
        self.full_resolution_pixels = int(full_resolution_pixels)
        self.threads = max(1, int(threads))
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def for_config(cls, config: ModelConfig | None) -> DisFlow | None:
        """The prior a model of this config refines (None for a model that learns motion from scratch)."""
        config = config or ModelConfig()
        if config.motion_prior != "dis":
            return None
        return cls(config.prior_preset, config.prior_max_side,
                   full_resolution_pixels=config.prior_full_resolution_pixels)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_pool"] = None  # per-process: rebuilt on first use
        return state

    def __repr__(self) -> str:
        return (f"DisFlow(preset={self.preset!r}, max_side={self.max_side}, "
                f"full_resolution_pixels={self.full_resolution_pixels})")

    def use_threads(self, threads: int) -> None:
        """Run the flows of a call on `threads` threads from now on (the pool is rebuilt at its next use)."""
        threads = max(1, int(threads))
        if threads != self.threads and self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        self.threads = threads

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
    def __call__(self, frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if frame0.shape != frame1.shape or frame0.ndim != 4 or frame0.shape[1] != 3:
            raise ValueError(f"expected two N×3×H×W tensors of one shape, got {tuple(frame0.shape)} and "
                             f"{tuple(frame1.shape)}")
        flow_01, flow_10 = self.from_grey(grey_uint8(frame0), grey_uint8(frame1))
        return flow_01.to(frame0.device), flow_10.to(frame0.device)

    def from_grey(self, grey0: np.ndarray, grey1: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow_01, flow_10) on the host from N×H×W uint8 luma: the part that needs no device, so a caller can
        run it on a worker thread while the GPU does other work."""
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


__all__ = ["DIS_PRESETS", "MIN_SIDE", "DisFlow", "DisSettings", "check_preset", "grey_images", "grey_uint8"]
