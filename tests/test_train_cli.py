"""`vidinterp train` as users run it: --help, a tiny end-to-end run, usage errors, and DDP under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from synthetic import make_clip
from vidinterp.cli import main
from vidinterp.models import tiny_config

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=120, env_extra=None):
    env = {**subprocess_env(), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "vidinterp", "train", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def subprocess_env() -> dict[str, str]:
    """One thread per process and this checkout's code first on the path."""
    path = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


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


def test_help():
    result = run_cli("--help", timeout=60)
    assert result.returncode == 0
    for option in ("--out", "--steps", "--recipe", "--resume", "--interval", "--loss", "--val", "--amp"):
        assert option in result.stdout


def test_tiny_end_to_end_run(setup, capsys):
    root, data, model_json = setup
    run = root / "run"
    common = ("--crop", 32, "--batch-size", 2, "--model-config", model_json, "--device", "cpu", "--workers", 0,
              "--interval", "2")
    result = run_cli(data, "--out", run, "--steps", 5, "--val-every", 5, *common)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "broken.mov" in result.stderr and "warning" in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert "trained 5 steps" in summary and "best val PSNR" in summary
    assert str(run / "best" / "model.safetensors") in summary
    assert (run / "last" / "model.safetensors").is_file() and (run / "last" / "trainer.pt").is_file()
    assert load_file(str(run / "best" / "model.safetensors"))

    # In-process from here on (a subprocess costs seconds of imports on a loaded 2-core machine).
    with pytest.raises(SystemExit) as refused:  # a run is there: refuse to clobber it
        main(["train", str(data), "--out", str(run), "--steps", "5", *map(str, common)])
    err = capsys.readouterr().err
    assert refused.value.code == 2 and "--resume" in err and "Traceback" not in err

    main(["train", "--resume", str(run), "--steps", "7", "--quiet"])
    assert "trained 2 steps (steps 6 to 7; 7 in all)" in capsys.readouterr().err
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
def test_usage_errors(setup, tmp_path, capsys, args, code, message):
    _, data, _ = setup
    argv = ["train", *(a.format(data=data, tmp=tmp_path) for a in args)]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == code and "vidinterp: error:" in err and message in err and "Traceback" not in err


def test_ddp_two_cpu_processes(setup, tmp_path):
    root, data, model_json = setup
    run = tmp_path / "ddp"
    env = subprocess_env()
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


def test_ctrl_c_saves_and_exits_130(setup, tmp_path, capsys, monkeypatch):
    _, data, model_json = setup
    import vidinterp.train.train as loop

    real = loop.learning_rate

    def interrupt_at_step_2(step, *args):
        if step == 2:  # as if Ctrl-C arrived while step 3 was being prepared
            raise KeyboardInterrupt
        return real(step, *args)

    monkeypatch.setattr(loop, "learning_rate", interrupt_at_step_2)
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as exited:
        main(["train", str(data), "--out", str(run), "--steps", "50", "--crop", "32", "--batch-size", "2",
              "--model-config", str(model_json), "--device", "cpu", "--interval", "2", "--quiet", "--workers", "0"])
    err = capsys.readouterr().err
    assert exited.value.code == 130 and "--resume" in err and "Traceback" not in err
    assert torch.load(run / "last" / "trainer.pt", weights_only=True)["step"] == 2


def test_default_recipe_trains_with_its_flow_teacher_after_the_plain_install(setup, tmp_path, capsys):
    """The README's install (no extras) has what the default recipe needs: OpenCV is a core dependency, and
    `vidinterp train DATA_DIR` with the default recipe's distillation gets past the teacher check and trains."""
    import tomllib

    from vidinterp.train.config import load_recipe

    _, data, model_json = setup
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(dep.startswith("opencv-python") for dep in pyproject["project"]["dependencies"])
    assert load_recipe("default")["distill_weight"] > 0
    run = tmp_path / "run"
    main(["train", str(data), "--out", str(run), "--steps", "1", "--crop", "32", "--batch-size", "1", "--model-config",
          str(model_json), "--device", "cpu", "--workers", "0", "--interval", "2", "--quiet"])
    assert "trained 1 step" in capsys.readouterr().err
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["distill_weight"] == load_recipe("default")["distill_weight"] and saved["teacher"]
