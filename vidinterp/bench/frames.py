"""The frame pair that latency benchmarks time: two consecutive frames of real video, laid out as the pipeline
hands them to an interpolator.

Random noise, what the benchmarks timed before, is the wrong input on two counts. DIS flow and the warps cost
what they cost on structured, moving images, not on noise. And the pipeline converts decoded H×W×3 images
with `to_tensor`, which gives channels-last float32 frames: the CPU paths read those without a copy (OpenCV's
shrink, grey conversion and render), while plain N×3×H×W tensors cost each of them a transposing copy that
users never pay. (For the shipped model at 720p, a random N×3×H×W pair measured 135 ms and a real pair in the
pipeline's layout 105 ms.)
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


def benchmark_pair(height: int, width: int, clip: str | Path | None = None,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Frames FIRST_FRAME and FIRST_FRAME + 1 of `clip` (the last two of a shorter clip; default: the packaged
    sample, 480×270), resized to width × height (bicubic), as two 1×3×H×W float32 tensors in [0, 1] made by
    the pipeline's `to_tensor`."""
    import cv2

    from vidinterp.io.sample import sample_clip_path
    from vidinterp.pipeline.convert import to_tensor

    images = _decoded_pair(str(clip or sample_clip_path()))
    resized = [cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC) for image in images]
    device = torch.device(device)
    return to_tensor([resized[0]], device), to_tensor([resized[1]], device)


__all__ = ["FIRST_FRAME", "benchmark_pair"]
