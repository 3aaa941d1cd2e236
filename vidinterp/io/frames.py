"""The picture type that flows from the decoder through the pipeline to the encoder."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


def max_value(dtype: np.dtype) -> int:
    """Full-scale value of an image dtype: 255 for uint8, 65535 for uint16."""
    if dtype == np.uint8:
        return 255
    if dtype == np.uint16:
        return 65535
    raise TypeError(f"expected uint8 or uint16 images, got {dtype}")


@dataclass(frozen=True)
class VideoFrame:
    """One RGB picture and when it is shown.

    image: H×W×3 numpy array, RGB, C-contiguous. uint8 for 8-bit sources; uint16 on the full 0..65535 scale
        for deeper sources (10/12-bit are scaled up by the decoder, as ffmpeg's rgb48 does).
    time: presentation time in seconds from the start of the stream (exact rational).
    index: position in presentation order, starting at 0.
    """

    image: np.ndarray
    time: Fraction
    index: int

    @property
    def max_value(self) -> int:
        return max_value(self.image.dtype)
