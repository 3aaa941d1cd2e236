"""Training from Python: start a run from a folder of videos with a recipe and settings over it, or continue one.

    from vidinterp.api.train import resume_training, start_training
    result = start_training("videos/", "runs/x", recipe="distill", settings={"steps": 400})
    result = resume_training("runs/x", steps=800)

`vidinterp train` is a thin layer over these two; `recipe_defaults` gives the values its --help shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidinterp.errors import UsageError
from vidinterp.train.config import RIFE_TEACHERS, TEACHER_PRESETS

if TYPE_CHECKING:
    from vidinterp.train.config import TrainConfig
    from vidinterp.train.train import TrainHooks, TrainResult

#: the recipe used when none is named
DEFAULT_RECIPE = "default"
#: what `teacher` takes: a DIS preset, or a RIFE model read from its wheel
TEACHERS = (*TEACHER_PRESETS, *RIFE_TEACHERS)


def recipe_defaults(recipe: str = DEFAULT_RECIPE) -> dict[str, Any]:
    """Every `TrainConfig` field's value under `recipe`: the recipe's values over the config's own defaults."""
    from vidinterp.train.config import field_defaults, load_recipe

    return {**field_defaults(), **load_recipe(recipe)}


def training_config(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    recipe: str | None = None,
    settings: Mapping[str, Any] | None = None,
    interval: str | None = None,
    loss: str | Sequence[str] | None = None,
    model_config: str | Path | Mapping[str, Any] | None = None,
    quiet: bool = False,
) -> TrainConfig:
    """The validated `TrainConfig` of a new run: `recipe` (default "default"), then `settings` over it
    (`TrainConfig` field → value; None values are left to the recipe).

    interval: "N" or "MIN-MAX" frames between keyframes; a clip the recipe makes too short for it grows to
        MAX + 1 frames unless `settings` gives clip_length.
    loss: loss terms "NAME[=WEIGHT]" (a string "a=1,b=0.1" or a list of them); replace the recipe's losses.
    model_config: the model's `ModelConfig` as a mapping or a JSON file; overrides the recipe's model table.
    """
    from vidinterp.train.config import TrainConfig, apply_overrides, load_recipe

    settings = dict(settings or {})
    recipe = recipe or DEFAULT_RECIPE
    config = apply_overrides(TrainConfig(), load_recipe(recipe), f"recipe {recipe}")
    overrides: dict[str, Any] = {**settings, "data_dir": str(data_dir), "out_dir": str(out_dir), "quiet": quiet}
    if interval is not None:
        overrides.update(_interval_settings(interval, settings.get("clip_length"), config.clip_length))
    if loss:
        from vidinterp.losses import parse_loss_spec

        overrides["loss"] = parse_loss_spec(loss)
    if settings.get("init") is not None:
        from vidinterp.interpolators import check_weights_path

        check_weights_path(Path(settings["init"]), "--init")
    if model_config is not None:
        overrides["model"] = _model_config(model_config)
    return apply_overrides(config, overrides, "settings")


def start_training(
    data_dir: str | Path, out_dir: str | Path, *, hooks: TrainHooks | None = None, **options: Any
) -> TrainResult:
    """Train a new run in `out_dir` from the videos and frame folders under `data_dir`; `options` are those of
    `training_config`. Refuses an `out_dir` that already holds a run (continue that with `resume_training`)."""
    from vidinterp.train.train import train

    return train(training_config(data_dir, out_dir, **options), hooks)


def resume_training(
    run_dir: str | Path, steps: int | None = None, *, quiet: bool = False, hooks: TrainHooks | None = None
) -> TrainResult:
    """Continue the run in `run_dir` exactly where its last checkpoint left it, with its saved settings; only the
    total step count may grow (`steps`; None keeps the saved one)."""
    from vidinterp.train.train import resume

    return resume(run_dir, steps, quiet=quiet, hooks=hooks)


def _interval_settings(interval: str, clip_length: int | None, recipe_clip_length: int) -> dict[str, int]:
    from vidinterp.train.config import parse_interval

    low, high = parse_interval(interval)
    values = {"interval_min": low, "interval_max": high}
    if clip_length is None and recipe_clip_length < high + 1:
        values["clip_length"] = high + 1  # the recipe's clip is too short for this interval
    return values


def _model_config(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    try:
        return json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read --model-config {source}: {exc}") from exc
