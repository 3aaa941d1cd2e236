"""The contract between the retiming pipeline and anything that makes in-between frames.

The pipeline hands an interpolator batches of frame pairs and asks for frames at times t in (0, 1). Work that
depends only on the pair (features, motion) is done once in `prepare`, so asking for several t per pair (factor
4 asks for 1/4, 2/4, 3/4) costs one motion estimate, not three.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
import torch.nn.functional as F


class Interpolator(ABC):
    """Makes frames between two frames.

    Frames are float tensors N×3×H×W, RGB, values in [0, 1], on `self.device`. Any H and W are accepted:
    the base class pads to `pad_multiple` (replicate padding) and crops back.
    """

    #: short name shown in logs and reports ("blend", "model")
    name: str = "interpolator"
    #: H and W are padded up to a multiple of this before `_prepare`
    pad_multiple: int = 1

    def __init__(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.device = torch.device(device)
        self.dtype = dtype

    # -- public API -------------------------------------------------------------------------------------
    @torch.inference_mode()
    def prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> "PreparedPairs":
        """Do the t-independent work for N pairs (frame0[i], frame1[i])."""
        if frame0.shape != frame1.shape or frame0.ndim != 4 or frame0.shape[1] != 3:
            raise ValueError(
                f"expected two N×3×H×W tensors of one shape, got {tuple(frame0.shape)} and {tuple(frame1.shape)}"
            )
        height, width = frame0.shape[-2:]
        frame0 = self._pad(frame0.to(self.device, self.dtype))
        frame1 = self._pad(frame1.to(self.device, self.dtype))
        return PreparedPairs(self._prepare(frame0, frame1), height, width, frame0.shape[0])

    @torch.inference_mode()
    def synthesize(self, prepared: "PreparedPairs", pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Frames for M requests: request j is pair `pair_index[j]` at time `t[j]` in (0, 1).

        Returns M×3×H×W in [0, 1]."""
        if pair_index.ndim != 1 or pair_index.shape != t.shape:
            raise ValueError("pair_index and t must be 1-D tensors of the same length")
        pair_index = pair_index.to(self.device, torch.long)
        t = t.to(self.device, torch.float32)
        out = self._synthesize(prepared.state, pair_index, t)
        return out[..., : prepared.height, : prepared.width].clamp_(0, 1)

    def interpolate(self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """One frame per pair: pair i at time t[i] (or the same t for all)."""
        n = frame0.shape[0]
        t = torch.as_tensor(t, dtype=torch.float32).expand(n) if not torch.is_tensor(t) or t.ndim == 0 else t
        return self.synthesize(self.prepare(frame0, frame1), torch.arange(n), t)

    # -- for implementations ----------------------------------------------------------------------------
    @abstractmethod
    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> Any:
        """t-independent work on padded pairs; returns whatever `_synthesize` needs."""

    @abstractmethod
    def _synthesize(self, state: Any, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Padded M×3×H'×W' frames for the requests (pair_index, t) on the device."""

    def pad_multiple_for(self, height: int, width: int) -> int:
        """The multiple frames of this size are padded to (`pad_multiple` unless the size changes it)."""
        return self.pad_multiple

    def _pad(self, frames: torch.Tensor) -> torch.Tensor:
        return pad_to_multiple(frames, self.pad_multiple_for(*frames.shape[-2:]))


def pad_to_multiple(frames: torch.Tensor, multiple: int) -> torch.Tensor:
    """N×C×H×W frames padded at the bottom and right (edge pixels repeated) to whole multiples of `multiple`;
    the frames themselves when they already are."""
    height, width = frames.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return frames
    return F.pad(frames, (0, pad_w, 0, pad_h), mode="replicate")


class PreparedPairs:
    """What `Interpolator.prepare` returns: implementation state plus the size to crop back to."""

    __slots__ = ("state", "height", "width", "count")

    def __init__(self, state: Any, height: int, width: int, count: int) -> None:
        self.state, self.height, self.width, self.count = state, height, width, count
