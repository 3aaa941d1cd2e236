"""Training settings: one dataclass, filled from defaults, then a recipe file, then command-line options.

A recipe is a TOML (or JSON) file whose top-level keys are `TrainConfig` field names, with two tables:
`[model]` (a `ModelConfig`, see vidinterp.models.config) and `[loss]` (loss name → weight, see vidinterp.losses).
`--recipe NAME` looks for `vidinterp/recipes/NAME.toml` (or .json); anything else is taken as a path.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from vidinterp.errors import UsageError

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
#: DIS presets the flow teacher can use, by name (OpenCV's constants, spelt out so naming one needs no cv2)
TEACHER_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}
#: RIFE teachers (training only; their wheels are read, never installed: see vidinterp.train.rife)
RIFE_TEACHERS = ("rife4", "rife-hd")


@dataclass
class TrainConfig:
    """Everything that decides what a training run does (saved as train_config.json in the run folder)."""

    data_dir: str = ""
    out_dir: str = ""
    steps: int = 100_000
    batch_size: int = 8  # global batch: split evenly across DDP ranks
    crop: int = 256
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 1000
    min_lr_ratio: float = 0.01  # cosine decay ends at lr · min_lr_ratio
    interval_min: int = 2
    interval_max: int = 2
    clip_length: int = 3
    loss: dict[str, float] = field(default_factory=lambda: {"charbonnier": 1.0})
    recon_weight: float = 0.1
    warp_weight: float = 0.0  # warping term (vidinterp.losses.motion): direct motion supervision
    distill_weight: float = 0.0  # flow distillation from a classical teacher (vidinterp.train.teacher); needs OpenCV
    teacher: str = "medium"  # DIS preset of the teacher (ultrafast, fast, medium), or a RIFE teacher (RIFE_TEACHERS)
    teacher_dis: str = "medium"  # DIS preset a RIFE teacher takes its keyframe flows and privileged flows from
    teacher_wheels: str | None = None  # folder of the RIFE teachers' wheels (see vidinterp.train.rife)
    # distinct training samples (window, interval, crop, flips) the run cycles through; 0 = a fresh one every draw.
    # A finite pool lets the teacher's targets be computed once per sample and cached (<cache_dir>/teacher-*)
    sample_pool: int = 0
    # training sources to use (fnmatch patterns on the source path relative to data_dir; empty = all)
    sources: list[str] = field(default_factory=list)
    # held out of training for the selection set: "PATTERN" (whole clip) or "PATTERN@FIRST-LAST" (frames, 0-based,
    # inclusive, at the source's own frame rate); see vidinterp.data.selection
    holdout: list[str] = field(default_factory=list)
    workers: int = -1  # -1: choose for the device (see data_workers)
    seed: int = 0
    val_dir: str | None = None
    val_count: int = 8
    val_every: int = 1000
    checkpoint_every: int = 1000
    # every N steps also keep the weights as snapshots/step-NNNNNN (0: never): the checkpoint to ship is then
    # chosen afterwards on a selection set (vidinterp.data.selection), not on the in-run validation alone
    snapshot_every: int = 0
    log_every: int = 10
    device: str = "auto"
    amp: bool = True  # mixed precision on CUDA only; ignored on CPU
    grad_clip: float = 1.0  # max global gradient norm; 0 disables
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields; empty = the default model
    init: str | None = None  # start from these weights (safetensors written by save_model)
    # start from the tensors of these weights (a path or a shipped model's name) that have the same name and shape;
    # unlike `init` the model config may differ, and tensors the new model starts at zero stay zero
    warm_start: str | None = None
    cache_dir: str | None = None
    cache_size: int = 540
    cache_max_frames: int = 0  # 0: cache every frame of every video
    window_stride: int = 1
    hflip: bool = True
    vflip: bool = True
    reverse: bool = True
    channel_shuffle: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        """Refuse settings no run can use, with the option's name, before any data is read."""
        for name, low in _AT_LEAST.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"--{_option(name)} must be a number, got {value!r}.")
            if isinstance(low, int) and not float(value).is_integer():
                raise UsageError(f"--{_option(name)} must be a whole number, got {value!r}.")
            if not value >= low:  # also refuses NaN
                raise UsageError(f"--{_option(name)} must be at least {low}, got {value!r}.")
        if not 0 <= self.min_lr_ratio <= 1:
            raise UsageError(f"min_lr_ratio must be from 0 to 1, got {self.min_lr_ratio!r}.")
        from vidinterp.data.dataset import check_sampling  # the interval and clip length, with their own messages
        from vidinterp.losses import parse_loss_spec

        check_sampling(self.clip_length, self.interval_min, self.interval_max)
        self.loss = parse_loss_spec(self.loss)
        if self.teacher not in TEACHER_PRESETS and self.teacher not in RIFE_TEACHERS:
            choices = ", ".join([*TEACHER_PRESETS, *RIFE_TEACHERS])
            raise UsageError(f"unknown teacher preset {self.teacher!r}; choose one of: {choices}")
        if self.teacher_dis not in TEACHER_PRESETS:
            choices = ", ".join(TEACHER_PRESETS)
            raise UsageError(f"unknown teacher_dis preset {self.teacher_dis!r}; choose one of: {choices}")
        for name in ("sources", "holdout"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{name} must be a list of strings, got {value!r}.")
        if self.init and self.warm_start:
            raise UsageError("give --init (the same model, continued) or --warm-start (matching tensors), not both.")
        if self.model:
            from vidinterp.models import ModelConfig

            ModelConfig.from_dict(dict(self.model))  # an unknown field or a bad value fails now, not after caching

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "TrainConfig":
        """Build from a dict, refusing unknown keys (a typo must not silently fall back to a default)."""
        return apply_overrides(cls(), data, source)


#: numeric settings and their smallest allowed value (an int bound: the value must be whole)
_AT_LEAST: dict[str, int | float] = {
    "steps": 1,
    "batch_size": 1,
    "crop": 8,
    "lr": 0.0,
    "weight_decay": 0.0,
    "warmup_steps": 0,
    "recon_weight": 0.0,
    "warp_weight": 0.0,
    "distill_weight": 0.0,
    "workers": -1,
    "val_count": 0,
    "val_every": 1,
    "checkpoint_every": 1,
    "snapshot_every": 0,
    "log_every": 1,
    "grad_clip": 0.0,
    "cache_size": 0,
    "cache_max_frames": 0,
    "window_stride": 1,
    "sample_pool": 0,
}


def field_defaults() -> dict[str, Any]:
    """Every field's default value, without building (and so validating) a config."""
    return {
        f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        for f in dataclasses.fields(TrainConfig)
    }


def _option(name: str) -> str:
    return name.replace("_", "-")


def apply_overrides(config: TrainConfig, overrides: dict[str, Any], source: str) -> TrainConfig:
    """A copy of `config` with `overrides` applied (None values are ignored: option not given)."""
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise UsageError(
            f"{source}: unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
        )
    values = config.to_dict()
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
    if isinstance(values["loss"], dict):
        try:
            values["loss"] = {str(k): float(v) for k, v in values["loss"].items()}
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{source}: loss weights must be numbers ({exc}).") from exc
    else:
        raise UsageError(f"{source}: 'loss' must be a table of name = weight.")
    if not isinstance(values["model"], dict):
        raise UsageError(f"{source}: 'model' must be a table of ModelConfig fields.")
    return TrainConfig(**values)


def find_recipe(name_or_path: str) -> Path:
    """Path of a recipe: a file path, or the name of one shipped in vidinterp/recipes/."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for suffix in (".toml", ".json"):
        candidate = RECIPES_DIR / f"{name_or_path}{suffix}"
        if candidate.is_file():
            return candidate
    shipped = sorted(p.stem for p in RECIPES_DIR.glob("*.toml")) + sorted(p.stem for p in RECIPES_DIR.glob("*.json"))
    raise UsageError(
        f"recipe {name_or_path!r} is neither a file nor a shipped recipe (shipped: {', '.join(shipped) or 'none'})."
    )


def load_recipe(name_or_path: str) -> dict[str, Any]:
    """The settings dict of a recipe file (TOML or JSON), not yet validated."""
    path = find_recipe(name_or_path)
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            data = tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read recipe {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"recipe {path} must hold a table/object of settings.")
    return data


def parse_interval(text: str) -> tuple[int, int]:
    """'2' → (2, 2); '2-4' or '2:4' → (2, 4)."""
    for sep in ("-", ":", ".."):
        if sep in text:
            low, _, high = text.partition(sep)
            break
    else:
        low = high = text
    try:
        return int(low), int(high)
    except ValueError:
        raise UsageError(f"--interval expects N or MIN-MAX (e.g. 2 or 2-4), got {text!r}.") from None
