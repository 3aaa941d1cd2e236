"""LPIPS, used only when it can run offline: the `lpips` package with its weights and the backbone already on disk.

Nothing is ever downloaded. When something is missing, `load_lpips` says what, and reports show the column
as unavailable with that reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

#: torchvision's ImageNet AlexNet checkpoint, which lpips loads as its backbone
ALEXNET_CHECKPOINT_PREFIX = "alexnet-owt-"


class LpipsMetric:
    """LPIPS (AlexNet, v0.1) distance per item; lower is better. Inputs N×3×H×W on the 0..255 scale."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.model = model.to(device).eval()
        self.device = device

    @torch.inference_mode()
    def __call__(self, pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        scale = lambda x: (x.to(self.device, torch.float32) / 127.5) - 1  # noqa: E731 — lpips wants [-1, 1]
        return self.model(scale(pred), scale(truth)).flatten().double().cpu()


def _missing_reason() -> str | None:
    """Why LPIPS cannot run offline, or None when everything it needs is on disk."""
    if importlib.util.find_spec("lpips") is None:
        return "the 'lpips' package is not installed (pip install lpips)"
    if importlib.util.find_spec("torchvision") is None:
        return "lpips needs torchvision, which is not installed"
    package_dir = Path(importlib.util.find_spec("lpips").origin).parent
    if not (package_dir / "weights" / "v0.1" / "alex.pth").is_file():
        return f"the lpips linear-layer weights are missing from {package_dir / 'weights' / 'v0.1'}"
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    if not any(checkpoints.glob(f"{ALEXNET_CHECKPOINT_PREFIX}*.pth")):
        return f"the AlexNet backbone weights are not in {checkpoints} (they would have to be downloaded)"
    return None


def load_lpips(device: torch.device | str = "cpu") -> tuple[LpipsMetric | None, str | None]:
    """(metric, None) when LPIPS can run without a download, else (None, reason)."""
    reason = _missing_reason()
    if reason:
        return None, reason
    try:
        import lpips

        model = lpips.LPIPS(net="alex", version="0.1", verbose=False)
    except Exception as exc:  # a broken install must not stop the other metrics
        return None, f"lpips failed to load ({exc})"
    return LpipsMetric(model, torch.device(device)), None
