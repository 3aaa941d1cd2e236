"""Turning the user's --device choice into a torch.device, with errors that say what to do."""

from __future__ import annotations

import torch

from vidinterp.errors import UsageError, VidinterpError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | int | torch.device | None = "auto") -> torch.device:
    """ "auto" (or None) → the first CUDA GPU if there is one, else the CPU; "cpu"; "cuda" or "cuda:N" (must
    exist). From Python also a torch.device, or a GPU's index N as torch takes it (0 = "cuda:0")."""
    if name is None:
        name = "auto"
    elif isinstance(name, torch.device):
        name = str(name)
    elif isinstance(name, int) and not isinstance(name, bool):
        if name < 0:
            raise UsageError(f"a device index must be 0 or more, got {name}")
        name = f"cuda:{name}"
    elif not isinstance(name, str):
        raise UsageError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N', a GPU index or a torch.device, "
                         f"got {type(name).__name__} {' '.join(repr(name).split())[:60]}")
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
            raise VidinterpError(f"--device {name} was asked for, but PyTorch sees no CUDA GPU here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise VidinterpError(f"there is no {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        return device
    raise UsageError(f"unknown device {name!r}; choose one of: auto, cpu, cuda, cuda:N")

