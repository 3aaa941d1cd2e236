"""Turn trained weights into a model file that runs as a shipped model does.

Training runs the DIS prior with the teacher's preset at every size (its keyframe flows then double as the
prior); the shipped default runs the same weights with its own, faster prior settings (model card: "Prior
settings"). `export_like` writes trained weights under a shipped model's prior settings, unchanged otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

from vidinterp.errors import VidinterpError

#: the ModelConfig fields that set the classical prior at run time (no tensor depends on them)
PRIOR_FIELDS = ("prior_preset", "prior_max_side", "prior_full_resolution_pixels")


def export_like(weights: str | os.PathLike, shipped: str, out: str | os.PathLike) -> Path:
    """Write `weights` (a path or shipped name) to `out` (.safetensors + .json) with the prior settings of the
    shipped model `shipped`; returns the .safetensors path. VidinterpError if the networks differ otherwise."""
    from vidinterp.models import ModelConfig, VFIModel, load_model, save_model

    model, reference = load_model(weights), load_model(shipped).config
    settings = model.config.to_dict()
    settings.update({name: getattr(reference, name) for name in PRIOR_FIELDS})
    rebuilt = VFIModel.from_config(ModelConfig.from_dict(settings))
    try:
        rebuilt.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as exc:
        raise VidinterpError(f"{weights} does not fit the network of {shipped} ({exc})") from exc
    weights_file, _ = save_model(rebuilt, out)
    return Path(weights_file)
