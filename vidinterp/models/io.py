"""Saving and loading models: weights as safetensors, config as JSON (inside the file's metadata and beside it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from vidinterp.errors import VidinterpError
from vidinterp.io.atomic import write_atomically
from vidinterp.models.config import ModelConfig
from vidinterp.models.vfi import VFIModel

#: where the shipped default weights live (absent until a trained model is shipped)
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "weights" / "default.safetensors"
#: metadata keys written into every model file
FORMAT_KEY, FORMAT_VALUE, CONFIG_KEY = "format", "vidinterp-vfi-model", "vidinterp_config"


def _stem(path: str | os.PathLike) -> Path:
    """`x`, `x.safetensors` and `x.json` all name the model pair `x.safetensors` + `x.json`."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".safetensors", ".json") else path


def save_model(model: VFIModel, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write `<path>.safetensors` (weights, config in its metadata) and `<path>.json` (readable config).

    Returns the two paths. Never uses pickle.
    """
    if model.config is None:
        raise VidinterpError("cannot save a model without a ModelConfig; build it with VFIModel.from_config")
    stem = _stem(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights_path, config_path = stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")
    config_json = json.dumps(model.config.to_dict(), indent=2)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {FORMAT_KEY: FORMAT_VALUE, CONFIG_KEY: config_json}
    write_atomically(weights_path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    write_atomically(config_path, lambda tmp: tmp.write_text(config_json + "\n"))
    return weights_path, config_path


def _read_config(weights_path: Path) -> ModelConfig:
    with safe_open(str(weights_path), framework="pt") as f:
        metadata = f.metadata() or {}
    text = metadata.get(CONFIG_KEY)
    if text is None:
        # Fall back to the JSON beside the weights (e.g. weights written by another tool).
        json_path = weights_path.with_suffix(".json")
        if not json_path.is_file():
            raise VidinterpError(f"{weights_path} has no model config (no metadata and no {json_path.name} beside it)")
        text = json_path.read_text()
    try:
        return ModelConfig.from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise VidinterpError(f"{weights_path}: model config is not valid JSON ({exc.msg})") from exc


def load_model(path: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> VFIModel:
    """Load a model saved by `save_model`, in eval mode on `device`. None loads the shipped default weights."""
    if path is None:
        weights_path = DEFAULT_WEIGHTS
        if not weights_path.is_file():
            raise VidinterpError(
                "no default model weights are shipped yet; pass --model PATH to a trained model or use --method blend"
            )
    else:
        stem = _stem(path)
        weights_path = stem.with_name(stem.name + ".safetensors")
        if not weights_path.is_file():
            raise VidinterpError(f"model file not found: {weights_path}")
    try:
        config = _read_config(weights_path)
        state = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise VidinterpError(f"{weights_path} is not a readable vidinterp model file ({exc})") from exc
    model = VFIModel.from_config(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise VidinterpError(f"{weights_path} does not match its model config (missing or mis-shaped weights)") from exc
    return model.to(device).eval()
