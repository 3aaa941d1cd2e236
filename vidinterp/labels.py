"""Text on pictures (comparison panels, montage videos) with OpenCV's built-in Hershey font: no system fonts.

Hershey fonts cover printable ASCII only, so labels are written with ASCII ('-', '+', 'x'). Sizes follow the
picture: `text_scale(width)` fits a label of about two dozen characters across a panel of that width.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidinterp.io.frames import max_value

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: label characters that should fit across one panel
_CHARS_PER_PANEL = 24
#: width of one character at scale 1.0 (pixels, FONT_HERSHEY_SIMPLEX, measured with getTextSize)
_CHAR_WIDTH = 20.0
_MIN_SCALE, _MAX_SCALE = 0.3, 1.2


def text_scale(width: int) -> float:
    """Font scale for labels on a panel `width` pixels wide (small panels get small, still legible text)."""
    return float(np.clip(width / (_CHARS_PER_PANEL * _CHAR_WIDTH), _MIN_SCALE, _MAX_SCALE))


def _thickness(scale: float) -> int:
    return 1 if scale < 0.8 else 2


def line_height(scale: float) -> int:
    """Pixels one line of text takes, padding included."""
    (_, height), baseline = cv2.getTextSize("Ag", FONT, scale, _thickness(scale))
    return height + baseline + max(2, round(6 * scale))


def text_width(text: str, scale: float) -> int:
    """Pixels `text` takes across at `scale`, with the margin `caption` leaves on its left."""
    (width, _), _ = cv2.getTextSize(text, FONT, scale, _thickness(scale))
    return width + 2 * max(2, round(4 * scale))


def caption(lines: list[str], width: int, scale: float) -> np.ndarray:
    """A black uint8 strip `width` wide with `lines` in white, one under the other; text past the edge is cut."""
    step = line_height(scale)
    strip = np.zeros((step * len(lines), width, 3), np.uint8)
    for row, text in enumerate(lines):
        _put(strip, text, row * step, step, scale, (255, 255, 255))
    return strip


def overlay_label(image: np.ndarray, text: str, scale: float) -> None:
    """Write `text` in white on a dark box in the top-left corner of an H×W×3 uint8/uint16 image (in place)."""
    top = max_value(image.dtype)
    step = line_height(scale)
    (text_width, _), _ = cv2.getTextSize(text, FONT, scale, _thickness(scale))
    pad = max(2, round(4 * scale))
    box = image[:step, : min(image.shape[1], text_width + 2 * pad)]
    box //= 3  # darken rather than hide what is under the label
    _put(image, text, 0, step, scale, (top, top, top), left=pad)


def _put(image: np.ndarray, text: str, y: int, step: int, scale: float, colour: tuple, left: int | None = None) -> None:
    (_, height), baseline = cv2.getTextSize("Ag", FONT, scale, _thickness(scale))
    x = max(2, round(4 * scale)) if left is None else left
    baseline_y = y + (step - baseline + height) // 2
    cv2.putText(image, text, (x, baseline_y), FONT, scale, colour, _thickness(scale), cv2.LINE_AA)
