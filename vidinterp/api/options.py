"""One options dataclass per operation, shared by the Python API and the CLI so the two cannot drift apart.

Validated on construction with the CLI's one-line messages (`UsageError`). Nothing heavy is imported here:
building options costs no torch or PyAV import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from vidinterp.errors import UsageError
from vidinterp.evaluate.framedrop import DEFAULT_DROP
from vidinterp.execution.settings import DEFAULT_DEVICE, Settings, build_settings
from vidinterp.pipeline.timing import (
    DEFAULT_FACTOR,
    DEFAULT_SCENE_CUT,
    DEFAULT_SCENE_THRESHOLD,
    RetimeOptions,
    check_retiming,
    parse_rate,
)

Rate = Fraction | int | float | str
Options = TypeVar("Options", "UpsampleOptions", "EvaluationOptions")


def as_options(value: Any, kind: type[Options]) -> Options:
    """`value` as `kind` for the functions that take options: None gives the defaults, an instance is used as it is,
    and a mapping of field names to values (`{"factor": 4}`) builds one (each value checked as on construction)."""
    if value is None:
        return kind()
    if isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        known = [field.name for field in fields(kind)]
        unknown = [str(key) for key in value if key not in known]
        if unknown:
            raise UsageError(f"{kind.__name__} has no field {unknown[0]!r}; its fields are: {', '.join(known)}")
        return kind(**value)
    raise UsageError(f"options must be {kind.__name__}(...) or a mapping of its fields, got {type(value).__name__}")


def _build_settings(options: "UpsampleOptions | EvaluationOptions") -> None:
    """The fields both operations share (method, model, device, precision with fp16, max_side, batch size) as
    the one `Settings` of the run (with the environment's), kept as `options.settings`; `model` as a Path."""
    settings = build_settings(method=options.method, model=options.model, device=options.device,
                              precision=options.precision, fp16=options.fp16, max_side=options.max_side,
                              batch_size=getattr(options, "batch_size", None))
    object.__setattr__(options, "model", settings.model)
    object.__setattr__(options, "_settings", settings)


class _SharesSettings:
    """What UpsampleOptions and EvaluationOptions share: the run's settings, built once on construction."""

    @property
    def settings(self) -> Settings:
        """How the interpolator runs: these options' fields, then `VIDINTERP_*` variables, then the defaults (not yet
        resolved for the machine: see `vidinterp.interpolators.runtime.resolve_settings`)."""
        return self._settings  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UpsampleOptions(_SharesSettings):
    """How `vidinterp.upsample` (and `vidinterp upsample`) retimes a video or an image sequence.

    factor: multiply the frame rate by this whole number ≥ 2 (2 when neither factor nor fps is given).
    fps: resample to this rate instead ("60", "60000/1001", 59.94, Fraction(...)).
    method: "model", "classical" or "blend"; None = the model when its weights are installed, else blend.
    model: weights for the model method (.safetensors with its JSON config, or a shipped model's name); None =
        the shipped default.
    device: "auto", "cpu", "cuda" or "cuda:N".
    precision: the model's precision, "auto" (bf16 on CPUs with AMX, else fp32), "fp32", "bf16" or "fp16" (CUDA
        only); None = VIDINTERP_PRECISION, else "auto". fp16: the same as
        precision="fp16" (the older switch; contradicting another precision is an error).
    max_side: the model works on frames shrunk by halves until their longer side is at most this (0 = full
        size; None = 1024).
    batch_size: new frames per model call (None = 1 on the CPU, 8 on a GPU; 0 and negatives are refused).
    scene_cut: "hold", "blend" or "off"; scene_threshold: cut sensitivity.
    dedupe: drop frames that repeat the one before (held drawings, stalled captures) and interpolate between the
        others at their real times; with a factor, the output rate is factor × the input's (see
        `pipeline.dedupe`).
    codec, crf, pix_fmt, output_format: encoder settings for a video output (None = chosen by the extension).
    input_format: demuxer of the input when it cannot be guessed (stdin).
    input_fps: frame rate of an image-sequence input (default 25); an error for a video input.
    start_number: number of the first file of an image-sequence output (default 1, like ffmpeg).
    montage: write the source and the result side by side (twice as wide), like RIFE's --montage.
    overwrite: replace an existing output (never the input).
    """

    factor: int | None = None
    fps: Rate | None = None
    method: str | None = None
    model: Path | None = None
    device: str = DEFAULT_DEVICE
    fp16: bool = False
    precision: str | None = None
    max_side: int | None = None
    batch_size: int | None = None
    scene_cut: str = DEFAULT_SCENE_CUT
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD
    dedupe: bool = False
    codec: str | None = None
    crf: int | None = None
    pix_fmt: str | None = None
    output_format: str | None = None
    input_format: str | None = None
    input_fps: Rate | None = None
    start_number: int | None = None
    montage: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.factor is not None and self.fps is not None:
            raise UsageError("give either --factor or --fps, not both")
        _build_settings(self)
        if self.input_fps is not None:
            rate = parse_rate(self.input_fps)
            if rate <= 0:
                raise UsageError(f"--input-fps must be positive, got {self.input_fps}")
            object.__setattr__(self, "input_fps", rate)
        start = self.start_number
        if start is not None and (isinstance(start, bool) or not isinstance(start, int) or start < 0):
            raise UsageError(f"--start-number must be a whole number of at least 0, got {start!r}")
        fps = check_retiming(self.output_factor, self.fps, self.scene_cut, self.scene_threshold)
        object.__setattr__(self, "fps", fps)  # exact (59.94 → 60000/1001)
        if not isinstance(self.dedupe, bool):
            raise UsageError(f"dedupe must be True or False, got {self.dedupe!r}")

    @property
    def output_factor(self) -> int | None:
        """The factor asked for: 2 when neither factor nor fps was given, None with fps."""
        return self.factor if self.factor is not None or self.fps is not None else DEFAULT_FACTOR

    def retiming(self, batch_size: int, rate: Fraction | None = None) -> RetimeOptions:
        """The pipeline's part of these options, with the run's `batch_size`; `rate`: place output frames on this
        rate's grid instead of multiplying (what --dedupe does with a factor)."""
        factor, fps = (self.output_factor, self.fps) if rate is None else (None, rate)
        return RetimeOptions(factor=factor, fps=fps, batch_size=batch_size, scene_cut=self.scene_cut,
                             scene_threshold=self.scene_threshold)


@dataclass(frozen=True)
class EvaluationOptions(_SharesSettings):
    """How `vidinterp.evaluate_on` (and `vidinterp eval`) scores an interpolator.

    method, model, device, fp16, precision, max_side: which interpolator and how it runs, as for
    `UpsampleOptions` (and, with the environment, `settings`).
    drop: videos are scored by keeping every drop-th frame and interpolating the ones between.
    limit: score at most this many items per dataset or video. save_dir: write a labelled comparison PNG per item.
    lpips, vmaf: the perceptual scores: None = when they can run here (LPIPS: the lpips package and its weights on
        disk; VMAF: vmaf-torch installed), True = asked for (the CLI then says why when one cannot run), False = not
        computed.
    """

    method: str | None = None
    model: Path | None = None
    device: str = DEFAULT_DEVICE
    fp16: bool = False
    precision: str | None = None
    max_side: int | None = None
    drop: int = DEFAULT_DROP
    limit: int | None = None
    save_dir: Path | None = None
    lpips: bool | None = None
    vmaf: bool | None = None

    def __post_init__(self) -> None:
        _build_settings(self)
        for name in ("lpips", "vmaf"):
            if getattr(self, name) not in (None, True, False):
                raise UsageError(f"{name} must be None, True or False, got {getattr(self, name)!r}")
        if self.save_dir is not None:
            object.__setattr__(self, "save_dir", Path(self.save_dir))
        if isinstance(self.drop, bool) or not isinstance(self.drop, int) or self.drop < 2:
            raise UsageError(f"--drop must be a whole number of at least 2, got {self.drop!r}")
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1
        ):
            raise UsageError(f"--limit must be a whole number of at least 1, got {self.limit!r}")
