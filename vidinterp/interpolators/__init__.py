"""Interpolators: the learned model, the classical DIS baseline and the blend behind one interface, and the
factory that picks one."""

from __future__ import annotations

from pathlib import Path

import torch

from vidinterp.errors import VidinterpError
from vidinterp.interpolators.base import Interpolator, PreparedPairs
from vidinterp.interpolators.blend import BlendInterpolator
from vidinterp.interpolators.device import DEVICE_CHOICES, compute_dtype, resolve_device
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
    method: str,
    *,
    model_path: str | Path | None = None,
    device: str | torch.device = "auto",
    fp16: bool = False,
    max_side: int | None = None,
    precision: str | None = None,
) -> Interpolator:
    """Build the interpolator called `method` (one of METHODS) on `device`.

    model_path: weights for "model": a .safetensors file with its JSON config beside it, or a shipped model's
    name ("default", "learned"); None = the shipped default.
    fp16: compute in float16; only on CUDA (CPU half-precision kernels are slow or missing), ignored on the CPU.
    max_side: "model" and "classical" estimate motion on frames shrunk by halves until their longer side is at
    most this (0 = full size; None = the method's default: 1024 for the model, full size for classical).
    precision: the model's precision, "auto" (default; also VIDINTERP_PRECISION), "fp32", "bf16" or "fp16";
    see `vidinterp.interpolators.runtime`.
    """
    check_method(method, model_path)
    resolved = resolve_device(device)
    dtype = compute_dtype(fp16, resolved)
    if method == "blend":
        return BlendInterpolator(resolved, dtype)
    if method == "classical":
        from vidinterp.interpolators.classical import ClassicalInterpolator

        return ClassicalInterpolator(resolved, dtype, max_side=max_side or 0)
    if model_path is not None:
        check_weights_path(Path(model_path))
    # Imported here so the blend path (and `--help`) never pays for loading the model code.
    from vidinterp.interpolators.model import DEFAULT_MAX_SIDE, ModelInterpolator
    from vidinterp.models.io import weights_file

    if model_path is None:
        weights_file(None)  # no shipped weights: its one-line error says what to do

    return ModelInterpolator(model_path=model_path, device=resolved, fp16=fp16, precision=precision,
                             max_side=DEFAULT_MAX_SIDE if max_side is None else max_side)


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
    "compute_dtype",
    "resolve_device",
]
