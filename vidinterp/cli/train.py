"""`vidinterp train`: train an interpolation model on a folder of videos and/or frame sequences.

Every option is declared once, in `OPTIONS`: that table makes the command's signature (so `--help` lists each
with its range and the default recipe's value), tells `--resume` which options it refuses, and turns the given
ones into `TrainConfig` overrides.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from vidinterp.api.train import DEFAULT_RECIPE, TEACHERS
from vidinterp.errors import Interrupted, UsageError
from vidinterp.execution.settings import DEFAULT_WHEEL_DIRS

HELP = (
    "Train a frame interpolation model on your own footage.\n\n"
    "DATA_DIR is searched recursively for videos (mp4, mkv, mov, webm, avi, ...) and folders of numbered frames "
    "(png/jpg). Each source is decoded once into a cache (default DATA_DIR/.vidinterp-cache) that later runs reuse. "
    "Checkpoints, logs and the best weights go to RUN_DIR: RUN_DIR/best/model.safetensors is what "
    "'vidinterp upsample --model' takes. Settings come from --recipe (default: the shipped 'default' recipe, whose "
    "values the defaults below show); options given here override it.\n\n"
    "Multi-GPU / multi-process: torchrun --nproc_per_node N -m vidinterp train ..."
)

#: the teacher presets as choices, so --help lists them and a typo is refused while parsing
Teacher = enum.Enum("Teacher", {name: name for name in TEACHERS}, type=str)


@dataclass(frozen=True)
class Option:
    """One training option: its parameter name, type and Typer declaration, and the `TrainConfig` field it sets
    (None: handled by the command itself). `to_config` turns the parsed value into the field's value."""

    name: str
    type: Any
    declaration: Any
    field: str | None = None
    to_config: Callable[[Any], Any] = lambda value: value


def _setting(
    name: str,
    type_: Any,
    *flags: str,
    help: str,
    field: str | None = None,
    to_config: Callable[[Any], Any] = lambda value: value,
    **ranges: Any,
) -> Option:
    """A `TrainConfig` setting given on the command line (None = the recipe's value, shown as the default)."""
    field = field or name
    shown = _recipe_default(field)
    declaration = typer.Option(*flags, help=help, show_default=shown if shown is not None else False, **ranges)
    return Option(name, Optional[type_], declaration, field, to_config)


@functools.cache
def _defaults() -> dict[str, Any]:
    from vidinterp.api.train import recipe_defaults

    return recipe_defaults()


def _recipe_default(field: str) -> str | None:
    """The value the default recipe (else TrainConfig) gives `field`, as --help shows it."""
    value = _defaults().get(field)
    if value is None or value == "" or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _path_text(value: Path) -> str:
    return str(value)


OPTIONS: tuple[Option, ...] = (
    Option(
        "data_dir",
        Optional[Path],
        typer.Argument(
            help="Folder of training videos and/or frame folders (not needed with --resume).",
            metavar="DATA_DIR",
            show_default=False,
        ),
    ),
    Option(
        "out",
        Optional[Path],
        typer.Option(
            "--out", "-o", help="Run folder for checkpoints and logs (created if missing).", show_default=False
        ),
    ),
    Option(
        "recipe",
        Optional[str],
        typer.Option(
            help="Recipe name (shipped in vidinterp/recipes) or path to a .toml/.json recipe; gives defaults for every "
            "option below.",
            show_default=DEFAULT_RECIPE,
        ),
    ),
    Option(
        "model_config",
        Optional[Path],
        typer.Option(
            "--model-config",
            help="JSON file with the model's ModelConfig (overrides the recipe's model table).",
            show_default=False,
        ),
    ),
    _setting("steps", int, help="Optimizer steps to train for (with --resume: the new total).", min=1),
    _setting("batch_size", int, "--batch-size", help="Clips per step, summed over all processes.", min=1),
    _setting(
        "crop", int, help="Side of the square random crop, in pixels (multiple of the model's pad multiple).", min=8
    ),
    _setting("lr", float, help="Peak learning rate (AdamW).", min=0),
    _setting("weight_decay", float, "--weight-decay", help="AdamW weight decay.", min=0),
    _setting("warmup_steps", int, "--warmup-steps", help="Steps of linear LR warm-up before the cosine decay.", min=0),
    Option(
        "interval",
        Optional[str],
        typer.Option(
            help="Frames between keyframes: N, or MIN-MAX to draw it per step (varied t and motion). 2 = predict the "
            "middle frame.",
            show_default=f"{_recipe_default('interval_min')}-{_recipe_default('interval_max')}",
        ),
    ),
    _setting("clip_length", int, "--clip-length", help="Frames per training sample (at least interval + 1).", min=3),
    Option(
        "loss",
        Optional[list[str]],
        typer.Option(
            "--loss",
            help="Loss term NAME[=WEIGHT] (weight 1 when left out); repeat for several, or give "
            "'a=1,b=0.1'; a name given twice adds up. Replaces the recipe's losses.",
            show_default=",".join(f"{name}={weight:g}" for name, weight in _defaults()["loss"].items()),
        ),
    ),
    _setting(
        "recon_weight", float, "--recon-weight", help="Weight of the keyframe reconstruction loss (0 disables).", min=0
    ),
    _setting(
        "warp_weight",
        float,
        "--warp-weight",
        help="Weight of the warping loss, which trains motion directly (0 disables).",
        min=0,
    ),
    _setting(
        "distill_weight",
        float,
        "--distill-weight",
        help="Weight of flow distillation from a classical optical-flow teacher (OpenCV DIS; 0 disables).",
        min=0,
    ),
    _setting(
        "teacher",
        Teacher,
        "--teacher",
        help="Teacher: a DIS preset (medium: slower, better flow), or RIFE 4.x / RIFE HD read from their wheels "
        "(--teacher-wheels; training only).",
        to_config=lambda value: value.value,
    ),
    _setting(
        "teacher_wheels",
        Path,
        "--teacher-wheels",
        help="Folder holding the RIFE teachers' wheels (default: $VIDINTERP_TEACHER_WHEELS, then "
        f"{', '.join('./' + d if not d.startswith('.') else d for d in DEFAULT_WHEEL_DIRS)}).",
        to_config=_path_text,
    ),
    _setting("workers", int, help="DataLoader worker processes (-1: 0 on CPU, several on GPU).", min=-1),
    _setting("seed", int, help="Random seed: same seed and settings give the same run."),
    _setting(
        "val",
        Path,
        "--val",
        field="val_dir",
        to_config=_path_text,
        help="Validate on this evaluation folder (Middlebury, Vimeo-90K or UCF101 layout) instead of held-out clips.",
    ),
    _setting("val_every", int, "--val-every", help="Validate (PSNR at the middle frame) every K steps.", min=1),
    _setting(
        "checkpoint_every",
        int,
        "--checkpoint-every",
        help="Save RUN_DIR/last every K steps (and always at the end).",
        min=1,
    ),
    _setting("device", str, help="auto, cpu, cuda or cuda:N."),
    _setting("amp", bool, "--amp/--no-amp", help="Mixed precision on CUDA (bf16, or fp16 with loss scaling)."),
    _setting("grad_clip", float, "--grad-clip", help="Clip the global gradient norm to this (0 disables).", min=0),
    _setting(
        "init", Path, to_config=_path_text, help="Start from these weights (a .safetensors written by vidinterp)."
    ),
    _setting(
        "warm_start",
        str,
        "--warm-start",
        help="Start from the tensors of these weights (a path, or a shipped model's name such as 'learned') "
        "whose names and shapes match; the model config may differ.",
    ),
    Option(
        "resume",
        Optional[Path],
        typer.Option(help="Continue the run in this folder exactly where it stopped.", show_default=False),
    ),
    _setting(
        "cache_dir",
        Path,
        "--cache-dir",
        to_config=_path_text,
        help="Where decoded frames are cached (default: DATA_DIR/.vidinterp-cache).",
    ),
    _setting(
        "cache_size",
        int,
        "--cache-size",
        help="Downscale cached frames so the short side is at most this (0 = full size).",
        min=0,
    ),
    _setting(
        "cache_max_frames", int, "--cache-max-frames", help="Cache at most this many frames per video (0 = all).", min=0
    ),
    Option(
        "quiet",
        bool,
        typer.Option("--quiet", "-q", help="No progress bar; only warnings, errors and the final summary."),
    ),
)

#: what --resume accepts besides itself: a resumed run keeps its saved settings, only its length may grow
RESUME_ALLOWS = ("resume", "out", "steps", "quiet")


def register(app: typer.Typer) -> None:
    app.command("train", help=HELP)(train_command)


def _signature() -> inspect.Signature:
    parameters = [
        inspect.Parameter(
            option.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=Annotated[option.type, option.declaration],
            default=False if option.type is bool else None,
        )
        for option in OPTIONS
    ]
    return inspect.Signature(parameters, return_annotation=None)


def train_command(**given: Any) -> None:
    """Start a run from DATA_DIR, or continue one with --resume (see HELP)."""
    from vidinterp.cli.logs import setup_logging

    quiet = bool(given["quiet"])
    setup_logging(logging.WARNING if quiet else logging.INFO, keep=("vidinterp.train.summary",))
    if given["resume"] is not None:
        _resume(given)
    else:
        _start(given)


train_command.__signature__ = _signature()


def _resume(given: dict[str, Any]) -> None:
    run_dir: Path = given["resume"]
    out = given["out"]
    if out is not None and out.resolve() != run_dir.resolve():
        raise UsageError("--resume continues in its own folder; leave --out out (or give the same folder).")
    refused = [
        _flag(option) for option in OPTIONS if option.name not in RESUME_ALLOWS and given[option.name] is not None
    ]
    if refused:
        # Changing settings mid-run would break the exact-continuation guarantee.
        raise UsageError(
            f"--resume keeps the run's saved settings; only --steps and --quiet may be given "
            f"(got {', '.join(refused)})."
        )
    from vidinterp.api.train import resume_training

    _interruptible(run_dir, lambda: resume_training(run_dir, given["steps"], quiet=given["quiet"]))


def _start(given: dict[str, Any]) -> None:
    from vidinterp.api.train import start_training

    data_dir, out = given["data_dir"], given["out"]
    if data_dir is None:
        raise UsageError("give DATA_DIR (a folder of training videos), or --resume RUN_DIR.")
    if out is None:
        raise UsageError("give --out RUN_DIR: the folder for checkpoints and logs.")
    settings = {
        option.field: option.to_config(given[option.name])
        for option in OPTIONS
        if option.field is not None and given[option.name] is not None
    }
    options = dict(recipe=given["recipe"], settings=settings, interval=given["interval"], loss=given["loss"],
                   model_config=given["model_config"], quiet=given["quiet"])
    _interruptible(out, lambda: start_training(data_dir, out, **options))


def _flag(option: Option) -> str:
    """How the user wrote `option` (its first flag; DATA_DIR for the argument)."""
    declared = getattr(option.declaration, "param_decls", None) or ()
    if isinstance(option.declaration, typer.models.ArgumentInfo):
        return option.name.upper()
    flags = [flag for flag in declared if flag.startswith("--")]
    return flags[0] if flags else f"--{option.name.replace('_', '-')}"


def _interruptible(run_dir: Path, run: Callable[[], Any]) -> None:
    """Run the training; on Ctrl-C or SIGTERM say where the checkpoint is and how to continue."""
    from vidinterp.signals import Terminated, exit_status

    try:
        run()
    except KeyboardInterrupt as exc:
        # Raised as a VidinterpError so the exit status stays 130, or 143 after SIGTERM (Typer would turn a bare
        # KeyboardInterrupt into a returned exit code that the entry point drops), and the user learns how to go on.
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        last = Path(run_dir) / "last"
        if last.is_dir():
            raise Interrupted(
                f"{what}; checkpoint saved in {last}; continue with: vidinterp train --resume {run_dir}",
                exit_status(exc),
            ) from None
        raise Interrupted(f"{what} before the first checkpoint; to try again, run the same command (the run starts "
                          "over)", exit_status(exc)) from None
