"""Options given to `upsample` and `evaluate_on` as something else than their dataclass, and the packaged sample
clip from Python: a mapping of the fields works, anything else is one UsageError line, and nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _cli_api import assert_one_line, tree_state

import vidinterp
from synthetic import make_clip, pattern_frame
from vidinterp.io.images import write_png
from vidinterp.io.reader import open_video

pytestmark = pytest.mark.faults

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def blend():
    return vidinterp.load(method="blend", device="cpu")


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "in.mp4", n_frames=6, width=32, height=24)


@pytest.fixture(scope="module")
def triplets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf")
    for item in ("1", "2"):
        (root / item).mkdir()
        for i, name in enumerate(("frame_00.png", "frame_01_gt.png", "frame_02.png")):
            write_png(root / item / name, pattern_frame(i, 24, 16))
    return root


def test_upsample_takes_a_mapping_of_its_options(clip, blend):
    out = clip.with_name("out.mp4")
    summary = vidinterp.upsample(clip, out, {"factor": 3}, interpolator=blend)
    assert summary.output_frames == 18 and out.is_file()
    with open_video(out) as reader:
        assert sum(1 for _ in reader.frames()) == 18


@pytest.mark.parametrize(
    "options, says",
    [
        ({"factr": 2}, "UpsampleOptions has no field 'factr'; its fields are: factor, fps"),
        ({"factor": 1}, "the factor must be a whole number from 2"),
        ({"factor": 2, "fps": 60}, "either --factor or --fps"),
        ({"method": "rife"}, "unknown interpolation method"),
        ("factor=2", "got str"),
        ([("factor", 2)], "got list"),
        (2, "got int"),
        (vidinterp.EvaluationOptions(), "got EvaluationOptions"),
    ],
    ids=["unknown field", "bad factor", "factor and fps", "bad method", "string", "pairs", "a number",
         "the other options"],
)
def test_unusable_upsample_options_are_one_line_and_write_nothing(clip, blend, options, says):
    before = tree_state(clip.parent)
    with pytest.raises(vidinterp.UsageError) as raised:
        vidinterp.upsample(clip, clip.with_name("out.mp4"), options, interpolator=blend)
    assert_one_line(raised.value, says)
    assert tree_state(clip.parent) == before


def test_evaluate_on_takes_a_mapping_of_its_options(triplets, blend):
    report = vidinterp.evaluate_on(triplets, {"limit": 1}, interpolator=blend)
    assert [summary["items"] for summary in report.summaries().values()] == [1]


@pytest.mark.parametrize(
    "options, says",
    [({"drop": 1}, "--drop"), ({"limt": 1}, "EvaluationOptions has no field 'limt'"), ("limit=1", "got str"),
     (vidinterp.UpsampleOptions(), "got UpsampleOptions")],
    ids=["bad drop", "unknown field", "string", "the other options"],
)
def test_unusable_evaluation_options_are_one_line(triplets, blend, options, says):
    with pytest.raises(vidinterp.UsageError) as raised:
        vidinterp.evaluate_on(triplets, options, interpolator=blend)
    assert_one_line(raised.value, says)


def test_the_sample_clip_is_reachable_from_python():
    path = vidinterp.sample_clip_path()
    assert "sample_clip_path" in vidinterp.__all__ and path.is_absolute() and path.is_file()
    with open_video(path) as reader:
        assert reader.info.width == 480 and reader.info.height == 270


def test_the_readme_python_example_runs_from_any_folder(tmp_path, monkeypatch, blend):
    """The README's example, run as written from a folder that is not the clone (with the blend interpolator in
    place of the shipped model, to keep it fast)."""
    block = re.search(r"## Python API.*?```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    assert "assets/sample" not in block  # no path that exists only inside the clone
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(vidinterp, "load", lambda *args, **kwargs: blend)
    namespace: dict = {"np": np}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["summary"].output_frames > 0 and any(tmp_path.iterdir())
