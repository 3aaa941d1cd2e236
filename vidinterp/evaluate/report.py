"""Present evaluation results: a rich table for people (stderr) and a JSON document for programs (stdout)."""

from __future__ import annotations

import math
import platform
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from vidinterp.evaluate.evaluate import SetResult
from vidinterp.evaluate.metrics import PSNR_CAP_DB
from vidinterp.evaluate.vmaf import MODEL_NAME as VMAF_MODEL

METRIC_DEFINITIONS = {
    "psnr": "dB, RGB on 0..255 after rounding the prediction like a saved frame; mean of per-item PSNR; "
    f"identical images count as {PSNR_CAP_DB:g} dB (the cap)",
    "ssim": "Gaussian-window SSIM (11x11, sigma 1.5, K1 0.01, K2 0.03, L 255) per RGB channel over the valid "
    "region, averaged; mean of per-item SSIM; null for frames smaller than the window (and for a set with any)",
    "mae": "mean absolute error on 0..255 over RGB samples (Middlebury 'IE'); mean of per-item MAE",
    "lpips": "LPIPS AlexNet v0.1 (lower is better), only when the lpips package and its weights are on disk",
    "vmaf": "VMAF v0.6.1 (vmaf-torch, 0..100, higher is better) on BT.601 limited-range luma at the item's own size, "
    "each item scored as a one-frame video (motion feature 0), so not the score of a whole video; mean of per-item "
    "VMAF; only when vmaf-torch is installed",
    "temporal_error": "videos only: mean |(P[i+1]-P[i]) - (T[i+1]-T[i])| on 0..255 over consecutive frames of the "
    "reconstructed clip (kept real frames included); 0 = no added flicker; equals MAE at drop 2",
    "seconds_per_item": "wall time of the interpolation alone (prepare + synthesize), per interpolated frame",
}


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def versions() -> dict[str, str]:
    """Versions of vidinterp and the libraries that affect the numbers."""
    import av
    import numpy
    import torch

    from vidinterp.version import __version__

    return {
        "vidinterp": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "av": av.__version__,
        "numpy": numpy.__version__,
    }


def to_json(
    results: list[SetResult],
    *,
    method: str,
    model_path: str | None,
    device: str,
    fp16: bool,
    drop: int,
    lpips_reason: str | None,
    vmaf_reason: str | None = None,
) -> dict:
    """The whole evaluation as a JSON-ready dict: run settings, versions, metric definitions, per-set summary
    and items."""
    sets = []
    for result in results:
        sets.append(
            {
                "name": result.name,
                "kind": result.kind,
                "layout": result.layout,
                "path": result.path,
                "summary": {key: _finite(value) for key, value in result.summary().items()},
                "items": [{key: _finite(value) for key, value in asdict(item).items()} for item in result.items],
            }
        )
    return {
        "method": method,
        "model_path": model_path,
        "device": device,
        "fp16": fp16,
        "drop": drop,
        "versions": versions(),
        "metrics": METRIC_DEFINITIONS,
        "lpips": {"available": lpips_reason is None, "reason": lpips_reason},
        "vmaf": {"available": vmaf_reason is None, "reason": vmaf_reason, "model": VMAF_MODEL},
        "sets": sets,
    }


def _format(value: float | None, digits: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def render_table(results: list[SetResult], console: Console, *, title: str, lpips_reason: str | None,
                 vmaf_reason: str | None = None) -> None:
    """Print one row per dataset or video (means over its items) to `console`.

    The LPIPS and VMAF columns appear when they were computed (their reason is None); why they were not is in
    the JSON, and said by `say_unavailable` when the user asked for them.
    """
    optional = [(name, key, digits) for name, key, digits, reason in
                (("LPIPS", "lpips", 4, lpips_reason), ("VMAF", "vmaf", 2, vmaf_reason)) if reason is None]
    table = Table(title=title, title_justify="left")
    table.add_column("set / video", overflow="fold")
    table.add_column("layout")
    headers = ["items", "PSNR dB", "SSIM", "MAE", *(name for name, _, _ in optional), "temporal err", "s/item"]
    for header in headers:
        table.add_column(header, justify="right")
    for result in results:
        summary = result.summary()
        table.add_row(
            result.name,
            result.layout,
            str(summary["items"]),
            _format(summary["psnr"], 2),
            _format(summary["ssim"], 4),
            _format(summary["mae"], 2),
            *(_format(summary[key], digits) for _, key, digits in optional),
            _format(summary["temporal_error"], 2),
            _format(summary["seconds_per_item"], 3),
        )
    console.print(table)


#: "LPIPS unavailable: ..." lines already printed by this process
_said: set[str] = set()


def say_unavailable(console: Console, metric: str, reason: str | None) -> None:
    """Say why a metric the user asked for could not be computed, once per process."""
    line = f"{metric} unavailable: {reason}"
    if reason is None or line in _said:
        return
    _said.add(line)
    console.print(line, style="dim")
