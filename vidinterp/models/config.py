"""The model's hyper-parameters: a dataclass saved as JSON next to the weights."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vidinterp.errors import VidinterpError

#: motion sources: "dis" refines OpenCV DIS optical flow with one correlation level (the default model);
#: "none" learns motion from scratch, coarse to fine over every motion level (the first shipped model)
MOTION_PRIORS = ("dis", "none")
#: the DIS presets a "dis" prior may name (their parameters: `vidinterp.execution.prior.DIS_PRESETS`)
PRIOR_PRESETS = ("ultrafast", "fast", "medium", "balanced")

#: what a model file written before a field existed meant by leaving it out (see `vidinterp.models.io`)
LEGACY_VALUES = {"motion_prior": "none", "prior_full_resolution_pixels": 0}


@dataclass
class ModelConfig:
    """Sizes of a `VFIModel`. The default is the light CPU configuration that ships as the product default.

    Pyramid levels are listed finest first: level k has stride 2**(k+1) (1/2, 1/4, 1/8 for three levels).
    Motion is estimated with correlation on the coarsest `len(max_displacement)` levels, ending at
    `finest_motion_level`. With `motion_prior = "dis"` there is one such level (1/8 by default), where the
    correlation corrects OpenCV's DIS flow; with "none" the levels run coarse to fine from zero motion. The
    frame at t is synthesised at level 1 (1/4) and refined at 1/2 and full resolution by cheap pixel-shuffle
    heads, so most compute runs at 1/4 resolution or below, which is what keeps CPU inference fast.
    """

    #: feature channels of the encoder per pyramid level, finest first
    encoder_channels: tuple[int, ...] = (16, 24, 48)
    #: correlation search radius (pixels of that level) for each motion level, finest first; the motion levels
    #: are the coarsest len(max_displacement) pyramid levels, and the finest of them must be level 1 or coarser
    max_displacement: tuple[int, ...] = (3,)
    #: hidden width of the flow decoder at each motion level, finest first
    flow_decoder_widths: tuple[int, ...] = (32,)
    #: channels of the 1×1 "matching" projection correlated at each motion level (cost volume cost ∝ this)
    matching_channels: int = 16
    #: width of the t-conditioned intermediate-flow refiner (runs at level 1, once per output frame)
    intermediate_width: int = 24
    #: width of the synthesis refinement network at level 1 (1/4) ...
    context_width: int = 24
    #: ... and of its output stage at level 0 (1/2)
    context_half_width: int = 8
    #: hidden widths of the keyframe decoder, coarsest first (one upsampling stage per pyramid level)
    decoder_widths: tuple[int, ...] = (48, 32, 16)
    #: where motion starts: "dis" (classical prior, refined) or "none" (learned from scratch); see MOTION_PRIORS
    motion_prior: str = "dis"
    #: DIS preset of the prior: one of PRIOR_PRESETS (see `vidinterp.execution.prior.DIS_PRESETS`)
    prior_preset: str = "balanced"
    #: DIS runs on frames shrunk by powers of two until their longer side is at most this (0 = full size)
    prior_max_side: int = 0
    #: frames of at most this many pixels get the DIS preset at full resolution (finest scale 0; 0 = never); the
    #: default is QVGA, 320×240, where that costs less than the preset's usual half resolution on 640×360
    prior_full_resolution_pixels: int = 320 * 240

    def __post_init__(self) -> None:
        for name in ("encoder_channels", "max_displacement", "flow_decoder_widths", "decoder_widths"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        levels = len(self.encoder_channels)
        if levels < 3:
            raise VidinterpError(f"model config: need at least 3 pyramid levels, got {levels}")
        if self.motion_prior not in MOTION_PRIORS:
            raise VidinterpError(f"model config: motion_prior must be one of {', '.join(MOTION_PRIORS)}, "
                                 f"got {self.motion_prior!r}")
        if self.motion_prior == "dis":
            if self.prior_preset not in PRIOR_PRESETS:
                raise VidinterpError(f"model config: prior_preset must be one of {', '.join(PRIOR_PRESETS)}")
            if len(self.max_displacement) != 1:
                raise VidinterpError("model config: a DIS prior is refined at one motion level "
                                     "(one max_displacement entry)")
        if self.prior_max_side < 0:
            raise VidinterpError("model config: prior_max_side must be 0 (full size) or positive")
        if self.prior_full_resolution_pixels < 0:
            raise VidinterpError("model config: prior_full_resolution_pixels must be 0 (never) or positive")
        if not 1 <= len(self.max_displacement) <= levels - 1:
            raise VidinterpError(
                f"model config: max_displacement needs 1 to {levels - 1} entries (one per motion level; motion is not "
                f"estimated at level 0) for {levels} pyramid levels, got {len(self.max_displacement)}"
            )
        if len(self.flow_decoder_widths) != len(self.max_displacement):
            raise VidinterpError("model config: flow_decoder_widths needs one entry per motion level, "
                                 "like max_displacement")
        if len(self.decoder_widths) != levels:
            raise VidinterpError(f"model config: decoder_widths needs {levels} entries (one per pyramid level)")
        values = (*self.encoder_channels, *self.flow_decoder_widths, *self.decoder_widths,
                  self.matching_channels, self.intermediate_width, self.context_width, self.context_half_width)
        if min(values) < 1 or min(self.max_displacement) < 1:
            raise VidinterpError("model config: channel counts and displacements must be positive")

    @property
    def num_levels(self) -> int:
        """Number of pyramid levels (strides 2, 4, ..., 2**num_levels)."""
        return len(self.encoder_channels)

    @property
    def finest_motion_level(self) -> int:
        """The pyramid level where motion estimation ends (its flows are what synthesis starts from)."""
        return self.num_levels - len(self.max_displacement)

    @property
    def zero_init_heads(self) -> bool:
        """With a prior the synthesis heads start at zero: an untrained model is exactly the classical baseline
        (prior flows, (1 − t, t) blend, no residual). Without one they start small (see `small_init_`)."""
        return self.motion_prior == "dis"

    @property
    def pad_multiple(self) -> int:
        """Frame height and width must be multiples of this (the stride of the coarsest level)."""
        return 2 ** self.num_levels

    @property
    def coarsest_search_radius(self) -> int:
        """Largest motion (full-resolution pixels, per axis) the coarsest correlation alone can see."""
        return self.max_displacement[-1] * 2 ** self.num_levels

    @property
    def total_search_radius(self) -> int:
        """Largest motion (full-resolution pixels, per axis) reachable by the correlations of all motion levels."""
        first = self.finest_motion_level
        return sum(d * 2 ** (first + k + 1) for k, d in enumerate(self.max_displacement))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Inverse of `to_dict`; unknown keys are an error so a typo never silently falls back to a default."""
        if not isinstance(data, dict):
            raise VidinterpError("model config: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise VidinterpError(f"model config: unknown keys {', '.join(unknown)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise VidinterpError(f"model config: {exc}") from exc


def tiny_config(motion_prior: str = "dis") -> ModelConfig:
    """A very small configuration for tests and quick experiments (3 levels, pad multiple 8)."""
    return ModelConfig(
        encoder_channels=(8, 12, 16),
        max_displacement=(3,),
        flow_decoder_widths=(16,),
        matching_channels=8,
        intermediate_width=12,
        context_width=12,
        context_half_width=8,
        decoder_widths=(16, 12, 8),
        motion_prior=motion_prior,
    )


__all__ = ["LEGACY_VALUES", "MOTION_PRIORS", "ModelConfig", "tiny_config"]
