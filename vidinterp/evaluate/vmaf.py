"""VMAF, the video industry's perceptual quality score, when the optional `vmaf-torch` package is installed.

vmaf-torch implements Netflix's VMAF v0.6.1 model (the default of libvmaf and of ffmpeg's libvmaf filter) in
PyTorch, with the model's SVM inside the package: nothing is downloaded. Settings, as `ffmpeg -i result.png -i
truth.png -lavfi libvmaf` computes them on RGB pictures:
- luma only, from RGB with BT.601 limited-range weights (what ffmpeg uses to turn an untagged RGB picture into
  YUV), rounded to 8-bit samples, at the picture's own size (no rescaling to 1080p);
- the motion feature is 0: every item is scored as a one-frame video (libvmaf gives the first frame of a video
  motion 0 too), so scores of single frames are not those of whole videos, where motion raises the score of
  frames that change a lot;
- scores clipped to 0..100 as libvmaf's model does.
`tests/test_vmaf.py` holds this to libvmaf (the static ffmpeg of `imageio-ffmpeg`) on real frame pairs.
"""

from __future__ import annotations

import importlib.util

import torch

#: ITU-R BT.601 luma weights, and the limited ("TV") range 16..235 ffmpeg maps RGB 0..255 to.
BT601 = (0.299, 0.587, 0.114)
LIMITED_RANGE = (16.0, 219.0)
#: The smallest picture side vmaf-torch scores (its four-scale pyramid fails on 16 pixels); smaller items get None.
MIN_SIDE = 17
MODEL_NAME = "vmaf_v0.6.1"
INSTALL_HINT = "pip install 'vidinterp[vmaf]'"


def rgb_to_luma(frames: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB on the 0..255 scale → N×1×H×W float32 limited-range luma (16..235), as ffmpeg converts it,
    rounded to 8-bit samples as libvmaf reads them (unrounded luma scored 1.1 points higher on a real pair)."""
    weights = frames.new_tensor(BT601, dtype=torch.float64).view(1, 3, 1, 1)
    offset, span = LIMITED_RANGE
    luma = (frames.double() * weights).sum(1, keepdim=True) * (span / 255) + offset
    return luma.round().float()


class VmafMetric:
    """VMAF v0.6.1 per item (0..100, higher is better); inputs N×3×H×W RGB on the 0..255 scale."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.model = model.to(device).eval()
        self.device = device

    @torch.inference_mode()
    def __call__(self, pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        if pred.shape != truth.shape or pred.ndim != 4 or pred.shape[1] != 3:
            raise ValueError(f"expected two N×3×H×W tensors of one shape, got {tuple(pred.shape)} and "
                             f"{tuple(truth.shape)}")
        if min(pred.shape[-2:]) < MIN_SIDE:
            raise ValueError(f"VMAF needs pictures of at least {MIN_SIDE}×{MIN_SIDE} pixels, got "
                             f"{tuple(pred.shape[-2:])}")
        reference = rgb_to_luma(truth).to(self.device)
        distorted = rgb_to_luma(pred).to(self.device)
        return self.model(reference, distorted).flatten().double().cpu()


def missing_reason() -> str | None:
    """Why VMAF cannot run here, or None."""
    if importlib.util.find_spec("vmaf_torch") is None:
        return f"the 'vmaf-torch' package is not installed ({INSTALL_HINT})"
    return None


def load_vmaf(device: torch.device | str = "cpu") -> tuple[VmafMetric | None, str | None]:
    """(metric, None) when vmaf-torch is installed and loads, else (None, reason)."""
    reason = missing_reason()
    if reason:
        return None, reason
    try:
        from vmaf_torch import VMAF

        model = VMAF(temporal_pooling=False, enable_motion=False, clip_score=True)
    except Exception as exc:  # a broken install must not stop the other metrics
        return None, f"vmaf-torch failed to load ({exc})"
    return VmafMetric(model, torch.device(device)), None


def vmaf_scores(pred: torch.Tensor, truth: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Per-item VMAF of N×3×H×W predictions against truths (RGB, 0..255 scale), for benchmarks.

    Raises RuntimeError with the reason when vmaf-torch is not available. The model is loaded once per device.
    """
    key = str(torch.device(device))
    metric = _loaded.get(key)
    if metric is None:
        metric, reason = load_vmaf(device)
        if metric is None:
            raise RuntimeError(f"VMAF unavailable: {reason}")
        _loaded[key] = metric
    return metric(pred, truth)


_loaded: dict[str, VmafMetric] = {}
