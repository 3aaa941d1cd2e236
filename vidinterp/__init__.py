"""vidinterp: video frame interpolation from the command line and from Python.

    import vidinterp

    interp = vidinterp.load(device="cpu")                 # the shipped model, loaded once
    middle = interp.interpolate(frame0, frame1)           # NumPy H×W×3 (uint8/uint16/float) or torch B×3×H×W
    quarter, half, three_quarters = interp.interpolate(frame0, frame1, t=[0.25, 0.5, 0.75])
    summary = vidinterp.upsample("in.mp4", "out.mp4", vidinterp.UpsampleOptions(factor=4), interpolator=interp)
    vidinterp.upsample(vidinterp.sample_clip_path(), "sample_x2.mp4")   # the packaged clip, as --sample
    report = vidinterp.evaluate_on("middlebury", interpolator=interp)

Importing the package is cheap: the names below load their modules (and torch) on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vidinterp.lazy import lazy_exports as _lazy_exports
from vidinterp.version import __version__ as __version__  # the one place it is set

# Public name → the module that defines it.
_EXPORTS = {
    "load": "vidinterp.api.pair",
    "FrameInterpolator": "vidinterp.api.pair",
    "upsample": "vidinterp.api.upsample",
    "UpsampleOptions": "vidinterp.api.options",
    "UpsampleSummary": "vidinterp.api.upsample",
    "evaluate_on": "vidinterp.api.evaluation",
    "EvaluationOptions": "vidinterp.api.options",
    "EvaluationReport": "vidinterp.api.evaluation",
    "VidinterpError": "vidinterp.errors",
    "UsageError": "vidinterp.errors",
    "sample_clip_path": "vidinterp.io.sample",
}

__all__ = [
    "EvaluationOptions",
    "EvaluationReport",
    "FrameInterpolator",
    "UpsampleOptions",
    "UpsampleSummary",
    "UsageError",
    "VidinterpError",
    "evaluate_on",
    "load",
    "sample_clip_path",
    "upsample",
]

if TYPE_CHECKING:
    from vidinterp.api.evaluation import EvaluationReport, evaluate_on
    from vidinterp.api.options import EvaluationOptions, UpsampleOptions
    from vidinterp.api.pair import FrameInterpolator, load
    from vidinterp.api.upsample import UpsampleSummary, upsample
    from vidinterp.errors import UsageError, VidinterpError
    from vidinterp.io.sample import sample_clip_path


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals())
