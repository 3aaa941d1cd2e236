"""Teacher flows for distillation: OpenCV's DIS optical flow on every training sample (training only).

A classical flow is a strong teacher for a small network that must learn motion from a few CPU hours of data:
on our evaluation sets, DIS flow with a plain 50/50 blend already beats ffmpeg's minterpolate. The teacher
sees what the model never does, the true frame at t, so it gives flows from t to each keyframe directly (RIFE's
"privileged" teacher), plus the keyframe flows. `vidinterp.losses.distillation_loss` uses them only where they
warp better than the model's own flows, so the model is free to surpass its teacher.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from vidinterp.errors import UsageError
from vidinterp.train.config import TEACHER_PRESETS as PRESETS

#: teacher channels per target, in this order (each a 2-channel backward flow, x then y, in pixels)
TEACHER_FLOWS = ("flow_t0", "flow_t1", "flow_01", "flow_10")


def _cv2():
    try:
        import cv2
    except ImportError:
        raise UsageError(
            "flow distillation (--distill-weight > 0) needs OpenCV: pip install opencv-python-headless "
            "(or install vidinterp with its 'train' extra), or pass --distill-weight 0"
        ) from None
    return cv2


class DisFlowTeacher:
    """Dense backward flows from OpenCV's DIS optical flow on uint8 RGB frames.

    Picklable (DataLoader workers get a copy): the OpenCV object is made on first use in each process.
    """

    def __init__(self, preset: str = "medium") -> None:
        if preset not in PRESETS:
            raise UsageError(f"unknown teacher preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        _cv2()  # fail at start-up, not in the first batch
        self.preset = preset
        self._dis = None

    def __getstate__(self) -> dict:
        return {"preset": self.preset, "_dis": None}

    def _engine(self):
        if self._dis is None:
            cv2 = _cv2()
            if torch.utils.data.get_worker_info() is not None:
                cv2.setNumThreads(1)  # many workers share the cores; one thread each avoids oversubscription
            self._dis = cv2.DISOpticalFlow_create(PRESETS[self.preset])
        return self._dis

    def flow(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """H×W×2 float32 backward flow of `source` (H×W uint8 grey): source[p] ≈ target[p + flow[p]]."""
        return self._engine().calc(source, target, None)

    def clip_flows(self, frames: torch.Tensor, interval: int) -> torch.Tensor:
        """Teacher flows for every target of one clip: P×8×H×W float32 (channels as in TEACHER_FLOWS).

        `frames` is F×3×H×W uint8 RGB with keyframes every `interval` frames; targets are ordered pair by pair
        and, within a pair, by time, as `vidinterp.data.dataset.split_targets` orders them.
        """
        cv2 = _cv2()
        grey = [cv2.cvtColor(np.ascontiguousarray(f.permute(1, 2, 0).numpy()), cv2.COLOR_RGB2GRAY) for f in frames]
        out = []
        for k0 in range(0, frames.shape[0] - interval, interval):
            k1 = k0 + interval
            flow_01, flow_10 = self.flow(grey[k0], grey[k1]), self.flow(grey[k1], grey[k0])
            for j in range(k0 + 1, k1):
                flows = (self.flow(grey[j], grey[k0]), self.flow(grey[j], grey[k1]), flow_01, flow_10)
                out.append(np.concatenate(flows, axis=2))
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


class CachedTeacher:
    """A teacher whose flows are computed once per sample and kept on disk (float16 .npy, keyed by the sample's
    pixels, its interval and the teacher), so a run cycling through a finite sample pool, a resumed run and a
    rerun of the recipe pay for each sample's teacher once. Picklable like the teacher it wraps."""

    def __init__(self, teacher, folder: str | Path, identity: str) -> None:
        self.teacher, self.folder, self.identity = teacher, Path(folder), identity
        self.preset = teacher.preset

    def clip_flows(self, frames: torch.Tensor, interval: int) -> torch.Tensor:
        digest = hashlib.sha1(f"{self.identity}|{interval}|{tuple(frames.shape)}|".encode())
        digest.update(frames.contiguous().numpy().tobytes())
        path = self.folder / digest.hexdigest()[:2] / f"{digest.hexdigest()}.npy"
        if path.is_file():
            try:
                return torch.from_numpy(np.load(path).astype(np.float32))
            except (OSError, ValueError):
                pass  # a damaged entry (e.g. disk full) is recomputed
        flows = self.teacher.clip_flows(frames, interval)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            np.save(tmp, flows.numpy().astype(np.float16))
        os.replace(tmp.name, path)
        return flows


def make_teacher(config, cache_dir: str | Path | None = None):
    """The teacher a training config asks for (None without distillation): DIS, or RIFE with DIS beside
    it; cached on disk under `cache_dir` when the config cycles through a finite sample pool."""
    if config.distill_weight <= 0:
        return None
    if config.teacher in PRESETS:
        teacher, identity = DisFlowTeacher(config.teacher), f"dis-{config.teacher}"
    else:
        from vidinterp.train.rife import RifeTeacher

        teacher = RifeTeacher(config.teacher, config.teacher_dis, config.teacher_wheels)
        identity = f"{config.teacher}-dis-{config.teacher_dis}-v1"
    if config.sample_pool > 0 and cache_dir is not None:
        return CachedTeacher(teacher, Path(cache_dir) / f"teacher-{identity}", identity)
    return teacher


def targets_first(teacher: torch.Tensor) -> torch.Tensor:
    """B×P×8×H×W batched clip flows → (P·B)×8×H×W, the order `split_targets` gives the targets of a batch."""
    return teacher.transpose(0, 1).flatten(0, 1)


def teacher_prior(
    teacher_flows: torch.Tensor, pair_index: torch.Tensor, pairs: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The keyframe flows (flow_01, flow_10) of each of `pairs` pairs, taken from the teacher flows of its first
    target (every target of a pair carries the same keyframe flows; see `DisFlowTeacher.clip_flows`)."""
    order = torch.arange(pair_index.shape[0], device=pair_index.device)
    first = torch.full((pairs,), pair_index.shape[0], dtype=torch.long, device=pair_index.device)
    first = first.scatter_reduce(0, pair_index, order, reduce="amin")
    flows = teacher_flows.index_select(0, first)
    return flows[:, 4:6].contiguous(), flows[:, 6:8].contiguous()


__all__ = [
    "CachedTeacher", "DisFlowTeacher", "PRESETS", "TEACHER_FLOWS", "make_teacher", "targets_first", "teacher_prior"
]
