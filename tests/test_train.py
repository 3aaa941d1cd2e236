"""The training loop: it learns, resumes bit-exactly, saves on Ctrl-C, validates, and writes the run folder."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from synthetic import make_clip, pattern_frame
from test_data import write_png
from vidinterp.errors import UsageError, VidinterpError
from vidinterp.models import tiny_config
from vidinterp.train.config import TrainConfig, apply_overrides, load_recipe, parse_interval
from vidinterp.train.schedule import learning_rate
from vidinterp.train.train import TrainHooks, resume, train


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    """Two short synthetic videos (the cache is built inside, once for the module)."""
    root = tmp_path_factory.mktemp("train-data")
    make_clip(root / "a.mp4", n_frames=16, width=64, height=48, speed=(1.5, 0.5))
    make_clip(root / "b.mp4", n_frames=16, width=64, height=48, speed=(-1.0, 1.0))
    return root


def tiny(data_dir, out_dir, **overrides) -> TrainConfig:
    """A seconds-fast configuration: tiny model, 32-pixel crops, one process, no workers."""
    values = dict(data_dir=str(data_dir), out_dir=str(out_dir), steps=4, batch_size=2, crop=32, lr=2e-3, warmup_steps=2,
                  val_every=1000, checkpoint_every=1000, model=tiny_config().to_dict(), workers=0, val_count=2,
                  log_every=1, quiet=True, interval_min=2, interval_max=3, clip_length=4)
    values.update(overrides)
    return TrainConfig(**values)


def weights(run_dir, name="last"):
    return load_file(str(run_dir / name / "model.safetensors"))


def log_records(run_dir) -> list[dict]:
    """The run's log.jsonl, one dict per record."""
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_tiny_model_overfits_a_clip(tmp_path):
    data = tmp_path / "data" / "seq"
    data.mkdir(parents=True)
    for i in range(3):
        write_png(data / f"{i}.png", pattern_frame(i, 32, 32, speed=(2.0, 1.0)))
    # The learned-from-scratch model: a prior model starts near its classical baseline, with little left to cut.
    config = tiny(data.parent, tmp_path / "run", steps=70, lr=5e-3, warmup_steps=0, val_count=0, interval_max=2,
                  clip_length=3, model=tiny_config("none").to_dict(),
                  recon_weight=0.0, grad_clip=0.0, hflip=False, vflip=False, reverse=False, loss={"charbonnier": 1.0})
    result = train(config)
    assert result.steps == 70
    assert result.losses[0] / min(result.losses[-5:]) >= 10, result.losses[::10]


def test_interrupted_then_resumed_run_is_bit_identical(video_dir, tmp_path):
    straight = train(tiny(video_dir, tmp_path / "straight", steps=6))
    assert straight.steps == 6

    def stop_at_3(step):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny(video_dir, tmp_path / "split", steps=6), TrainHooks(on_step_end=stop_at_3))
    state = torch.load(tmp_path / "split" / "last" / "trainer.pt", weights_only=True)
    assert state["step"] == 3
    events = [r["event"] for r in log_records(tmp_path / "split")]
    assert "interrupted" in events
    assert not any(p.name.startswith(".") for p in (tmp_path / "split").iterdir())  # no temp folders left

    resumed = resume(tmp_path / "split", quiet=True)
    assert resumed.steps == 6
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))
    # and it really trained: weights moved from the start
    assert resumed.losses and all(math.isfinite(v) for v in resumed.losses)


def test_resume_after_a_crash_logs_each_step_once(video_dir, tmp_path):
    """A run killed between checkpoints logged steps past its last one; the resumed run redoes them, and the log
    keeps only the redone records (with the losses an uninterrupted run logs)."""
    straight = train(tiny(video_dir, tmp_path / "straight", steps=6))

    def crash_at_5(step):
        if step == 5:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        train(tiny(video_dir, tmp_path / "crashed", steps=6, checkpoint_every=2), TrainHooks(on_step_end=crash_at_5))
    assert torch.load(tmp_path / "crashed" / "last" / "trainer.pt", weights_only=True)["step"] == 4
    with open(tmp_path / "crashed" / "log.jsonl", "a") as log:
        log.write('{"event": "step", "step": 6, "lo')  # a record torn by the kill
    resume(tmp_path / "crashed", quiet=True)

    def step_losses(run):
        return [(r["step"], r["loss"]) for r in log_records(run) if r["event"] == "step"]

    assert [s for s, _ in step_losses(tmp_path / "crashed")] == [1, 2, 3, 4, 5, 6]
    expected = list(enumerate(straight.losses, 1))
    assert step_losses(tmp_path / "crashed") == step_losses(tmp_path / "straight") == expected


def test_resume_extends_a_finished_run(video_dir, tmp_path):
    # Constant LR (no warm-up, no decay), so 3 steps + 3 more equals 6 steps in one go.
    flat = dict(warmup_steps=0, min_lr_ratio=1.0)
    train(tiny(video_dir, tmp_path / "straight", steps=6, **flat))
    train(tiny(video_dir, tmp_path / "two-part", steps=3, **flat))
    before = weights(tmp_path / "two-part")
    resume(tmp_path / "two-part", 6, quiet=True)
    after = weights(tmp_path / "two-part")
    assert not all(torch.equal(before[k], after[k]) for k in before)
    assert_same_weights(weights(tmp_path / "straight"), after)


def test_validation_keeps_best_and_logs(video_dir, tmp_path):
    run = tmp_path / "run"
    result = train(tiny(video_dir, run, steps=4, val_every=2, checkpoint_every=2))
    records = log_records(run)
    vals = [r for r in records if r["event"] == "val"]
    assert [r["step"] for r in vals] == [2, 4]
    assert all(10 < r["val_psnr"] < 100 for r in vals)
    assert result.best_psnr == max(r["val_psnr"] for r in vals)
    best = json.loads((run / "best" / "best.json").read_text())
    assert best["step"] == result.best_step and (run / "best" / "model.safetensors").is_file()
    steps = [r for r in records if r["event"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4] and all(r["samples_per_s"] > 0 for r in steps)
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["steps"] == 4 and saved["model"] == tiny_config().to_dict()
    from vidinterp.models import load_model

    model = load_model(run / "best" / "model.safetensors")
    assert model.config == tiny_config()


def test_val_dir_in_vimeo_layout(video_dir, tmp_path):
    seq = tmp_path / "vimeo" / "00001"
    seq.mkdir(parents=True)
    for name, position in (("im1.png", 0), ("im2.png", 1), ("im3.png", 2)):
        write_png(seq / name, pattern_frame(position, 40, 36))  # not a multiple of the pad size: padded, cropped
    run = tmp_path / "run"
    train(tiny(video_dir, run, steps=2, val_every=2, val_dir=str(tmp_path / "vimeo")))
    records = log_records(run)
    assert records[0]["val_triplets"] == 1
    assert [r["step"] for r in records if r["event"] == "val"] == [2]


def test_bad_settings_are_clear_errors(video_dir, tmp_path):
    with pytest.raises(UsageError):
        train(tiny(video_dir, tmp_path / "r", crop=36))  # not a multiple of the tiny model's 8
    with pytest.raises(UsageError):
        train(tiny(video_dir, tmp_path / "r", interval_min=1))
    with pytest.raises(VidinterpError):
        train(tiny(video_dir, tmp_path / "r", crop=128))  # bigger than every clip
    with pytest.raises(VidinterpError):
        train(tiny(tmp_path / "missing", tmp_path / "r"))
    with pytest.raises(VidinterpError):
        resume(tmp_path / "nothing-here")
    with pytest.raises(UsageError, match="unknown teacher preset"):
        train(tiny(video_dir, tmp_path / "r", distill_weight=0.1, teacher="slowest"))
    assert not (tmp_path / "r" / "log.jsonl").exists()  # refused before any caching or training


def test_settings_are_checked_when_the_config_is_made():
    """TrainConfig refuses what no run can use, naming the option, before any data is read."""
    with pytest.raises(UsageError, match="--steps"):
        TrainConfig(steps=0)
    with pytest.raises(UsageError, match="--lr"):
        TrainConfig(lr=-1e-3)
    with pytest.raises(UsageError, match="whole number"):
        TrainConfig(crop=7.5)
    with pytest.raises(UsageError, match="unknown loss"):
        TrainConfig(loss={"charbonier": 1.0})
    with pytest.raises(UsageError, match="not both"):
        TrainConfig(init="a.safetensors", warm_start="learned")
    with pytest.raises(UsageError, match="teacher"):
        TrainConfig(teacher="slowest")
    with pytest.raises(UsageError, match="--interval"):
        TrainConfig(interval_min=1)
    # a loss spec is the registry's: a bare name weighs 1, repeats add up
    assert TrainConfig(loss=["l1", "census=0.5", "l1=0.5"]).loss == {"l1": 1.5, "census": 0.5}


def test_training_checks_that_the_gpu_asked_for_exists(video_dir, tmp_path):
    with pytest.raises(VidinterpError, match="cuda"):
        train(tiny(video_dir, tmp_path / "r", device="cuda:7"))
    with pytest.raises(UsageError, match="device"):
        train(tiny(video_dir, tmp_path / "r", device="gpu"))
    assert not (tmp_path / "r").exists()


def test_distillation_run_trains_its_flows_and_resumes_exactly(video_dir, tmp_path):
    """With a teacher every step logs the distillation term, and an interrupted run still resumes bit-exactly."""
    pytest.importorskip("cv2")
    settings = dict(steps=4, distill_weight=0.05, teacher="ultrafast")
    train(tiny(video_dir, tmp_path / "straight", **settings))
    records = log_records(tmp_path / "straight")
    terms = [r["terms"] for r in records if r["event"] == "step"]
    assert len(terms) == 4 and all(term["distill"] > 0 for term in terms)

    def stop_at_2(step):
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny(video_dir, tmp_path / "split", **settings), TrainHooks(on_step_end=stop_at_2))
    resume(tmp_path / "split", quiet=True)
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))


def test_learning_rate_schedule():
    lrs = [learning_rate(s, 1.0, 100, 10, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)


def test_recipe_and_option_parsing(tmp_path):
    recipe = load_recipe("default")
    config = apply_overrides(TrainConfig(), recipe, "default recipe")
    assert config.crop == recipe["crop"] and config.loss and config.interval_max >= config.interval_min >= 2
    assert config.distill_weight > 0 and config.teacher == "medium"  # the shipped model was trained with its teacher
    # The recipe trains the shipped architecture; only the prior's settings were changed after training.
    from vidinterp.models import ModelConfig, load_model

    shipped, trained = load_model(None).config.to_dict(), ModelConfig.from_dict(recipe["model"]).to_dict()
    assert {k for k in shipped if shipped[k] != trained[k]} == {"prior_preset", "prior_full_resolution_pixels"}
    assert trained["prior_preset"] == config.teacher  # so the teacher's keyframe flows can serve as the prior
    config = apply_overrides(config, {"crop": 128, "lr": None}, "cli")
    assert config.crop == 128 and config.lr == TrainConfig.from_dict(recipe).lr
    with pytest.raises(UsageError):
        apply_overrides(TrainConfig(), {"crpo": 3}, "typo")
    custom = tmp_path / "r.toml"
    custom.write_text("steps = 7\n[loss]\nl1 = 2\n")
    assert TrainConfig.from_dict(load_recipe(str(custom))).loss == {"l1": 2.0}
    with pytest.raises(UsageError):
        load_recipe("no-such-recipe")
    assert parse_interval("2") == (2, 2) and parse_interval("2-4") == (2, 4)


def test_sigterm_becomes_keyboard_interrupt():
    import os
    import signal

    from vidinterp.signals import sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
    assert signal.getsignal(signal.SIGTERM) is before


def test_init_from_weights_takes_their_config(video_dir, tmp_path):
    train(tiny(video_dir, tmp_path / "first", steps=1))
    init = tmp_path / "first" / "last" / "model.safetensors"
    result = train(tiny(video_dir, tmp_path / "second", steps=1, model={}, init=str(init), lr=1e-12, warmup_steps=0))
    saved = json.loads((tmp_path / "second" / "train_config.json").read_text())
    assert saved["model"] == tiny_config().to_dict() and result.steps == 1
    start, after = load_file(str(init)), weights(tmp_path / "second")
    for key in start:  # lr ~ 0: the weights barely move from the initial ones
        assert torch.allclose(start[key], after[key], atol=1e-6), key


@pytest.mark.slow
def test_trains_on_real_clips(shared_data, tmp_path):
    videos = sorted((shared_data / "train" / "videos").rglob("*.mp4"))[:2]
    data = tmp_path / "data"
    data.mkdir()
    for video in videos:
        (data / video.name).symlink_to(video)
    result = train(tiny(data, tmp_path / "run", steps=3, crop=64, cache_size=128, cache_max_frames=24, val_every=3,
                        interval_max=4, clip_length=5, cache_dir=str(tmp_path / "cache")))
    assert result.steps == 3 and result.best_psnr is not None and result.best_psnr > 10
