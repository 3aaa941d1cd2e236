"""Scene-cut detection: should the pipeline refuse to interpolate between two consecutive frames?

Interpolating across a cut gives a ghostly double exposure, so the pipeline asks this module about every
interval. Refusing where there is no cut is just as visible: a held frame in the middle of a sprint reads as a
stutter. So the question is not "do these frames differ a lot?" (a fast pan changes every pixel) but "can
motion explain the second frame from the first?".

The evidence is the one the interpolator works with, optical flow: DIS flow both ways (`execution.prior`) on
grey thumbnails at most `THUMB_SIDE` pixels on their longer side, normalised to zero mean and unit standard
deviation so flashes and fades (global brightness and contrast changes) are not differences. A pixel is
*unexplained* when, over its neighbourhood, both

- the warped residual is large: the detail layer of the other frame (the picture less its blur, so smooth
  changes of light drop out), warped back by the flow, differs by more than `RESIDUAL_LIMIT` times the
  picture's mean detail, and
- the flow is forward–backward inconsistent at most of its pixels (Sundaram et al., ECCV 2010:
  |f + b|² > 0.01 (|f|² + |b|²) + 0.5 px²): no single motion takes them there and back.

Moving content, however fast, is explained almost everywhere; what is left is the strip that enters the frame
and what moving objects uncover. Between two shots flow is noise, and both tests fail over most of the picture.
Pixels without texture in either frame (sky, walls, the black of a fade, highlights burnt out by a flash) carry
no evidence either way, so each pixel counts by its texture, and pixels whose flow leaves the frame are left
out. The **score** is the textured share of the picture that motion cannot explain, averaged over both
directions, 0 … 1: a moved picture scores near 0, two unrelated shots 0.4 to 0.8 (DIS finds some consistent
match in any picture, so a cut never flags all of it).

The decision, like x264's scenecut and PySceneDetect's AdaptiveDetector, weighs a pair against its neighbours
when the video gives any. A pair is a cut when its score is above the threshold *and* stands out from the median
of the last `CONTEXT_PAIRS` pairs by `CONTEXT_MARGIN` (hand-held footage at a third of its frame rate leaves much
unexplained in every pair; a cut is a jump above that level). Without context (the first pair of a video, a
triplet) it must clear the stricter `LONE_THRESHOLD` instead.

A jump cut between two takes of one place (same camera, same room, the same person moved) leaves only the
person unexplained, as little as a tenth of the picture: no more than a fast object crossing a still shot or a
violent shake. For these a second, independent line of evidence can stand in for the missing score: the
colours. Two takes rarely share white balance and exposure, and a new person brings new colours, so the
hue–saturation histogram of the picture jumps (PySceneDetect's HistogramDetector, ffmpeg's scdet); moving
content keeps its colours. A pair is then a cut when *both* stand out from calm neighbours: its score is at least
`CORROBORATED_SHARE` of the threshold and `MOTION_RATIO` times the context's median, and its colour change is
at least `COLOUR_FLOOR` and `COLOUR_RATIO` times what the pairs before it show (their median or the last pair,
whichever is larger: a dissolve or fade ramps up, a cut comes from nowhere). A change of light (flash, fade,
exposure: the mean brightness moves by `STEADY_LIGHT` or more) changes colours without a new shot, so it never
corroborates. The constants were chosen on the tune half of benchmarks/scenecuts.py and checked on its held-out
half (figures in the README).

The thumbnails cost the same whatever `--method` makes the frames, so blend, classical and the model get the same
decision; it is made before a pair is batched, because a held or cross-faded pair never reaches the interpolator.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from vidinterp.execution.frames import opencv
from vidinterp.execution.prior import DisFlow
from vidinterp.io.frames import VideoFrame, max_value

#: Longer side of the thumbnails flow is estimated on. At 160 px the whole decision costs about 10 ms of CPU
#: time a pair (a 720p frame included), and shots still differ in more than their large shapes.
THUMB_SIDE = 160
#: Thumbnails flatter than this (standard deviation, in units of full scale) are not stretched further, so
#: sensor noise on a black frame is not amplified into "content".
MIN_CONTRAST = 0.02
#: Grey levels per standard deviation in the uint8 thumbnails DIS reads (±4 standard deviations fit).
LEVELS_PER_STD = 32.0
#: The residual is compared on detail only: each thumbnail less its blur at this scale (thumbnail pixels), so
#: a smooth change of light (a local flash, a vignette, a shadow) is not a difference.
DETAIL_SIGMA = 6.0
#: Side of the neighbourhood (thumbnail pixels) both tests average over.
NEIGHBOURHOOD = 7
#: The warped residual of a neighbourhood must exceed this multiple of the picture's mean absolute detail to
#: count against the motion (two unrelated pictures differ by about 1.4 times it).
RESIDUAL_LIMIT = 0.9
#: Local standard deviation (5×5, in units of full scale) at which a pixel counts fully as texture; flatter
#: pixels count in proportion. Measured on the picture as shot, so near-black frames of a fade and highlights
#: burnt out by a flash carry little weight.
FULL_TEXTURE = 0.03
#: Pairs before the one judged that make up its context, and how many of them a context needs at least.
CONTEXT_PAIRS = 8
MIN_CONTEXT = 2
#: With context, a cut's score must also exceed the context's median by this much.
CONTEXT_MARGIN = 0.15
#: Without context, a pair must score at least this (and above the threshold) to count as a cut.
LONE_THRESHOLD = 0.45
#: Hue × saturation bins of the colour histogram (hue carries the colours; four saturation levels separate a
#: grey wall from a coloured one).
COLOUR_BINS = (12, 4)
#: Corroborated by colour, a cut's score must reach this share of the threshold and this multiple of the
#: context's median (plus 0.02, so a perfectly still context does not make any score stand out) ...
CORROBORATED_SHARE = 0.3
MOTION_RATIO = 2.0
#: ... and its colour change (half the L1 distance of the histograms, 0 … 1) at least this, and this multiple of
#: the context's level plus 0.04 (moving content shifts the histogram by 0.01–0.08 a pair).
COLOUR_FLOOR = 0.08
COLOUR_RATIO = 3.0
#: A change of mean brightness (units of full scale) from which colours are not evidence of a new shot.
STEADY_LIGHT = 0.05


@dataclass(frozen=True)
class Thumbnail:
    """A frame as the detector sees it: normalised grey levels for DIS, its detail layer and texture weights."""

    #: uint8, mean 128, LEVELS_PER_STD levels per standard deviation (global brightness and contrast drop out)
    grey: np.ndarray
    #: float32 grey less its blur at DETAIL_SIGMA, in standard deviations of the thumbnail
    detail: np.ndarray
    #: float32 0 … 1: local texture of the picture as shot (see FULL_TEXTURE)
    texture: np.ndarray
    #: float32 hue × saturation histogram of the picture as shot (COLOUR_BINS), summing to 1
    colours: np.ndarray
    #: mean grey level of the picture as shot, 0 … 1
    light: float


def thumbnail(image: np.ndarray) -> Thumbnail:
    """The detector's view of an H×W×3 uint8/uint16 image, longer side at most THUMB_SIDE pixels."""
    cv2 = opencv()
    height, width = image.shape[:2]
    scale = min(1.0, THUMB_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image
    grey = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY).astype(np.float32) / max_value(image.dtype)
    colours = _colour_histogram(small, max_value(image.dtype))
    light = float(grey.mean())
    mean = cv2.blur(grey, (5, 5))
    local_std = np.sqrt(np.maximum(cv2.blur(grey * grey, (5, 5)) - mean * mean, 0))
    texture = np.minimum(local_std / FULL_TEXTURE, 1)
    grey -= grey.mean()
    grey /= max(float(grey.std()), MIN_CONTRAST)
    detail = grey - cv2.GaussianBlur(grey, (0, 0), DETAIL_SIGMA)
    levels = np.clip(np.rint(grey * LEVELS_PER_STD + 128), 0, 255).astype(np.uint8)
    return Thumbnail(levels, detail, texture, colours, light)


def _colour_histogram(small: np.ndarray, full_scale: int) -> np.ndarray:
    cv2 = opencv()
    # OpenCV's float HSV: hue in degrees, saturation 0 … 1 (uint16 has no HSV conversion).
    hsv = cv2.cvtColor(np.ascontiguousarray(small, dtype=np.float32) / full_scale, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1], None, list(COLOUR_BINS), [0, 360, 0, 1 + 1e-6]).ravel()
    return histogram / max(float(histogram.sum()), 1.0)


def _unexplained_share(thumb0: Thumbnail, thumb1: Thumbnail, flow: np.ndarray, back: np.ndarray) -> float:
    """The textured share of thumb0 that thumb1 warped by `flow` (thumb0[p] ≈ thumb1[p + flow[p]]) cannot
    explain: a large residual and forward–backward inconsistent flow at once."""
    cv2 = opencv()
    height, width = thumb0.grey.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)

    def warp(values: np.ndarray) -> np.ndarray:
        return cv2.remap(values, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    # Both tests look at a pixel's neighbourhood (NEIGHBOURHOOD², averaged), not the pixel alone: one pixel of
    # unrelated detail matches by chance as often as not, a neighbourhood of it does not.
    window = (NEIGHBOURHOOD, NEIGHBOURHOOD)
    error = cv2.blur(np.abs(thumb0.detail - warp(thumb1.detail)), window)
    residual = error > RESIDUAL_LIMIT * max(float(np.abs(thumb0.detail).mean()), 1e-3)
    back_warped = warp(back)
    round_trip = ((flow + back_warped) ** 2).sum(-1)
    magnitude = (flow**2).sum(-1) + (back_warped**2).sum(-1)
    inconsistent = cv2.blur((round_trip > 0.01 * magnitude + 0.5).astype(np.float32), window) > 0.5
    # Evidence only where both pictures have texture, and only where the flow stays inside the picture.
    weight = np.minimum(thumb0.texture, warp(thumb1.texture)) * inside
    total = float(weight.sum())
    if total < 1e-6:
        return 0.0  # nothing textured to judge by: no evidence of a cut
    return float((weight * (residual & inconsistent)).sum() / total)


class MotionEvidence:
    """Computes the score of a pair of thumbnails: DIS flow both ways, then the unexplained share both ways."""

    def __init__(self) -> None:
        # DIS's ultrafast settings, but at the thumbnail's full resolution (finest scale 0).
        self._flow = DisFlow("ultrafast", full_resolution_pixels=THUMB_SIDE * THUMB_SIDE, threads=1)

    def score(self, thumb0: Thumbnail, thumb1: Thumbnail) -> float:
        if thumb0.grey.shape != thumb1.grey.shape:
            return 1.0
        flow_01, flow_10 = self._flow.from_grey(thumb0.grey[None], thumb1.grey[None])
        flow_01 = flow_01[0].permute(1, 2, 0).numpy()
        flow_10 = flow_10[0].permute(1, 2, 0).numpy()
        return 0.5 * (_unexplained_share(thumb0, thumb1, flow_01, flow_10)
                      + _unexplained_share(thumb1, thumb0, flow_10, flow_01))


@dataclass(frozen=True)
class ColourEvidence:
    """How a pair's colours changed, and how those of the pairs before it did (oldest first)."""

    #: half the L1 distance of the two pictures' colour histograms, 0 … 1
    change: float
    #: change of mean brightness, in units of full scale
    light: float
    context: tuple[float, ...] = ()

    @staticmethod
    def of(thumb0: Thumbnail, thumb1: Thumbnail, context: tuple[float, ...] = ()) -> ColourEvidence:
        return ColourEvidence(0.5 * float(np.abs(thumb0.colours - thumb1.colours).sum()),
                              abs(thumb1.light - thumb0.light), context)

    def stands_out(self) -> bool:
        """A jump in colour the context does not show, and not one a change of light explains."""
        if self.light >= STEADY_LIGHT or len(self.context) < MIN_CONTEXT:
            return False
        level = max(float(np.median(self.context)), self.context[-1])
        return self.change >= max(COLOUR_FLOOR, COLOUR_RATIO * level + 0.04)


def scene_change_score(image0: np.ndarray, image1: np.ndarray) -> float:
    """The score of one pair of H×W×3 images: the textured share of the picture motion cannot explain, 0 … 1."""
    return MotionEvidence().score(thumbnail(image0), thumbnail(image1))


class SceneCutDetector:
    """Judges consecutive pairs, in order, against their recent neighbours; shrinks each frame once."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._evidence = MotionEvidence()
        # (image, its thumbnail); holding the image itself keeps `is` comparisons safe from id reuse
        self._cached: tuple[np.ndarray, Thumbnail] | None = None
        self._recent: deque[float] = deque(maxlen=CONTEXT_PAIRS)
        self._recent_colours: deque[float] = deque(maxlen=CONTEXT_PAIRS)
        #: the score of the last pair judged (for logs and the benchmark)
        self.last_score = 0.0

    def _thumbnail(self, frame: VideoFrame) -> Thumbnail:
        if self._cached is not None and self._cached[0] is frame.image:
            return self._cached[1]
        thumb = thumbnail(frame.image)
        self._cached = (frame.image, thumb)
        return thumb

    def score(self, frame0: VideoFrame, frame1: VideoFrame) -> float:
        """The pair's score (call in order: frame1's thumbnail is kept for the next pair)."""
        return self._evidence_of(frame0, frame1)[0]

    def _evidence_of(self, frame0: VideoFrame, frame1: VideoFrame) -> tuple[float, ColourEvidence | None]:
        if frame0.image.shape != frame1.image.shape:
            return 1.0, None  # a change of picture size mid-stream is a cut by any measure
        thumb0 = self._thumbnail(frame0)
        thumb1 = self._thumbnail(frame1)
        colour = ColourEvidence.of(thumb0, thumb1, tuple(self._recent_colours))
        return self._evidence.score(thumb0, thumb1), colour

    def is_cut(self, frame0: VideoFrame, frame1: VideoFrame) -> bool:
        """True when the pair straddles a scene cut; pairs must come in order (the decision uses the last ones)."""
        score, colour = self._evidence_of(frame0, frame1)
        self.last_score = score
        cut = decide(score, list(self._recent), self.threshold, colour)
        self._recent.append(score)
        self._recent_colours.append(colour.change if colour is not None else 1.0)
        return cut


def decide(score: float, context: list[float], threshold: float, colour: ColourEvidence | None = None) -> bool:
    """The cut decision for a pair's score given the scores of the pairs before it (oldest first), and, when
    known, how its colours changed."""
    if len(context) < MIN_CONTEXT:
        return score > threshold and score >= LONE_THRESHOLD
    median = float(np.median(context))
    if score > threshold and score >= median + CONTEXT_MARGIN:
        return True
    corroborated = score >= CORROBORATED_SHARE * threshold and score >= MOTION_RATIO * median + 0.02
    return corroborated and colour is not None and colour.stands_out()
