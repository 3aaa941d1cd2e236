"""Side-by-side pictures of evaluation items, to see where an interpolator fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidinterp.evaluate.images import write_png

#: error (0..255 scale) that maps to the top of the colour scale; small errors stay visible
ERROR_FULL_SCALE = 64.0
PANEL_GAP = 4


def to_uint8(image: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 or uint16 (0..65535) → uint8 for display."""
    if image.dtype == np.uint8:
        return image
    return np.round(image.astype(np.float64) * (255 / 65535)).astype(np.uint8)


def error_map(result: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 heat map of the per-pixel error (mean over RGB): black = exact, red → yellow → white = worse."""
    error = np.abs(to_uint8(result).astype(np.float64) - to_uint8(truth).astype(np.float64)).mean(axis=2)
    level = np.clip(error / ERROR_FULL_SCALE, 0, 1) * 3  # 0..1 red, 1..2 green, 2..3 blue
    channels = [np.clip(level - offset, 0, 1) for offset in (0, 1, 2)]
    return np.round(np.stack(channels, axis=-1) * 255).astype(np.uint8)


def side_by_side(frame0: np.ndarray, frame1: np.ndarray, result: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """One row: first input, second input, result, truth, error map (white gaps between the panels)."""
    panels = [to_uint8(image) for image in (frame0, frame1, result, truth)] + [error_map(result, truth)]
    height = panels[0].shape[0]
    gap = np.full((height, PANEL_GAP, 3), 255, np.uint8)
    row: list[np.ndarray] = []
    for panel in panels:
        row.extend([panel, gap])
    return np.concatenate(row[:-1], axis=1)


def save_comparison(path: Path, frame0: np.ndarray, frame1: np.ndarray, result: np.ndarray, truth: np.ndarray) -> Path:
    """Write the side-by-side PNG of one item to `path` (folders created, written atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_png(path, side_by_side(frame0, frame1, result, truth))
