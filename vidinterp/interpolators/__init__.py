"""Interpolators: the blend baseline and the learned model behind one interface, and the factory that picks one."""

from __future__ import annotations

from pathlib import Path

import torch

from vidinterp.errors import UsageError, VidinterpError
from vidinterp.interpolators.base import Interpolator, PreparedPairs
from vidinterp.interpolators.blend import BlendInterpolator
from vidinterp.interpolators.device import DEVICE_CHOICES, resolve_device

#: Names accepted by `create_interpolator` (and --method).
METHODS = ("model", "blend")

#: The weights shipped with the package; the model method uses them when no --model path is given.
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "weights" / "default.safetensors"


def default_method() -> str:
    """"model" when the package ships trained weights, else "blend"."""
    return "model" if DEFAULT_WEIGHTS.is_file() else "blend"


def create_interpolator(
    method: str,
    *,
    model_path: str | Path | None = None,
    device: str | torch.device = "auto",
    fp16: bool = False,
    precision: str | None = None,
) -> Interpolator:
    """Build the interpolator called `method` ("model" or "blend") on `device`.

    model_path: weights for "model" (a .safetensors file with its JSON config beside it); None = shipped weights.
    fp16: compute in float16; only on CUDA (CPU half-precision kernels are slow or missing), ignored on the CPU.
    precision: the model's precision, "auto" (default; also VIDINTERP_PRECISION), "fp32", "bf16" or "fp16";
    see `vidinterp.interpolators.runtime`.
    """
    if method not in METHODS:
        raise UsageError(f"unknown interpolation method {method!r}; choose one of: {', '.join(METHODS)}")
    resolved = resolve_device(device)
    dtype = torch.float16 if fp16 and resolved.type == "cuda" else torch.float32
    if method == "blend":
        if model_path is not None:
            raise UsageError("--model only applies to --method model; the blend method has no weights")
        return BlendInterpolator(resolved, dtype)
    # An explicit path is checked by the loader, which also accepts it without the .safetensors suffix.
    if model_path is None and not DEFAULT_WEIGHTS.is_file():
        raise VidinterpError(
            "this installation ships no trained model weights; pass --model PATH to your own weights "
            "(see `vidinterp train`) or use --method blend"
        )
    # Imported here so the blend path (and `--help`) never pays for loading the model code.
    from vidinterp.interpolators.model import ModelInterpolator

    return ModelInterpolator(model_path=model_path, device=resolved, fp16=fp16, precision=precision)


__all__ = [
    "DEFAULT_WEIGHTS",
    "DEVICE_CHOICES",
    "METHODS",
    "BlendInterpolator",
    "Interpolator",
    "PreparedPairs",
    "create_interpolator",
    "default_method",
    "resolve_device",
]
