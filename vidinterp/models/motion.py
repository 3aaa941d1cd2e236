"""Coarse-to-fine bidirectional motion estimation between two keyframes (PWC-Net style, very light)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidinterp import ops
from vidinterp.models.blocks import NEGATIVE_SLOPE, conv, small_init_, upsample_flow
from vidinterp.models.config import ModelConfig

#: the finest pyramid level on which motion is estimated (stride 8); finer levels serve synthesis only
FINEST_MOTION_LEVEL = 2


class FlowDecoder(nn.Module):
    """Predicts a flow residual at one pyramid level from a cost volume, the source features and the current flow.

    Inputs: cost N×(2d+1)²×h×w, features N×C×h×w, flow N×2×h×w (pixels of this level, x then y).
    Output: N×2×h×w residual flow in pixels of this level.
    """

    def __init__(self, max_displacement: int, feature_channels: int, width: int) -> None:
        super().__init__()
        cost_channels = (2 * max_displacement + 1) ** 2
        narrow = max(width * 3 // 4, 2)
        self.body = nn.Sequential(conv(cost_channels + feature_channels + 2, width), conv(width, narrow))
        self.head = small_init_(nn.Conv2d(narrow, 2, 3, 1, 1))

    def forward(self, cost: torch.Tensor, features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(torch.cat([cost, features, flow], dim=1)))


class PyramidFlowEstimator(nn.Module):
    """Bidirectional flow between two feature pyramids, from the coarsest level down to level 2 (stride 8).

    `forward(pyramid0, pyramid1)` takes two encoder pyramids (finest first, level k at stride 2**(k+1)) and
    returns (flow_01, flow_10) at level 2, N×2×H/8×W/8, in pixels of level 2, channel 0 = x, 1 = y.
    flow_01 is the backward flow of frame 0: frame0[y, x] ≈ frame1[y + flow_01_y, x + flow_01_x]; flow_10 likewise.
    At each level the target's matching features are warped by the upsampled flow, correlated with the
    source's (search radius `max_displacement` of that level) and a `FlowDecoder` adds a residual.
    """

    def __init__(self, matchers: list[nn.Conv2d], decoders: list[FlowDecoder], max_displacement: tuple[int, ...]) -> None:
        super().__init__()
        # matchers[i] / decoders[i] serve pyramid level i + FINEST_MOTION_LEVEL
        self.matchers = nn.ModuleList(matchers)
        self.decoders = nn.ModuleList(decoders)
        self.max_displacement = tuple(max_displacement)

    @classmethod
    def from_config(cls, config: ModelConfig) -> "PyramidFlowEstimator":
        """One 1×1 matching projection and one decoder per motion level, sized by the config."""
        channels = config.encoder_channels[FINEST_MOTION_LEVEL:]
        matchers = [nn.Conv2d(c, config.matching_channels, 1) for c in channels]
        decoders = [FlowDecoder(d, c, w) for d, c, w in zip(config.max_displacement, channels, config.flow_decoder_widths)]
        return cls(matchers, decoders, config.max_displacement)

    def forward(self, pyramid0: list[torch.Tensor], pyramid1: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n = pyramid0[0].shape[0]
        flow = None
        for i in range(len(self.decoders) - 1, -1, -1):
            level = i + FINEST_MOTION_LEVEL
            # Both directions in one batch: source = (f0, f1), target = (f1, f0).
            source = torch.cat([pyramid0[level], pyramid1[level]], dim=0)
            match = self.matchers[i](source)
            target = torch.cat([match[n:], match[:n]], dim=0)
            if flow is None:
                flow = source.new_zeros(source.shape[0], 2, *source.shape[-2:])
            else:
                flow = upsample_flow(flow, 2)
                target = ops.backward_warp(target, flow)
            cost = F.leaky_relu(ops.correlation(match, target, max_displacement=self.max_displacement[i]), NEGATIVE_SLOPE)
            flow = flow + self.decoders[i](cost, source, flow)
        return flow[:n], flow[n:]
