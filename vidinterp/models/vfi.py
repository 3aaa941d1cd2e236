"""The complete interpolation model: keyframe autoencoder + motion estimation + synthesis at any t."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from vidinterp.models.autoencoder import KeyframeAutoencoder
from vidinterp.models.blocks import upsample_flow
from vidinterp.models.config import ModelConfig
from vidinterp.models.motion import PriorFlowRefiner, PyramidFlowEstimator
from vidinterp.models.synthesis import ContextRefiner, FrameSynthesizer, IntermediateFlowRefiner, SynthesisResult

#: the classical prior of N pairs: (flow_01, flow_10), N×2×H×W full-resolution pixels, computed outside the
#: model (`vidinterp.execution.prior.DisFlow.for_config(model.config)`) and handed in
Prior = tuple[torch.Tensor, torch.Tensor]


class InterpolationModule(nn.Module):
    """Motion between two keyframes (t-independent) and synthesis of the frame at any t in [0, 1].

    `flow_estimator` is a `PriorFlowRefiner` (classical prior + correlation) or a `PyramidFlowEstimator`
    (learned from scratch); either way `estimate_motion` returns full-resolution flows.
    """

    def __init__(self, flow_estimator: PriorFlowRefiner | PyramidFlowEstimator, synthesizer: FrameSynthesizer) -> None:
        super().__init__()
        self.flow_estimator = flow_estimator
        self.synthesizer = synthesizer

    @classmethod
    def from_config(cls, config: ModelConfig) -> "InterpolationModule":
        """Build the flow estimator and the synthesizer from a `ModelConfig`."""
        zero = config.zero_init_heads
        synthesizer = FrameSynthesizer(
            IntermediateFlowRefiner(config.encoder_channels[FrameSynthesizer.LEVEL], config.intermediate_width,
                                    **({"head_scale": 0.0} if zero else {})),
            ContextRefiner(config.intermediate_width, config.context_width, config.context_half_width,
                           **({"head_scale": 0.0} if zero else {})),
        )
        if config.motion_prior == "dis":
            estimator = PriorFlowRefiner.from_config(config)
        else:
            estimator = PyramidFlowEstimator.from_config(config)
        return cls(estimator, synthesizer)

    @property
    def uses_prior(self) -> bool:
        """Whether motion refines a classical prior that callers must hand in (False: learned from scratch)."""
        return isinstance(self.flow_estimator, PriorFlowRefiner)

    def estimate_motion(
        self, frame0: torch.Tensor, frame1: torch.Tensor, pyramid0: list[torch.Tensor], pyramid1: list[torch.Tensor],
        prior: Prior | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow_01, flow_10), N×2×H×W backward flows in full-resolution pixels (x then y)."""
        if self.uses_prior:
            if prior is None:
                raise ValueError("this model refines a DIS prior: pass prior=(flow_01, flow_10), e.g. from "
                                 "vidinterp.execution.prior.DisFlow.for_config(model.config)")
            return self.flow_estimator(frame0, frame1, pyramid0, pyramid1, prior)
        flow_01, flow_10 = self.flow_estimator(pyramid0, pyramid1)
        stride = self.flow_estimator.output_stride
        return upsample_flow(flow_01, stride), upsample_flow(flow_10, stride)

    def synthesize(self, frame0, frame1, features0, features1, flow_01, flow_10, t) -> SynthesisResult:
        """Frame at time t; see `FrameSynthesizer.forward` for the contract."""
        return self.synthesizer(frame0, frame1, features0, features1, flow_01, flow_10, t)


@dataclass
class MotionState:
    """The t-independent part of interpolating N pairs (what `VFIModel.estimate_motion` returns).

    frame0, frame1: N×3×H×W in [0, 1]. features0, features1: N×C₁×H/4×W/4 encoder features of level 1.
    flow_01, flow_10: N×2×H×W bidirectional backward flows in full-resolution pixels (x then y).
    """

    frame0: torch.Tensor
    frame1: torch.Tensor
    features0: torch.Tensor
    features1: torch.Tensor
    flow_01: torch.Tensor
    flow_10: torch.Tensor

    @classmethod
    def cat(cls, states: list["MotionState"]) -> "MotionState":
        """The states of several groups of pairs as one, in order."""
        return cls(*(torch.cat([getattr(s, name) for s in states]) for name in (
            "frame0", "frame1", "features0", "features1", "flow_01", "flow_10")))

    def select(self, index: torch.Tensor) -> "MotionState":
        """The state of pairs `index` (a LongTensor), repeated as often as they appear."""
        n = self.frame0.shape[0]
        if index.device.type == "cpu" and index.shape == (n,) and bool((index == torch.arange(n)).all()):
            return self  # every pair once, in order (one pair at ×2): no copies (checked on the host only)
        pick = lambda x: x.index_select(0, index)  # noqa: E731
        return MotionState(
            pick(self.frame0), pick(self.frame1), pick(self.features0), pick(self.features1),
            pick(self.flow_01), pick(self.flow_10),
        )


@dataclass
class InterpolationOutput:
    """What the training forward returns (B = number of requests, full resolution H×W).

    frame: B×3×H×W in [0, 1], the frame at time t. recon0, recon1: B×3×H×W keyframe reconstructions from the
    latent (None when not requested). flow_t0, flow_t1: B×2×H×W flows from time t to frames 0 and 1.
    flow_01, flow_10: B×2×H×W bidirectional keyframe flows. mask: B×1×H×W weight of warped frame 0.
    warped0, warped1, blend: B×3×H×W intermediate images (for losses and visualisation).
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

    def __init__(self, autoencoder: KeyframeAutoencoder, interpolation: InterpolationModule,
                 config: ModelConfig | None = None) -> None:
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
        """H and W must be multiples of this: the stride of the coarsest pyramid level (`ModelConfig.pad_multiple`
        for models built from a config; counted from the encoder, so hand-assembled models have it too)."""
        return 2 ** len(self.autoencoder.encoder.stages)

    def _check_frames(self, frame0: torch.Tensor, frame1: torch.Tensor) -> None:
        if frame0.shape != frame1.shape or frame0.ndim != 4 or frame0.shape[1] != 3:
            raise ValueError(f"expected two B×3×H×W tensors of one shape, got {tuple(frame0.shape)} and "
                             f"{tuple(frame1.shape)}")
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

    def _motion(self, frame0: torch.Tensor, frame1: torch.Tensor, prior: Prior | None):
        """(MotionState, encoder pyramid of both frames): the one motion path of inference and training."""
        self._check_frames(frame0, frame1)
        n = frame0.shape[0]
        pyramid = self.autoencoder.encode(torch.cat([frame0, frame1], dim=0))
        pyramid0, pyramid1 = [f[:n] for f in pyramid], [f[n:] for f in pyramid]
        flow_01, flow_10 = self.interpolation.estimate_motion(frame0, frame1, pyramid0, pyramid1, prior)
        level = FrameSynthesizer.LEVEL
        return MotionState(frame0, frame1, pyramid0[level], pyramid1[level], flow_01, flow_10), pyramid

    def estimate_motion(self, frame0: torch.Tensor, frame1: torch.Tensor, prior: Prior | None = None) -> MotionState:
        """Encode both keyframes and estimate their bidirectional motion (everything that does not depend on t).

        `prior`: the classical flows of these pairs, for a model that refines them
        (`InterpolationModule.uses_prior`)."""
        return self._motion(frame0, frame1, prior)[0]

    def synthesize_detailed(self, state: MotionState, pair_index: torch.Tensor, t: torch.Tensor) -> SynthesisResult:
        """Like `synthesize`, with the intermediate flows, mask and warped frames too."""
        if pair_index.ndim != 1 or t.shape != pair_index.shape:
            raise ValueError("pair_index and t must be 1-D tensors of the same length")
        s = state.select(pair_index.to(state.frame0.device, torch.long))
        t = t.to(s.frame0.device, s.frame0.dtype)
        return self.interpolation.synthesize(s.frame0, s.frame1, s.features0, s.features1, s.flow_01, s.flow_10, t)

    def synthesize(self, state: MotionState, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """M frames: request j is pair `pair_index[j]` (LongTensor[M]) at time `t[j]` (FloatTensor[M]).
        M×3×H×W in [0, 1]."""
        return self.synthesize_detailed(state, pair_index, t).frame

    def forward(
        self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor | float, reconstruct: bool = True,
        pair_index: torch.Tensor | None = None, prior: Prior | None = None,
    ) -> InterpolationOutput:
        """Training forward: the frame at t for each request, plus keyframe reconstructions and the flows.

        Without `pair_index` request i is pair i at t[i]. With it (LongTensor[M]), frame0/frame1 hold N distinct
        pairs and request j is pair `pair_index[j]` at t[j]: each pair is encoded, reconstructed and matched once
        however many of its in-between frames are trained on. Every field of the output is per request, the
        same values (and gradients) the duplicated pairs would give.
        """
        n = frame0.shape[0]
        if pair_index is None:
            pair_index = torch.arange(n, device=frame0.device)
        elif pair_index.ndim != 1:
            raise ValueError("pair_index must be a 1-D tensor of pair numbers")
        pair_index = pair_index.to(frame0.device, torch.long)
        t = self._times(t, pair_index.shape[0], frame0)
        state, pyramid = self._motion(frame0, frame1, prior)
        recon0 = recon1 = None
        if reconstruct:
            recon = self.autoencoder.decode(pyramid[-1])
            recon0, recon1 = recon[:n].index_select(0, pair_index), recon[n:].index_select(0, pair_index)
        result = self.synthesize_detailed(state, pair_index, t)
        return InterpolationOutput(
            frame=result.frame, recon0=recon0, recon1=recon1, flow_t0=result.flow_t0, flow_t1=result.flow_t1,
            flow_01=state.flow_01.index_select(0, pair_index), flow_10=state.flow_10.index_select(0, pair_index),
            mask=result.mask, warped0=result.warped0, warped1=result.warped1, blend=result.blend,
        )
