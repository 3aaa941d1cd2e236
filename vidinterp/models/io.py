"""Saving and loading models: weights as safetensors, config as JSON (inside the file's metadata and beside it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from vidinterp.errors import VidinterpError
from vidinterp.io.atomic import new_file_mode, write_atomically
from vidinterp.models.config import LEGACY_VALUES, ModelConfig
from vidinterp.models.vfi import VFIModel

#: where the shipped weights live: NAME.safetensors + NAME.json
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "assets" / "weights"
#: the shipped default model (classical DIS prior + learned refinement)
DEFAULT_WEIGHTS = SHIPPED_DIR / "default.safetensors"
#: shipped models by name, for --model NAME: what each one is
SHIPPED_MODELS = {
    "default": "DIS optical-flow prior refined by correlation, learned occlusion mask and residual (the default)",
    "learned": "motion learned from scratch, coarse to fine (the first shipped model; no classical prior)",
}
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

    def write_weights(tmp: Path) -> None:
        save_file(tensors, str(tmp), metadata=metadata)
        os.chmod(tmp, new_file_mode())  # safetensors writes the file private (0600); like every other output

    write_atomically(weights_path, write_weights)
    write_atomically(config_path, lambda tmp: tmp.write_text(config_json + "\n"))
    return weights_path, config_path


def _read_config(weights_path: Path) -> ModelConfig:
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _unreadable(weights_path, exc) from None
    text = metadata.get(CONFIG_KEY)
    if text is None:
        # Fall back to the JSON beside the weights (e.g. weights written by another tool).
        json_path = weights_path.with_suffix(".json")
        if not json_path.is_file():
            raise VidinterpError(f"{weights_path} has no model config (no metadata and no {json_path.name} beside it)")
        try:
            text = json_path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise VidinterpError(f"cannot read the model config {json_path}: {exc}") from None
    try:
        saved = json.loads(text)
        # Files written before a field existed meant its legacy value, not today's default.
        return ModelConfig.from_dict({**LEGACY_VALUES, **saved} if isinstance(saved, dict) else saved)
    except json.JSONDecodeError as exc:
        raise VidinterpError(f"{weights_path}: model config is not valid JSON ({exc.msg})") from exc
    except VidinterpError as exc:
        raise VidinterpError(f"{weights_path}: {exc}") from None


def _unreadable(path: Path, exc: BaseException) -> VidinterpError:
    reason = " ".join(str(exc).split())[:160] or type(exc).__name__
    return VidinterpError(f"{path} is not a readable safetensors weights file ({reason}); it may be truncated or "
                          "damaged (vidinterp train writes them)")


def read_weights(path: str | os.PathLike, expected: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on the CPU, refused in one line when they cannot be used: an unreadable
    or truncated file, a tensor holding NaN or infinity (a diverged or damaged run: every frame would come out
    black), or, given the `expected` state dict of the model they are for, a missing, unexpected or mis-shaped
    tensor."""
    path = Path(path)
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _unreadable(path, exc) from None
    broken = [name for name, tensor in state.items()
              if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if broken:
        raise VidinterpError(f"{path} holds NaN or infinite values in {len(broken)} of its {len(state)} tensors "
                             f"(e.g. {broken[0]}); the weights are damaged or their training diverged")
    if expected is not None:
        missing = [name for name in expected if name not in state]
        unexpected = [name for name in state if name not in expected]
        shapes = [name for name in expected if name in state and state[name].shape != expected[name].shape]
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            name = shapes[0]
            problems.append(f"{len(shapes)} of another shape (e.g. {name}: {tuple(state[name].shape)}, the config "
                            f"needs {tuple(expected[name].shape)})")
        if problems:
            raise VidinterpError(f"{path} does not match its model config: tensors {'; '.join(problems)}")
    return state


def weights_file(path: str | os.PathLike | None) -> Path:
    """The .safetensors file that `path` names: a file (with or without the suffix), a shipped model's name
    (see SHIPPED_MODELS), or None for the shipped default."""
    if path is None:
        if not DEFAULT_WEIGHTS.is_file():
            raise VidinterpError("no default model weights are shipped yet; pass --model PATH to a trained model or "
                                 "use --method blend")
        return DEFAULT_WEIGHTS
    stem = _stem(path)
    weights_path = stem.with_name(stem.name + ".safetensors")
    if weights_path.is_file():
        return weights_path
    if str(path) in SHIPPED_MODELS and (SHIPPED_DIR / f"{path}.safetensors").is_file():
        return SHIPPED_DIR / f"{path}.safetensors"
    names = ", ".join(SHIPPED_MODELS)
    raise VidinterpError(f"model file not found: {weights_path} (shipped models are named: {names})")


def load_model(path: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> VFIModel:
    """Load a model saved by `save_model`, in eval mode on `device`: a path, a shipped model's name, or None for
    the shipped default."""
    weights_path = weights_file(path)
    model = VFIModel.from_config(_read_config(weights_path))
    model.load_state_dict(read_weights(weights_path, model.state_dict()), strict=True)
    return model.to(device).eval()


def load_matching_weights(model: VFIModel, source: str | os.PathLike) -> list[str]:
    """Warm start: copy into `model` every tensor of `source` (a path or shipped name) with the same name and
    shape, except those `model` deliberately starts at zero (a prior model's output heads and gate), so that a
    warm-started prior model still starts exactly at its classical baseline. Returns the names copied."""
    state = read_weights(weights_file(source))
    own = model.state_dict()
    copied = [
        name for name, tensor in state.items()
        if name in own and own[name].shape == tensor.shape and bool(own[name].any())
    ]
    model.load_state_dict({**own, **{name: state[name] for name in copied}}, strict=True)
    return copied
