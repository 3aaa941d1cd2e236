"""The learned model behind the `Interpolator` interface (`--method model`)."""

from __future__ import annotations

import logging
import os

import torch

from vidinterp.interpolators.base import Interpolator
from vidinterp.models import MotionState, VFIModel, load_model

log = logging.getLogger(__name__)


class ModelInterpolator(Interpolator):
    """Interpolates with a trained `VFIModel`: one motion estimate per pair, one cheap synthesis per output frame.

    `model_path` names a model saved by `save_model` (None = the shipped default weights). `fp16` runs the model
    in half precision on CUDA; on CPU it is ignored with a warning (CPU half-precision convolutions are slower).
    `model` passes an already built `VFIModel` instead of a path (tests, training-time evaluation).
    """

    name = "model"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        device: torch.device | str = "cpu",
        fp16: bool = False,
        model: VFIModel | None = None,
    ) -> None:
        device = torch.device(device)
        dtype = torch.float32
        if fp16:
            if device.type == "cuda":
                dtype = torch.float16
            else:
                log.warning("--fp16 only applies on CUDA; running the model in float32 on %s", device.type)
        super().__init__(device, dtype)
        model = model if model is not None else load_model(model_path, device)
        self.model = model.to(device=device, dtype=dtype).eval()
        self.pad_multiple = self.model.pad_multiple

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> MotionState:
        return self.model.estimate_motion(frame0, frame1)

    def _synthesize(self, state: MotionState, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.model.synthesize(state, pair_index, t.to(self.dtype)).float()
