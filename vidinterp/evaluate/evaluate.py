"""Score an interpolator on triplet datasets (t = 0.5) and on videos (frame-drop protocol).

Every prediction goes through `execution.loop.synthesize_in_chunks`, the same loop, padding and cropping
path as production, and is quantized like a saved frame before it is scored (see `metrics`).
Time per item is the interpolation alone (prepare + synthesize, device synchronised), not decoding or scoring.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from vidinterp.errors import VidinterpError
from vidinterp.evaluate import metrics
from vidinterp.evaluate.framedrop import DEFAULT_DROP, DropGroup, compared_frame_count, drop_groups
from vidinterp.evaluate.layouts import EvalSet, TripletFiles, TripletSet, VideoItem
from vidinterp.evaluate.perceptual import LpipsMetric
from vidinterp.evaluate.visualize import ComparisonText, save_comparison
from vidinterp.evaluate.vmaf import MIN_SIDE as VMAF_MIN_SIDE
from vidinterp.evaluate.vmaf import VmafMetric
from vidinterp.execution.frames import levels_to_image, to_levels, to_tensor, to_unit_array
from vidinterp.execution.loop import synthesize_in_chunks
from vidinterp.interpolators.base import Interpolator
from vidinterp.io.frames import max_value
from vidinterp.io.images import read_image

log = logging.getLogger("vidinterp.evaluate")

@dataclass
class ItemResult:
    """Scores of one interpolated frame (PSNR dB, SSIM, MAE, LPIPS and VMAF on 0..255 inputs; seconds of
    interpolation). LPIPS and VMAF are None when they were not computed."""

    name: str
    t: float
    psnr: float
    ssim: float | None  # None for frames smaller than SSIM's window (metrics.SSIM_WINDOW)
    mae: float
    seconds: float
    lpips: float | None = None
    vmaf: float | None = None


@dataclass
class SetResult:
    """All item scores of one dataset or video, plus the video's temporal error (None for triplet sets)."""

    name: str
    kind: str  # "triplets" or "video"
    layout: str
    path: str
    items: list[ItemResult] = field(default_factory=list)
    temporal_error: float | None = None
    #: (temporal error, frame pairs) of each drop group, pooled into `temporal_error` weighted by pairs
    _temporal_parts: list[tuple[float, int]] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        """Means over items (the way the benchmark tables report them)."""
        mean = lambda key: metrics.mean([getattr(item, key) for item in self.items])  # noqa: E731

        def mean_of_all(key: str) -> float | None:
            """The mean when every item has the score (a mean over some of them would not compare), else None."""
            values = [getattr(item, key) for item in self.items if getattr(item, key) is not None]
            return metrics.mean(values) if values and len(values) == len(self.items) else None

        return {
            "items": len(self.items),
            "psnr": mean("psnr"),
            "ssim": mean_of_all("ssim"),
            "mae": mean("mae"),
            "lpips": mean_of_all("lpips"),
            "vmaf": mean_of_all("vmaf"),
            "seconds_per_item": mean("seconds"),
            "temporal_error": self.temporal_error,
        }


@dataclass
class EvalOptions:
    """How to evaluate: frame-drop factor for videos, item limit per set, where to save pictures, LPIPS, VMAF."""

    drop: int = DEFAULT_DROP
    limit: int | None = None
    save_dir: Path | None = None
    lpips: LpipsMetric | None = None
    vmaf: VmafMetric | None = None


#: called after each item with the set's name and the new result (drives progress bars)
ItemCallback = Callable[[str, ItemResult], None]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "item"


def _predict(interpolator: Interpolator, image0: np.ndarray, image1: np.ndarray,
             times: list[float]) -> tuple[list[np.ndarray], float]:
    """The frames at `times` between two frames (one `prepare`, one chunk), as float32 in [0, 1] so that
    `_score` quantizes them like a saved frame of the truth's depth, and the seconds that took per frame."""
    start = time.perf_counter()
    requests = [(0, t) for t in times]
    unit0, unit1 = to_unit_array(image0), to_unit_array(image1)
    preds = [image for _, chunk in synthesize_in_chunks(interpolator, [unit0], [unit1], requests, len(requests))
             for image in chunk]
    _synchronize(interpolator.device)
    return preds, (time.perf_counter() - start) / len(times)


def _score(pred: np.ndarray, truth: np.ndarray, options: EvalOptions) -> tuple[torch.Tensor, dict]:
    """Quantize a prediction (H×W×3 float32 in [0, 1]) to the truth's bit depth and score it against the truth."""
    levels = metrics.quantize(to_tensor([pred], torch.device("cpu")), max_value(truth.dtype))
    target = to_levels([truth])
    scores = {
        "psnr": float(metrics.psnr(levels, target)[0]),
        "ssim": float(metrics.ssim(levels, target)[0]) if metrics.ssim_applies(levels) else None,
        "mae": float(metrics.mae(levels, target)[0]),
        "lpips": float(options.lpips(levels, target)[0]) if options.lpips else None,
        "vmaf": float(options.vmaf(levels, target)[0])
        if options.vmaf and min(target.shape[-2:]) >= VMAF_MIN_SIDE else None,
    }
    return levels, scores


def _caption(item: ItemResult, set_name: str | None = None) -> ComparisonText:
    name = f"{set_name} {item.name}" if set_name else item.name
    return ComparisonText(name, item.t, item.psnr, item.ssim, item.mae, item.vmaf)


def _load_triplet(item: TripletFiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames = [read_image(path) for path in (item.frame0, item.frame1, item.truth)]
    if len({frame.shape for frame in frames}) != 1:
        shapes = ", ".join(f"{frame.shape[1]}×{frame.shape[0]}" for frame in frames)
        raise VidinterpError(f"the frames of item '{item.name}' differ in size ({shapes})")
    return frames[0], frames[1], frames[2]


def evaluate_triplets(
    dataset: TripletSet, interpolator: Interpolator, options: EvalOptions, on_item: ItemCallback | None = None
) -> SetResult:
    """Interpolate each triplet at t = 0.5 from its outer frames and score it against the middle frame."""
    result = SetResult(dataset.name, "triplets", dataset.layout, str(dataset.root))
    items = dataset.items[: options.limit] if options.limit is not None else dataset.items
    for item in items:
        frame0, frame1, truth = _load_triplet(item)
        (pred,), seconds = _predict(interpolator, frame0, frame1, [0.5])
        levels, scores = _score(pred, truth, options)
        item_result = ItemResult(item.name, 0.5, seconds=seconds, **scores)
        result.items.append(item_result)
        if options.save_dir is not None:
            picture = options.save_dir / _safe_name(dataset.name) / f"{_safe_name(item.name)}.png"
            save_comparison(picture, frame0, frame1, levels_to_image(levels, truth.dtype), truth, _caption(item_result))
        if on_item:
            on_item(dataset.name, item_result)
    return result


def _evaluate_group(
    group: DropGroup,
    interpolator: Interpolator,
    options: EvalOptions,
    result: SetResult,
    video_name: str,
    on_item: ItemCallback | None,
) -> None:
    times = group.times
    preds, seconds = _predict(interpolator, group.before.image, group.after.image, times)
    predicted_run = [to_levels([group.before.image])]
    true_run = [to_levels([group.before.image])]
    for pred, frame, t in zip(preds, group.dropped, times):
        levels, scores = _score(pred, frame.image, options)
        item_result = ItemResult(f"frame {frame.index}", t, seconds=seconds, **scores)
        result.items.append(item_result)
        predicted_run.append(levels)
        true_run.append(to_levels([frame.image]))
        if options.save_dir is not None:
            picture = options.save_dir / _safe_name(video_name) / f"frame_{frame.index:06d}.png"
            save_comparison(
                picture,
                group.before.image,
                group.after.image,
                levels_to_image(levels, frame.image.dtype),
                frame.image,
                _caption(item_result, video_name),
            )
        if on_item:
            on_item(video_name, item_result)
    # Kept frames are shown as they are, so the run starts and ends on real frames.
    predicted_run.append(to_levels([group.after.image]))
    true_run.append(to_levels([group.after.image]))
    pairs = len(predicted_run) - 1
    result._temporal_parts.append((metrics.temporal_error(torch.cat(predicted_run), torch.cat(true_run)), pairs))


def evaluate_video(
    video: VideoItem, interpolator: Interpolator, options: EvalOptions, on_item: ItemCallback | None = None
) -> SetResult:
    """Frame-drop protocol on one video (see `framedrop`); adds the temporal error of the reconstruction."""
    from vidinterp.io.reader import open_video

    result = SetResult(video.name, "video", "video", str(video.path))
    with open_video(video.path) as reader:
        for group in drop_groups(reader.frames(), options.drop):
            if options.limit is not None:
                room = options.limit - len(result.items)
                if room <= 0:
                    break
                group = (
                    DropGroup(group.before, group.after, group.dropped[:room]) if room < len(group.dropped) else group
                )
            _evaluate_group(group, interpolator, options, result, video.name, on_item)
    if not result.items:
        raise VidinterpError(
            f"'{video.path}' is too short for --drop {options.drop}: it needs at least {options.drop + 1} frames"
        )
    # The mean over all frame pairs of the reconstruction: groups weigh by their pair count (a group cut short
    # by --limit has fewer pairs than the others).
    total_pairs = sum(pairs for _, pairs in result._temporal_parts)
    result.temporal_error = math.fsum(value * pairs for value, pairs in result._temporal_parts) / total_pairs
    return result


def expected_items(dataset: EvalSet, options: EvalOptions) -> int | None:
    """How many items evaluating `dataset` will score (an estimate for videos; None if unknown)."""
    if isinstance(dataset, TripletSet):
        count = len(dataset.items)
    else:
        from vidinterp.io.reader import open_video

        try:
            with open_video(dataset.path) as reader:
                frames = reader.info.frame_count
        except VidinterpError:
            return None
        if frames is None:
            return None
        count = compared_frame_count(frames, options.drop)
    return min(count, options.limit) if options.limit is not None else count


def evaluate(
    datasets: Iterable[EvalSet], interpolator: Interpolator, options: EvalOptions, on_item: ItemCallback | None = None
) -> list[SetResult]:
    """Evaluate every dataset or video in turn."""
    results = []
    for dataset in datasets:
        if isinstance(dataset, TripletSet):
            results.append(evaluate_triplets(dataset, interpolator, options, on_item))
        else:
            results.append(evaluate_video(dataset, interpolator, options, on_item))
        _warn_without_ssim(results[-1])
    return results


def _warn_without_ssim(result: SetResult) -> None:
    """Say once per set why its SSIM is missing (its frames are smaller than the window); the other scores stand."""
    small = sum(item.ssim is None for item in result.items)
    if small:
        window = metrics.SSIM_WINDOW
        log.warning("%s: %d of %d items have frames smaller than SSIM's %d×%d window; their SSIM is not computed "
                    "(PSNR and MAE are)", result.name, small, len(result.items), window, window)
