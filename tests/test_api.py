"""The Python API: cheap import, exact `__all__`, one pair from NumPy and torch, retime and evaluate as functions."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from types import ModuleType

import numpy as np
import pytest
import torch

import vidinterp
from synthetic import make_clip, pattern_frame
from vidinterp.io.images import write_png
from vidinterp.io.reader import open_video


@pytest.fixture(scope="module")
def blend():
    return vidinterp.load(method="blend", device="cpu")


def test_import_is_cheap_and_all_lists_exactly_the_public_names():
    code = "import sys, vidinterp; print(sorted(m for m in ('torch', 'av', 'numpy', 'cv2') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )
    # Submodules become attributes once imported; every other public name must be in __all__ and vice versa.
    public = {
        name
        for name in dir(vidinterp)
        if not name.startswith("_") and not isinstance(getattr(vidinterp, name), ModuleType)
    }
    assert set(vidinterp.__all__) == public - {"annotations", "TYPE_CHECKING"} and len(vidinterp.__all__) == 11
    for name in vidinterp.__all__:
        assert getattr(vidinterp, name).__doc__, name
    assert issubclass(vidinterp.UsageError, vidinterp.VidinterpError)


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)])
def test_numpy_pair_of_odd_size_gives_the_same_kind_back(blend, dtype, top):
    frame0 = (pattern_frame(0, 37, 23).astype(np.float64) / 255 * top).astype(dtype)
    frame1 = (pattern_frame(3, 37, 23).astype(np.float64) / 255 * top).astype(dtype)
    middle = blend.interpolate(frame0, frame1)
    assert isinstance(middle, np.ndarray) and middle.shape == (23, 37, 3) and middle.dtype == dtype
    expected = (frame0.astype(np.float64) + frame1) / 2
    assert np.abs(middle - expected).max() <= top * 1e-3 + (1 if top > 1 else 0)
    first, quarter, last = blend.interpolate(frame0, frame1, t=[0, 0.25, 1])
    assert np.array_equal(first, frame0) and np.array_equal(last, frame1) and first is not frame0
    assert np.abs(quarter - (0.75 * frame0.astype(np.float64) + 0.25 * frame1)).max() <= top * 1e-3 + 1


def test_torch_batch_gives_tensors_per_t(blend):
    frame0, frame1 = torch.rand(2, 3, 19, 30), torch.rand(2, 3, 19, 30)
    results = blend.interpolate(frame0, frame1, t=[0.5, 0.75])
    assert [r.shape for r in results] == [torch.Size([2, 3, 19, 30])] * 2 and results[0].dtype == torch.float32
    torch.testing.assert_close(results[1], 0.25 * frame0 + 0.75 * frame1)
    single = blend.interpolate(frame0[0], frame1[0])  # 3×H×W in, 3×H×W out
    assert single.shape == (3, 19, 30)
    as_bytes = blend.interpolate((frame0 * 255).to(torch.uint8), (frame1 * 255).to(torch.uint8))
    assert as_bytes.dtype == torch.uint8


def test_shipped_model_through_the_api(tmp_path):
    model = vidinterp.load(device="cpu")
    assert model.method == "model"
    frame0, frame1 = pattern_frame(0, 45, 29), pattern_frame(2, 45, 29)
    middle = model.interpolate(frame0, frame1)
    assert middle.shape == frame0.shape and middle.dtype == np.uint8
    truth = pattern_frame(1, 45, 29).astype(np.float64)
    assert np.abs(middle - truth).mean() < np.abs(frame0 - truth).mean()  # better than showing a neighbour


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda i: i.interpolate(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)), "differ in shape"),
        (lambda i: i.interpolate(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)), "H×W×3"),
        (
            lambda i: i.interpolate(np.zeros((4, 4, 3), np.int32), np.zeros((4, 4, 3), np.int32)),
            "uint8, uint16 or float",
        ),
        (
            lambda i: i.interpolate(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), t=1.5),
            "between 0 and 1",
        ),
        (lambda i: i.interpolate(np.zeros((4, 4, 3), np.uint8), torch.zeros(1, 3, 4, 4)), "same kind"),
    ],
)
def test_bad_pairs_are_usage_errors(blend, call, message):
    with pytest.raises(vidinterp.UsageError, match=message):
        call(blend)


def test_options_validate_with_the_cli_messages():
    with pytest.raises(vidinterp.UsageError, match="either --factor or --fps"):
        vidinterp.UpsampleOptions(factor=2, fps=60)
    with pytest.raises(vidinterp.UsageError, match="--input-fps must be positive"):
        vidinterp.UpsampleOptions(input_fps=0)
    assert vidinterp.UpsampleOptions(fps="59.94").fps == Fraction(60000, 1001)
    assert vidinterp.UpsampleOptions().retiming(batch_size=1).factor == 2
    with pytest.raises(vidinterp.UsageError, match="--drop"):
        vidinterp.EvaluationOptions(drop=1)
    for options in (vidinterp.UpsampleOptions, vidinterp.EvaluationOptions):
        with pytest.raises(vidinterp.UsageError, match="unknown precision"):
            options(precision="int8")
        with pytest.raises(vidinterp.UsageError, match="--max-side must be 0"):
            options(max_side=-1)


def test_precision_and_working_size_reach_the_model():
    interpolator = vidinterp.load(device="cpu", precision="fp32", max_side=256).interpolator
    assert interpolator.runtime.precision == "fp32" and interpolator.max_side == 256
    assert vidinterp.load(device="cpu").interpolator.max_side == 1024  # the default working size
    with pytest.raises(vidinterp.UsageError, match="fp16 runs only on CUDA"):
        vidinterp.load(device="cpu", precision="fp16")


def test_upsample_returns_a_summary(tmp_path, blend):
    source = make_clip(tmp_path / "in.mp4", n_frames=5, width=32, height=24, fps=24)
    summary = vidinterp.upsample(source, tmp_path / "out.mp4", vidinterp.UpsampleOptions(factor=3), interpolator=blend)
    assert (summary.input_frames, summary.output_frames, summary.output_rate) == (5, 15, Fraction(72))
    assert summary.interpolated_frames + summary.copied_frames + summary.blended_frames == 15
    with open_video(tmp_path / "out.mp4") as reader:
        assert len(list(reader.frames())) == 15
    with pytest.raises(vidinterp.VidinterpError, match="already exists; pass --overwrite"):
        vidinterp.upsample(source, tmp_path / "out.mp4", interpolator=blend)


def test_evaluate_on_returns_the_printed_metrics(tmp_path):
    folder = tmp_path / "ucf" / "1"
    folder.mkdir(parents=True)
    for name, position in (("frame_00.png", 0), ("frame_01_gt.png", 1), ("frame_02.png", 2)):
        write_png(folder / name, pattern_frame(position, 40, 32))
    report = vidinterp.evaluate_on(tmp_path / "ucf", vidinterp.EvaluationOptions(method="blend", device="cpu"))
    (summary,) = report.summaries().values()
    assert summary["items"] == 1 and 10 < summary["psnr"] < 100 and 0 < summary["ssim"] <= 1
    assert report.to_dict()["sets"][0]["summary"]["psnr"] == summary["psnr"]
    assert report.method == "blend" and report.model is None
