"""Side-by-side pictures of evaluation items, to see where an interpolator fails.

One row of five panels (frame 0, frame 1, result, truth, error map) with a label strip above each panel and,
below, the item's name, t and scores, plus the error map's colour scale. The pictures themselves are not
drawn on, so they can still be inspected pixel by pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidinterp.errors import VidinterpError
from vidinterp.io.images import write_png
from vidinterp.labels import caption, line_height, text_scale, text_width

#: error (0..255 scale) that maps to the top of the colour scale; small errors stay visible
ERROR_FULL_SCALE = 64.0
PANEL_GAP = 4
PANEL_LABELS = ("frame 0", "frame 1", "result", "truth", f"error (0-{ERROR_FULL_SCALE:g}+)")


@dataclass(frozen=True)
class ComparisonText:
    """What is printed under the panels: the item, its t and its scores."""

    name: str
    t: float
    psnr: float
    ssim: float | None  # None: frames too small for SSIM's window
    mae: float
    vmaf: float | None = None

    def lines(self) -> list[str]:
        ssim = "n/a" if self.ssim is None else f"{self.ssim:.4f}"
        vmaf = f"  VMAF {self.vmaf:.1f}" if self.vmaf is not None else ""
        return [f"{self.name}  t = {self.t:.3g}",
                f"PSNR {self.psnr:.2f} dB  SSIM {ssim}  MAE {self.mae:.2f}{vmaf}"]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 or uint16 (0..65535) → uint8 for display."""
    if image.dtype == np.uint8:
        return image
    return np.round(image.astype(np.float64) * (255 / 65535)).astype(np.uint8)


def _heat(level: np.ndarray) -> np.ndarray:
    """0..1 → uint8 RGB: black, red, yellow, white."""
    scaled = np.clip(level, 0, 1) * 3  # 0..1 red, 1..2 green, 2..3 blue
    channels = [np.clip(scaled - offset, 0, 1) for offset in (0, 1, 2)]
    return np.round(np.stack(channels, axis=-1) * 255).astype(np.uint8)


def error_map(result: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 heat map of the per-pixel error (mean over RGB): black = exact, red → yellow → white = worse."""
    error = np.abs(to_uint8(result).astype(np.float64) - to_uint8(truth).astype(np.float64)).mean(axis=2)
    return _heat(error / ERROR_FULL_SCALE)


def _scale_bar(width: int, height: int, scale: float) -> np.ndarray:
    """The error map's colour scale from 0 to ERROR_FULL_SCALE, with its end values written beside it."""
    top = f"{ERROR_FULL_SCALE:g}+"
    labels = caption(["0"], width, scale)[:height], caption([top], width, scale)[:height]
    left, right = min(width // 4, text_width("0", scale)), min(width // 3, text_width(top, scale))
    bar_width = max(1, width - left - right)
    bar = np.repeat(_heat(np.linspace(0, 1, bar_width))[None], height, axis=0)
    return np.concatenate([labels[0][:, :left], bar, labels[1][:, :right]], axis=1)[:, :width]


def _row(panels: list[np.ndarray], gap: int, fill: int) -> np.ndarray:
    spacer = np.full((panels[0].shape[0], gap, 3), fill, np.uint8)
    row: list[np.ndarray] = []
    for panel in panels:
        row.extend([panel, spacer])
    return np.concatenate(row[:-1], axis=1)


def side_by_side(
    frame0: np.ndarray, frame1: np.ndarray, result: np.ndarray, truth: np.ndarray, text: ComparisonText | None = None
) -> np.ndarray:
    """Labelled row: first input, second input, result, truth, error map; scores and colour scale below."""
    panels = [to_uint8(image) for image in (frame0, frame1, result, truth)] + [error_map(result, truth)]
    width = panels[0].shape[1]
    scale = text_scale(width)
    labels = [caption([label], width, scale) for label in PANEL_LABELS]
    lines = text.lines() if text is not None else [""]
    bar = _scale_bar(width, line_height(scale), scale)
    bar = np.concatenate([bar, np.zeros((line_height(scale) * (len(lines) - 1), width, 3), np.uint8)])
    footer = _row([caption(lines, 4 * width + 3 * PANEL_GAP, scale), bar], PANEL_GAP, 0)
    return np.concatenate([_row(labels, PANEL_GAP, 0), _row(panels, PANEL_GAP, 255), footer], axis=0)


def save_comparison(
    path: Path,
    frame0: np.ndarray,
    frame1: np.ndarray,
    result: np.ndarray,
    truth: np.ndarray,
    text: ComparisonText | None = None,
) -> Path:
    """Write the labelled side-by-side PNG of one item to `path` (folders created, written atomically)."""
    picture = side_by_side(frame0, frame1, result, truth, text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_png(path, picture)
    except OSError as exc:  # e.g. a file where the set's folder goes, or a full disk
        raise VidinterpError(f"cannot write the comparison picture {path}: {exc.strerror or exc}") from None
