"""The distillation teacher (DIS flow on training clips) and the distillation loss that follows it."""

from __future__ import annotations

import pickle
import types

import numpy as np
import pytest
import torch
from tensor_frames import run_model

from synthetic import pattern_frame
from vidinterp.data.dataset import split_targets
from vidinterp.errors import UsageError
from vidinterp.losses import distillation_loss
from vidinterp.models import VFIModel, tiny_config
from vidinterp.ops import backward_warp
from vidinterp.train.objective import Objective

pytest.importorskip("cv2")
from vidinterp.train.teacher import DisFlowTeacher, targets_first  # noqa: E402


def _clip(frames: int, speed: tuple[float, float], size: int = 96) -> torch.Tensor:
    """F×3×size×size uint8: `pattern_frame` at positions 0..F-1 (its background moves by `speed` per frame)."""
    stack = np.stack([pattern_frame(i, size, size, speed=speed) for i in range(frames)])
    return torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous()


def _interior_median(flow: torch.Tensor, margin: int = 24) -> tuple[float, float]:
    inner = flow[:, margin:-margin, margin:-margin]
    return float(inner[0].median()), float(inner[1].median())


def test_clip_flows_follow_the_motion_in_the_backward_convention():
    """Background moving (+2, −1) px per frame, keyframes 0 and 2, target 1: flow_t0 points back by one step."""
    clip = _clip(3, speed=(2.0, -1.0))
    flows = DisFlowTeacher("medium").clip_flows(clip, interval=2)
    assert flows.shape == (1, 8, 96, 96) and flows.dtype == torch.float32
    expected = {0: (-2.0, 1.0), 1: (2.0, -1.0), 2: (4.0, -2.0), 3: (-4.0, 2.0)}  # t0, t1, 01, 10
    for k, (ex, ey) in expected.items():
        mx, my = _interior_median(flows[0, 2 * k : 2 * k + 2])
        assert mx == pytest.approx(ex, abs=0.3) and my == pytest.approx(ey, abs=0.3), (k, mx, my)


def test_clip_flows_are_ordered_like_split_targets():
    """A batch of two clips with different motions: row r of the teacher belongs to row r of split_targets."""
    teacher = DisFlowTeacher("fast")
    speeds = [(2.0, 0.0), (0.0, -2.0)]
    clips = [_clip(5, s) for s in speeds]
    batched = targets_first(torch.stack([teacher.clip_flows(c, 2) for c in clips]))
    frame0, frame1, target, t = split_targets(torch.stack(clips), 2)
    assert batched.shape[0] == frame0.shape[0] == 4
    for row in range(4):
        # The teacher's flow_t0 must warp this row's frame0 onto this row's target.
        f0, tgt = frame0[row : row + 1].float() / 255, target[row : row + 1].float() / 255
        warped = backward_warp(f0, batched[row : row + 1, 0:2])
        assert (warped - tgt)[..., 24:-24, 24:-24].abs().mean() < 0.02, row
        sx, sy = speeds[row % 2]  # split_targets order: pair, then target, then clip
        assert _interior_median(batched[row, 0:2]) == pytest.approx((-sx, -sy), abs=0.3)


def test_teacher_pickles_without_its_opencv_object_and_rejects_unknown_presets():
    teacher = DisFlowTeacher("ultrafast")
    teacher.clip_flows(_clip(3, (1.0, 0.0), 32), 2)
    clone = pickle.loads(pickle.dumps(teacher))
    assert clone.preset == "ultrafast" and clone._dis is None
    with pytest.raises(UsageError, match="unknown teacher preset"):
        DisFlowTeacher("slowest")


def _flows_as_teacher(out) -> torch.Tensor:
    return torch.cat([out.flow_t0, out.flow_t1, out.flow_01, out.flow_10], dim=1).detach()


def _model_output(seed: int = 0):
    torch.manual_seed(seed)
    model = VFIModel.from_config(tiny_config())
    clip = _clip(3, (2.0, 1.0), 32).float() / 255
    f0, target, f1 = clip[0:1], clip[1:2], clip[2:3]
    return model, run_model(model, f0, f1, 0.5), f0, f1, target


def test_distillation_is_zero_when_the_model_agrees_with_its_teacher():
    _, out, f0, f1, target = _model_output()
    assert distillation_loss(out, _flows_as_teacher(out), f0, f1, target).item() == 0.0


def test_distillation_follows_a_better_teacher():
    """A teacher whose flow warps exactly pulls the (untrained) model's flows towards it."""
    model, out, f0, f1, target = _model_output()
    size = f0.shape[-2:]
    good = torch.zeros(1, 8, *size)
    for k, (dx, dy) in enumerate([(-2, -1), (2, 1), (4, 2), (-4, -2)]):
        good[:, 2 * k], good[:, 2 * k + 1] = dx, dy
    loss = distillation_loss(out, good, f0, f1, target)
    assert loss.item() > 1.0
    loss.backward()
    grads = [p.grad for p in model.interpolation.flow_estimator.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_distillation_ignores_a_teacher_that_warps_worse():
    """Frames made by warping one texture with known flows; the model has them exactly, the teacher is 3 px off."""
    base = torch.from_numpy(pattern_frame(0, 48, 48)).permute(2, 0, 1)[None].float() / 255
    constant = lambda dx, dy: torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, 48, 48)  # noqa: E731
    flow_t0, flow_t1, flow_01, flow_10 = constant(-2, -1), constant(2, 1), constant(4, 2), constant(-4, -2)
    f0, target, f1 = base, backward_warp(base, constant(-2, -1)), backward_warp(base, constant(-4, -2))
    exact = types.SimpleNamespace(
        flow_t0=flow_t0,
        flow_t1=flow_t1,
        flow_01=flow_01,
        flow_10=flow_10,
        warped0=backward_warp(f0, flow_t0),
        warped1=backward_warp(f1, flow_t1),
    )
    teacher = torch.cat([flow_t0, flow_t1, flow_01, flow_10], dim=1) + 3.0
    # Followed everywhere it would cost 6 px (|3| + |3|); the few pixels it still wins are border pixels.
    assert distillation_loss(exact, teacher, f0, f1, target).item() < 0.3


def test_objective_adds_distillation_and_needs_the_teacher():
    _, out, f0, f1, target = _model_output()
    teacher = _flows_as_teacher(out) + 0.5
    plain, _ = Objective({"l1": 1.0})(out, f0, f1, target)
    total, terms = Objective({"l1": 1.0}, distill_weight=0.1)(out, f0, f1, target, teacher)
    assert terms["distill"] == pytest.approx(distillation_loss(out, teacher, f0, f1, target).item())
    assert total.item() == pytest.approx(plain.item() + 0.1 * terms["distill"], rel=1e-6)
    with pytest.raises(ValueError, match="teacher"):
        Objective({"l1": 1.0}, distill_weight=0.1)(out, f0, f1, target)
