"""`vidinterp train` as users run it: --help, a tiny end-to-end run, usage errors, and DDP under torchrun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from synthetic import make_clip
from vidinterp.models import tiny_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-train")
    data = root / "data"
    data.mkdir()
    make_clip(data / "a.mp4", n_frames=14, width=64, height=48)
    (data / "broken.mov").write_bytes(b"not a video at all")
    model_json = root / "tiny.json"
    model_json.write_text(json.dumps(tiny_config().to_dict()))
    return root, data, model_json


def test_help(run_cli):
    result = run_cli("train", "--help", process=True, timeout=60)
    assert result.rc == 0
    for option in ("--out", "--steps", "--recipe", "--resume", "--interval", "--loss", "--val", "--amp"):
        assert option.encode() in result.stdout


def test_tiny_end_to_end_run(setup, run_cli):
    root, data, model_json = setup
    run = root / "run"
    common = ("--crop", 32, "--batch-size", 2, "--model-config", model_json, "--device", "cpu", "--workers", 0,
              "--interval", "2")
    result = run_cli("train", data, "--out", run, "--steps", 5, "--val-every", 5, *common, process=True, timeout=120)
    assert result.rc == 0, result.stderr
    assert result.stdout == b""
    assert "broken.mov" in result.stderr and "warning" in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert "trained 5 steps" in summary and "best val PSNR" in summary
    assert str(run / "best" / "model.safetensors") in summary
    assert (run / "last" / "model.safetensors").is_file() and (run / "last" / "trainer.pt").is_file()
    assert load_file(str(run / "best" / "model.safetensors"))

    # In-process from here on (a subprocess costs seconds of imports on a loaded 2-core machine).
    code, _, err = run_cli("train", data, "--out", run, "--steps", "5", *common)  # a run is there: not clobbered
    assert code == 2 and "--resume" in err and "Traceback" not in err

    code, _, err = run_cli("train", "--resume", run, "--steps", "7", "--quiet")
    assert code == 0 and "trained 2 steps (steps 6 to 7; 7 in all)" in err
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records if r["event"] in ("start", "resume")] == ["start", "resume"]
    assert [r["step"] for r in records if r["event"] == "step"][-1] == 7


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["{data}"], 2, "--out"),
        (["{data}", "--out", "{tmp}/r", "--loss", "charbonier=1"], 2, "unknown loss"),
        (["{data}", "--out", "{tmp}/r", "--teacher", "slowest"], 2, "--teacher"),
        (["{data}", "--out", "{tmp}/r", "--steps", "0"], 2, "--steps"),
        (["{data}", "--out", "{tmp}/r", "--interval", "two"], 2, "--interval"),
        (["{data}", "--out", "{tmp}/r", "--recipe", "nope"], 2, "recipe"),
        (["--resume", "{tmp}/empty"], 1, "resumable"),
        (["--resume", "{tmp}/empty", "--lr", "0.1"], 2, "--lr"),
        (["--resume", "{tmp}/empty", "--no-amp"], 2, "--amp"),
        (["--resume", "{tmp}/empty", "{data}"], 2, "DATA_DIR"),
        (["{tmp}/no-data", "--out", "{tmp}/r"], 1, "not found"),
    ],
)
def test_usage_errors(setup, tmp_path, run_cli, args, code, message):
    _, data, _ = setup
    status, _, err = run_cli("train", *(a.format(data=data, tmp=tmp_path) for a in args))
    assert status == code and "vidinterp: error:" in err and message in err and "Traceback" not in err


def test_ddp_two_cpu_processes(setup, tmp_path, run_cli):
    root, data, model_json = setup
    run = tmp_path / "ddp"
    env = run_cli.environment()  # torchrun starts the CLI's processes itself
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
               "-m", "vidinterp", "train", str(data), "--out", str(run), "--steps", "3", "--crop", "32",
               "--batch-size", "4", "--model-config", str(model_json), "--device", "cpu", "--workers", "0",
               "--interval", "2", "--quiet", "--val-every", "3"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "last" / "model.safetensors").is_file()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert records[0]["world_size"] == 2
    end = [r for r in records if r["event"] == "end"][-1]
    first, second = end["rank_weight_checksums"]
    assert first == second  # both ranks ended with identical weights
    assert result.stderr.count("trained 3 steps") == 1  # only rank 0 reports
    # and the checkpoint holds those weights
    state = load_file(str(run / "last" / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in state.values())


def test_ctrl_c_saves_and_exits_130(setup, tmp_path, run_cli, monkeypatch):
    _, data, model_json = setup
    import vidinterp.train.train as loop

    real = loop.learning_rate

    def interrupt_at_step_2(step, *args):
        if step == 2:  # as if Ctrl-C arrived while step 3 was being prepared
            raise KeyboardInterrupt
        return real(step, *args)

    monkeypatch.setattr(loop, "learning_rate", interrupt_at_step_2)
    run = tmp_path / "run"
    code, _, err = run_cli("train", data, "--out", run, "--steps", "50", "--crop", "32", "--batch-size", "2",
                           "--model-config", model_json, "--device", "cpu", "--interval", "2", "--quiet", "--workers",
                           "0")
    assert code == 130 and "--resume" in err and "Traceback" not in err
    assert torch.load(run / "last" / "trainer.pt", weights_only=True)["step"] == 2


def test_default_recipe_trains_with_its_flow_teacher_after_the_plain_install(setup, tmp_path, run_cli):
    """The README's install (no extras) has what the default recipe needs: OpenCV is a core dependency, and
    `vidinterp train DATA_DIR` with the default recipe's distillation gets past the teacher check and trains."""
    import tomllib

    from vidinterp.train.config import load_recipe

    _, data, model_json = setup
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(dep.startswith("opencv-python") for dep in pyproject["project"]["dependencies"])
    assert load_recipe("default")["distill_weight"] > 0
    run = tmp_path / "run"
    code, _, err = run_cli("train", data, "--out", run, "--steps", "1", "--crop", "32", "--batch-size", "1",
                           "--model-config", model_json, "--device", "cpu", "--workers", "0", "--interval", "2",
                           "--quiet")
    assert code == 0 and "trained 1 step" in err
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["distill_weight"] == load_recipe("default")["distill_weight"] and saved["teacher"]
