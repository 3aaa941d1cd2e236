"""Validation during training: mean PSNR over held-out triplets or over an evaluation folder."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vidinterp.data.dataset import ValidationTriplet
from vidinterp.errors import VidinterpError
from vidinterp.evaluate import metrics
from vidinterp.execution.frames import images_tensor
from vidinterp.execution.prior import DisFlow


@torch.no_grad()
def validate(
    model: torch.nn.Module, triplets: list[ValidationTriplet], device: torch.device, batch_size: int = 4
) -> float:
    """Mean PSNR (dB) over validation triplets; frames are edge-padded to the model's size multiple and cropped.

    The score is `vidinterp.evaluate.metrics.psnr` of the unrounded prediction (clamped to [0, 1]): the same
    formula and 100 dB cap that `vidinterp eval` reports, without the rounding to saved 8-bit frames.
    """
    was_training = model.training
    model.eval()
    multiple = getattr(model, "pad_multiple", 1)
    dis = DisFlow.for_config(model.config) if model.interpolation.uses_prior else None
    scores: list[float] = []
    try:
        groups: dict[tuple[int, ...], list[ValidationTriplet]] = {}
        for triplet in triplets:  # batch triplets of one size together
            groups.setdefault(tuple(triplet.frame0.shape), []).append(triplet)
        for group in groups.values():
            for i in range(0, len(group), batch_size):
                chunk = group[i : i + batch_size]

                def stacked(key: str, chunk=chunk) -> torch.Tensor:
                    return torch.stack([getattr(item, key) for item in chunk]).to(device).float() / 255

                f0, f1, target = stacked("frame0"), stacked("frame1"), stacked("target")
                t = torch.tensor([item.t for item in chunk], device=device)
                h, w = f0.shape[-2:]
                pad = (0, (-w) % multiple, 0, (-h) % multiple)
                if any(pad):
                    f0, f1 = F.pad(f0, pad, mode="replicate"), F.pad(f1, pad, mode="replicate")
                prior = dis(f0, f1) if dis is not None else None
                output = model(f0, f1, t, reconstruct=False, prior=prior).frame[..., :h, :w].float()
                scores.extend(metrics.psnr(output.clamp(0, 1) * metrics.PEAK, target * metrics.PEAK).tolist())
    finally:
        model.train(was_training)
    return float(sum(scores) / len(scores)) if scores else float("nan")


def load_val_dir(path: str) -> list[ValidationTriplet]:
    """Triplets (t = 0.5) from an evaluation folder in any layout `vidinterp.evaluate.layouts` recognises
    (Middlebury other-data/other-gt-interp, Vimeo-90K triplet, UCF101 DVF); videos found there are ignored."""
    import numpy as np

    from vidinterp.evaluate.images import read_image
    from vidinterp.evaluate.layouts import TripletSet, discover

    def to_tensor(image_path) -> torch.Tensor:
        image = read_image(image_path)
        if image.dtype != np.uint8:  # 16-bit ground truth: compare at 8 bits like the training data
            image = (image.astype(np.float64) / 257).round().astype(np.uint8)
        return images_tensor([image])[0]

    triplets = [
        ValidationTriplet(
            to_tensor(item.frame0), to_tensor(item.frame1), to_tensor(item.truth), 0.5, f"{found.name}/{item.name}"
        )
        for found in discover(path)
        if isinstance(found, TripletSet)
        for item in found.items
    ]
    if not triplets:
        raise VidinterpError(f"--val {path} holds no triplets (Middlebury, Vimeo-90K or UCF101 layout).")
    return triplets
