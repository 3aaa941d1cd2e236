"""Frame synthesis at time t: intermediate flows, occlusion mask, warping, blending and residual refinement."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidinterp import ops
from vidinterp.models.blocks import (
    NEGATIVE_SLOPE,
    cat_for_conv,
    conv,
    downsample_flow,
    small_init_,
    time_channel,
    upsample,
    upsample_flow,
)

# Keeps the blend prior log((1 - t) / t) finite at t = 0 or 1.
_T_EPSILON = 1e-4


def intermediate_flows(
    flow_01: torch.Tensor, flow_10: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flows from time t back to frames 0 and 1, from the bidirectional keyframe flows (Super SloMo's formula).

    flow_01, flow_10: N×2×h×w backward flows (frame0[p] ≈ frame1[p + flow_01[p]]); t: length-N tensor in [0, 1].
    Returns (flow_t0, flow_t1), N×2×h×w, so that frame_t[p] ≈ frame0[p + flow_t0[p]] ≈ frame1[p + flow_t1[p]].
    For a constant motion v (flow_01 = v, flow_10 = −v) this gives flow_t0 = −t·v and flow_t1 = (1 − t)·v.
    """
    t = t.to(flow_01.dtype).view(-1, 1, 1, 1)
    flow_t0 = -(1 - t) * t * flow_01 + t * t * flow_10
    flow_t1 = (1 - t) * (1 - t) * flow_01 - t * (1 - t) * flow_10
    return flow_t0, flow_t1


class IntermediateFlowRefiner(nn.Module):
    """t-conditioned correction of the intermediate flows plus an occlusion/blend mask, at pyramid level 1 (1/4).

    Inputs: level-1 features of both keyframes N×C×h×w, flow_t0 and flow_t1 N×2×h×w (pixels of level 1), t (N).
    Returns (delta_t0, delta_t1, mask_logit N×1×h×w, hidden N×width×h×w): flow corrections in pixels of level 1.
    The corrections vanish at t = 0 for flow_t0 and at t = 1 for flow_t1, and the mask logit carries the prior
    log((1 − t) / t), so a refiner whose head is zero blends the warped frames with weights (1 − t, t) and
    returns frame 0 exactly at t = 0.
    """

    def __init__(self, feature_channels: int, width: int, head_scale: float = 0.1) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(2 * feature_channels + 5, width), conv(width, width))
        self.head = small_init_(nn.Conv2d(width, 5, 3, 1, 1), scale=head_scale)

    def forward(
        self, features0: torch.Tensor, features1: torch.Tensor, flow_t0: torch.Tensor, flow_t1: torch.Tensor,
        t: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        warped0 = ops.backward_warp(features0, flow_t0)
        warped1 = ops.backward_warp(features1, flow_t1)
        tc = time_channel(t, flow_t0)
        hidden = self.body(torch.cat([warped0, warped1, flow_t0, flow_t1, tc], dim=1))
        out = self.head(hidden)
        tt = tc[:, :, :1, :1]
        tc_safe = tt.clamp(_T_EPSILON, 1 - _T_EPSILON)
        mask_logit = out[:, 4:5] + torch.log((1 - tc_safe) / tc_safe)
        return out[:, 0:2] * tt, out[:, 2:4] * (1 - tt), mask_logit, hidden


class ContextRefiner(nn.Module):
    """Small refinement net at 1/4 resolution with a thin 1/2-resolution output stage; predicts a residual.

    Inputs: `images` N×10×H×W (warped frame 0, warped frame 1, blend, mask) and `hidden` N×hidden×H/4×W/4 from
    the flow refiner. Output: N×3×H×W residual (unbounded; the caller scales, adds and clamps).
    Full-resolution detail enters through a 4×4 stride-4 patch convolution and leaves through pixel shuffles, so
    no convolution runs at full resolution.
    """

    def __init__(self, hidden_channels: int, width: int, half_width: int, head_scale: float = 0.5) -> None:
        super().__init__()
        self.patches = nn.Sequential(nn.Conv2d(10, width, 4, 4), nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True))
        self.body = nn.Sequential(conv(width + hidden_channels, width), conv(width, width))
        self.up = conv(width, 4 * half_width)
        self.head = small_init_(nn.Conv2d(half_width, 4 * 3, 3, 1, 1), scale=head_scale)

    def forward(self, images: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        quarter = self.body(torch.cat([self.patches(images), hidden], dim=1))
        half = F.pixel_shuffle(self.up(quarter), 2)
        return F.pixel_shuffle(self.head(half), 2)


@dataclass
class SynthesisResult:
    """Everything `FrameSynthesizer` computes for one batch of requests (all at the frames' resolution, N = requests).

    frame: N×3×H×W in [0, 1]. flow_t0, flow_t1: N×2×H×W flows from time t to frames 0 and 1 (pixels, x then y).
    mask: N×1×H×W in [0, 1], weight of warped frame 0 in the blend. warped0, warped1, blend: N×3×H×W.
    residual: N×3×H×W, what the refinement adds to the blend (already faded towards the keyframes).
    """

    frame: torch.Tensor
    flow_t0: torch.Tensor
    flow_t1: torch.Tensor
    mask: torch.Tensor
    warped0: torch.Tensor
    warped1: torch.Tensor
    blend: torch.Tensor
    residual: torch.Tensor

    def crop(self, height: int, width: int) -> "SynthesisResult":
        """The top-left height×width of every field (views): the frame's own pixels when it was padded."""
        return SynthesisResult(*(getattr(self, f.name)[..., :height, :width] for f in fields(self)))


def warp_and_blend(frame0: torch.Tensor, frame1: torch.Tensor, flow_t0: torch.Tensor, flow_t1: torch.Tensor,
                   mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(warped0, warped1, blend): both frames warped to t and blended by `mask` (the weight of frame 0)."""
    warped0 = ops.backward_warp(frame0, flow_t0)
    warped1 = ops.backward_warp(frame1, flow_t1)
    return warped0, warped1, warped1 + mask * (warped0 - warped1)


def compose(frame0: torch.Tensor, frame1: torch.Tensor, flow_t0: torch.Tensor, flow_t1: torch.Tensor,
            mask: torch.Tensor, residual: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """(frame, warped0, warped1, blend): warp both frames to t, blend them by `mask`, add `residual`, clamp."""
    warped0, warped1, blend = warp_and_blend(frame0, frame1, flow_t0, flow_t1, mask)
    frame = blend if residual is None else blend + residual
    return frame.clamp(0, 1), warped0, warped1, blend


class FrameSynthesizer(nn.Module):
    """Makes the frame at time t from the keyframes, their level-1 features and their bidirectional flows.

    Intermediate flows come from the full-resolution keyframe flows (Super SloMo's formula); the refiner corrects
    them at level 1 (1/4), and its corrections are upsampled and added, so full-resolution motion detail survives.
    `render` applies a result made on shrunk frames to the full-size frames (see `ModelInterpolator`).
    """

    #: the pyramid level the refiners run at (stride 4); their features must come from this level
    LEVEL = 1
    STRIDE = 2 ** (LEVEL + 1)

    def __init__(self, flow_refiner: IntermediateFlowRefiner, context_refiner: ContextRefiner) -> None:
        super().__init__()
        self.flow_refiner = flow_refiner
        self.context_refiner = context_refiner

    def forward(
        self, frame0: torch.Tensor, frame1: torch.Tensor, features0: torch.Tensor, features1: torch.Tensor,
        flow_01: torch.Tensor, flow_10: torch.Tensor, t: torch.Tensor,
    ) -> SynthesisResult:
        """frames N×3×H×W in [0, 1]; features N×C₁×H/4×W/4 (level 1); flows N×2×H×W (full-resolution pixels); t: N."""
        full_t0, full_t1 = intermediate_flows(flow_01, flow_10, t)
        stride = self.STRIDE
        delta_t0, delta_t1, mask_logit, hidden = self.flow_refiner(
            features0, features1, downsample_flow(full_t0, stride), downsample_flow(full_t1, stride), t)
        full_t0 = full_t0 + upsample_flow(delta_t0, stride)
        full_t1 = full_t1 + upsample_flow(delta_t1, stride)
        mask = torch.sigmoid(upsample(mask_logit, scale_factor=stride))
        warped0, warped1, blend = warp_and_blend(frame0, frame1, full_t0, full_t1, mask)
        residual = self.context_refiner(cat_for_conv([warped0, warped1, blend, mask]), hidden)
        # The residual fades out towards the keyframes, where the warped keyframe itself is the answer.
        tt = t.to(blend.dtype).view(-1, 1, 1, 1)
        residual = residual * (4 * tt * (1 - tt))
        frame = (blend + residual).clamp(0, 1)
        return SynthesisResult(frame, full_t0, full_t1, mask, warped0, warped1, blend, residual)

    @staticmethod
    def render(frame0: torch.Tensor, frame1: torch.Tensor, result: SynthesisResult) -> torch.Tensor:
        """The frame at t for full-size frames (N×3×H×W) from a `result` made on the same frames shrunk by a
        whole factor: flows (rescaled), mask and residual are upsampled bilinearly and the full-size frames are
        warped, so the output keeps their detail although the network ran on fewer pixels."""
        factor = frame0.shape[-1] // result.frame.shape[-1]
        if factor == 1:
            return result.frame
        up = lambda x: upsample(x, size=frame0.shape[-2:])  # noqa: E731
        return compose(frame0, frame1, up(result.flow_t0) * factor, up(result.flow_t1) * factor,
                       up(result.mask), up(result.residual))[0]


__all__ = [
    "intermediate_flows", "warp_and_blend", "compose", "IntermediateFlowRefiner", "ContextRefiner",
    "FrameSynthesizer", "SynthesisResult",
]
