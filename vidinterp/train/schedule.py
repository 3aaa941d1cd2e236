"""Learning-rate schedule: linear warm-up, then cosine decay (a pure function of the step, so nothing to save)."""

from __future__ import annotations

import math


def learning_rate(step: int, base_lr: float, total_steps: int, warmup_steps: int, min_ratio: float = 0.01) -> float:
    """LR for optimizer step `step` (0-based): ramps linearly to `base_lr` over `warmup_steps`, then follows a cosine
    from `base_lr` down to `base_lr · min_ratio` at `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
