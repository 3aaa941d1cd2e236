"""The learned model behind the `Interpolator` interface (`--method model`)."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vidinterp.execution.settings import DEFAULT_MAX_SIDE, Settings, build_settings
from vidinterp.interpolators.base import Interpolator, pad_to_multiple
from vidinterp.interpolators.runtime import Runtime, resolve_settings
from vidinterp.models import MotionState, VFIModel, load_model
from vidinterp.models.blocks import shrink_factor
from vidinterp.models.classical import grey_uint8, opencv, opencv_images
from vidinterp.models.render import render_opencv
from vidinterp.models.synthesis import FrameSynthesizer
from vidinterp.pipeline.threads import usable_cores


def shrink_frames(frames: torch.Tensor, factor: int) -> torch.Tensor:
    """N×3×H×W frames box-averaged by `factor` (H and W multiples of it): `F.avg_pool2d`, through OpenCV's
    INTER_AREA resize (the same average, in half the time) for float32 CPU frames laid out channels-last,
    which is how the pipeline's frames arrive. Returns channels-last frames on that path."""
    if factor == 1:
        return frames
    images = opencv_images(frames)
    if images is None:
        return F.avg_pool2d(frames, factor)
    cv2 = opencv()
    size = (frames.shape[-1] // factor, frames.shape[-2] // factor)
    small = np.stack([cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in images])
    return torch.from_numpy(small).permute(0, 3, 1, 2)


@dataclass
class _Prepared:
    """A batch's motion (at the network's working size, `factor` times smaller) and its full-size frames, which
    the output is warped from."""

    motion: MotionState
    frame0: torch.Tensor
    frame1: torch.Tensor
    factor: int

log = logging.getLogger(__name__)


class ModelInterpolator(Interpolator):
    """Interpolates with a trained `VFIModel`: one motion estimate per pair, one cheap synthesis per output frame.

    `model_path` names a model saved by `save_model` or a shipped model's name (None = the shipped default).
    `precision` ("auto", "fp32", "bf16", "fp16"; `fp16=True` is "fp16", CUDA only) and the layout/compile switches are decided by `resolve_settings`; or pass `settings`
    (resolved or not) instead of model_path, device, fp16, max_side and precision. `model` passes an already
    built `VFIModel` instead of a path (tests, training-time evaluation).

    `max_side`: the network runs on frames shrunk by powers of two until their longer side is at most this (0 =
    never; default `DEFAULT_MAX_SIDE`), like RIFE's `--scale`; its flows, mask and residual are then upsampled
    and applied to the full-size frames, so the output keeps their detail (`FrameSynthesizer.render`, or its
    OpenCV twin `render_opencv` on the CPU: see `Runtime`).

    A model with a classical prior (DIS) computes it on the CPU. On CUDA (`overlap_prior`, default on there) the
    pairs of a batch are taken `PRIOR_CHUNK` at a time: worker threads compute the prior of the next chunks
    while the GPU refines the current one, so the GPU waits for DIS only on the first chunk. All chunks of a
    batch are in flight at once and their flows share one pool of as many threads as the host has cores (the
    CPU has nothing else to compute there but decoding and encoding, which run on their own threads); a fixed
    pair of DIS threads starved a fast GPU. `prior_wait_seconds` adds up how long the GPU side waited for DIS.
    On the CPU both would compete for the same cores, so the prior runs inline.
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
        max_side: int = DEFAULT_MAX_SIDE,
        precision: str | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        if settings is None:
            settings = build_settings(method="model", model=model_path, device=device, fp16=fp16, max_side=max_side,
                                      precision=precision)
        self.settings = resolve_settings(settings)
        self.runtime = Runtime.decide(self.settings)
        device = self.settings.device
        super().__init__(device, self.runtime.dtype)
        model = model if model is not None else load_model(self.settings.model, device)
        self.model = self.runtime.prepare(model)
        self.pad_multiple = self.model.pad_multiple
        self._estimate_motion = self.runtime.compiled(self.model.estimate_motion)
        self._synthesize_detailed = self.runtime.compiled(self.model.synthesize_detailed)
        self.overlap_prior = device.type == "cuda" if overlap_prior is None else overlap_prior
        self.max_side = self.settings.max_side
        self._prior_thread: ThreadPoolExecutor | None = None
        self._band_threads: ThreadPoolExecutor | None = None
        #: seconds the device side spent waiting for the overlapped prior (the first chunk of each batch, ideally)
        self.prior_wait_seconds = 0.0

    def pad_multiple_for(self, height: int, width: int) -> int:
        # Full-size frames need only be whole multiples of the shrink factor: the shrunk frames are padded to the
        # network's multiple in `_prepare`, and the result is cropped back before the full-size render. (Padding
        # at full size took two more full-size copies: 50 MB at 1080p, padded to 1088 rows.)
        return shrink_factor(height, width, self.max_side)

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> _Prepared:
        factor = shrink_factor(*frame0.shape[-2:], self.max_side)
        small0, small1 = (pad_to_multiple(self.runtime.frames(shrink_frames(f, factor)), self.pad_multiple)
                          for f in (frame0, frame1))
        with self.runtime.context():
            return _Prepared(self._motion(small0, small1), frame0, frame1, factor)

    def _motion(self, frame0: torch.Tensor, frame1: torch.Tensor) -> MotionState:
        prior = self.model.interpolation.prior
        if prior is None or not self.overlap_prior:
            return self._estimate_motion(frame0, frame1)
        if self._prior_thread is None:
            cores = usable_cores()
            prior.use_threads(cores)  # the flows of every chunk in flight share these
            # Enough chunk workers to keep those threads fed: each chunk has 2 × PRIOR_CHUNK flows.
            workers = max(1, -(-cores // (2 * self.PRIOR_CHUNK)))
            self._prior_thread = ThreadPoolExecutor(workers, thread_name_prefix="vidinterp-prior")
        # The batch's one host sync, before any of its GPU work is queued; DIS itself then needs no device.
        grey0, grey1 = grey_uint8(frame0), grey_uint8(frame1)
        chunks = [slice(i, i + self.PRIOR_CHUNK) for i in range(0, frame0.shape[0], self.PRIOR_CHUNK)]
        futures = [self._prior_thread.submit(prior.from_grey, grey0[c], grey1[c]) for c in chunks]
        states = []
        for chunk, future in zip(chunks, futures):
            start = time.perf_counter()
            computed = future.result()
            self.prior_wait_seconds += time.perf_counter() - start
            flows = tuple(f.to(self.device, self.dtype, non_blocking=True) for f in computed)
            states.append(self._estimate_motion(frame0[chunk], frame1[chunk], prior=flows))
        return MotionState.cat(states)

    def _render_pool(self) -> ThreadPoolExecutor | None:
        """Threads for the CPU render's bands: as many as torch's compute threads when first asked (None for one)."""
        if self._band_threads is None and torch.get_num_threads() > 1:
            self._band_threads = ThreadPoolExecutor(torch.get_num_threads(), thread_name_prefix="vidinterp-render")
        return self._band_threads

    def _synthesize(self, state: _Prepared, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with self.runtime.context():
            result = self._synthesize_detailed(state.motion, pair_index, t.to(self.dtype))
            if state.factor == 1:
                return result.frame.float()  # padded like the frames; the caller crops
            result = result.crop(state.frame0.shape[-2] // state.factor, state.frame0.shape[-1] // state.factor)
            if self.runtime.opencv_render:
                return render_opencv(state.frame0, state.frame1, pair_index, result.flow_t0, result.flow_t1,
                                     result.mask, result.residual, pool=self._render_pool())
            full0, full1 = state.frame0.index_select(0, pair_index), state.frame1.index_select(0, pair_index)
            return FrameSynthesizer.render(full0, full1, result).float()
