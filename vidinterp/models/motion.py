"""Bidirectional motion between two keyframes: a classical prior refined by correlation (the default), or a
light coarse-to-fine PWC-Net-style estimator learned from scratch."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidinterp import ops
from vidinterp.models.blocks import NEGATIVE_SLOPE, conv, downsample_flow, small_init_, upsample_flow
from vidinterp.models.config import ModelConfig


class SoftArgmax(nn.Module):
    """Expected displacement under a softmax over a cost volume: a differentiable argmax of the matching cost.

    Input: cost N×(2d+1)²×h×w of cosine similarities in [-1, 1] (channel dy·(2d+1) + dx holds displacement
    (dx − d, dy − d), as `ops.correlation` lays it out). Output: N×2×h×w displacement (x then y) in pixels of
    that level. The sharpness is learned (log-parametrised, so it stays positive); where the cost is flat the
    output is ~0, so textureless regions keep the coarser level's flow.
    """

    def __init__(self, max_displacement: int, sharpness: float = 50.0) -> None:
        super().__init__()
        d = max_displacement
        offsets = torch.arange(-d, d + 1, dtype=torch.float32)
        dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
        offsets = torch.stack([dx.reshape(-1), dy.reshape(-1)]).view(1, 2, -1, 1, 1)
        self.register_buffer("offsets", offsets, persistent=False)
        self.log_sharpness = nn.Parameter(torch.tensor(float(sharpness)).log())

    def forward(self, cost: torch.Tensor) -> torch.Tensor:
        # Softmax in at least fp32: a sharp softmax over fp16 cosines loses the sub-pixel part of the expectation.
        dtype = torch.promote_types(cost.dtype, torch.float32)
        prob = torch.softmax(cost.to(dtype) * self.log_sharpness.exp().to(dtype), dim=1).unsqueeze(1)
        return (prob * self.offsets.to(dtype)).sum(2).to(cost.dtype)


class FlowDecoder(nn.Module):
    """Predicts a flow residual at one pyramid level: soft-argmax of the cost volume plus a learned correction.

    Inputs: cost N×(2d+1)²×h×w (cosine similarities), features N×C×h×w, flow N×2×h×w (pixels of this level,
    x then y). Output: N×2×h×w residual flow in pixels of this level.
    The soft-argmax term gives usable motion from the first step and a direct gradient into the matching
    features; the convolutional correction learns occlusions, smoothness and sub-pixel bias on top of it.
    """

    def __init__(self, soft_argmax: SoftArgmax, max_displacement: int, feature_channels: int, width: int) -> None:
        super().__init__()
        cost_channels = (2 * max_displacement + 1) ** 2
        narrow = max(width * 3 // 4, 2)
        self.soft_argmax = soft_argmax
        self.body = nn.Sequential(conv(cost_channels + feature_channels + 4, width), conv(width, narrow))
        self.head = small_init_(nn.Conv2d(narrow, 2, 3, 1, 1))

    def forward(self, cost: torch.Tensor, features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        matched = self.soft_argmax(cost)
        hidden = self.body(torch.cat([F.leaky_relu(cost, NEGATIVE_SLOPE), features, flow, matched], dim=1))
        return matched + self.head(hidden)


def matching_cost(match: torch.Tensor, flow: torch.Tensor, max_displacement: int, warp: bool = True) -> torch.Tensor:
    """Cosine cost volume of both directions at once, around `flow`.

    match: 2N×C×h×w matching features, sources (frame 0's, then frame 1's); each source's target is the other
    half. flow: 2N×2×h×w current backward flows in pixels of this level (flow_01 then flow_10); the targets are
    warped by it first unless `warp` is False (a zero flow). Returns 2N×(2d+1)²×h×w cosines in [-1, 1].
    """
    n = match.shape[0] // 2
    # Centre on the pair's mean feature, then unit length: the cost becomes a cosine similarity that
    # discriminates from the first step (uncentred ReLU features all point alike, cosines near 1), and
    # whose scale does not drift with training, so the soft-argmax sharpness keeps its meaning.
    pair_mean = match.mean(dim=(2, 3), keepdim=True)
    pair_mean = 0.5 * (pair_mean[:n] + pair_mean[n:])
    match = F.normalize(match - pair_mean.repeat(2, 1, 1, 1), dim=1)
    target = torch.cat([match[n:], match[:n]], dim=0)
    if warp:
        target = ops.backward_warp(target, flow.to(target.dtype))
    # ops.correlation averages over channels; times C gives the plain dot product, i.e. the cosine.
    return ops.correlation(match, target, max_displacement=max_displacement) * match.shape[1]


class PyramidFlowEstimator(nn.Module):
    """Bidirectional flow between two feature pyramids, from the coarsest level down to `first_level`.

    `forward(pyramid0, pyramid1)` takes two encoder pyramids (finest first, level k at stride s = 2**(k+1)) and
    returns (flow_01, flow_10) at `first_level`, N×2×H/s×W/s, in pixels of that level, channel 0 = x, 1 = y.
    This is the pure learned motion path (`ModelConfig.motion_prior = "none"`): no classical estimate.
    flow_01 is the backward flow of frame 0: frame0[y, x] ≈ frame1[y + flow_01_y, x + flow_01_x]; flow_10 likewise.
    At each level the target's unit-length matching features are warped by the upsampled flow, correlated with
    the source's (cosine similarity, search radius `max_displacement` of that level) and a `FlowDecoder` adds
    a residual.
    """

    def __init__(self, matchers: list[nn.Conv2d], decoders: list[FlowDecoder], max_displacement: tuple[int, ...],
                 first_level: int) -> None:
        super().__init__()
        # matchers[i] / decoders[i] serve pyramid level first_level + i
        self.matchers = nn.ModuleList(matchers)
        self.decoders = nn.ModuleList(decoders)
        self.max_displacement = tuple(max_displacement)
        self.first_level = first_level

    @classmethod
    def from_config(cls, config: ModelConfig) -> "PyramidFlowEstimator":
        """One 1×1 matching projection and one decoder per motion level, sized by the config."""
        channels = config.encoder_channels[config.finest_motion_level:]
        matchers = [nn.Conv2d(c, config.matching_channels, 1) for c in channels]
        decoders = [FlowDecoder(SoftArgmax(d), d, c, w)
                    for d, c, w in zip(config.max_displacement, channels, config.flow_decoder_widths)]
        return cls(matchers, decoders, config.max_displacement, config.finest_motion_level)

    @property
    def output_stride(self) -> int:
        """Frame pixels per pixel of the flows it returns (the stride of `first_level`)."""
        return 2 ** (self.first_level + 1)

    def forward(self, pyramid0: list[torch.Tensor], pyramid1: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n = pyramid0[0].shape[0]
        flow = None
        for i in range(len(self.decoders) - 1, -1, -1):
            level = i + self.first_level
            # Both directions in one batch: source = (f0, f1), target = (f1, f0).
            source = torch.cat([pyramid0[level], pyramid1[level]], dim=0)
            if flow is None:
                flow = source.new_zeros(source.shape[0], 2, *source.shape[-2:])
            else:
                flow = upsample_flow(flow, 2)
            cost = matching_cost(self.matchers[i](source), flow, self.max_displacement[i],
                                 warp=i < len(self.decoders) - 1)
            flow = flow + self.decoders[i](cost, source, flow)
        return flow[:n], flow[n:]


class PriorFlowRefiner(nn.Module):
    """Bidirectional flow: a classical prior (DIS) corrected by one correlation level of learned matching.

    `forward(frame0, frame1, pyramid0, pyramid1, prior)` takes the frames (N×3×H×W in [0, 1]), their encoder
    pyramids and the prior's (flow_01, flow_10), N×2×H×W tensors in full-resolution pixels (from
    `vidinterp.execution.prior.DisFlow`: the model is pure torch, so whoever runs it computes the prior, e.g. on
    CPU threads ahead of the GPU), and returns the refined (flow_01, flow_10), N×2×H×W in full-resolution pixels
    (x then y, backward convention as in `PyramidFlowEstimator`).

    At pyramid `level` (stride s) the prior is box-filtered to that level, the targets' matching features are
    warped by it and correlated with the sources' (search radius `max_displacement` pixels of the level, so
    corrections up to ±s·d full-resolution pixels), and a `FlowDecoder` predicts a correction. The correction is
    upsampled and added to the full-resolution prior, so the prior's detail is kept where it is right. The
    correction is scaled by a learned gate that starts at 0: an untrained refiner returns the prior exactly.
    """

    def __init__(self, matcher: nn.Conv2d, decoder: FlowDecoder, max_displacement: int, level: int) -> None:
        super().__init__()
        self.matcher = matcher
        self.decoder = decoder
        self.max_displacement = int(max_displacement)
        self.level = int(level)
        self.gate = nn.Parameter(torch.zeros(()))

    @classmethod
    def from_config(cls, config: ModelConfig) -> "PriorFlowRefiner":
        """Refinement at the config's (single) motion level (its DIS settings are the prior's, not the model's)."""
        level = config.finest_motion_level
        channels, (d,), (width,) = config.encoder_channels[level], config.max_displacement, config.flow_decoder_widths
        return cls(
            nn.Conv2d(channels, config.matching_channels, 1), FlowDecoder(SoftArgmax(d), d, channels, width), d, level,
        )

    def forward(
        self, frame0: torch.Tensor, frame1: torch.Tensor, pyramid0: list[torch.Tensor], pyramid1: list[torch.Tensor],
        prior: tuple[torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = frame0.shape[0]
        flow_01, flow_10 = prior
        full = torch.cat([flow_01, flow_10], dim=0).to(frame0.dtype)
        stride = 2 ** (self.level + 1)
        source = torch.cat([pyramid0[self.level], pyramid1[self.level]], dim=0)
        coarse = downsample_flow(full, stride)
        cost = matching_cost(self.matcher(source), coarse, self.max_displacement)
        correction = self.decoder(cost, source, coarse) * self.gate.to(full.dtype)
        full = full + upsample_flow(correction, stride)
        return full[:n], full[n:]
