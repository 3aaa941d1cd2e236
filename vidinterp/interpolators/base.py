"""The contract between the retiming pipeline and anything that makes in-between frames.

The pipeline hands an interpolator batches of frame pairs and asks for frames at times t in (0, 1). Work that
depends only on the pair (features, motion) is done once in `prepare`, so asking for several t per pair (factor
4 asks for 1/4, 2/4, 3/4) costs one motion estimate, not three. `vidinterp.execution.loop` is the one loop that
drives it (prepare once, synthesize in chunks) for the API, the pipeline and evaluation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vidinterp.execution.frames import FrameCache, check_frames, to_images, to_tensor, unit_arrays_to_images


class Interpolator(ABC):
    """Makes frames between two frames.

    Frames are the pipeline's: H×W×3 RGB NumPy arrays, uint8, uint16 or float32 in [0, 1] (see
    `vidinterp.execution.frames`), any H and W. `prepare` takes N pairs as two lists; `synthesize` returns one
    frame per request, of the inputs' shape and dtype.

    Implementations compute on tensors: `_load` turns the frames into one N×3×H×W tensor on `self.device`
    (one upload), padded once to `pad_multiple_for` (replicate padding); `_synthesize` returns padded frames
    that are cropped, clamped and rounded once on the way out (`to_images`). An implementation with a faster
    path overrides `_load` and may return full-size float32 H×W×3 arrays in [0, 1] from `_synthesize` instead
    (the model on the CPU: OpenCV on the arrays, only the small frames become tensors).
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
    def prepare(self, images0: Sequence[np.ndarray], images1: Sequence[np.ndarray],
                cache: FrameCache | None = None) -> PreparedPairs:
        """Do the t-independent work for N pairs (images0[i], images1[i]).

        `cache`: a loop's `FrameCache`, so that a frame shared by consecutive calls is converted once."""
        check_frames(images0, images1)
        height, width = images0[0].shape[:2]
        state = self._prepare_frames(list(images0), list(images1), cache or FrameCache())
        return PreparedPairs(state, height, width, len(images0), images0[0].dtype)

    @torch.inference_mode()
    def synthesize(self, prepared: PreparedPairs, pair_index: torch.Tensor, t: torch.Tensor) -> list[np.ndarray]:
        """Frames for M requests: request j is pair `pair_index[j]` at time `t[j]` in (0, 1).

        Returns M H×W×3 frames of the prepared frames' dtype."""
        if pair_index.ndim != 1 or pair_index.shape != t.shape:
            raise ValueError("pair_index and t must be 1-D tensors of the same length")
        pair_index = pair_index.to(self.device, torch.long)
        t = t.to(self.device, torch.float32)
        out = self._synthesize(prepared.state, pair_index, t)
        if isinstance(out, torch.Tensor):
            return to_images(out[..., : prepared.height, : prepared.width], prepared.dtype)
        return unit_arrays_to_images([frame[: prepared.height, : prepared.width] for frame in out], prepared.dtype)

    def interpolate(self, images0: Sequence[np.ndarray], images1: Sequence[np.ndarray],
                    t: torch.Tensor | float) -> list[np.ndarray]:
        """One frame per pair: pair i at time t[i] (or the same t for all)."""
        n = len(images0)
        t = torch.as_tensor(t, dtype=torch.float32).expand(n) if not torch.is_tensor(t) or t.ndim == 0 else t
        return self.synthesize(self.prepare(images0, images1), torch.arange(n), t)

    # -- for implementations ----------------------------------------------------------------------------
    def _prepare_frames(self, images0: list[np.ndarray], images1: list[np.ndarray], cache: FrameCache) -> Any:
        """The frames as padded tensors on the device, through `_prepare`."""
        return self._prepare(self._load(images0, cache), self._load(images1, cache))

    def _load(self, images: list[np.ndarray], cache: FrameCache) -> torch.Tensor:
        """N frames as one padded N×3×H×W tensor in [0, 1] on the device, in `self.dtype` (one upload)."""
        if len(images) == 1:
            frames = cache.get(images[0], lambda image: to_tensor([image], self.device, self.dtype))
        else:
            frames = to_tensor(images, self.device, self.dtype)
            cache.image, cache.converted = images[-1], frames[-1:]
        return pad_to_multiple(frames, self.pad_multiple_for(*frames.shape[-2:]))

    @abstractmethod
    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> Any:
        """t-independent work on padded pairs; returns whatever `_synthesize` needs."""

    @abstractmethod
    def _synthesize(self, state: Any, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor | list[np.ndarray]:
        """Padded M×3×H'×W' frames for the requests (pair_index, t) on the device (or, from an implementation
        that overrides `_load`, M full-size H×W×3 float32 arrays already clamped to [0, 1])."""

    def pad_multiple_for(self, height: int, width: int) -> int:
        """The multiple frames of this size are padded to (`pad_multiple` unless the size changes it)."""
        return self.pad_multiple


def pad_to_multiple(frames: torch.Tensor, multiple: int) -> torch.Tensor:
    """N×C×H×W frames padded at the bottom and right (edge pixels repeated) to whole multiples of `multiple`;
    the frames themselves when they already are."""
    height, width = frames.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return frames
    return F.pad(frames, (0, pad_w, 0, pad_h), mode="replicate")


class PreparedPairs:
    """What `Interpolator.prepare` returns: implementation state plus the size to crop back to and the frames'
    dtype to give back."""

    __slots__ = ("state", "height", "width", "count", "dtype")

    def __init__(self, state: Any, height: int, width: int, count: int, dtype: np.dtype) -> None:
        self.state, self.height, self.width, self.count, self.dtype = state, height, width, count, dtype
