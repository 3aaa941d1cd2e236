"""Tensor-in, tensor-out calls of an `Interpolator` for the tests that build frames as tensors.

Interpolators take and return the pipeline's frames (H×W×3 arrays); these helpers hand them N×3×H×W float
tensors in [0, 1] as float32 frames (`vidinterp.execution.frames`) and stack what comes back."""

from __future__ import annotations

import numpy as np
import torch

from vidinterp.execution.frames import to_tensor


def as_frames(frames: torch.Tensor) -> list[np.ndarray]:
    """N×3×H×W float tensor in [0, 1] → N H×W×3 float32 frames."""
    return list(frames.detach().float().permute(0, 2, 3, 1).contiguous().cpu().numpy())


def as_tensor(images: list[np.ndarray], like: torch.Tensor | None = None) -> torch.Tensor:
    """Frames → N×3×H×W tensor in [0, 1] (on `like`'s device)."""
    device = like.device if like is not None else torch.device("cpu")
    return to_tensor(images, torch.device("cpu")).to(device)


def prepare(interpolator, frame0: torch.Tensor, frame1: torch.Tensor):
    return interpolator.prepare(as_frames(frame0), as_frames(frame1))


def synthesize(interpolator, prepared, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return as_tensor(interpolator.synthesize(prepared, pair_index, t))


def interpolate(interpolator, frame0: torch.Tensor, frame1: torch.Tensor, t) -> torch.Tensor:
    return as_tensor(interpolator.interpolate(as_frames(frame0), as_frames(frame1), t), frame0)


def model_prior(model, frame0: torch.Tensor, frame1: torch.Tensor):
    """The DIS prior flows `model` refines for these frames (None for a model that learns motion from scratch):
    the model is pure torch, its callers compute the prior (`vidinterp.execution.prior`)."""
    from vidinterp.execution.prior import DisFlow

    return DisFlow.for_config(model.config)(frame0, frame1) if model.interpolation.uses_prior else None


def run_model(model, frame0: torch.Tensor, frame1: torch.Tensor, *args, **kwargs):
    """`model(frame0, frame1, ...)` with its prior computed and handed in."""
    return model(frame0, frame1, *args, prior=model_prior(model, frame0, frame1), **kwargs)
