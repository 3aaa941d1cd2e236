"""Training samples from cached clips: windows of frames with keyframes every `interval` frames.

A sample is a window of `clip_length` frames (fewer when the interval does not divide `clip_length - 1`): frames
0, k, 2k, ... are keyframes and the frames between two keyframes are targets at t = j / k. With interval 2 and
clip length 3 that is the classic triplet (t = 0.5); with interval 4, targets sit at t = 0.25, 0.5, 0.75.

Every random choice of a sample (crop, flips, reversal) comes from a seed carried in its request, and requests
come from `WindowBatchSampler`, a pure function of (seed, step). So data order and augmentation are reproducible,
independent of worker count, and a resumed run picks up exactly at the step it stopped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from vidinterp.data.augment import AugmentConfig, augment_clip, center_crop_box, random_crop_box
from vidinterp.data.cache import CachedClip
from vidinterp.errors import UsageError, VidinterpError
from vidinterp.execution.frames import images_tensor


def window_length(clip_length: int, interval: int) -> int:
    """Frames a sample spans: the largest m·interval + 1 ≤ clip_length (m ≥ 1)."""
    return ((clip_length - 1) // interval) * interval + 1


def check_sampling(clip_length: int, interval_min: int, interval_max: int) -> None:
    """Raise UsageError unless 2 ≤ interval_min ≤ interval_max ≤ clip_length - 1."""
    if interval_min < 2:
        raise UsageError("--interval must be at least 2: interval 1 leaves no frame between keyframes to predict.")
    if interval_max < interval_min:
        raise UsageError(f"the interval range {interval_min}..{interval_max} is empty.")
    if clip_length < interval_max + 1:
        raise UsageError(
            f"--clip-length {clip_length} is too short for interval {interval_max}: "
            f"it needs at least {interval_max + 1} frames."
        )


@dataclass(frozen=True)
class Window:
    """`length` consecutive frames of cached clip `clip`, from frame `start`."""

    clip: int
    start: int
    length: int


@dataclass
class Split:
    """Training windows (each `clip_length` long) and held-out validation windows (3 frames: interval 2)."""

    train: list[Window]
    val: list[Window]


def _stable_rank(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def split_windows(clips: list[CachedClip], clip_length: int, crop: int, val_count: int = 8, stride: int = 1) -> Split:
    """Cut clips into training windows and hold out `val_count` 3-frame windows from clip ends (deterministic).

    Validation windows come from the tail of clips chosen round-robin in a fixed hashed order, with a gap of
    `clip_length` frames before them, and training windows never overlap a held-out tail. Clips smaller than
    `crop` in either dimension are left out (a crop cannot fit); if none is left, VidinterpError.
    """
    usable = [i for i, c in enumerate(clips) if min(c.height, c.width) >= crop and c.num_frames >= 3]
    if not usable:
        if clips:
            smallest = max(min(c.height, c.width) for c in clips)
            raise VidinterpError(
                f"no training clip is at least {crop} pixels on its short side "
                f"(largest short side: {smallest}); lower --crop."
            )
        raise VidinterpError("no readable videos or frame folders were found for training.")
    reserved = {i: 0 for i in usable}  # frames held out at the end of each clip
    val: list[Window] = []
    order = sorted(usable, key=lambda i: _stable_rank(clips[i].source))
    # Round-robin over clips that can lose another validation window and still give one training window.
    while len(val) < val_count:
        added = False
        for i in order:
            if len(val) >= val_count:
                break
            needed = reserved[i] + 3 + (clip_length if reserved[i] == 0 else 0)
            if clips[i].num_frames - needed >= clip_length:
                reserved[i] = needed
                val.append(Window(i, clips[i].num_frames - (len([w for w in val if w.clip == i]) + 1) * 3, 3))
                added = True
        if not added:
            break
    train = [
        Window(i, start, clip_length)
        for i in usable
        for start in range(0, clips[i].num_frames - reserved[i] - clip_length + 1, stride)
    ]
    if not train:
        raise VidinterpError(f"no clip has the {clip_length} frames one training sample needs; lower --clip-length.")
    return Split(train, val)


# A request is (window index, interval, per-sample seed); the sampler decides all three.
Request = tuple[int, int, int]


class ClipDataset(Dataset):
    """Map-style dataset of augmented, randomly cropped training windows.

    `dataset[(window, interval, seed)]` → {"frames": F×3×crop×crop uint8 RGB, "interval": int} with
    F = window_length(clip_length, interval); keyframes at 0, interval, 2·interval, ...
    With a `teacher` (see `vidinterp.train.teacher`) the sample also holds "teacher": its flows for every target
    of the augmented clip, P×8×crop×crop float32 (computed here, so DataLoader workers share the work).
    """

    def __init__(
        self,
        clips: list[CachedClip],
        windows: list[Window],
        crop: int,
        clip_length: int,
        augment: AugmentConfig | None = None,
        teacher=None,
    ):
        self.clips, self.windows, self.crop, self.clip_length = clips, windows, crop, clip_length
        self.augment = augment if augment is not None else AugmentConfig()
        self.teacher = teacher

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, request: Request) -> dict:
        index, interval, seed = request
        window = self.windows[index]
        rng = np.random.default_rng(seed)
        clip = self.clips[window.clip]
        frames = clip.frames()
        length = window_length(self.clip_length, interval)
        # A window is clip_length long; a shorter sample (interval not dividing it) starts at a random offset in it.
        offset = int(rng.integers(0, window.length - length + 1))
        y, x = random_crop_box(clip.height, clip.width, self.crop, rng)
        start = window.start + offset
        sample = np.asarray(frames[start : start + length, y : y + self.crop, x : x + self.crop])
        sample = augment_clip(sample, self.augment, rng)
        tensor = images_tensor(sample)  # a copy: memmap views are read-only
        item = {"frames": tensor, "interval": interval}
        if self.teacher is not None:
            item["teacher"] = self.teacher.clip_flows(tensor, interval)
        return item


class WindowBatchSampler(Sampler):
    """Infinite stream of per-rank batches of requests, a pure function of (seed, step).

    Each epoch is a seeded permutation of all windows (repeated when there are fewer windows than one global
    batch). Step s of the run takes global batch s of its epoch; rank r takes its `batch_size` share. The interval
    for a step is drawn from [interval_min, interval_max] with a (seed, step) RNG, identical on all ranks, and each
    sample's seed depends on (seed, step, position in the global batch) only, so a run with 1 or N ranks sees the
    same samples, and resuming from step s reproduces exactly what an uninterrupted run would have drawn.
    """

    def __init__(
        self,
        num_windows: int,
        batch_size: int,
        interval_min: int,
        interval_max: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        pool_steps: int = 0,
    ):
        if num_windows <= 0:
            raise VidinterpError("there are no training windows to sample from.")
        self.num_windows, self.batch_size = num_windows, batch_size
        self.interval_min, self.interval_max = interval_min, interval_max
        self.seed, self.rank, self.world_size, self.start_step = seed, rank, world_size, start_step
        # > 0: step s draws exactly what step s mod pool_steps drew (a finite sample pool; teacher targets cached)
        self.pool_steps = pool_steps
        self.global_batch = batch_size * world_size
        self.epoch_length = max(num_windows, self.global_batch)
        self.steps_per_epoch = self.epoch_length // self.global_batch
        self._epoch_cache: tuple[int, torch.Tensor] | None = None

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            repeats = -(-self.epoch_length // self.num_windows)
            order = torch.cat([torch.randperm(self.num_windows, generator=generator) for _ in range(repeats)])
            self._epoch_cache = (epoch, order[: self.epoch_length])
        return self._epoch_cache[1]

    def batch_for_step(self, step: int) -> list[Request]:
        """The requests this rank trains on at global step `step` (0-based)."""
        if self.pool_steps:
            step %= self.pool_steps
        epoch, position = divmod(step, self.steps_per_epoch)
        order = self._epoch_order(epoch)
        first = position * self.global_batch + self.rank * self.batch_size
        interval = int(np.random.default_rng([self.seed, step, 7]).integers(self.interval_min, self.interval_max + 1))
        requests = []
        for j in range(self.batch_size):
            slot = self.rank * self.batch_size + j
            sample_seed = int(np.random.default_rng([self.seed, step, slot]).integers(0, 2**63 - 1))
            requests.append((int(order[first + j]), interval, sample_seed))
        return requests

    def __iter__(self) -> Iterator[list[Request]]:
        step = self.start_step
        while True:
            yield self.batch_for_step(step)
            step += 1

    def __len__(self) -> int:  # DataLoader asks; the stream is unbounded, so report one epoch
        return self.steps_per_epoch


def collate_batch(samples: list[dict]) -> dict:
    """Stack samples of one batch (they share an interval, so their frame counts match), teacher flows too."""
    batch = {"frames": torch.stack([s["frames"] for s in samples]), "interval": samples[0]["interval"]}
    if "teacher" in samples[0]:
        batch["teacher"] = torch.stack([s["teacher"] for s in samples])
    return batch


def split_pairs(
    frames: torch.Tensor, interval: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """B×F×C×H×W clips → (frame0, frame1, target, t, pair_index): each keyframe pair once, every target between.

    frame0/frame1 are N×C×H×W (N = B · pairs), pair-major: pair p of clip b is row p·B + b. target is M×C×H×W
    (M = N · (interval - 1)), same dtype as `frames`, ordered pair, then time, then clip; t is M float32 in (0, 1)
    and pair_index M int64: target j is the frame at time t[j] between frame0[pair_index[j]] (t = 0) and
    frame1[pair_index[j]] (t = 1).
    """
    count, length = frames.shape[:2]
    pairs = (length - 1) // interval
    keyframes = frames[:, : pairs * interval + 1 : interval]
    frame0 = keyframes[:, :-1].transpose(0, 1).flatten(0, 1)
    frame1 = keyframes[:, 1:].transpose(0, 1).flatten(0, 1)
    target, t, pair_index = [], [], []
    for p in range(pairs):
        for j in range(1, interval):
            target.append(frames[:, p * interval + j])
            t.append(torch.full((count,), j / interval, dtype=torch.float32))
            pair_index.append(p * count + torch.arange(count))
    return frame0, frame1, torch.cat(target), torch.cat(t), torch.cat(pair_index)


def split_targets(frames: torch.Tensor, interval: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """B×F×C×H×W clips → flat (frame0, frame1, target, t) over every keyframe pair and every target between.

    Like `split_pairs`, with the keyframes repeated for each target: frame0/frame1/target are M×C×H×W.
    """
    frame0, frame1, target, t, pair_index = split_pairs(frames, interval)
    return frame0[pair_index], frame1[pair_index], target, t


@dataclass
class ValidationTriplet:
    """A validation example: frame0, frame1, ground-truth middle frame (each 3×H×W uint8 RGB) and its t."""

    frame0: torch.Tensor
    frame1: torch.Tensor
    target: torch.Tensor
    t: float = 0.5
    name: str = ""


def held_out_triplets(clips: list[CachedClip], windows: list[Window], crop: int) -> list[ValidationTriplet]:
    """Centre-cropped (crop×crop) triplets from held-out 3-frame windows: keyframes 0 and 2, target 1 at t = 0.5."""
    triplets = []
    for w in windows:
        clip = clips[w.clip]
        y, x = center_crop_box(clip.height, clip.width, crop)
        frames = np.asarray(clip.frames()[w.start : w.start + 3, y : y + crop, x : x + crop])
        tensor = images_tensor(frames)
        triplets.append(ValidationTriplet(tensor[0], tensor[2], tensor[1], 0.5, f"{clip.source}@{w.start + 1}"))
    return triplets
