"""The retiming pipeline: frame timing, scene cuts, batched interpolation, and the threaded decode → encode run.

Works on `VideoFrame` iterables only (no files), so the CLI wires it between `vidinterp.io.reader` and
`vidinterp.io.writer`:

    run_threaded(reader.frames(), lambda frames: retime(frames, interpolator, options, stats=stats), writer.write)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vidinterp.lazy import lazy_exports as _lazy_exports

# Names → the module defining them. Loaded on first use (PEP 562): the engine imports torch, and the timing
# helpers (rates, RetimeOptions) must stay cheap for option parsing and `vidinterp --help`.
_EXPORTS = {
    "RetimeStats": "vidinterp.pipeline.engine",
    "retime": "vidinterp.pipeline.engine",
    "SceneCutDetector": "vidinterp.pipeline.scenecut",
    "scene_change_score": "vidinterp.pipeline.scenecut",
    "thumbnail": "vidinterp.pipeline.scenecut",
    "configure_torch_threads": "vidinterp.pipeline.threads",
    "run_threaded": "vidinterp.pipeline.threads",
    "DEFAULT_SCENE_THRESHOLD": "vidinterp.pipeline.timing",
    "SCENE_CUT_MODES": "vidinterp.pipeline.timing",
    "RetimeOptions": "vidinterp.pipeline.timing",
    "output_rate": "vidinterp.pipeline.timing",
    "parse_rate": "vidinterp.pipeline.timing",
}

__all__ = [
    "DEFAULT_SCENE_THRESHOLD",
    "SCENE_CUT_MODES",
    "RetimeOptions",
    "RetimeStats",
    "SceneCutDetector",
    "configure_torch_threads",
    "output_rate",
    "parse_rate",
    "retime",
    "run_threaded",
    "scene_change_score",
    "thumbnail",
]

if TYPE_CHECKING:
    from vidinterp.pipeline.engine import RetimeStats, retime
    from vidinterp.pipeline.scenecut import (
        SceneCutDetector,
        scene_change_score,
        thumbnail,
    )
    from vidinterp.pipeline.threads import configure_torch_threads, run_threaded
    from vidinterp.pipeline.timing import (
        DEFAULT_SCENE_THRESHOLD,
        SCENE_CUT_MODES,
        RetimeOptions,
        output_rate,
        parse_rate,
    )


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals())
