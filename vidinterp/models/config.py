"""The model's hyper-parameters: a dataclass saved as JSON next to the weights."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vidinterp.errors import VidinterpError


@dataclass
class ModelConfig:
    """Sizes of a `VFIModel`. The default is the light CPU configuration that ships as the product default.

    Pyramid levels are listed finest first: level k has stride 2**(k+1) (1/2, 1/4, 1/8, 1/16 for four levels).
    Motion is estimated with correlation on the coarsest `len(max_displacement)` levels (1/4, 1/8 and 1/16 by
    default), coarse to fine, ending at `finest_motion_level`; the frame at t is synthesised at level 1 (1/4) and
    refined at 1/2 and full resolution by cheap pixel-shuffle heads. Most compute therefore runs at 1/4
    resolution or below, which is what keeps CPU inference fast.
    """

    #: feature channels of the encoder per pyramid level, finest first
    encoder_channels: tuple[int, ...] = (16, 24, 48, 96)
    #: correlation search radius (pixels of that level) for each motion level, finest first; the motion levels
    #: are the coarsest len(max_displacement) pyramid levels, and the finest of them must be level 1 or coarser
    max_displacement: tuple[int, ...] = (2, 3, 4)
    #: hidden width of the flow decoder at each motion level, finest first
    flow_decoder_widths: tuple[int, ...] = (32, 32, 64)
    #: channels of the 1×1 "matching" projection correlated at each motion level (cost volume cost ∝ this)
    matching_channels: int = 16
    #: width of the t-conditioned intermediate-flow refiner (runs at level 1, once per output frame)
    intermediate_width: int = 24
    #: width of the synthesis refinement network at level 1 (1/4) ...
    context_width: int = 24
    #: ... and of its output stage at level 0 (1/2)
    context_half_width: int = 8
    #: hidden widths of the keyframe decoder, coarsest first (one upsampling stage per pyramid level)
    decoder_widths: tuple[int, ...] = (96, 48, 32, 16)

    def __post_init__(self) -> None:
        for name in ("encoder_channels", "max_displacement", "flow_decoder_widths", "decoder_widths"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        levels = len(self.encoder_channels)
        if levels < 3:
            raise VidinterpError(f"model config: need at least 3 pyramid levels, got {levels}")
        if not 1 <= len(self.max_displacement) <= levels - 1:
            raise VidinterpError(
                f"model config: max_displacement needs 1 to {levels - 1} entries (one per motion level; motion is not "
                f"estimated at level 0) for {levels} pyramid levels, got {len(self.max_displacement)}"
            )
        if len(self.flow_decoder_widths) != len(self.max_displacement):
            raise VidinterpError("model config: flow_decoder_widths needs one entry per motion level, like max_displacement")
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
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in dataclasses.fields(self)}

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


def tiny_config() -> ModelConfig:
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
    )


__all__ = ["ModelConfig", "tiny_config"]
