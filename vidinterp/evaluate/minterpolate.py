"""ffmpeg's motion-compensated `minterpolate` filter as a baseline interpolator (t = 0.5 only).

The recipe, checked against the minterpolate column of the eval-set baselines: feed the raw RGB frames
[frame0, frame1, frame1] as a 1 fps rawvideo stream to
`minterpolate=fps=2:mi_mode=mci` (other options at their defaults, scene-change detection on) and take output
frame 1, shown at 0.5 s, i.e. t = 0.5. With only the two frames the filter outputs nothing: it needs a frame
after the pair, and repeating frame1 does not change the middle frame. When its scene-change detection fires
(large differences, e.g. on small pictures), the filter repeats frame0; that is part of the baseline too.
ffmpeg converts rgb24 to yuv444p for the filter and back, with its default (BT.601) conversion; that loss is
part of the baseline.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import numpy as np
import torch

from vidinterp.errors import VidinterpError
from vidinterp.execution.frames import FrameCache, to_tensor, to_unit_array
from vidinterp.interpolators.base import Interpolator


def minterpolate_middle(frame0: np.ndarray, frame1: np.ndarray, ffmpeg: str = "ffmpeg") -> np.ndarray:
    """The t = 0.5 frame between two H×W×3 uint8 RGB frames, from ffmpeg's minterpolate (mci)."""
    if frame0.shape != frame1.shape or frame0.dtype != np.uint8 or frame0.ndim != 3 or frame0.shape[2] != 3:
        raise ValueError("expected two H×W×3 uint8 frames of one size")
    height, width = frame0.shape[:2]
    stream = b"".join(np.ascontiguousarray(frame).tobytes() for frame in (frame0, frame1, frame1))
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-threads", "1",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", "1", "-i", "-",
        "-vf", "minterpolate=fps=2:mi_mode=mci", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    done = subprocess.run(command, input=stream, capture_output=True)
    if done.returncode != 0:
        raise VidinterpError(f"ffmpeg minterpolate failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    frame_bytes = height * width * 3
    if len(done.stdout) < 2 * frame_bytes:
        raise VidinterpError(
            f"ffmpeg minterpolate returned {len(done.stdout) // frame_bytes} frames, expected at least 2"
        )
    return np.frombuffer(done.stdout[frame_bytes : 2 * frame_bytes], np.uint8).reshape(height, width, 3).copy()


class MinterpolateInterpolator(Interpolator):
    """ffmpeg minterpolate (mi_mode=mci) behind the Interpolator interface; runs on the CPU, t = 0.5 only."""

    name = "minterpolate"

    def __init__(self, ffmpeg: str | None = None) -> None:
        super().__init__("cpu", torch.float32)
        self.ffmpeg = ffmpeg or shutil.which("ffmpeg")
        if self.ffmpeg is None:
            raise VidinterpError("the minterpolate baseline needs the ffmpeg command-line tool on PATH")

    def _prepare_frames(self, images0: list[np.ndarray], images1: list[np.ndarray], cache: FrameCache) -> Any:
        # ffmpeg gets 8-bit RGB: the frames as they are, or rounded to 8 bits (exact for frames made from them).
        def eight_bit(image: np.ndarray) -> np.ndarray:
            return image if image.dtype == np.uint8 else np.rint(to_unit_array(image) * 255).astype(np.uint8)

        return [eight_bit(image) for image in images0], [eight_bit(image) for image in images1]

    def _prepare(self, frame0: torch.Tensor, frame1: torch.Tensor) -> Any:
        raise NotImplementedError("ffmpeg takes the frames as arrays (see _prepare_frames)")

    def _synthesize(self, state: Any, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not torch.allclose(t, torch.full_like(t, 0.5)):
            raise VidinterpError("the minterpolate baseline only makes the middle frame (t = 0.5)")
        frames0, frames1 = state
        out = [minterpolate_middle(frames0[i], frames1[i], self.ffmpeg) for i in pair_index.tolist()]
        return to_tensor(out, torch.device("cpu"))
