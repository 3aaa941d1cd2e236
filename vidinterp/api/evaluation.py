"""Score an interpolator on triplet datasets or videos: what `vidinterp eval` runs, as a function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidinterp.api.options import EvaluationOptions, as_options
from vidinterp.api.pair import FrameInterpolator, load
from vidinterp.evaluate.evaluate import (
    EvalOptions,
    ItemResult,
    SetResult,
    evaluate,
    expected_items,
)
from vidinterp.evaluate.layouts import discover
from vidinterp.evaluate.perceptual import load_lpips
from vidinterp.evaluate.report import to_json
from vidinterp.evaluate.vmaf import load_vmaf
from vidinterp.io.folders import check_folder_target

#: called after each scored item with (set name, its result)
ItemCallback = Callable[[str, ItemResult], None]


@dataclass(frozen=True)
class EvaluationReport:
    """Scores of every dataset or video found, with the settings they were made with.

    sets: one `SetResult` per dataset or video; `SetResult.summary()` gives the row the CLI prints (items,
        psnr, ssim, mae, lpips, temporal_error, seconds_per_item) and `.items` the per-item scores.
    lpips_reason, vmaf_reason: why LPIPS / VMAF are missing (None when they were computed).
    """

    method: str
    model: str | None  # the weights' path, "shipped weights", or None for the blend method
    device: str
    fp16: bool
    drop: int
    lpips_reason: str | None
    sets: list[SetResult] = field(default_factory=list)
    vmaf_reason: str | None = None

    def summaries(self) -> dict[str, dict]:
        """Set name → its summary row (means over its items)."""
        return {result.name: result.summary() for result in self.sets}

    def to_dict(self) -> dict:
        """The JSON document `vidinterp eval --json` writes (settings, versions, metric definitions, sets)."""
        return to_json(self.sets, method=self.method, model_path=self.model, device=self.device, fp16=self.fp16,
                       drop=self.drop, lpips_reason=self.lpips_reason, vmaf_reason=self.vmaf_reason)


def evaluate_on(
    path: str | Path,
    options: EvaluationOptions | Mapping[str, Any] | None = None,
    *,
    interpolator: FrameInterpolator | None = None,
    on_item: ItemCallback | None = None,
    on_start: Callable[[int | None], None] | None = None,
) -> EvaluationReport:
    """Score an interpolator on every triplet dataset or video at or below `path`.

    path: a Middlebury / Vimeo-90K / UCF101 (DVF) layout, a folder holding several, a video, or a folder of
        videos (frame-drop protocol, `options.drop`).
    options: an `EvaluationOptions`, or a mapping of its fields such as {"drop": 4}; None = the defaults.
    interpolator: one from `vidinterp.load`, reused instead of loading one from the options.
    on_item: called after each item with (set name, ItemResult). on_start: called once with the number of
        items that will be scored (None if unknown), before the first.
    Raises VidinterpError with a one-line message (e.g. when no data is recognised).
    """
    options = as_options(options, EvaluationOptions)
    if options.save_dir is not None:
        check_folder_target(options.save_dir, "--save-dir")  # now, not after the first item was interpolated
    datasets = discover(path)
    if interpolator is None:
        interpolator = load(settings=options.settings)
    skipped = (None, "not asked for")
    lpips_metric, lpips_reason = load_lpips(interpolator.device) if options.lpips is not False else skipped
    vmaf_metric, vmaf_reason = load_vmaf(interpolator.device) if options.vmaf is not False else skipped
    run = EvalOptions(drop=options.drop, limit=options.limit, save_dir=options.save_dir, lpips=lpips_metric,
                      vmaf=vmaf_metric)
    if on_start is not None:
        counts = [expected_items(dataset, run) for dataset in datasets]
        on_start(None if any(count is None for count in counts) else sum(counts))
    results = evaluate(datasets, interpolator.interpolator, run, on_item=on_item)
    if interpolator.method != "model":
        model = None
    else:
        model = str(interpolator.model_path) if interpolator.model_path is not None else "shipped weights"
    return EvaluationReport(interpolator.method, model, str(interpolator.device), interpolator.fp16, options.drop,
                            lpips_reason, results, vmaf_reason)
