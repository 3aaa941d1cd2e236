"""Interpolators: the learned model, the classical DIS baseline and the blend behind one interface, and the
factory that picks one."""

from __future__ import annotations

from pathlib import Path

import torch

from vidinterp.errors import VidinterpError
from vidinterp.execution.settings import Settings, build_settings
from vidinterp.interpolators.base import Interpolator, PreparedPairs
from vidinterp.interpolators.blend import BlendInterpolator
from vidinterp.interpolators.device import DEVICE_CHOICES, resolve_device
from vidinterp.methods import METHODS, check_method


def check_weights_path(path: Path, option: str = "--model") -> None:
    """Refuse a folder or an existing file that is not safetensors with a sentence that says so (the loader, which
    also takes the path without its .safetensors suffix, reports a missing one)."""
    if path.is_dir():
        inside = sorted(path.glob("*.safetensors")) or sorted(path.glob("*/*.safetensors"))
        hint = f", e.g. {inside[0]}" if inside else " (vidinterp train writes RUN_DIR/best/model.safetensors)"
        raise VidinterpError(f"{option} '{path}' is a folder; give the .safetensors weights file{hint}")
    if path.suffix == ".json" or not path.exists():
        return  # `x.json` names the pair x.safetensors + x.json; a missing file is the loader's to report
    try:
        with open(path, "rb") as file:
            head = file.read(9)
    except OSError as exc:
        raise VidinterpError(f"cannot read {option} '{path}': {exc.strerror}") from None
    # safetensors: an 8-byte little-endian header length, then the JSON header
    size = int.from_bytes(head[:8], "little") if len(head) == 9 else 0
    if len(head) < 9 or head[8:9] != b"{" or not 2 <= size <= path.stat().st_size - 8:
        raise VidinterpError(f"{option} '{path}' is not a safetensors weights file (vidinterp train writes them)")


def _ships_default_weights() -> bool:
    # vidinterp.models.io owns the path; imported here so the blend path (and `--help`) skips the model code.
    from vidinterp.models import io as model_io

    return model_io.DEFAULT_WEIGHTS.is_file()


def default_method() -> str:
    """ "model" when the package ships trained weights, else "blend"."""
    return "model" if _ships_default_weights() else "blend"


def create_interpolator(
    method: str | None = None,
    *,
    model_path: str | Path | None = None,
    device: str | torch.device = "auto",
    fp16: bool = False,
    max_side: int | None = None,
    precision: str | None = None,
    settings: Settings | None = None,
) -> Interpolator:
    """Build the interpolator called `method` (one of METHODS; None = `default_method()`) on `device`, or the one
    `settings` describe (then give nothing else).

    model_path: weights for "model": a .safetensors file with its JSON config beside it, or a shipped model's
    name ("default", "learned"); None = the shipped default.
    fp16: the same as precision="fp16" (half precision, CUDA only).
    max_side: "model" and "classical" estimate motion on frames shrunk by halves until their longer side is at
    most this (0 = full size; None = the method's default: 1024 for the model, full size for classical).
    precision: "auto" (default; also VIDINTERP_PRECISION), "fp32", "bf16" or "fp16"; see
    `vidinterp.interpolators.runtime`.
    """
    if settings is None:
        settings = build_settings(method=method, model=model_path, device=device, fp16=fp16, max_side=max_side,
                                  precision=precision)
    elif (method, model_path, device, fp16, max_side, precision) != (None, None, "auto", False, None, None):
        raise TypeError("create_interpolator takes either settings or the separate arguments, not both")
    from vidinterp.interpolators.runtime import resolve_settings, storage_dtype

    settings = resolve_settings(settings)
    if settings.method == "blend":
        return BlendInterpolator(settings.device, storage_dtype(settings.precision))
    if settings.method == "classical":
        from vidinterp.interpolators.classical import ClassicalInterpolator

        return ClassicalInterpolator(settings.device, storage_dtype(settings.precision), max_side=settings.max_side)
    if settings.model is not None:
        check_weights_path(settings.model)
    # Imported here so the blend path (and `--help`) never pays for loading the model code.
    from vidinterp.interpolators.model import ModelInterpolator
    from vidinterp.models.io import weights_file

    if settings.model is None:
        weights_file(None)  # no shipped weights: its one-line error says what to do

    return ModelInterpolator(settings=settings)


__all__ = [
    "DEVICE_CHOICES",
    "METHODS",
    "BlendInterpolator",
    "Interpolator",
    "PreparedPairs",
    "create_interpolator",
    "default_method",
    "check_method",
    "check_weights_path",
    "resolve_device",
]
