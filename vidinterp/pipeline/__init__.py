"""The retiming pipeline: frame timing, scene cuts, batched interpolation, and the threaded decode → encode run.

Works on `VideoFrame` iterables only (no files), so the CLI wires it between `vidinterp.io.reader` and
`vidinterp.io.writer`:

    run_threaded(reader.frames(), lambda frames: retime(frames, interpolator, options, stats=stats), writer.write)
"""

from vidinterp.pipeline.engine import RetimeStats, retime
from vidinterp.pipeline.scenecut import SceneCutDetector, scene_change_score, thumbnail
from vidinterp.pipeline.threads import configure_torch_threads, run_threaded
from vidinterp.pipeline.timing import (
    DEFAULT_SCENE_THRESHOLD,
    SCENE_CUT_MODES,
    RetimeOptions,
    output_rate,
    parse_rate,
)

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
