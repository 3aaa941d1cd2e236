"""Timing helpers: median of repeated runs after warm-up, CUDA events on GPU, and a copy-bandwidth yardstick."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], device: torch.device, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of `fn()` in seconds (CUDA events on the current stream for GPU work)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(max(1, repeats)):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            begin = time.perf_counter()
            fn()
            times.append(time.perf_counter() - begin)
    return statistics.median(times)


def copy_bandwidth(device: torch.device, megabytes: int, repeats: int = 5) -> float:
    """Achieved bytes/s of `dst.copy_(src)` on a large float32 buffer (read + write counted)."""
    count = megabytes * 2**20 // 4
    src = torch.rand(count, device=device)
    dst = torch.empty_like(src)
    seconds = median_seconds(lambda: dst.copy_(src), device, repeats=repeats, warmup=1)
    return 2 * src.numel() * src.element_size() / seconds
