"""Turning the user's --device choice into a torch.device, with errors that say what to do."""

from __future__ import annotations

import torch

from vidinterp.errors import UsageError, VidinterpError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """ "auto" → the first CUDA GPU if there is one, else the CPU; "cpu"; "cuda" or "cuda:N" (must exist)."""
    if isinstance(name, torch.device):
        name = str(name)
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        try:
            device = torch.device(name)
        except RuntimeError:
            raise UsageError(f"cannot read {name!r} as a device; use auto, cpu, cuda or cuda:N") from None
        if not torch.cuda.is_available():
            raise VidinterpError("--device cuda was asked for, but PyTorch sees no CUDA GPU here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise VidinterpError(f"there is no {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        return device
    raise UsageError(f"unknown device {name!r}; choose one of: auto, cpu, cuda, cuda:N")


def compute_dtype(fp16: bool, device: torch.device) -> torch.dtype:
    """float16 when half precision is asked for on CUDA, else float32: CPU half-precision kernels are slow or
    missing, so --fp16 is ignored there."""
    return torch.float16 if fp16 and device.type == "cuda" else torch.float32
