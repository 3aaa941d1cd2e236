"""Load an interpolator once and make in-between frames of one pair, from NumPy arrays or torch tensors.

Everything goes through `create_interpolator` and the `Interpolator` contract (prepare once per pair,
synthesize per t), so whatever model sits behind that interface is what the API uses.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar, overload

import numpy as np
import torch

from vidinterp.errors import UsageError
from vidinterp.execution.frames import images_tensor, tensor_images
from vidinterp.execution.loop import synthesize_in_chunks
from vidinterp.execution.settings import DEFAULT_DEVICE, Settings, build_settings
from vidinterp.interpolators import Interpolator, create_interpolator
from vidinterp.interpolators.runtime import resolve_settings

Frames = TypeVar("Frames", np.ndarray, torch.Tensor)

_ARRAY_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
_TENSOR_INTEGER_TOPS = {torch.uint8: 255, torch.uint16: 65535}


def _integer_top(dtype: object) -> int | None:
    """Full-scale value of an integer pixel type (255, 65535); None for floats (0..1)."""
    if isinstance(dtype, torch.dtype):
        return _TENSOR_INTEGER_TOPS.get(dtype)
    return int(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else None


#: float frames may stray this far outside 0..1 (rounding in the caller's arithmetic: half an 8-bit level); they
#: are clamped. Anything further out is a mistake such as 0..255 floats, refused rather than turned white.
FLOAT_SLACK = 0.5 / 255


def _as_frames(frame: np.ndarray | torch.Tensor, which: str) -> list[np.ndarray]:
    """A NumPy H×W×3 image or a torch (B×)3×H×W tensor → the interpolators' frames: B H×W×3 arrays, uint8 and
    uint16 as they are, floats as float32 clamped to [0, 1] (a tensor on a GPU comes to the host once)."""
    if isinstance(frame, np.ndarray):
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise UsageError(f"{which} must be an H×W×3 RGB array, got shape {frame.shape}")
        if frame.dtype not in _ARRAY_DTYPES:
            raise UsageError(f"{which} must be uint8, uint16 or float (0..1), got {frame.dtype}")
        batch = frame[None]
    elif isinstance(frame, torch.Tensor):
        if frame.ndim not in (3, 4) or frame.shape[-3] != 3:
            raise UsageError(f"{which} must be a B×3×H×W (or 3×H×W) RGB tensor, got shape {tuple(frame.shape)}")
        if not (frame.is_floating_point() or frame.dtype in _TENSOR_INTEGER_TOPS):
            raise UsageError(f"{which} must be a float (0..1), uint8 or uint16 tensor, got {frame.dtype}")
        if frame.is_meta:
            raise UsageError(f"{which} is on the meta device, which holds no pixel data")
        if frame.layout != torch.strided:
            raise UsageError(f"{which} must be a dense (strided) tensor, got layout {frame.layout}")
        batch = frame if frame.ndim == 4 else frame[None]
    else:
        raise UsageError(f"{which} must be a NumPy array or a torch tensor, got {type(frame).__name__}")
    if 0 in batch.shape[-2:] or (isinstance(frame, np.ndarray) and 0 in frame.shape[:2]):
        height, width = frame.shape[:2] if isinstance(frame, np.ndarray) else batch.shape[-2:]
        raise UsageError(f"{which} is {width}×{height} pixels; frames need at least 1×1")
    if isinstance(frame, torch.Tensor):
        batch = batch.detach()
        if frame.is_floating_point():
            batch = batch.to(torch.float32)
            _check_float_range(batch, which)
            batch = batch.clamp(0, 1)
        return tensor_images(batch)
    if _integer_top(frame.dtype):
        return [np.ascontiguousarray(frame)]
    floats = frame.astype(np.float32)  # a copy: the caller's array is never written through
    _check_float_range(torch.from_numpy(floats), which)
    return [np.clip(floats, 0, 1, out=floats)]


def _check_float_range(batch: torch.Tensor, which: str) -> None:
    """Refuse float frames with NaN or infinity (one NaN pixel spreads through the model to the whole frame) or
    with values outside 0..1 (0..255 floats would come back white), saying what was found."""
    if batch.numel() == 0:
        return
    finite = torch.isfinite(batch)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise UsageError(f"{which} has {bad} NaN or infinite value{'s' if bad > 1 else ''}; float frames must hold "
                         "finite values in 0..1")
    low, high = (float(value) for value in torch.aminmax(batch))
    if low < -FLOAT_SLACK or high > 1 + FLOAT_SLACK:
        hint = " (it looks like 0..255: divide by 255, or pass uint8)" if low >= -FLOAT_SLACK and high <= 255.5 else ""
        raise UsageError(f"{which} holds float values from {low:g} to {high:g}; float frames must be in 0..1{hint}")


def _like(images: list[np.ndarray], original: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """The interpolator's frames (B ≥ 1 H×W×3, uint8/uint16 as the input, float32 for float input) → the
    kind, layout, dtype and device of `original`."""
    if isinstance(original, np.ndarray):
        return images[0].astype(original.dtype, copy=False)
    result = images_tensor(images)
    result = result if original.ndim == 4 else result[0]
    return result.to(device=original.device, dtype=original.dtype)


def _is_number(value: object) -> bool:
    """A real number (Python, NumPy scalar, 0-d array or tensor), but not a bool or a string."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.ndim == 0 and _is_number(value.item())
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _shown(value: object) -> str:
    """A value's repr on one line, cut short (an error message must stay one line whatever was passed)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _times(t: float | Sequence[float]) -> tuple[list[float], bool]:
    """The requested t values and whether one value (not a sequence) was given."""
    expected = "t must be a number in [0, 1] or a list of them"
    single = _is_number(t)
    if single:
        items = [t]
    elif isinstance(t, (np.ndarray, torch.Tensor)) and t.ndim == 1:
        items = list(t)
    elif isinstance(t, Sequence) and not isinstance(t, (str, bytes)):
        items = list(t)
    else:
        raise UsageError(f"{expected}, got {type(t).__name__} {_shown(t)}")
    if not items:
        raise UsageError("give at least one t")
    for item in items:
        if not _is_number(item):
            raise UsageError(f"{expected}, got {type(item).__name__} {_shown(item)} among them")
    values = [float(item) for item in items]
    bad = [value for value in values if not 0 <= value <= 1]  # also refuses NaN
    if bad:
        raise UsageError(f"t must be between 0 and 1 (0 = frame0, 1 = frame1), got {bad[0]}")
    return values, single


class FrameInterpolator:
    """An interpolator loaded once on one device; make frames with `interpolate`, or pass it to `upsample`
    and `evaluate_on` so they reuse it instead of loading their own.

    Create it with `vidinterp.load`. `settings` (resolved) say what was loaded and how it runs; `method` ("model",
    "classical" or "blend"), `device`, `fp16`, `model_path` (None = shipped weights, or a method without weights)
    and `batch_size` are read from them; `interpolator` is the `Interpolator` behind it.
    """

    def __init__(self, interpolator: Interpolator, settings: Settings) -> None:
        self.interpolator = interpolator
        self.settings = resolve_settings(settings)

    @property
    def method(self) -> str:
        return self.settings.method

    @property
    def model_path(self) -> Path | None:
        return self.settings.model

    @property
    def fp16(self) -> bool:
        """Whether the interpolator computes in half precision."""
        return self.settings.fp16

    @property
    def batch_size(self) -> int:
        """Frames synthesized per call when many t are asked for (bounds device memory)."""
        return self.settings.batch_size

    @property
    def device(self) -> torch.device:
        """Where the interpolator computes."""
        return self.interpolator.device

    @overload
    def interpolate(self, frame0: Frames, frame1: Frames, t: float = 0.5) -> Frames: ...

    @overload
    def interpolate(self, frame0: Frames, frame1: Frames, t: Sequence[float]) -> list[Frames]: ...

    def interpolate(self, frame0, frame1, t=0.5):
        """The frame(s) at time `t` between `frame0` (t = 0) and `frame1` (t = 1).

        frame0, frame1: NumPy H×W×3 RGB arrays (uint8, uint16 on 0..65535, or float in 0..1), or torch
            tensors B×3×H×W (or 3×H×W; float in 0..1, uint8 or uint16) on any device. Any size from 1×1:
            padding to the model's multiple happens inside and is cropped off. A batch of 0 pairs gives empty
            results.
        t: one number in [0, 1] (Python or NumPy), or a sequence of them. The pair's motion is estimated once
            for all of them.
        Returns one frame of the same kind, shape, dtype (and device) as `frame0` for a single t, or a list
        with one per t. t = 0 and t = 1 return copies of the inputs exactly.
        Raises UsageError, saying what was found, for anything else: another t, a shape or dtype not listed,
        float frames with NaN or infinity or with values outside 0..1 (0..255 floats: divide by 255 first;
        values within half an 8-bit level of the range are clamped).
        """
        times, single = _times(t)
        if type(frame0) is not type(frame1):
            raise UsageError("frame0 and frame1 must be of the same kind (both NumPy arrays or both tensors)")
        images0, images1 = _as_frames(frame0, "frame0"), _as_frames(frame1, "frame1")
        if tuple(frame0.shape) != tuple(frame1.shape):
            raise UsageError(f"frame0 and frame1 differ in shape: {tuple(frame0.shape)} and {tuple(frame1.shape)}")
        # no frames: t = 0 or 1 (replaced by the inputs below), or a batch of no pairs (empty in, empty out)
        outputs = [_like(images, frame0) if images else frame0[:0] for images in self._synthesize(
            images0, images1, times)]
        for k, value in enumerate(times):  # the ends are the inputs themselves, not the model's guess at them
            if value in (0.0, 1.0):
                source = frame0 if value == 0.0 else frame1
                outputs[k] = source.copy() if isinstance(source, np.ndarray) else source.clone()
        return outputs[0] if single else outputs

    def _synthesize(self, images0: list[np.ndarray], images1: list[np.ndarray],
                    times: list[float]) -> list[list[np.ndarray]]:
        """The frames of every pair at each inner t (`synthesize_in_chunks`: one `prepare`, then chunks of
        `batch_size` requests); an empty list for t = 0 and 1 (the inputs stand in) and for no pairs."""
        pairs = len(images0)
        inner = [value for value in times if 0 < value < 1]
        requests = [(pair, value) for value in inner for pair in range(pairs)]
        made: list[np.ndarray] = []
        if requests:
            for _, images in synthesize_in_chunks(self.interpolator, images0, images1, requests, self.batch_size):
                made.extend(images)
        results, position = [], 0
        for value in times:
            if 0 < value < 1:
                results.append(made[position : position + pairs])
                position += pairs
            else:
                results.append([])
        return results

    def __repr__(self) -> str:
        weights = f", model={str(self.model_path)!r}" if self.model_path is not None else ""
        return f"FrameInterpolator(method={self.method!r}{weights}, device='{self.device}')"


def load(model: str | Path | None = None, *, method: str | None = None, device: str = DEFAULT_DEVICE,
         fp16: bool = False, batch_size: int | None = None, precision: str | None = None, max_side: int | None = None,
         settings: Settings | None = None) -> FrameInterpolator:
    """Load an interpolator once, on one device.

    model: weights saved by `vidinterp train` (.safetensors with its JSON config beside it), or a shipped model's
        name ("default", "learned"); None = the default weights shipped with the package.
    method: "model" (default when weights are installed), "classical" (DIS optical flow and a blend, no weights)
        or "blend" (cross-fade baseline, no weights).
    device: "auto" (the first CUDA GPU if there is one, else the CPU; also None), "cpu", "cuda" or "cuda:N", a
        torch.device, or a GPU's index N as torch takes it (0 = "cuda:0").
    precision: "auto" (None; bf16 on CPUs with AMX, else fp32), "fp32", "bf16" or "fp16" (CUDA only).
        fp16: the same as precision="fp16" (contradicting another precision is an error).
    batch_size: frames per model call (None = the device's default: 1 on the CPU, where bigger batches only cost
        memory, 8 on a GPU). max_side: the model and the classical method work on frames shrunk by halves until
        their longer side is at most this (0 = full size; None = the method's default, 1024 for the model).
    settings: a `vidinterp.execution.settings.Settings` instead of the arguments above (then give none of them).
    Raises VidinterpError (UsageError for bad arguments) with the CLI's one-line messages.
    """
    if settings is None:
        settings = build_settings(method=method, model=model, device=device, fp16=fp16, batch_size=batch_size,
                                  precision=precision, max_side=max_side)
    elif any(value not in (None, False) for value in (model, method, fp16, batch_size, precision, max_side)) or \
            device not in (DEFAULT_DEVICE, None):
        raise UsageError("load() takes either settings or the separate arguments, not both")
    settings = resolve_settings(settings)
    return FrameInterpolator(create_interpolator(settings=settings), settings)
