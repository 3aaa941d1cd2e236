"""`vidinterp train --resume` on damaged or finished runs, and runs that stopped before their first checkpoint.

A damaged checkpoint or settings file is refused in one line and the run folder is left exactly as it was; a
run that never saved a checkpoint can be started over (`train`) or resumed from step 0 (`--resume`); the
closing line counts the steps run this time and the total; weights are written with the umask's permissions.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
import torch
from _cli_api import assert_fails, error_line, tiny_model_config, tiny_train_args, tree_state
from safetensors.torch import load_file, save_file

from synthetic import make_clip
from vidinterp.models.io import CONFIG_KEY, FORMAT_KEY, FORMAT_VALUE

pytestmark = pytest.mark.faults

UMASK = 0o022


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(data folder, a finished one-step run of the tiny model, the training options)."""
    root = tmp_path_factory.mktemp("finished")
    data = root / "data"
    data.mkdir()
    make_clip(data / "a.mp4", n_frames=8, width=48, height=40)
    args = tiny_train_args(tiny_model_config(root))
    previous = os.umask(UMASK)
    try:
        from vidinterp.cli import main

        main(["train", str(data), "--out", str(root / "run"), *args])
    finally:
        os.umask(previous)
    return data, root / "run", args


@pytest.fixture
def run(finished, tmp_path):
    """A copy of the finished run to damage."""
    return shutil.copytree(finished[1], tmp_path / "run")


def test_weights_are_written_with_the_umask_permissions(finished):
    _, run, _ = finished
    written = [path for folder in ("last", "best") if (run / folder).is_dir() for path in (run / folder).iterdir()]
    assert run / "last" / "model.safetensors" in written
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK, path


def _weights(run):
    return run / "last" / "model.safetensors"


def _nan_weights(run):
    tensors = load_file(str(_weights(run)))
    name = next(iter(tensors))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    config = json.loads((run / "last" / "model.json").read_text())
    save_file(tensors, str(_weights(run)), metadata={FORMAT_KEY: FORMAT_VALUE, CONFIG_KEY: json.dumps(config)})


def _shrunk_weights(run):
    tensors = load_file(str(_weights(run)))
    name = next(name for name, tensor in tensors.items() if tensor.ndim == 4)
    tensors[name] = tensors[name][:1].clone()
    config = json.loads((run / "last" / "model.json").read_text())
    save_file(tensors, str(_weights(run)), metadata={FORMAT_KEY: FORMAT_VALUE, CONFIG_KEY: json.dumps(config)})


def _replace_weights_by_folder(run):
    _weights(run).unlink()
    _weights(run).mkdir()


def _cut(path, fraction):
    def cut(run):
        data = (run / path).read_bytes()
        (run / path).write_bytes(data[: int(len(data) * fraction)])

    return cut


def _write(path, data: bytes):
    return lambda run: (run / path).write_bytes(data)


DAMAGES = {
    "weights cut in half": (_cut("last/model.safetensors", 0.5), "model.safetensors is not a readable safetensors"),
    "weights emptied": (_write("last/model.safetensors", b""), "model.safetensors is not a readable safetensors"),
    "weights pickled": (_write("last/model.safetensors", pickle.dumps({"w": [1.0]})), "not a readable safetensors"),
    "weights full of NaN": (_nan_weights, "holds NaN or infinite values"),
    "weights of another shape": (_shrunk_weights, "of another shape"),
    "weights a folder": (_replace_weights_by_folder, "model.safetensors is not a readable safetensors"),
    "trainer state cut": (_cut("last/trainer.pt", 0.5), "cannot read the training state"),
    "trainer state garbage": (_write("last/trainer.pt", b"garbage"), "cannot read the training state"),
    "trainer state emptied": (_write("last/trainer.pt", b""), "cannot read the training state"),
    "trainer state missing": (lambda run: (run / "last" / "trainer.pt").unlink(), "cannot read the training state"),
    "trainer state without its keys": (lambda run: torch.save({"step": 1}, run / "last" / "trainer.pt"),
                                       "is incomplete"),
    "trainer state of pickled code": (_write("last/trainer.pt", pickle.dumps(print)), "cannot read the training state"),
    "settings cut": (_cut("train_config.json", 0.5), "cannot read the run's settings"),
    "settings emptied": (_write("train_config.json", b""), "cannot read the run's settings"),
    "settings not UTF-8": (_write("train_config.json", b"\xff\xfe{"), "cannot read the run's settings"),
    "settings a list": (_write("train_config.json", b"[1, 2]"), "not a JSON object"),
    "settings with an unknown key": (
        lambda run: (run / "train_config.json").write_text(
            json.dumps({**json.loads((run / "train_config.json").read_text()), "turbo": True})),
        "are damaged (unknown training setting(s) turbo"),
    "settings with a bad value": (
        lambda run: (run / "train_config.json").write_text(
            json.dumps({**json.loads((run / "train_config.json").read_text()), "crop": "large"})),
        "are damaged (--crop must be a number"),
    "settings missing": (lambda run: (run / "train_config.json").unlink(), "holds no resumable run"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_is_refused_and_left_as_it_was(run_cli, run, damage):
    make, says = DAMAGES[damage]
    make(run)
    before = tree_state(run)
    assert_fails(run_cli, 1, "train", "--resume", run, "--steps", "3", says=(says,))
    assert tree_state(run) == before


@pytest.mark.parametrize(
    "extra, says",
    [
        (("--steps", "1"), "--steps is the run's new total, and the run in"),
        ((), "has already done all its 1 steps; to train further give --steps N with N above 1"),
        (("--steps", "0"), "--steps"),
        (("--lr", "0.1"), "only --steps and --quiet may be given"),
        (("--out", "elsewhere"), "--resume continues in its own folder"),
    ],
    ids=["steps not above those done", "a finished run without --steps", "steps 0", "a changed setting",
         "another out"],
)
def test_resume_with_nothing_to_do_is_a_usage_error(run_cli, run, extra, says):
    before = tree_state(run)
    assert_fails(run_cli, 2, "train", "--resume", run, *extra, says=(says,))
    assert tree_state(run) == before


def test_resume_counts_the_steps_it_ran_and_the_total(run_cli, run):
    status, out, err = run_cli("train", "--resume", run, "--steps", "2", "--quiet")
    assert status == 0, err
    assert "trained 1 step (step 2; 2 in all)" in err.splitlines()[-1]
    assert json.loads(json.dumps(torch.load(run / "last" / "trainer.pt", weights_only=True)["step"])) == 2


def _stopped_before_first_checkpoint(run):
    """What a run killed before its first checkpoint leaves: its settings and log, no weights."""
    shutil.rmtree(run / "last")
    shutil.rmtree(run / "best", ignore_errors=True)


def test_a_run_that_stopped_before_its_first_checkpoint_resumes_from_step_0(run_cli, run):
    _stopped_before_first_checkpoint(run)
    status, _, err = run_cli("train", "--resume", run)
    assert status == 0, err
    assert "no checkpoint yet" in err and "trained 1 step in" in err.splitlines()[-1]
    assert (run / "last" / "model.safetensors").is_file()


def test_a_run_that_stopped_before_its_first_checkpoint_can_be_started_over(run_cli, finished, run):
    data, _, args = finished
    _stopped_before_first_checkpoint(run)
    status, _, err = run_cli("train", data, "--out", run, *args)
    assert status == 0, err
    events = [json.loads(line)["event"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert events.count("start") == 1  # the dead run's log was replaced, not appended to
    assert (run / "last" / "model.safetensors").is_file()


@pytest.mark.parametrize("best", [{"step": 5000, "val_psnr": 30.0}, "garbage"], ids=["later step", "unreadable"])
def test_a_run_that_lost_its_checkpoint_but_kept_later_best_weights_is_not_replayed(run_cli, run, best):
    """Training it again from step 0 would overwrite best weights from a later step with earlier ones."""
    shutil.rmtree(run / "last")
    (run / "best").mkdir(exist_ok=True)
    (run / "best" / "best.json").write_text(json.dumps(best) if isinstance(best, dict) else best)
    before = tree_state(run)
    assert_fails(run_cli, 1, "train", "--resume", run, "--steps", "3", says=("no checkpoint (last/ is missing)",
                                                                            "its best weights are in"))
    assert tree_state(run) == before


def test_a_failed_resume_says_one_line_even_for_a_run_without_data(run_cli, run, tmp_path):
    """The data folder of the run was removed: one line, and the run folder stays as it was."""
    settings = json.loads((run / "train_config.json").read_text())
    settings["data_dir"] = str(tmp_path / "gone")
    (run / "train_config.json").write_text(json.dumps(settings))
    before = tree_state(run)
    status, _, err = run_cli("train", "--resume", run, "--steps", "3")
    assert status == 1 and "not found" in error_line(err)
    assert tree_state(run) == before
