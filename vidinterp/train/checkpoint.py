"""Run-folder checkpoints: `last/` (weights + trainer state to resume) and `best/` (weights with the best val PSNR).

Each is a folder holding `model.safetensors` + `model.json` (written by `vidinterp.models.save_model`, the shipped
format) and, for `last/`, `trainer.pt` (optimizer, AMP scaler, RNG states, step, sampler state: torch tensors and
plain containers only, loaded with `weights_only=True`). A folder is replaced as a whole
(`vidinterp.io.atomic.replace_folder`), so a crash never leaves a half-written checkpoint; if it struck between
the two renames, the previous folder is still found under its `.old` name (`find_folder`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from vidinterp.errors import VidinterpError
from vidinterp.io.atomic import find_folder, replace_folder

__all__ = ["find_folder", "load_trainer_state", "save_checkpoint", "weights_path"]

MODEL_STEM = "model"
TRAINER_STATE = "trainer.pt"


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
        with warnings.catch_warnings():  # torch's notes on unusual pickles would break the one-line error
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds (unpickling, zip, EOF) for a damaged file
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        if "weights only load failed" in reason.lower():  # torch's advice on trusting the file does not apply
            reason = "not a tensors-only checkpoint"
        raise VidinterpError(f"cannot read the training state {path} ({reason}); the checkpoint is damaged, so the "
                             "run cannot be continued exactly") from None
    if not isinstance(state, dict) or not all(key in state for key in ("step", "optimizer", "rng")):
        raise VidinterpError(f"the training state {path} is incomplete (it needs the step, optimizer and random "
                             "state); the checkpoint is damaged, so the run cannot be continued exactly")
    return state


def weights_path(folder: Path) -> Path:
    """The safetensors file inside a checkpoint folder."""
    return Path(folder) / f"{MODEL_STEM}.safetensors"
