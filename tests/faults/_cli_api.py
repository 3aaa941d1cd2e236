"""Helpers of the API, weights, train, eval and bench fault tests: check that a command failed with one clean line,
and check that nothing was changed, lost or left behind."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest

ERROR_PREFIX = "vidinterp: error: "


def error_line(err: str) -> str:
    """The one `vidinterp: error:` line of a failed command's stderr (asserting there is exactly one and no
    traceback); returns its message."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1, err
    return errors[0][len(ERROR_PREFIX):]


def assert_fails(run_cli, code: int, *args, says: tuple[str, ...] = ()) -> str:
    """Run `vidinterp ARGS` in this process with the suite's `run_cli`; it must exit with `code` after one error
    line containing every string of `says` and nothing on stdout; returns the message."""
    status, out, err = run_cli(*args)
    assert status == code, (status, err)
    message = error_line(err)
    assert out == "", out
    for text in says:
        assert text in message, (text, message)
    return message


def assert_one_line(error: BaseException, *says: str) -> str:
    """An API error's message: one line (the CLI prints it as is) containing every string of `says`."""
    message = str(error)
    assert message and "\n" not in message, message
    for text in says:
        assert text in message, (text, message)
    return message


def tree_state(root: Path) -> dict[str, object]:
    """Every path under `root` (hidden ones included) with its kind, and a file's mode and content hash: two equal
    states mean nothing was added, removed, changed or left behind."""
    state: dict[str, object] = {}
    if not root.exists():
        return state
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            state[name] = ("link", os.readlink(path))
        elif path.is_dir():
            state[name] = "dir"
        else:
            state[name] = (path.stat().st_mode & 0o777, hashlib.sha1(path.read_bytes()).hexdigest())
    return state


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: a read-only folder, or for root (whom permission bits do not
    stop) a read-only system folder; skips when there is none."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    for candidate in (Path("/sys"), Path("/proc/self")):
        try:
            fd, probe = tempfile.mkstemp(dir=candidate)
        except OSError:
            return candidate
        os.close(fd)
        os.unlink(probe)
    pytest.skip("running as root with no read-only folder to write into")


def tiny_model_config(folder: Path) -> Path:
    """The tiny test model's config as a JSON file (for `train --model-config`)."""
    from vidinterp.models import tiny_config

    path = folder / "tiny.json"
    path.write_text(json.dumps(tiny_config().to_dict()))
    return path


def tiny_train_args(model_json: Path, steps: int = 1) -> tuple[str, ...]:
    """Options of the smallest training run: the tiny model on 32-pixel crops, a few steps, on the CPU, with the
    recipe that needs no teacher and no starting weights (the quickest to set up)."""
    return ("--recipe", "learned", "--steps", str(steps), "--crop", "32", "--batch-size", "2", "--model-config",
            str(model_json), "--device", "cpu", "--workers", "0", "--interval", "2", "--val-every", "100", "--quiet")
