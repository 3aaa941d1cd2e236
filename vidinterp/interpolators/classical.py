"""The classical interpolator: DIS optical flow both ways, Super SloMo's intermediate flows, backward warping of
both frames and a (1 − t, t) blend. No learning; the baseline the default model starts from and must beat."""

from __future__ import annotations

import numpy as np
import torch

from vidinterp.execution.frames import FrameCache, host_tensor, to_unit_array
from vidinterp.execution.prior import DisFlow, grey_images
from vidinterp.interpolators.base import Interpolator
from vidinterp.models.synthesis import compose, intermediate_flows


class ClassicalInterpolator(Interpolator):
    """`--method classical`: motion from OpenCV's DIS (preset `preset`), no model. Any frame size.

    On the CPU the luma DIS needs comes from the frames as float32 arrays through OpenCV; on a GPU from the
    uploaded tensors (`grey_uint8`)."""

    name = "classical"
    pad_multiple = 1

    def __init__(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 preset: str = "medium", max_side: int = 0) -> None:
        super().__init__(device, dtype)
        self.flow = DisFlow(preset, max_side)

    def _prepare_frames(self, images0: list[np.ndarray], images1: list[np.ndarray],
                        cache: FrameCache) -> tuple[torch.Tensor, ...]:
        if self.device.type != "cpu":
            frame0, frame1 = self._load(images0, cache), self._load(images1, cache)
            flow_01, flow_10 = self.flow(frame0, frame1)
        else:  # the frames as float32 arrays once; the tensors are views of them
            units0, units1 = ([cache.get(image, to_unit_array) for image in images] for images in (images0, images1))
            flow_01, flow_10 = self.flow.from_grey(grey_images(units0), grey_images(units1))
            frame0, frame1 = host_tensor(units0).to(self.dtype), host_tensor(units1).to(self.dtype)
        return frame0, frame1, flow_01.to(self.device, frame0.dtype), flow_10.to(self.device, frame0.dtype)

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError("the flow needs the frames as arrays on the CPU (see _prepare_frames)")

    def _synthesize(self, state: tuple[torch.Tensor, ...], pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        frame0, frame1, flow_01, flow_10 = (x.index_select(0, pair_index) for x in state)
        flow_t0, flow_t1 = intermediate_flows(flow_01, flow_10, t)
        weight0 = 1 - t.to(frame0.dtype).view(-1, 1, 1, 1)  # the (1 − t, t) blend, as an untrained model's mask
        return compose(frame0, frame1, flow_t0, flow_t1, weight0, None)[0]
