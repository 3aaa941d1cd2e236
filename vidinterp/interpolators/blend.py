"""The baseline interpolator: a linear cross-fade, (1 − t)·frame0 + t·frame1. No motion, no model, any size."""

from __future__ import annotations

import torch

from vidinterp.interpolators.base import Interpolator


class BlendInterpolator(Interpolator):
    """Linear mix of the two frames; computes in `self.dtype` (float16 on CUDA with --fp16)."""

    name = "blend"
    pad_multiple = 1

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return frame0, frame1

    def _synthesize(
        self, state: tuple[torch.Tensor, torch.Tensor], pair_index: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        frame0, frame1 = state
        t = t.to(frame0.dtype).view(-1, 1, 1, 1)
        return torch.lerp(frame0[pair_index], frame1[pair_index], t)
