"""Run-folder checkpoints: `last/` (weights + trainer state to resume) and `best/` (weights with the best val PSNR).

Each is a folder holding `model.safetensors` + `model.json` (written by `vidinterp.models.save_model`, the shipped
format) and, for `last/`, `trainer.pt` (optimizer, AMP scaler, RNG states, step, sampler state: torch tensors and
plain containers only, loaded with `weights_only=True`). A folder is replaced as a whole: the new one is written
under a temporary name, then renamed into place, so a crash never leaves a half-written checkpoint; if it struck
between the two renames, the previous folder is still found under its `.old` name.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vidinterp.errors import VidinterpError

MODEL_STEM = "model"
TRAINER_STATE = "trainer.pt"


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def replace_folder(target: Path, write: Callable[[Path], None]) -> Path:
    """Write a folder's contents with `write(tmp_folder)`, then swap it in for `target` (old one removed)."""
    target = Path(target)
    tmp, old = target.with_name(f".{target.name}.tmp"), target.with_name(f".{target.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        _fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def find_folder(target: Path) -> Path | None:
    """`target`, or its `.old` copy left by a crash mid-swap, or None."""
    target = Path(target)
    if target.is_dir():
        return target
    old = target.with_name(f".{target.name}.old")
    return old if old.is_dir() else None


def save_checkpoint(target: Path, model: torch.nn.Module, trainer_state: dict[str, Any] | None = None) -> Path:
    """Atomically write `target/` with the model (safetensors + JSON config) and optional trainer state."""
    from vidinterp.models import save_model

    def write(folder: Path) -> None:
        save_model(model, folder / MODEL_STEM)
        if trainer_state is not None:
            torch.save(trainer_state, folder / TRAINER_STATE)

    return replace_folder(target, write)


def load_trainer_state(folder: Path) -> dict[str, Any]:
    """The trainer state of a checkpoint folder (tensors and plain containers only; no pickled code)."""
    path = Path(folder) / TRAINER_STATE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise VidinterpError(f"cannot read the training state {path} ({exc}).") from exc


def weights_path(folder: Path) -> Path:
    """The safetensors file inside a checkpoint folder."""
    return Path(folder) / f"{MODEL_STEM}.safetensors"
