"""The ffmpeg minterpolate baseline and the quality benchmark's table handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from benchmark_scripts import load_benchmark

from vidinterp.errors import VidinterpError
from vidinterp.evaluate.evaluate import EvalOptions, evaluate
from vidinterp.evaluate.layouts import discover
from vidinterp.evaluate.minterpolate import MinterpolateInterpolator, minterpolate_middle


def _quality_module():
    return load_benchmark("quality")


def test_parse_baselines(tmp_path):
    (tmp_path / "BASELINES.md").write_text(
        "| set | triplets | blend (mean of inputs) | ffmpeg minterpolate (mi_mode=mci) | RIFE |\n"
        "|---|---|---|---|---|\n"
        "| middlebury (other) | 12 | 28.01 / 5.74 | 33.17 / 2.90 | 33.22 / 3.06 |\n"
        "| davis (these 15) | 15 | 21.81 / 12.12 | 24.24 / 9.07 | 27.26 / 5.78 |\n"
    )
    table = _quality_module().parse_baselines(tmp_path / "BASELINES.md")
    assert table == {
        "middlebury": {"blend": (28.01, 5.74), "minterpolate": (33.17, 2.90)},
        "davis": {"blend": (21.81, 12.12), "minterpolate": (24.24, 9.07)},
    }
    assert _quality_module().parse_baselines(tmp_path / "missing.md") == {}


@pytest.mark.ffmpeg
def test_minterpolate_middle_frame():
    from synthetic import pattern_frame

    # Big enough that the filter's scene-change detection does not fire (it then repeats frame0).
    frame0, frame1, truth = (pattern_frame(p, 128, 96) for p in (0, 2, 1))
    middle = minterpolate_middle(frame0, frame1)
    assert middle.shape == frame0.shape and middle.dtype == np.uint8
    error = lambda a, b: np.abs(a.astype(float) - b.astype(float)).mean()  # noqa: E731
    blend = ((frame0.astype(float) + frame1) / 2).round()
    assert error(middle, truth) < error(blend, truth)  # motion compensation beats the plain mean here
    still = minterpolate_middle(frame0, frame0)
    assert error(still, frame0) < 1.0  # only the RGB ↔ YUV 4:4:4 round trip
    interpolator = MinterpolateInterpolator()
    (out,) = interpolator.interpolate([frame0], [frame1], 0.5)  # the pipeline's frames in and out
    assert np.array_equal(out, middle)
    with pytest.raises(VidinterpError, match="t = 0.5"):
        interpolator.interpolate([frame0], [frame1], 0.25)


@pytest.mark.slow
@pytest.mark.ffmpeg
def test_minterpolate_recipe_reproduces_the_baseline(shared_data):
    (middlebury,) = discover(shared_data / "eval" / "middlebury")
    (result,) = evaluate([middlebury], MinterpolateInterpolator(), EvalOptions())
    summary = result.summary()
    assert summary["psnr"] == pytest.approx(33.17, abs=0.02) and summary["mae"] == pytest.approx(2.90, abs=0.02)


def test_benchmark_end_to_end_on_a_tiny_set(tmp_path, capsys):
    from test_eval_cli import _ucf_set

    _ucf_set(tmp_path / "data" / "ucf101", count=2)
    (tmp_path / "data" / "BASELINES.md").write_text(
        "| set | triplets | blend |\n|---|---|---|\n| ucf101 (320x240) | 2 | 30.52 / 3.67 |\n"
    )
    quality = _quality_module()
    quality.main(
        data_root=tmp_path / "data",
        sets=None,
        methods="blend,model",
        model=tmp_path / "missing.safetensors",
        limit=None,
        json_out=tmp_path / "q.json",
    )
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| ucf101"))
    document = json.loads((tmp_path / "q.json").read_text())
    blend = document["results"]["blend"]["ucf101"]
    assert row.startswith(
        f"| ucf101 | 2 | {blend['psnr']:.2f} / {blend['ssim']:.4f} / {blend['mae']:.2f} [30.52 / 3.67] | n/a |"
    )
    assert len(blend["items_detail"]) == 2 and "model" in document["not_run"]  # missing weights: noted, not fatal
