"""The learned model behind the `Interpolator` interface (`--method model`)."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import torch

from vidinterp.interpolators.base import Interpolator
from vidinterp.models import MotionState, VFIModel, load_model
from vidinterp.models.classical import grey_uint8

log = logging.getLogger(__name__)


class ModelInterpolator(Interpolator):
    """Interpolates with a trained `VFIModel`: one motion estimate per pair, one cheap synthesis per output frame.

    `model_path` names a model saved by `save_model` or a shipped model's name (None = the shipped default).
    `fp16` runs the model in half precision on CUDA; on CPU it is ignored with a warning (CPU half-precision
    convolutions are slower). `model` passes an already built `VFIModel` instead of a path (tests,
    training-time evaluation).

    A model with a classical prior (DIS) computes it on the CPU. On CUDA (`overlap_prior`, default on there) the
    pairs of a batch are taken `PRIOR_CHUNK` at a time: a worker thread computes the prior of the next chunks
    while the GPU refines the current one, so the GPU waits for DIS only on the first chunk. On the CPU both
    would compete for the same cores, so the prior runs inline.
    """

    name = "model"
    #: pairs per chunk when the prior is overlapped with GPU work
    PRIOR_CHUNK = 2

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        device: torch.device | str = "cpu",
        fp16: bool = False,
        model: VFIModel | None = None,
        overlap_prior: bool | None = None,
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
        self.overlap_prior = device.type == "cuda" if overlap_prior is None else overlap_prior
        self._prior_thread: ThreadPoolExecutor | None = None

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> MotionState:
        prior = self.model.interpolation.prior
        if prior is None or not self.overlap_prior:
            return self.model.estimate_motion(frame0, frame1)
        if self._prior_thread is None:
            self._prior_thread = ThreadPoolExecutor(1, thread_name_prefix="vidinterp-prior")
        # The batch's one host sync, before any of its GPU work is queued; DIS itself then needs no device.
        grey0, grey1 = grey_uint8(frame0), grey_uint8(frame1)
        chunks = [slice(i, i + self.PRIOR_CHUNK) for i in range(0, frame0.shape[0], self.PRIOR_CHUNK)]
        futures = [self._prior_thread.submit(prior.from_grey, grey0[c], grey1[c]) for c in chunks]
        states = []
        for chunk, future in zip(chunks, futures):
            flows = tuple(f.to(self.device, self.dtype, non_blocking=True) for f in future.result())
            states.append(self.model.estimate_motion(frame0[chunk], frame1[chunk], prior=flows))
        return MotionState.cat(states)

    def _synthesize(self, state: MotionState, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.model.synthesize(state, pair_index, t.to(self.dtype)).float()
