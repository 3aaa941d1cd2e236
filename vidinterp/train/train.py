"""The training loop: AdamW with warm-up + cosine LR, AMP on CUDA, DDP under torchrun, exact resume, safe Ctrl-C.

Run folder layout (RUN_DIR):
  train_config.json   the resolved settings (a resumed run reads them back)
  log.jsonl           one JSON object per line: start, step metrics, validation, checkpoints, end
  last/               model.safetensors + model.json + trainer.pt (everything needed to resume exactly)
  best/               model.safetensors + model.json with the best validation PSNR so far (+ best.json)
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from vidinterp.data.augment import AugmentConfig
from vidinterp.data.cache import build_cache, default_cache_dir
from vidinterp.data.dataset import (
    ClipDataset,
    Triplet,
    WindowBatchSampler,
    check_sampling,
    collate_batch,
    held_out_triplets,
    split_pairs,
    split_windows,
)
from vidinterp.data.sources import discover_sources
from vidinterp.errors import UsageError, VidinterpError
from vidinterp.io.atomic import write_atomically
from vidinterp.signals import sigterm_as_interrupt
from vidinterp.train import checkpoint as ckpt
from vidinterp.train.config import TrainConfig
from vidinterp.train.distributed import DistInfo, all_gather_floats, barrier, cleanup, init_distributed
from vidinterp.train.objective import Objective
from vidinterp.train.schedule import learning_rate
from vidinterp.train.teacher import DisFlowTeacher, targets_first

CONFIG_NAME, LOG_NAME = "train_config.json", "log.jsonl"


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


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when available, else CPU; 'cuda' without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VidinterpError("--device cuda was asked for but no CUDA GPU is available; use --device cpu.")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {name!r}.")
    return torch.device(name)


def data_workers(requested: int, device: torch.device) -> int:
    """DataLoader workers: as asked, or by default 0 on CPU (sample prep is a cheap memmap slice; the cores are
    better spent on the model's math) and up to 6 on CUDA (keeps the GPU fed)."""
    if requested >= 0:
        return requested
    return 0 if device.type == "cpu" else min(6, max(1, (os.cpu_count() or 2) - 1))


class _JsonlLog:
    """Append-only JSONL metrics log (rank 0 only; a no-op elsewhere).

    `resume_step`: drop the records of steps after it first. A run that died without a final checkpoint
    (killed, machine restart) logged steps that the resumed run repeats; keeping both would count them twice.
    """

    def __init__(self, path: Path | None, resume_step: int | None = None):
        if path is not None and resume_step is not None and path.is_file():
            kept = [json.dumps(record) + "\n" for record in self._records(path) if record.get("step", 0) <= resume_step]
            write_atomically(path, lambda tmp: tmp.write_text("".join(kept), encoding="utf-8"))
        self.file = open(path, "a", encoding="utf-8") if path is not None else None

    @staticmethod
    def _records(path: Path) -> list[dict[str, Any]]:
        """The log's records, without a line torn by the kill (the only one that can fail to parse)."""
        records = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def write(self, record: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _progress(enabled: bool, total: int, start: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("train"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} samples/s"),
        TextColumn("val {task.fields[val]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), disable=not enabled,
    )
    task = progress.add_task("train", total=total, completed=start, loss="-", rate="-", val="-")
    return progress, task


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of N×3×H×W images in [0, 1] (prediction clamped to [0, 1] first)."""
    mse = (prediction.clamp(0, 1) - target).pow(2).flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


@torch.no_grad()
def validate(model: torch.nn.Module, triplets: list[Triplet], device: torch.device, batch_size: int = 4) -> float:
    """Mean PSNR (dB) over validation triplets; frames are edge-padded to the model's size multiple and cropped."""
    was_training = model.training
    model.eval()
    multiple = getattr(model, "pad_multiple", 1)
    scores: list[float] = []
    try:
        groups: dict[tuple[int, ...], list[Triplet]] = {}
        for triplet in triplets:  # batch triplets of one size together
            groups.setdefault(tuple(triplet.frame0.shape), []).append(triplet)
        for group in groups.values():
            for i in range(0, len(group), batch_size):
                chunk = group[i : i + batch_size]
                to = lambda key: torch.stack([getattr(tr, key) for tr in chunk]).to(device).float() / 255  # noqa: E731
                f0, f1, target = to("frame0"), to("frame1"), to("target")
                t = torch.tensor([tr.t for tr in chunk], device=device)
                h, w = f0.shape[-2:]
                pad = (0, (-w) % multiple, 0, (-h) % multiple)
                if any(pad):
                    f0, f1 = F.pad(f0, pad, mode="replicate"), F.pad(f1, pad, mode="replicate")
                output = model(f0, f1, t, reconstruct=False).frame[..., :h, :w].float()
                scores.extend(psnr(output, target).tolist())
    finally:
        model.train(was_training)
    return float(sum(scores) / len(scores)) if scores else float("nan")


def load_val_dir(path: str) -> list[Triplet]:
    """Triplets (t = 0.5) from an evaluation folder in any layout `vidinterp.evaluate.layouts` recognises
    (Middlebury other-data/other-gt-interp, Vimeo-90K triplet, UCF101 DVF); videos found there are ignored."""
    import numpy as np

    from vidinterp.evaluate.images import read_image
    from vidinterp.evaluate.layouts import TripletSet, discover

    def to_tensor(image_path) -> torch.Tensor:
        image = read_image(image_path)
        if image.dtype != np.uint8:  # 16-bit ground truth: compare at 8 bits like the training data
            image = (image.astype(np.float64) / 257).round().astype(np.uint8)
        return torch.from_numpy(image).permute(2, 0, 1).contiguous()

    triplets = [
        Triplet(to_tensor(item.frame0), to_tensor(item.frame1), to_tensor(item.truth), 0.5, f"{found.name}/{item.name}")
        for found in discover(path) if isinstance(found, TripletSet) for item in found.items
    ]
    if not triplets:
        raise VidinterpError(f"--val {path} holds no triplets (Middlebury, Vimeo-90K or UCF101 layout).")
    return triplets


def _build_model(config: TrainConfig, device: torch.device):
    from vidinterp.models import ModelConfig, VFIModel, load_model
    from vidinterp.models.io import load_matching_weights

    if config.init and config.warm_start:
        raise UsageError("give --init (the same model, continued) or --warm-start (matching tensors), not both.")
    if config.init:
        model = load_model(config.init, "cpu")
        if config.model and model.config.to_dict() != ModelConfig.from_dict(config.model).to_dict():
            raise UsageError(f"--init {config.init} has a different model config than the one asked for.")
        config.model = model.config.to_dict()
    else:
        model = VFIModel.from_config(ModelConfig.from_dict(config.model))
        config.model = model.config.to_dict()
        if config.warm_start:
            copied = load_matching_weights(model, config.warm_start)
            sys.stderr.write(f"vidinterp: warm start: {len(copied)} tensors from {config.warm_start}\n")
    return model.to(device).train()


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def prepare_run(config: TrainConfig, resume: bool) -> tuple[TrainConfig, dict[str, Any] | None]:
    """Validate settings; on resume, read the saved config (its `steps` may be raised) and trainer state."""
    out = Path(config.out_dir)
    state = None
    if resume:
        saved_path = out / CONFIG_NAME
        last = ckpt.find_folder(out / "last")
        if not saved_path.is_file() or last is None:
            raise VidinterpError(f"{out} holds no resumable run (needs {CONFIG_NAME} and last/).")
        saved = TrainConfig.from_dict(json.loads(saved_path.read_text()), str(saved_path))
        saved.steps, saved.quiet = config.steps or saved.steps, config.quiet
        saved.out_dir = str(out)
        state = ckpt.load_trainer_state(last)
        config = saved
    check_sampling(config.clip_length, config.interval_min, config.interval_max)
    for name in ("steps", "batch_size", "crop", "val_every", "checkpoint_every", "log_every"):
        if getattr(config, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(config, name)}.")
    # Fail on a bad loss or model setting now, not after minutes of caching.
    from vidinterp.losses import parse_loss_spec
    from vidinterp.models import ModelConfig

    parse_loss_spec(config.loss)
    if config.distill_weight > 0:
        DisFlowTeacher(config.teacher)  # an unknown preset or a missing OpenCV fails here
    if config.model:
        ModelConfig.from_dict(dict(config.model))
    if not config.data_dir or not Path(config.data_dir).exists():
        raise VidinterpError(f"training data folder not found: {config.data_dir or '(none given)'}")
    return config, state


def train(config: TrainConfig, hooks: TrainHooks | None = None, resume: bool = False) -> TrainResult:
    """Train a VFIModel as `config` says; writes checkpoints and logs to `config.out_dir`. See the module docstring."""
    hooks = hooks or TrainHooks()
    config, state = prepare_run(config, resume)
    device = resolve_device(config.device)
    info = init_distributed(device)
    try:
        with sigterm_as_interrupt():
            return _train(config, state, hooks, device, info)
    finally:
        cleanup(info)


def _train(config: TrainConfig, state: dict[str, Any] | None, hooks: TrainHooks, device: torch.device, info: DistInfo) -> TrainResult:
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if device.type == "cpu" and info.enabled and "OMP_NUM_THREADS" not in os.environ:
        # Ranks share the cores: without this each would start one thread per core and they would thrash.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.world_size))
    if device.type == "cpu":
        # Tiny gradients and activations underflow to denormals, which x86 handles in microcode: ~8% per step here.
        torch.set_flush_denormal(True)
    if config.batch_size % info.world_size:
        raise UsageError(f"--batch-size {config.batch_size} must be divisible by the number of processes ({info.world_size}).")
    out = Path(config.out_dir)
    show = info.is_main and not config.quiet
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)

    # --- data: rank 0 decodes into the cache while the others wait, then everyone reads the same entries.
    cache_dir = Path(config.cache_dir) if config.cache_dir else default_cache_dir(config.data_dir)
    sources = discover_sources(config.data_dir)
    if info.is_main:
        build_cache(sources, cache_dir, config.cache_size, config.cache_max_frames, progress=show)
    barrier(info)
    quiet_warn = lambda message: None  # noqa: E731 - rank 0 already reported skipped sources
    report = build_cache(sources, cache_dir, config.cache_size, config.cache_max_frames, progress=False, on_warning=quiet_warn)
    split = split_windows(report.clips, config.clip_length, config.crop, 0 if config.val_dir else config.val_count, config.window_stride)
    val_triplets = load_val_dir(config.val_dir) if config.val_dir else held_out_triplets(report.clips, split.val, config.crop)

    # --- model, optimizer, objective
    torch.manual_seed(config.seed)
    model = _build_model(config, device)
    if config.crop % model.pad_multiple:
        raise UsageError(f"--crop {config.crop} must be a multiple of {model.pad_multiple} for this model.")
    step, best_psnr, best_step = 0, None, None
    if state is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(ckpt.weights_path(ckpt.find_folder(out / "last"))), device=str(device)))
        step, best_psnr, best_step = int(state["step"]), state.get("best_psnr"), state.get("best_step")
        if state.get("num_windows") != len(split.train):
            _warn(info, f"the training data changed since the checkpoint ({state.get('num_windows')} → {len(split.train)} windows); data order will differ from an uninterrupted run")
    raw_model = model
    if info.enabled:
        # Without the reconstruction term the keyframe decoder gets no gradient; DDP must be told to expect that.
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=config.recon_weight <= 0)
    optimizer = torch.optim.AdamW(raw_model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    use_amp = config.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    objective = Objective(config.loss, config.recon_weight, config.warp_weight, config.distill_weight).to(device)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"], device)

    if info.is_main:
        _write_json_atomic(out / CONFIG_NAME, config.to_dict())
    log = _JsonlLog(out / LOG_NAME if info.is_main else None, step if state else None)
    log.write({"event": "resume" if state else "start", "step": step, "world_size": info.world_size, "device": str(device),
               "train_windows": len(split.train), "val_triplets": len(val_triplets), "sources": len(report.clips),
               "skipped_sources": len(report.skipped), "amp": str(amp_dtype) if use_amp else None, "time": time.time()})

    # --- data loader: the sampler is a pure function of (seed, step), so resuming needs only the step.
    per_rank = config.batch_size // info.world_size
    sampler = WindowBatchSampler(len(split.train), per_rank, config.interval_min, config.interval_max, config.seed, info.rank, info.world_size, start_step=step)
    augment = AugmentConfig(config.hflip, config.vflip, config.reverse, config.channel_shuffle)
    teacher = DisFlowTeacher(config.teacher) if config.distill_weight > 0 else None
    dataset = ClipDataset(report.clips, split.train, config.crop, config.clip_length, augment, teacher)
    # The teacher's keyframe flows are the model's DIS prior when both use one preset: computed once, in the loader.
    prior_module = raw_model.interpolation.prior
    reuse_teacher_prior = teacher is not None and prior_module is not None and prior_module.preset == config.teacher
    workers = data_workers(config.workers, device)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_batch, pin_memory=device.type == "cuda",
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None, worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(config.seed),
    )

    def trainer_state() -> dict[str, Any]:
        return {"step": step, "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                "rng": _rng_state(device), "best_psnr": best_psnr, "best_step": best_step,
                "num_windows": len(split.train), "seed": config.seed, "world_size": info.world_size}

    def save_last() -> None:
        if info.is_main:
            ckpt.save_checkpoint(out / "last", raw_model, trainer_state())
            log.write({"event": "checkpoint", "step": step, "path": str(out / "last")})

    losses: list[float] = []
    started = time.perf_counter()
    window_start, window_samples = time.perf_counter(), 0
    progress, task = _progress(show, config.steps, step)
    batches = iter(loader)
    try:
        with progress:
            while step < config.steps:
                batch = next(batches)
                frames = batch["frames"].to(device, non_blocking=True)
                # Each keyframe pair once: its encoding, reconstruction and motion serve all its targets.
                frame0, frame1, target, t, pair_index = split_pairs(frames, batch["interval"])
                to_unit = lambda x: x.float().div_(255)  # noqa: E731
                frame0, frame1, target, t = to_unit(frame0), to_unit(frame1), to_unit(target), t.to(device)
                pair_index = pair_index.to(device)
                teacher_flows = targets_first(batch["teacher"]).to(device, non_blocking=True) if "teacher" in batch else None
                prior = teacher_prior(teacher_flows, pair_index, frame0.shape[0]) if reuse_teacher_prior else None
                lr = learning_rate(step, config.lr, config.steps, config.warmup_steps, config.min_lr_ratio)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    output = model(frame0, frame1, t, reconstruct=config.recon_weight > 0, pair_index=pair_index, prior=prior)
                    loss, terms = objective(output, frame0[pair_index], frame1[pair_index], target, teacher_flows)
                if not torch.isfinite(loss):
                    raise VidinterpError(f"the loss became {loss.item()} at step {step + 1}; lower --lr or enable --grad-clip.")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if config.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(raw_model.parameters(), config.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                step += 1
                loss_value = float(loss.detach())
                losses.append(loss_value)
                window_samples += frames.shape[0] * info.world_size
                if step % config.log_every == 0 or step == config.steps:
                    elapsed = time.perf_counter() - window_start
                    rate = window_samples / elapsed if elapsed > 0 else 0.0
                    log.write({"event": "step", "step": step, "loss": loss_value, "terms": terms, "lr": lr,
                               "interval": batch["interval"], "samples_per_s": rate, "elapsed_s": time.perf_counter() - started})
                    progress.update(task, rate=f"{rate:.1f}")
                    window_start, window_samples = time.perf_counter(), 0
                progress.update(task, completed=step, loss=f"{loss_value:.4f}")
                if val_triplets and (step % config.val_every == 0 or step == config.steps):
                    if info.is_main:
                        score = validate(raw_model, val_triplets, device)
                        improved = best_psnr is None or score > best_psnr
                        if improved:
                            best_psnr, best_step = score, step
                            ckpt.save_checkpoint(out / "best", raw_model)
                            _write_json_atomic(out / "best" / "best.json", {"step": step, "val_psnr": score})
                        log.write({"event": "val", "step": step, "val_psnr": score, "best_psnr": best_psnr, "best_step": best_step})
                        progress.update(task, val=f"{score:.2f} dB")
                    barrier(info)
                if step % config.checkpoint_every == 0 and step < config.steps:
                    save_last()
                if hooks.on_step_end is not None:
                    hooks.on_step_end(step)
            save_last()
    except KeyboardInterrupt:
        # Save what was learned so far (the step in flight is dropped whole), then let the CLI exit 130.
        save_last()
        log.write({"event": "interrupted", "step": step})
        log.close()
        raise
    checksums = all_gather_floats(info, _weight_checksum(raw_model))
    seconds = time.perf_counter() - started
    log.write({"event": "end", "step": step, "seconds": seconds, "best_psnr": best_psnr, "best_step": best_step,
               "rank_weight_checksums": checksums})
    log.close()
    best_weights = ckpt.weights_path(out / "best") if best_step is not None else None
    result = TrainResult(step, seconds, best_psnr, best_step, ckpt.weights_path(out / "last"), best_weights, losses[-1] if losses else None, losses)
    if info.is_main:
        _summary(result)
    return result


def teacher_prior(teacher_flows: torch.Tensor, pair_index: torch.Tensor, pairs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The keyframe flows (flow_01, flow_10) of each of `pairs` pairs, taken from the teacher flows of its first
    target (every target of a pair carries the same keyframe flows; see `vidinterp.train.teacher`)."""
    order = torch.arange(pair_index.shape[0], device=pair_index.device)
    first = torch.full((pairs,), pair_index.shape[0], dtype=torch.long, device=pair_index.device)
    first = first.scatter_reduce(0, pair_index, order, reduce="amin")
    flows = teacher_flows.index_select(0, first)
    return flows[:, 4:6].contiguous(), flows[:, 6:8].contiguous()


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


def _warn(info: DistInfo, message: str) -> None:
    if info.is_main:
        sys.stderr.write(f"vidinterp: warning: {message}\n")


def _summary(result: TrainResult) -> None:
    best = f"best val PSNR {result.best_psnr:.2f} dB at step {result.best_step}" if result.best_psnr is not None and math.isfinite(result.best_psnr) else "no validation"
    where = result.best_weights or result.last_weights
    sys.stderr.write(f"vidinterp: trained {result.steps} steps in {result.seconds:.1f} s; {best}; weights: {where} (last: {result.last_weights})\n")
    sys.stderr.flush()
