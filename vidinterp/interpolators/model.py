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

from vidinterp.execution.frames import FrameCache, host_tensor, opencv, to_unit_array
from vidinterp.execution.prior import DisFlow, grey_uint8
from vidinterp.execution.render import render_opencv
from vidinterp.execution.settings import DEFAULT_MAX_SIDE, Settings, build_settings, usable_cores
from vidinterp.interpolators.base import Interpolator, pad_to_multiple
from vidinterp.interpolators.runtime import Runtime, resolve_settings
from vidinterp.models import MotionState, VFIModel, load_model
from vidinterp.models.blocks import shrink_factor
from vidinterp.models.synthesis import FrameSynthesizer


def shrink_frames(frames: torch.Tensor, factor: int) -> torch.Tensor:
    """N×3×H×W frames box-averaged by `factor` (H and W multiples of it): the device path's shrink."""
    return frames if factor == 1 else F.avg_pool2d(frames, factor)


def shrink_image(image: np.ndarray, factor: int) -> np.ndarray:
    """One H×W×3 float32 frame box-averaged by `factor` (H and W multiples of it): the CPU path's shrink,
    OpenCV's INTER_AREA resize (the average of `F.avg_pool2d`, in half its time)."""
    if factor == 1:
        return image
    cv2 = opencv()
    height, width = image.shape[:2]
    return cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)


def _pad_image(image: np.ndarray, multiple: int) -> np.ndarray:
    """An H×W×3 frame padded at the bottom and right (edge pixels repeated) to whole multiples of `multiple`,
    like `pad_to_multiple`; the frame itself when it already is."""
    pad_h, pad_w = (-image.shape[0]) % multiple, (-image.shape[1]) % multiple
    if pad_h == 0 and pad_w == 0:
        return image
    cv2 = opencv()
    return cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)


@dataclass
class _Prepared:
    """A batch's motion (at the network's working size, `factor` times smaller) and its full-size frames, which
    the output is warped from: N×3×H×W tensors on the device, or on the CPU N H×W×3 float32 arrays."""

    motion: MotionState
    frame0: torch.Tensor | list[np.ndarray]
    frame1: torch.Tensor | list[np.ndarray]
    factor: int
    #: the dtype of the frames the pipeline handed in, which the CPU render writes directly
    dtype: np.dtype = np.dtype(np.float32)


log = logging.getLogger(__name__)


class ModelInterpolator(Interpolator):
    """Interpolates with a trained `VFIModel`: one motion estimate per pair, one cheap synthesis per output frame.

    `model_path` names a model saved by `save_model` or a shipped model's name (None = the shipped default).
    `precision` ("auto", "fp32", "bf16", "fp16"; `fp16=True` is "fp16", CUDA only) and the layout/compile
    switches are decided by `resolve_settings`; or pass `settings` (resolved or not) instead of model_path,
    device, fp16, max_side and precision. `model` passes an already
    built `VFIModel` instead of a path (tests, training-time evaluation).

    `max_side`: the network runs on frames shrunk by powers of two until their longer side is at most this (0 =
    never; default `DEFAULT_MAX_SIDE`), like RIFE's `--scale`; its flows, mask and residual are then upsampled
    and applied to the full-size frames, so the output keeps their detail (`FrameSynthesizer.render`, or its
    OpenCV twin `render_opencv` on the CPU: see `Runtime`).

    The path is picked by the device, once: on the CPU the frames stay arrays end to end (one conversion to
    float32, padded to the shrink factor if they must be, OpenCV's shrink and render) and only the small frames
    become tensors for the network; on CUDA the frames are uploaded once and everything after is torch.

    The model is pure torch: the classical prior (DIS) a model refines is computed here (`self.prior`, on the
    small frames, on the CPU) and handed to it. On CUDA (`overlap_prior`, default on there) the
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
        #: the DIS prior the model refines, computed here and handed to it (None: motion learned from scratch)
        self.prior = DisFlow.for_config(model.config) if model.interpolation.uses_prior else None
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
        # network's multiple after shrinking, and the result is cropped back before the full-size render. (Padding
        # at full size took two more full-size copies: 50 MB at 1080p, padded to 1088 rows.)
        return shrink_factor(height, width, self.max_side)

    def _prepare_frames(self, images0: list[np.ndarray], images1: list[np.ndarray], cache: FrameCache) -> _Prepared:
        if self.device.type != "cpu":
            return super()._prepare_frames(images0, images1, cache)  # one upload, torch from there
        # The CPU path: OpenCV on the arrays; only the small frames become tensors, for the network.
        factor = shrink_factor(*images0[0].shape[:2], self.max_side)

        def host(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            full = _pad_image(to_unit_array(image), factor)
            return full, shrink_image(full, factor)

        def load(images: list[np.ndarray]) -> tuple[list[np.ndarray], torch.Tensor]:
            pairs = [cache.get(image, host) for image in images]
            small = self.runtime.frames(host_tensor([small for _, small in pairs]))
            return [full for full, _ in pairs], pad_to_multiple(small, self.pad_multiple)

        (full0, small0), (full1, small1) = load(images0), load(images1)
        with self.runtime.context():
            return _Prepared(self._motion(small0, small1), full0, full1, factor, images0[0].dtype)

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> _Prepared:
        factor = shrink_factor(*frame0.shape[-2:], self.max_side)
        small0, small1 = (pad_to_multiple(self.runtime.frames(shrink_frames(f, factor)), self.pad_multiple)
                          for f in (frame0, frame1))
        with self.runtime.context():
            return _Prepared(self._motion(small0, small1), frame0, frame1, factor)

    def _motion(self, frame0: torch.Tensor, frame1: torch.Tensor) -> MotionState:
        prior = self.prior
        if prior is None:
            return self._estimate_motion(frame0, frame1)
        if not self.overlap_prior:
            return self._estimate_motion(frame0, frame1, prior=prior(frame0, frame1))
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

    def _synthesize(self, state: _Prepared, pair_index: torch.Tensor,
                    t: torch.Tensor) -> torch.Tensor | list[np.ndarray]:
        with self.runtime.context():
            result = self._synthesize_detailed(state.motion, pair_index, t.to(self.dtype))
            if state.factor == 1:
                return result.frame.float()  # padded like the frames; the caller crops
            full0, full1 = state.frame0, state.frame1
            height, width = (full0.shape[-2:] if isinstance(full0, torch.Tensor) else full0[0].shape[:2])
            result = result.crop(height // state.factor, width // state.factor)
            if isinstance(full0, list) and self.runtime.opencv_render:
                return render_opencv(full0, full1, pair_index, result.flow_t0, result.flow_t1,
                                     result.mask, result.residual, pool=self._render_pool(), dtype=state.dtype)
            if isinstance(full0, list):  # VIDINTERP_RENDER=torch on the CPU: the arrays as (channels-last) views
                full0, full1 = host_tensor(full0), host_tensor(full1)
            full0, full1 = full0.index_select(0, pair_index), full1.index_select(0, pair_index)
            return FrameSynthesizer.render(full0, full1, result).float()
