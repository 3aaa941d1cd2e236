"""Scene-cut detection: should the pipeline refuse to interpolate between two consecutive frames?

Interpolating across a cut between two shots gives a ghostly double exposure, so the pipeline asks this module
about every interval. The test has to be cheap (it runs on every input pair) and must not fire on what
interpolation handles well, which rules out a plain frame difference: a fast pan changes every pixel.

The score follows the idea behind x264's scenecut decision: a frame is a cut when it cannot be *predicted* from
the previous one by motion compensation. On 64-pixel-wide grey thumbnails, each 8×8 block of the second frame
looks for its best match within ±6 thumbnail pixels (about 10 % of the frame width, far more motion than
interpolation can follow anyway) in the first frame; the score is the mean best-match error. Each thumbnail is
normalised to zero mean and unit standard deviation first, so flashes and fades (global brightness and contrast
changes) do not read as cuts. Pure frame differences (ffmpeg's `scdet`, PySceneDetect's content detector) need
an adaptive or minimum-scene-length rule to cope with motion; block matching does not.

Scale: 0 for identical content (after motion), about 1.1 for unrelated random-looking content (the mean absolute
difference of two independent unit-variance signals); smooth unrelated content scores lower because some blocks
find a passable match. See `DEFAULT_SCENE_THRESHOLD` in timing.py for the chosen threshold.
"""

from __future__ import annotations

import numpy as np

from vidinterp.io.frames import VideoFrame, max_value

THUMB_WIDTH = 64
BLOCK = 8
SEARCH_RADIUS = 6
#: Thumbnails flatter than this (standard deviation, in units of full scale) are not stretched further, so
#: sensor noise on a black frame is not amplified into "content".
MIN_CONTRAST = 0.02
# ITU-R BT.601 luma weights: grey as people see it, good enough for matching.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A small normalised grey picture of an H×W×3 uint8/uint16 image: float32 th×tw, zero mean, unit std.

    tw is 64 (or the image width rounded down to whole 8-pixel blocks), th keeps the aspect ratio in whole blocks.
    Point-samples a 4× denser grid and box-averages it, so only ~1/100 of a 1080p frame is read.
    """
    height, width = image.shape[:2]
    tw = max(BLOCK, min(THUMB_WIDTH, width) // BLOCK * BLOCK)
    th = max(BLOCK, round(tw * height / width / BLOCK) * BLOCK)
    ys = ((np.arange(th * 4) + 0.5) * height / (th * 4)).astype(np.intp)
    xs = ((np.arange(tw * 4) + 0.5) * width / (tw * 4)).astype(np.intp)
    samples = image[ys][:, xs].astype(np.float32) @ _LUMA
    grey = samples.reshape(th, 4, tw, 4).mean(axis=(1, 3))
    grey /= max_value(image.dtype)
    grey -= grey.mean()
    grey /= max(float(grey.std()), MIN_CONTRAST)
    return grey


def scene_change_score(thumb0: np.ndarray, thumb1: np.ndarray) -> float:
    """How badly thumb1 is predicted from thumb0 by block motion: mean over 8×8 blocks of the best-match mean |error|."""
    th, tw = thumb1.shape
    r = SEARCH_RADIUS
    padded = np.pad(thumb0, r, mode="edge")
    # Every shift at once: (2r+1)² shifted copies of thumb0 as a view, compared with thumb1 in one pass.
    shifted = np.lib.stride_tricks.sliding_window_view(padded, (th, tw))  # (2r+1)×(2r+1)×th×tw
    error = np.abs(shifted - thumb1).reshape(-1, th // BLOCK, BLOCK, tw // BLOCK, BLOCK).mean(axis=(2, 4))
    return float(error.min(axis=0).mean())


class SceneCutDetector:
    """Scores consecutive frame pairs and says which are cuts; remembers the last thumbnail so each frame is shrunk once."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        # (image, its thumbnail); holding the image itself keeps `is` comparisons safe from id reuse
        self._cached: tuple[np.ndarray, np.ndarray] | None = None

    def _thumbnail(self, frame: VideoFrame) -> np.ndarray:
        if self._cached is not None and self._cached[0] is frame.image:
            return self._cached[1]
        thumb = thumbnail(frame.image)
        self._cached = (frame.image, thumb)
        return thumb

    def score(self, frame0: VideoFrame, frame1: VideoFrame) -> float:
        """The scene-change score between two frames (call in order: frame1's thumbnail is kept for the next pair)."""
        if frame0.image.shape != frame1.image.shape:
            return float("inf")  # a change of picture size mid-stream is a cut by any measure
        thumb0 = self._thumbnail(frame0)
        return scene_change_score(thumb0, self._thumbnail(frame1))

    def is_cut(self, frame0: VideoFrame, frame1: VideoFrame) -> bool:
        """True when the pair straddles a scene cut."""
        return self.score(frame0, frame1) > self.threshold
