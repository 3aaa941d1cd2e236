"""The classical interpolator: DIS optical flow both ways, Super SloMo's intermediate flows, backward warping of
both frames and a (1 − t, t) blend. No learning; the baseline the default model starts from and must beat."""

from __future__ import annotations

import torch

from vidinterp.interpolators.base import Interpolator
from vidinterp.models.classical import DisFlow
from vidinterp.models.synthesis import compose, intermediate_flows


class ClassicalInterpolator(Interpolator):
    """`--method classical`: motion from OpenCV's DIS (preset `preset`), no model. Any frame size."""

    name = "classical"
    pad_multiple = 1

    def __init__(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 preset: str = "medium", max_side: int = 0) -> None:
        super().__init__(device, dtype)
        self.flow = DisFlow(preset, max_side)

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, ...]:
        flow_01, flow_10 = self.flow(frame0, frame1)
        return frame0, frame1, flow_01.to(frame0.dtype), flow_10.to(frame0.dtype)

    def _synthesize(self, state: tuple[torch.Tensor, ...], pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        frame0, frame1, flow_01, flow_10 = (x.index_select(0, pair_index) for x in state)
        flow_t0, flow_t1 = intermediate_flows(flow_01, flow_10, t)
        weight0 = 1 - t.to(frame0.dtype).view(-1, 1, 1, 1)  # the (1 − t, t) blend, as an untrained model's mask
        return compose(frame0, frame1, flow_t0, flow_t1, weight0, None)[0]
