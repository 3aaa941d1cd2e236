"""`vidinterp train` given folders it cannot use: a run folder or cache that is a file, sits under a file or cannot
be written, data that is missing or holds nothing trainable, a folder that already holds a run. Each fails before
any caching or training, in one line, and leaves no run folder, cache folder or stray file behind."""

from __future__ import annotations

import json

import pytest
from _cli_api import assert_fails, tiny_model_config, tiny_train_args, tree_state, unwritable_folder

from synthetic import make_clip

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    make_clip(root / "a.mp4", n_frames=8, width=48, height=40)
    return root


@pytest.fixture
def args(tmp_path):
    return tiny_train_args(tiny_model_config(tmp_path))


def _no_cache(data) -> bool:
    return not (data / ".vidinterp-cache").exists()


def test_out_that_is_a_file(run_cli, data, tmp_path, args):
    out = tmp_path / "run"
    out.write_text("keep me")
    assert_fails(run_cli, 1, "train", data, "--out", out, *args, says=(f"--out '{out}' is a file",))
    assert out.read_text() == "keep me" and _no_cache(data)


def test_out_under_a_file(run_cli, data, tmp_path, args):
    (tmp_path / "file").write_text("keep me")
    out = tmp_path / "file" / "runs" / "a"
    assert_fails(run_cli, 1, "train", data, "--out", out, *args, says=("cannot be created", "is a file, not a folder"))
    assert (tmp_path / "file").read_text() == "keep me" and _no_cache(data)


def test_out_in_a_folder_that_cannot_be_written(run_cli, data, tmp_path, args):
    out = unwritable_folder(tmp_path) / "run"
    assert_fails(run_cli, 1, "train", data, "--out", out, *args, says=("cannot write to --out", str(out)))
    assert not out.exists() and _no_cache(data)


def test_cache_dir_that_is_a_file(run_cli, data, tmp_path, args):
    cache = tmp_path / "cache"
    cache.write_text("keep me")
    out = tmp_path / "run"
    assert_fails(run_cli, 1, "train", data, "--out", out, "--cache-dir", cache, *args,
                 says=(f"--cache-dir '{cache}' is a file",))
    assert cache.read_text() == "keep me" and not out.exists()


def test_cache_dir_under_a_file(run_cli, data, tmp_path, args):
    (tmp_path / "file").write_text("keep me")
    out = tmp_path / "run"
    assert_fails(run_cli, 1, "train", data, "--out", out, "--cache-dir", tmp_path / "file" / "cache", *args,
                 says=("--cache-dir", "is a file, not a folder"))
    assert not out.exists()


def test_cache_dir_that_cannot_be_written(run_cli, data, tmp_path, args):
    cache = unwritable_folder(tmp_path) / "cache"
    out = tmp_path / "run"
    assert_fails(run_cli, 1, "train", data, "--out", out, "--cache-dir", cache, *args,
                 says=("cannot write to --cache-dir",))
    assert not out.exists()


@pytest.mark.parametrize(
    "contents, says",
    [
        ({}, "no readable videos"),
        ({"broken.mp4": b"not a video"}, "no readable videos"),
        ({"notes.txt": b"hello", "frames/0001.png": b"not an image"}, "no readable videos"),
    ],
    ids=["empty", "one broken video", "nothing trainable"],
)
def test_data_with_nothing_to_train_on_leaves_no_run_or_cache_folder(run_cli, tmp_path, args, contents, says):
    data = tmp_path / "data"
    data.mkdir()
    for name, content in contents.items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(content)
    before = tree_state(data)
    out = tmp_path / "runs" / "deep" / "a"
    assert_fails(run_cli, 1, "train", data, "--out", out, *args, says=(says,))
    assert tree_state(data) == before  # no empty .vidinterp-cache
    assert not (tmp_path / "runs").exists()  # nor the run folder, nor the parents it made


def test_data_that_does_not_exist(run_cli, tmp_path, args):
    out = tmp_path / "run"
    assert_fails(run_cli, 1, "train", tmp_path / "absent", "--out", out, *args, says=("not found",))
    assert not out.exists()


def _fake_run(out, *folders):
    """What a run leaves in its folder (settings and log), with the given checkpoint folders."""
    out.mkdir()
    (out / "train_config.json").write_text(json.dumps({"steps": 3}))
    (out / "log.jsonl").write_text('{"event": "start", "step": 0}\n')
    for folder in folders:
        (out / folder).mkdir()
        (out / folder / "model.safetensors").write_bytes(b"weights")


@pytest.mark.parametrize(
    "folders, says",
    [
        (("last",), "already holds a run; use --resume"),
        ((".last.old",), "already holds a run; use --resume"),
        (("best",), "stopped before its first checkpoint but kept its best weights; continue it with --resume"),
    ],
    ids=["checkpoint", "checkpoint caught mid-swap", "best weights only"],
)
def test_a_folder_holding_a_run_worth_keeping_is_refused(run_cli, data, tmp_path, args, folders, says):
    out = tmp_path / "run"
    _fake_run(out, *folders)
    before = tree_state(out)
    assert_fails(run_cli, 2, "train", data, "--out", out, *args, says=(says,))
    assert tree_state(out) == before and _no_cache(data)


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda path: path.write_text("x"), "it is a file, not a run folder"),
        (lambda path: None, "the folder does not exist"),
        (lambda path: path.mkdir(), "holds no resumable run (no train_config.json); start one with: vidinterp train"),
    ],
    ids=["a file", "missing", "an empty folder"],
)
def test_resume_of_something_that_is_not_a_run(run_cli, tmp_path, make, says):
    target = tmp_path / "run"
    make(target)
    before = tree_state(tmp_path)
    assert_fails(run_cli, 1, "train", "--resume", target, says=(says,))
    assert tree_state(tmp_path) == before


def test_a_failed_start_over_leaves_the_stopped_run_as_it_was(run_cli, tmp_path, args):
    """Starting over in the folder of a run that stopped before its first checkpoint replaces its settings and
    log only once the new run is set up: an attempt that fails first (nothing to train on) keeps them."""
    out = tmp_path / "run"
    _fake_run(out)
    before = tree_state(out)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_fails(run_cli, 1, "train", empty, "--out", out, *args, says=("no readable videos",))
    assert tree_state(out) == before and not any(empty.iterdir())
