"""`vidinterp train`: train an interpolation model on a folder of videos and/or frame sequences."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidinterp.errors import Interrupted, UsageError


def _run(config, resume: bool = False) -> None:
    from vidinterp.signals import Terminated, exit_status
    from vidinterp.train.train import train

    try:
        train(config, resume=resume)
    except KeyboardInterrupt as exc:
        # Raised as a VidinterpError so the exit status stays 130, or 143 after SIGTERM (Typer would turn a bare
        # KeyboardInterrupt into a returned exit code that the entry point drops), and the user learns how to go on.
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        last = Path(config.out_dir) / "last"
        if last.is_dir():
            raise Interrupted(f"{what}; checkpoint saved in {last}; continue with: vidinterp train --resume {config.out_dir}",
                              exit_status(exc)) from None
        raise Interrupted(f"{what} before the first checkpoint", exit_status(exc)) from None


HELP = (
    "Train a frame interpolation model on your own footage.\n\n"
    "DATA_DIR is searched recursively for videos (mp4, mkv, mov, webm, avi, ...) and folders of numbered frames "
    "(png/jpg). Each source is decoded once into a cache (default DATA_DIR/.vidinterp-cache) that later runs reuse. "
    "Checkpoints, logs and the best weights go to RUN_DIR: RUN_DIR/best/model.safetensors is what "
    "'vidinterp upsample --model' takes. Settings come from --recipe (default: the shipped 'default' recipe); "
    "options given here override it.\n\n"
    "Multi-GPU / multi-process: torchrun --nproc_per_node N -m vidinterp train ..."
)


def register(app: typer.Typer) -> None:
    @app.command("train", help=HELP)
    def train_command(
        data_dir: Annotated[Optional[Path], typer.Argument(help="Folder of training videos and/or frame folders (not needed with --resume).", show_default=False)] = None,
        out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder for checkpoints and logs (created if missing).", show_default=False)] = None,
        recipe: Annotated[Optional[str], typer.Option(help="Recipe name (shipped in vidinterp/recipes) or path to a .toml/.json recipe; gives defaults for every option below.")] = None,
        model_config: Annotated[Optional[Path], typer.Option("--model-config", help="JSON file with the model's ModelConfig (overrides the recipe's model table).", show_default=False)] = None,
        steps: Annotated[Optional[int], typer.Option(help="Optimizer steps to train for (with --resume: the new total).", min=1, show_default=False)] = None,
        batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Clips per step, summed over all processes.", min=1, show_default=False)] = None,
        crop: Annotated[Optional[int], typer.Option(help="Side of the square random crop, in pixels (multiple of the model's pad multiple).", min=8, show_default=False)] = None,
        lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (AdamW).", min=0, show_default=False)] = None,
        weight_decay: Annotated[Optional[float], typer.Option("--weight-decay", help="AdamW weight decay.", min=0, show_default=False)] = None,
        warmup_steps: Annotated[Optional[int], typer.Option("--warmup-steps", help="Steps of linear LR warm-up before the cosine decay.", min=0, show_default=False)] = None,
        interval: Annotated[Optional[str], typer.Option(help="Frames between keyframes: N, or MIN-MAX to draw it per step (varied t and motion). 2 = predict the middle frame.", show_default=False)] = None,
        clip_length: Annotated[Optional[int], typer.Option("--clip-length", help="Frames per training sample (at least interval + 1).", min=3, show_default=False)] = None,
        loss: Annotated[Optional[list[str]], typer.Option("--loss", help="Loss term NAME=WEIGHT; repeat for several (replaces the recipe's losses).", show_default=False)] = None,
        recon_weight: Annotated[Optional[float], typer.Option("--recon-weight", help="Weight of the keyframe reconstruction loss (0 disables).", min=0, show_default=False)] = None,
        warp_weight: Annotated[Optional[float], typer.Option("--warp-weight", help="Weight of the warping loss, which trains motion directly (0 disables).", min=0, show_default=False)] = None,
        distill_weight: Annotated[Optional[float], typer.Option("--distill-weight", help="Weight of flow distillation from a classical optical-flow teacher (OpenCV DIS; 0 disables).", min=0, show_default=False)] = None,
        teacher: Annotated[Optional[str], typer.Option("--teacher", help="Teacher's DIS preset: ultrafast, fast or medium (slower, better flow).", show_default=False)] = None,
        workers: Annotated[Optional[int], typer.Option(help="DataLoader worker processes (default: 0 on CPU, several on GPU).", min=0, show_default=False)] = None,
        seed: Annotated[Optional[int], typer.Option(help="Random seed: same seed and settings give the same run.", show_default=False)] = None,
        val: Annotated[Optional[Path], typer.Option("--val", help="Validate on this evaluation folder (Middlebury, Vimeo-90K or UCF101 layout) instead of held-out clips.", show_default=False)] = None,
        val_every: Annotated[Optional[int], typer.Option("--val-every", help="Validate (PSNR at the middle frame) every K steps.", min=1, show_default=False)] = None,
        checkpoint_every: Annotated[Optional[int], typer.Option("--checkpoint-every", help="Save RUN_DIR/last every K steps (and always at the end).", min=1, show_default=False)] = None,
        device: Annotated[Optional[str], typer.Option(help="auto, cpu or cuda.", show_default=False)] = None,
        amp: Annotated[Optional[bool], typer.Option("--amp/--no-amp", help="Mixed precision on CUDA (bf16, or fp16 with loss scaling).", show_default=False)] = None,
        grad_clip: Annotated[Optional[float], typer.Option("--grad-clip", help="Clip the global gradient norm to this (0 disables).", min=0, show_default=False)] = None,
        init: Annotated[Optional[Path], typer.Option(help="Start from these weights (a .safetensors written by vidinterp).", show_default=False)] = None,
        warm_start: Annotated[Optional[str], typer.Option("--warm-start", help="Start from the tensors of these weights (a path, or a shipped model's name such as 'learned') whose names and shapes match; the model config may differ.", show_default=False)] = None,
        resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder exactly where it stopped.", show_default=False)] = None,
        cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Where decoded frames are cached (default: DATA_DIR/.vidinterp-cache).", show_default=False)] = None,
        cache_size: Annotated[Optional[int], typer.Option("--cache-size", help="Downscale cached frames so the short side is at most this (0 = full size).", min=0, show_default=False)] = None,
        cache_max_frames: Annotated[Optional[int], typer.Option("--cache-max-frames", help="Cache at most this many frames per video (0 = all).", min=0, show_default=False)] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only warnings, errors and the final summary.")] = False,
    ) -> None:
        from vidinterp.train.config import TrainConfig, apply_overrides, load_recipe, parse_interval, parse_loss_options
        if resume is not None:
            # A resumed run keeps its saved settings; only the step count may grow.
            if out is not None and out.resolve() != resume.resolve():
                raise UsageError("--resume continues in its own folder; leave --out out (or give the same folder).")
            others = {"DATA_DIR": data_dir, "--recipe": recipe, "--model-config": model_config, "--batch-size": batch_size,
                      "--crop": crop, "--lr": lr, "--weight-decay": weight_decay, "--warmup-steps": warmup_steps,
                      "--interval": interval, "--clip-length": clip_length, "--loss": loss, "--recon-weight": recon_weight,
                      "--warp-weight": warp_weight, "--distill-weight": distill_weight, "--teacher": teacher,
                      "--workers": workers, "--seed": seed, "--val": val, "--val-every": val_every,
                      "--checkpoint-every": checkpoint_every, "--device": device, "--amp/--no-amp": amp,
                      "--grad-clip": grad_clip, "--init": init, "--warm-start": warm_start, "--cache-dir": cache_dir, "--cache-size": cache_size,
                      "--cache-max-frames": cache_max_frames}
            given = [name for name, value in others.items() if value is not None]
            if given:
                # Changing settings mid-run would break the exact-continuation guarantee.
                raise UsageError(f"--resume keeps the run's saved settings; only --steps and --quiet may be given (got {', '.join(given)}).")
            config = TrainConfig(out_dir=str(resume), steps=steps or 0, quiet=quiet)
            _run(config, resume=True)
            return
        if data_dir is None:
            raise UsageError("give DATA_DIR (a folder of training videos), or --resume RUN_DIR.")
        if out is None:
            raise UsageError("give --out RUN_DIR: the folder for checkpoints and logs.")
        recipe_values = load_recipe(recipe or "default")
        config = apply_overrides(TrainConfig(), recipe_values, f"recipe {recipe or 'default'}")
        overrides = {
            "data_dir": str(data_dir), "out_dir": str(out), "steps": steps, "batch_size": batch_size, "crop": crop, "lr": lr,
            "weight_decay": weight_decay, "warmup_steps": warmup_steps, "clip_length": clip_length, "recon_weight": recon_weight,
            "warp_weight": warp_weight, "distill_weight": distill_weight, "teacher": teacher, "workers": workers, "seed": seed, "val_dir": str(val) if val else None, "val_every": val_every,
            "checkpoint_every": checkpoint_every, "device": device, "amp": amp, "grad_clip": grad_clip,
            "init": str(init) if init else None, "warm_start": warm_start, "cache_dir": str(cache_dir) if cache_dir else None, "cache_size": cache_size,
            "cache_max_frames": cache_max_frames, "quiet": quiet,
        }
        if interval is not None:
            overrides["interval_min"], overrides["interval_max"] = parse_interval(interval)
            if clip_length is None and config.clip_length < overrides["interval_max"] + 1:
                overrides["clip_length"] = overrides["interval_max"] + 1  # the recipe's clip is too short for this interval
        if loss:
            overrides["loss"] = parse_loss_options(loss)
        if init is not None:
            from vidinterp.interpolators import check_weights_path

            check_weights_path(init, "--init")
        if model_config is not None:
            import json

            try:
                overrides["model"] = json.loads(model_config.read_text())
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read --model-config {model_config}: {exc}") from exc
        if out.exists() and (out / "train_config.json").exists():
            raise UsageError(f"{out} already holds a run; use --resume {out} to continue it, or choose another --out.")
        _run(apply_overrides(config, overrides, "command line"))
