"""The complete interpolation model: keyframe autoencoder + motion estimation + synthesis at any t."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from vidinterp.models.autoencoder import KeyframeAutoencoder
from vidinterp.models.blocks import upsample_flow
from vidinterp.models.config import ModelConfig
from vidinterp.models.motion import PyramidFlowEstimator
from vidinterp.models.synthesis import ContextRefiner, FrameSynthesizer, IntermediateFlowRefiner, SynthesisResult


class InterpolationModule(nn.Module):
    """Motion between two keyframes (t-independent) and synthesis of the frame at any t in [0, 1]."""

    def __init__(self, flow_estimator: PyramidFlowEstimator, synthesizer: FrameSynthesizer) -> None:
        super().__init__()
        self.flow_estimator = flow_estimator
        self.synthesizer = synthesizer

    @classmethod
    def from_config(cls, config: ModelConfig) -> "InterpolationModule":
        """Build the flow estimator and the synthesizer from a `ModelConfig`."""
        synthesizer = FrameSynthesizer(
            IntermediateFlowRefiner(config.encoder_channels[1], config.intermediate_width),
            ContextRefiner(config.intermediate_width, config.context_width, config.context_half_width),
            flow_level=config.finest_motion_level,
        )
        return cls(PyramidFlowEstimator.from_config(config), synthesizer)

    def estimate_motion(self, pyramid0: list[torch.Tensor], pyramid1: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow_01, flow_10) at the finest motion level (pixels of that level); see `PyramidFlowEstimator`."""
        return self.flow_estimator(pyramid0, pyramid1)

    def synthesize(self, frame0, frame1, features0, features1, flow_01, flow_10, t) -> SynthesisResult:
        """Frame at time t; see `FrameSynthesizer.forward` for the contract."""
        return self.synthesizer(frame0, frame1, features0, features1, flow_01, flow_10, t)


@dataclass
class MotionState:
    """The t-independent part of interpolating N pairs (what `VFIModel.estimate_motion` returns).

    frame0, frame1: N×3×H×W in [0, 1]. features0, features1: N×C₁×H/4×W/4 encoder features of level 1.
    flow_01, flow_10: N×2×h×w bidirectional backward flows at the finest motion level, in pixels of that level
    (x then y; h = H/8 when motion ends at level 2, H/4 when it ends at level 1).
    """

    frame0: torch.Tensor
    frame1: torch.Tensor
    features0: torch.Tensor
    features1: torch.Tensor
    flow_01: torch.Tensor
    flow_10: torch.Tensor

    def select(self, index: torch.Tensor) -> "MotionState":
        """The state of pairs `index` (a LongTensor), repeated as often as they appear."""
        pick = lambda x: x.index_select(0, index)  # noqa: E731
        return MotionState(
            pick(self.frame0), pick(self.frame1), pick(self.features0), pick(self.features1),
            pick(self.flow_01), pick(self.flow_10),
        )


@dataclass
class InterpolationOutput:
    """What the training forward returns (B = batch size, full resolution H×W).

    frame: B×3×H×W in [0, 1], the frame at time t. recon0, recon1: B×3×H×W keyframe reconstructions from the
    latent (None when not requested). flow_t0, flow_t1: B×2×H×W flows from time t to frames 0 and 1.
    flow_01, flow_10: B×2×H×W bidirectional keyframe flows (upsampled from the finest motion level). mask: B×1×H×W weight of
    warped frame 0. warped0, warped1, blend: B×3×H×W intermediate images (for losses and visualisation).
    Flows are in full-resolution pixels, channel 0 = x (right), 1 = y (down), backward-warp convention.
    """

    frame: torch.Tensor
    recon0: torch.Tensor | None
    recon1: torch.Tensor | None
    flow_t0: torch.Tensor
    flow_t1: torch.Tensor
    flow_01: torch.Tensor
    flow_10: torch.Tensor
    mask: torch.Tensor
    warped0: torch.Tensor
    warped1: torch.Tensor
    blend: torch.Tensor


class VFIModel(nn.Module):
    """Video frame interpolation model: `VFIModel(autoencoder, interpolation)`.

    Frames are B×3×H×W RGB in [0, 1] with H and W multiples of `pad_multiple`; t is in [0, 1] (a float, or one
    value per sample). Output frames are in [0, 1].
    """

    def __init__(self, autoencoder: KeyframeAutoencoder, interpolation: InterpolationModule, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.autoencoder = autoencoder
        self.interpolation = interpolation
        #: the config the model was built from (saved next to the weights); None for hand-assembled models
        self.config = config

    @classmethod
    def from_config(cls, config: ModelConfig | None = None) -> "VFIModel":
        """Build a freshly initialised model (default: the light CPU config)."""
        config = config or ModelConfig()
        return cls(KeyframeAutoencoder.from_config(config), InterpolationModule.from_config(config), config)

    @property
    def pad_multiple(self) -> int:
        """H and W must be multiples of this: the stride of the coarsest pyramid level."""
        return 2 ** len(self.autoencoder.encoder.stages)

    def _check_frames(self, frame0: torch.Tensor, frame1: torch.Tensor) -> None:
        if frame0.shape != frame1.shape or frame0.ndim != 4 or frame0.shape[1] != 3:
            raise ValueError(f"expected two B×3×H×W tensors of one shape, got {tuple(frame0.shape)} and {tuple(frame1.shape)}")
        m = self.pad_multiple
        if frame0.shape[-2] % m or frame0.shape[-1] % m:
            raise ValueError(f"frame height and width must be multiples of {m}, got {tuple(frame0.shape[-2:])}")

    @staticmethod
    def _times(t: torch.Tensor | float, count: int, like: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
        if t.ndim == 0:
            t = t.expand(count)
        if t.shape != (count,):
            raise ValueError(f"t must be a scalar or have one value per sample ({count}), got shape {tuple(t.shape)}")
        return t

    def estimate_motion(self, frame0: torch.Tensor, frame1: torch.Tensor) -> MotionState:
        """Encode both keyframes and estimate their bidirectional motion (everything that does not depend on t)."""
        self._check_frames(frame0, frame1)
        n = frame0.shape[0]
        pyramid = self.autoencoder.encode(torch.cat([frame0, frame1], dim=0))
        pyramid0, pyramid1 = [f[:n] for f in pyramid], [f[n:] for f in pyramid]
        flow_01, flow_10 = self.interpolation.estimate_motion(pyramid0, pyramid1)
        return MotionState(frame0, frame1, pyramid0[1], pyramid1[1], flow_01, flow_10)

    def synthesize_detailed(self, state: MotionState, pair_index: torch.Tensor, t: torch.Tensor) -> SynthesisResult:
        """Like `synthesize`, with the intermediate flows, mask and warped frames too."""
        if pair_index.ndim != 1 or t.shape != pair_index.shape:
            raise ValueError("pair_index and t must be 1-D tensors of the same length")
        s = state.select(pair_index.to(state.frame0.device, torch.long))
        t = t.to(s.frame0.device, s.frame0.dtype)
        return self.interpolation.synthesize(s.frame0, s.frame1, s.features0, s.features1, s.flow_01, s.flow_10, t)

    def synthesize(self, state: MotionState, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """M frames: request j is pair `pair_index[j]` (LongTensor[M]) at time `t[j]` (FloatTensor[M]). M×3×H×W in [0, 1]."""
        return self.synthesize_detailed(state, pair_index, t).frame

    def forward(
        self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor | float, reconstruct: bool = True,
        pair_index: torch.Tensor | None = None,
    ) -> InterpolationOutput:
        """Training forward: the frame at t for each request, plus keyframe reconstructions and the flows.

        Without `pair_index` request i is pair i at t[i]. With it (LongTensor[M]), frame0/frame1 hold N distinct
        pairs and request j is pair `pair_index[j]` at t[j]: each pair is encoded, reconstructed and matched once
        however many of its in-between frames are trained on. Every field of the output is per request, the
        same values (and gradients) the duplicated pairs would give.
        """
        self._check_frames(frame0, frame1)
        n = frame0.shape[0]
        if pair_index is None:
            pair_index = torch.arange(n, device=frame0.device)
        elif pair_index.ndim != 1:
            raise ValueError("pair_index must be a 1-D tensor of pair numbers")
        pair_index = pair_index.to(frame0.device, torch.long)
        t = self._times(t, pair_index.shape[0], frame0)
        pick = lambda x: x.index_select(0, pair_index)  # noqa: E731
        pyramid = self.autoencoder.encode(torch.cat([frame0, frame1], dim=0))
        recon0 = recon1 = None
        if reconstruct:
            recon = self.autoencoder.decode(pyramid[-1])
            recon0, recon1 = pick(recon[:n]), pick(recon[n:])
        pyramid0, pyramid1 = [f[:n] for f in pyramid], [f[n:] for f in pyramid]
        flow_01, flow_10 = (pick(f) for f in self.interpolation.estimate_motion(pyramid0, pyramid1))
        result = self.interpolation.synthesize(
            pick(frame0), pick(frame1), pick(pyramid0[1]), pick(pyramid1[1]), flow_01, flow_10, t)
        scale = 2 ** (self.interpolation.flow_estimator.first_level + 1)
        return InterpolationOutput(
            frame=result.frame, recon0=recon0, recon1=recon1, flow_t0=result.flow_t0, flow_t1=result.flow_t1,
            flow_01=upsample_flow(flow_01, scale), flow_10=upsample_flow(flow_10, scale), mask=result.mask,
            warped0=result.warped0, warped1=result.warped1, blend=result.blend,
        )
