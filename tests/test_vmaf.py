"""VMAF in `vidinterp eval`: the vmaf-torch path on synthetic frames, agreement with libvmaf on real frames, the
table / JSON / pictures, and what happens without vmaf-torch; LPIPS's "unavailable" said only when asked, once."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

import cv2
import numpy as np
import pytest
import torch
from rich.console import Console

from synthetic import pattern_frame
from vidinterp.evaluate import report, vmaf
from vidinterp.evaluate.visualize import ComparisonText
from vidinterp.io.images import write_png

HAS_VMAF_TORCH = importlib.util.find_spec("vmaf_torch") is not None
needs_vmaf = pytest.mark.skipif(not HAS_VMAF_TORCH, reason="vmaf-torch is not installed (vidinterp[vmaf])")
#: libvmaf's VMAF v0.6.1 for a picture scored against itself as a one-frame video (every feature 1, motion 0).
IDENTICAL_SCORE = 97.4277
#: vmaf-torch against libvmaf, in VMAF points (0..100): its features are computed in floating point, libvmaf's in
#: fixed point; measured differences were at most 0.05 on 12 pairs from the sample clip and two training clips.
LIBVMAF_TOLERANCE = 0.5


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].double()


def blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


@needs_vmaf
def test_vmaf_on_synthetic_frames():
    image = pattern_frame(0, 160, 96)
    scores = [float(vmaf.vmaf_scores(as_tensor(blurred(image, sigma) if sigma else image), as_tensor(image)))
              for sigma in (0, 0.8, 2.0)]
    assert scores[0] == pytest.approx(IDENTICAL_SCORE, abs=0.01)
    assert scores[0] > scores[1] > scores[2] >= 0  # more blur, lower score
    batch = vmaf.vmaf_scores(torch.cat([as_tensor(image)] * 2), torch.cat([as_tensor(image)] * 2))
    assert batch.shape == (2,) and batch.dtype == torch.float64


@needs_vmaf
def test_vmaf_refuses_mismatched_or_tiny_pictures():
    metric, reason = vmaf.load_vmaf()
    assert reason is None
    with pytest.raises(ValueError, match="one shape"):
        metric(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 40))
    with pytest.raises(ValueError, match="at least"):
        metric(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def ucf_set(root, count=2, width=64, height=48):
    for i in range(count):
        folder = root / str(i)
        folder.mkdir(parents=True)
        for name, position in (("frame_00", 3 * i), ("frame_01_gt", 3 * i + 1), ("frame_02", 3 * i + 2)):
            write_png(folder / f"{name}.png", pattern_frame(position, width, height))
    return root


@needs_vmaf
def test_eval_reports_vmaf_per_item_per_set_in_table_json_and_pictures(tmp_path, run_cli):
    data = ucf_set(tmp_path / "ucf101")
    code, out, err = run_cli("eval", str(data), "--method", "blend", "--json", "--save-dir", str(tmp_path / "pics"))
    assert code == 0, err
    document = json.loads(out)
    assert document["vmaf"] == {"available": True, "reason": None, "model": "vmaf_v0.6.1"}
    (entry,) = document["sets"]
    values = [item["vmaf"] for item in entry["items"]]
    assert all(0 < value < 100 for value in values)
    assert entry["summary"]["vmaf"] == pytest.approx(np.mean(values))
    assert "VMAF" in err and "LPIPS unavailable" not in err  # the table (on stderr with --json)
    assert len(list((tmp_path / "pics" / "ucf101").iterdir())) == 2
    assert "VMAF 87.5" in ComparisonText("item", 0.5, 30.0, 0.9, 2.0, 87.5).lines()[1]


@needs_vmaf
def test_items_too_small_for_vmaf_have_none(tmp_path, run_cli):
    data = ucf_set(tmp_path / "ucf101", width=16, height=12)
    code, out, err = run_cli("eval", str(data), "--method", "blend", "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["sets"]
    assert entry["summary"]["vmaf"] is None and all(item["vmaf"] is None for item in entry["items"])


def test_without_vmaf_torch_eval_still_works_and_says_why_only_when_asked(tmp_path, run_cli, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "vmaf_torch" else real_find_spec(name, *args))
    metric, reason = vmaf.load_vmaf()
    assert metric is None and "vmaf-torch" in reason and "vidinterp[vmaf]" in reason
    data = ucf_set(tmp_path / "ucf101")
    code, out, err = run_cli("eval", str(data), "--method", "blend")
    assert code == 0, err
    assert "VMAF" not in out and "unavailable" not in out + err
    code, out, err = run_cli("eval", str(data), "--method", "blend", "--vmaf", "--json")
    assert code == 0, err
    assert json.loads(out)["vmaf"]["available"] is False
    assert "VMAF unavailable: the 'vmaf-torch' package is not installed" in err


def test_no_vmaf_skips_it(tmp_path, run_cli):
    data = ucf_set(tmp_path / "ucf101")
    code, out, err = run_cli("eval", str(data), "--method", "blend", "--no-vmaf", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["vmaf"]["available"] is False and document["sets"][0]["summary"]["vmaf"] is None


def test_lpips_unavailable_is_said_once_and_only_when_asked(tmp_path, run_cli, monkeypatch):
    """Every `vidinterp eval` used to end with "LPIPS unavailable: ..." although nobody had asked for it."""
    data = ucf_set(tmp_path / "ucf101")
    code, out, err = run_cli("eval", str(data), "--method", "blend")
    assert code == 0 and "LPIPS" not in out + err  # not installed here: no column, no note
    console = Console(record=True, width=120)
    monkeypatch.setattr(report, "_said", set())
    for _ in range(3):
        report.say_unavailable(console, "LPIPS", "the 'lpips' package is not installed")
    assert console.export_text().count("LPIPS unavailable") == 1


def libvmaf_ffmpeg() -> str | None:
    """An ffmpeg with the libvmaf filter: the static one inside imageio-ffmpeg, else the system's."""
    candidates = []
    if importlib.util.find_spec("imageio_ffmpeg") is not None:
        import imageio_ffmpeg

        candidates.append(imageio_ffmpeg.get_ffmpeg_exe())
    candidates.append(shutil.which("ffmpeg"))
    for candidate in filter(None, candidates):
        filters = subprocess.run([candidate, "-hide_banner", "-filters"], capture_output=True, text=True).stdout
        if " libvmaf " in filters:
            return candidate
    return None


@needs_vmaf
def test_vmaf_agrees_with_libvmaf_on_real_frames(tmp_path):
    """Real frames of the packaged sample clip against their neighbour, a blur and a blend: vmaf-torch (as eval
    calls it) within LIBVMAF_TOLERANCE of libvmaf run by ffmpeg on the same PNGs."""
    ffmpeg = libvmaf_ffmpeg()
    if ffmpeg is None:
        pytest.skip("no ffmpeg with libvmaf (pip install imageio-ffmpeg)")
    from vidinterp.io.reader import open_video
    from vidinterp.io.sample import sample_clip_path

    with open_video(sample_clip_path()) as reader:
        frames = [frame.image for _, frame in zip(range(4), reader.frames())]
    blend = ((frames[1].astype(np.uint16) + frames[3]) // 2).astype(np.uint8)
    pairs = [(frames[1], frames[2]), (blurred(frames[2], 1.5), frames[2]), (blend, frames[2]), (frames[2], frames[2])]
    for k, (distorted, reference) in enumerate(pairs):
        write_png(tmp_path / f"d{k}.png", distorted)
        write_png(tmp_path / f"r{k}.png", reference)
        log = tmp_path / f"vmaf{k}.json"
        subprocess.run([ffmpeg, "-v", "error", "-i", str(tmp_path / f"d{k}.png"), "-i", str(tmp_path / f"r{k}.png"),
                        "-lavfi", f"[0:v]format=yuv444p[d];[1:v]format=yuv444p[r];[d][r]libvmaf=log_fmt=json:"
                        f"log_path={log}", "-f", "null", "-"], check=True)
        expected = json.loads(log.read_text())["frames"][0]["metrics"]["vmaf"]
        ours = float(vmaf.vmaf_scores(as_tensor(distorted), as_tensor(reference)))
        assert ours == pytest.approx(expected, abs=LIBVMAF_TOLERANCE), k
