"""Prepare once, synthesize in chunks: the one loop that makes in-between frames, for the API
(`FrameInterpolator.interpolate`), the retiming pipeline (`pipeline.engine`) and evaluation.

The t-independent work for a batch of pairs (`Interpolator.prepare`: features, motion) is done once; the
requests (pair, t) are then made `batch_size` at a time, which bounds the memory one call holds (factor 16 asks
for 15 frames per pair), and each chunk is handed back as soon as it is made.
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol, Sequence

import numpy as np
import torch

from vidinterp.execution.frames import FrameCache


class Interpolating(Protocol):
    """What the loop needs of an interpolator: `vidinterp.interpolators.base.Interpolator`'s two calls."""

    def prepare(self, images0: Sequence[np.ndarray], images1: Sequence[np.ndarray],
                cache: FrameCache | None = None) -> Any: ...

    def synthesize(self, prepared: Any, pair_index: torch.Tensor, t: torch.Tensor) -> list[np.ndarray]: ...


#: one in-between frame to make: (pair number within the batch, t in (0, 1))
Request = tuple[int, float]


def synthesize_in_chunks(
    interpolator: Interpolating,
    images0: Sequence[np.ndarray],
    images1: Sequence[np.ndarray],
    requests: Sequence[Request],
    batch_size: int,
    cache: FrameCache | None = None,
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Yield (index of the chunk's first request, its frames) for `requests` on the pairs
    (images0[i], images1[i]), after one `prepare` of them all. Frames have the inputs' shape and dtype.

    `cache`: the caller's `FrameCache` for frames shared between consecutive calls (the pipeline's)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    prepared = interpolator.prepare(images0, images1, cache)
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        pair_index = torch.tensor([pair for pair, _ in chunk], dtype=torch.long)
        t = torch.tensor([value for _, value in chunk], dtype=torch.float32)
        yield start, interpolator.synthesize(prepared, pair_index, t)


__all__ = ["Interpolating", "Request", "synthesize_in_chunks"]
