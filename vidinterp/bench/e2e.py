"""End-to-end timing: `create_interpolator(method).interpolate` on one frame pair at a few frame sizes (two frames
of the packaged sample clip, as the pipeline hands them over: see `vidinterp.bench.frames`)."""

from __future__ import annotations

import functools
from typing import Callable

import torch

from vidinterp.bench.frames import benchmark_images
from vidinterp.bench.timing import median_seconds
from vidinterp.execution.settings import Settings, build_settings

E2E_SIZES = ((640, 480), (1280, 720))
E2E_METHODS = ("blend", "model")


def run_e2e_bench(
    methods: tuple[str, ...] = E2E_METHODS,
    sizes: tuple[tuple[int, int], ...] = E2E_SIZES,
    device: str = "auto",
    repeats: int = 3,
    warmup: int = 1,
    on_row: Callable[[dict], None] | None = None,
    settings: Settings | None = None,
) -> list[dict]:
    """One row per method × size: median seconds of interpolate(f0, f1, 0.5), or a note why it was skipped.
    settings: how the interpolators run (`vidinterp bench`'s interpolator options; None = the defaults on
    `device`); their method is each of `methods`, their weights only the model's."""
    from vidinterp.interpolators import create_interpolator

    settings = settings if settings is not None else build_settings(device=device)

    rows = []
    candidates = []
    for method in methods:
        try:
            model = settings.model if method == "model" else None
            candidates.append((method, create_interpolator(settings=settings.replace(method=method, model=model))))
        except Exception as exc:  # noqa: BLE001 - e.g. no shipped weights for "model": a note, not a failure
            row = {"method": method, "skipped": f"create_interpolator({method!r}) failed: {exc}"}
            rows.append(row)
            if on_row:
                on_row(row)
            if method == "model":
                untrained = _untrained_model_interpolator(settings.replace(method="model", model=None))
                if untrained is not None:
                    candidates.append(("model (untrained weights)", untrained))
    for method, interpolator in candidates:
        dev = torch.device(interpolator.device)
        for width, height in sizes:
            f0, f1 = benchmark_images(height, width)
            row = {"method": method, "device": str(dev), "width": width, "height": height}
            try:
                with torch.inference_mode():
                    # partial binds this pass's interpolator and frames (a lambda would read the loop's names)
                    pair = functools.partial(interpolator.interpolate, [f0], [f1], 0.5)
                    seconds = median_seconds(pair, dev, repeats, warmup)
                row.update(ms=seconds * 1e3, fps=1.0 / seconds)
            except Exception as exc:  # noqa: BLE001
                row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            if on_row:
                on_row(row)
    return rows


def _untrained_model_interpolator(settings: Settings):
    """The model architecture with random weights: its speed does not depend on the weights. None if unavailable."""
    try:
        from vidinterp.interpolators.model import ModelInterpolator
        from vidinterp.models import ModelConfig, VFIModel

        torch.manual_seed(0)
        return ModelInterpolator(model=VFIModel.from_config(ModelConfig()), settings=settings)
    except Exception:  # noqa: BLE001 - the model package may be mid-change; the skip note already says why
        return None
