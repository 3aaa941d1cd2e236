"""The frame pair that latency benchmarks time: two consecutive frames of real video, laid out as the pipeline
hands them to an interpolator (H×W×3 uint8 arrays).

Random noise, what the benchmarks timed before, is the wrong input: DIS flow and the warps cost what they
cost on structured, moving images, not on noise.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

#: which frames of the clip: far enough in for the clip's motion to be under way
FIRST_FRAME = 10


@functools.lru_cache(maxsize=4)
def _decoded_pair(clip: str) -> tuple[np.ndarray, np.ndarray]:
    from vidinterp.io.reader import open_video

    with open_video(clip) as reader:
        images = []
        for frame in reader.frames():
            images.append(frame.image)
            if len(images) > FIRST_FRAME + 1:
                break
    if len(images) < 2:
        raise ValueError(f"{clip} has fewer than two frames")
    return images[-2], images[-1]


def benchmark_images(height: int, width: int, clip: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frames FIRST_FRAME and FIRST_FRAME + 1 of `clip` (the last two of a shorter clip; default: the packaged
    sample, 480×270), resized to width × height (bicubic): two H×W×3 uint8 arrays, the frames the pipeline hands
    an interpolator."""
    import cv2

    from vidinterp.io.sample import sample_clip_path

    images = _decoded_pair(str(clip or sample_clip_path()))
    resized = [cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC) for image in images]
    return resized[0], resized[1]


def benchmark_pair(height: int, width: int, clip: str | Path | None = None,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """`benchmark_images` as two 1×3×H×W float32 tensors in [0, 1] (`execution.frames.to_tensor`), for the
    benchmarks of single ops."""
    from vidinterp.execution.frames import to_tensor

    device = torch.device(device)
    return tuple(to_tensor([image], device) for image in benchmark_images(height, width, clip))


__all__ = ["FIRST_FRAME", "benchmark_images", "benchmark_pair"]
