"""The learned model behind the `Interpolator` interface (`--method model`)."""

from __future__ import annotations

import logging
import os

import torch

from vidinterp.interpolators.base import Interpolator
from vidinterp.interpolators.runtime import Runtime
from vidinterp.models import MotionState, VFIModel, load_model

log = logging.getLogger(__name__)


class ModelInterpolator(Interpolator):
    """Interpolates with a trained `VFIModel`: one motion estimate per pair, one cheap synthesis per output frame.

    `model_path` names a model saved by `save_model` (None = the shipped default weights). `fp16` runs the model
    in half precision on CUDA; on CPU it is ignored with a warning (CPU half-precision convolutions are slower).
    `model` passes an already built `VFIModel` instead of a path (tests, training-time evaluation).
    `precision` ("auto", "fp32", "bf16", "fp16") and the layout/compile switches are decided by `Runtime`.
    """

    name = "model"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        device: torch.device | str = "cpu",
        fp16: bool = False,
        model: VFIModel | None = None,
        precision: str | None = None,
    ) -> None:
        device = torch.device(device)
        if fp16 and device.type != "cuda":
            log.warning("--fp16 only applies on CUDA; ignored on %s", device.type)
        self.runtime = Runtime.decide(device, precision, fp16)
        super().__init__(device, self.runtime.dtype)
        model = model if model is not None else load_model(model_path, device)
        self.model = self.runtime.prepare(model)
        self.pad_multiple = self.model.pad_multiple
        self._estimate_motion = self.runtime.compiled(self.model.estimate_motion)
        self._synthesize_frames = self.runtime.compiled(self.model.synthesize)

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> MotionState:
        with self.runtime.context():
            return self._estimate_motion(self.runtime.frames(frame0), self.runtime.frames(frame1))

    def _synthesize(self, state: MotionState, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with self.runtime.context():
            return self._synthesize_frames(state, pair_index, t.to(self.dtype)).float()
