"""Unusable paths and outputs: long names, symlink loops, special files, full disks, folders that vanish, outputs
that cannot be written, damaged inputs. Each is one line before anything is loaded, or the right output; nothing is
clobbered or left behind."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import time

import pytest
from conftest import assert_clean_failure, leftovers

pytestmark = pytest.mark.faults

START_LINE = "fps with blend on"  # the start line, logged once the model (here: blend) is loaded


def upsample(run_cli, *args):
    return run_cli("upsample", *args, "--method", "blend")


@pytest.mark.parametrize("where, word", [
    ("in", "cannot read the input"), ("out", "cannot write the output"), ("out-folder", "cannot"),
])
def test_a_name_too_long(run_cli, media, tmp_path, where, word):
    long = "x" * 300
    src, out = media["a.ts"], tmp_path / "out.mkv"
    if where == "in":
        src = tmp_path / f"{long}.ts"
    elif where == "out":
        out = tmp_path / f"{long}.mkv"
    else:
        out = tmp_path / long / "out.mkv"
    line = assert_clean_failure(upsample(run_cli, src, out), contains=word)
    assert len(line) < 400 and leftovers(tmp_path) == []


def test_a_long_name_that_fits_is_written(run_cli, media, tmp_path):
    out = tmp_path / ("y" * 250 + ".mkv")
    assert upsample(run_cli, media["a.ts"], out).rc == 0 and out.stat().st_size > 0 and leftovers(tmp_path) == []


@pytest.mark.parametrize("role", ["in", "out"])
def test_a_symlink_loop(run_cli, media, tmp_path, role):
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    args = (tmp_path / "loop1", tmp_path / "out.mkv") if role == "in" else (media["a.ts"], tmp_path / "loop1")
    assert_clean_failure(upsample(run_cli, *args), contains="symbolic links form a loop")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("out, word", [
    ("missing/out.mkv", "does not exist"),
    ("folder", "is a folder"),
    ("existing.mkv", "already exists"),
    ("noext", "cannot tell the output format"),
])
def test_unusable_outputs(run_cli, media, tmp_path, out, word):
    (tmp_path / "folder").mkdir()
    (tmp_path / "existing.mkv").write_bytes(b"keep")
    assert_clean_failure(upsample(run_cli, media["a.ts"], tmp_path / out), contains=word)
    assert (tmp_path / "existing.mkv").read_bytes() == b"keep" and leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["same", "symlink"])
def test_the_input_is_never_the_output(run_cli, media, tmp_path, how):
    src = tmp_path / "in.ts"
    shutil.copy(media["a.ts"], src)
    out = src if how == "same" else tmp_path / "link.ts"
    if how == "symlink":
        out.symlink_to(src)
    before = src.read_bytes()
    assert_clean_failure(upsample(run_cli, src, out, "--overwrite"), contains="is the input")
    assert src.read_bytes() == before and leftovers(tmp_path) == []


@pytest.mark.parametrize("args, word", [
    (("--format", "bogus"), "unknown --format 'bogus'"),
    (("--codec", "h264_nvenc"), "cannot run here"),
    (("--codec", "nosuchcodec"), "unknown video codec"),
    (("--pix-fmt", "nosuchfmt"), "unknown pixel format"),
    (("--codec", "libx264", "--format", "y4m"), "y4m output holds raw frames only"),
])
def test_bad_output_settings_fail_before_the_model_loads(run_cli, media, tmp_path, args, word):
    result = upsample(run_cli, media["a.ts"], tmp_path / "out.mkv", *args)
    assert_clean_failure(result, contains=word)
    assert START_LINE not in result.stderr and leftovers(tmp_path) == []


@pytest.mark.parametrize("out, args, word", [
    ("seq/%04d.jpg", (), "lossless PNG"),
    ("seq/%04d.png", ("--codec", "ffv1"), "only apply to a video output"),
    ("a%d/%04d.png", (), "only the file name may hold"),
    ("existing/%04d.png", (), "pass --overwrite"),
    ("gone/deeper/%04d.png", (), "does not exist"),
])
def test_bad_image_sequence_outputs_fail_before_the_model_loads(run_cli, media, tmp_path, out, args, word):
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "0001.png").write_bytes(b"keep")
    result = upsample(run_cli, media["a.ts"], tmp_path / out, *args)
    assert_clean_failure(result, contains=word)
    assert START_LINE not in result.stderr and leftovers(tmp_path) == []
    assert (tmp_path / "existing" / "0001.png").read_bytes() == b"keep"


def test_a_fifo_named_mp4_fails_before_the_model_loads(run_cli, media, tmp_path):
    fifo = tmp_path / "out.mp4"
    os.mkfifo(fifo)
    result = upsample(run_cli, media["a.ts"], fifo)
    assert_clean_failure(result, contains="cannot be streamed")
    assert START_LINE not in result.stderr and stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("fmt", ["nut", "y4m"])
def test_dev_full_is_one_line(run_cli, media, tmp_path, fmt):
    assert_clean_failure(upsample(run_cli, media["a.ts"], "/dev/full", "--format", fmt),
                         contains="No space left on device", progress=True)


def test_dev_stdout_is_an_output(run_cli, media):
    result = run_cli("upsample", media["a.ts"], "/dev/stdout", "--method", "blend", "--format", "nut",
                     process=True)
    assert result.rc == 0 and len(result.stdout) > 1000, result.stderr


def test_process_substitution_is_an_output(run_cli, media, tmp_path):
    """`vidinterp upsample in.ts >(wc -c > count)`: a /dev/fd/N name, written into like a pipe."""
    command = (f"{shlex.join(run_cli.command(['upsample', media['a.ts']]))} "
               f">(wc -c > {tmp_path / 'count'}) --method blend --format nut; echo $? > {tmp_path / 'rc'}; wait")
    subprocess.run(["bash", "-c", command], env=run_cli.environment(), timeout=120, check=True)
    for _ in range(100):  # the substituted process may finish a moment after bash
        if (tmp_path / "count").exists() and (tmp_path / "count").read_text().strip():
            break
        time.sleep(0.1)
    assert (tmp_path / "rc").read_text().strip() == "0"
    assert int((tmp_path / "count").read_text()) > 1000


def test_a_fifo_output_is_written_into(run_cli, media, tmp_path):
    fifo = tmp_path / "out.nut"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = upsample(run_cli, media["a.ts"], fifo)
    reader.join(30)
    assert result.rc == 0 and len(got[0]) > 1000 and stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("kind", ["video", "sequence"])
def test_the_output_folder_removed_mid_run(run_cli, media, tmp_path, monkeypatch, kind):
    from vidinterp.io import sequence_writer, writer

    folder = tmp_path / "out"
    folder.mkdir()
    cls = writer.VideoWriter if kind == "video" else sequence_writer.ImageSequenceWriter
    original = cls.write

    def write(self, frame):
        original(self, frame)
        if self.frames_written == 3:
            shutil.rmtree(folder)

    monkeypatch.setattr(cls, "write", write)
    out = folder / ("out.mkv" if kind == "video" else "%04d.png")
    assert_clean_failure(upsample(run_cli, media["a.ts"], out), contains="was removed while writing", progress=True)
    assert not folder.exists() and leftovers(tmp_path) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("owner, removed", [("dead", True), ("alive", False), ("old", True), ("new", False)])
def test_staging_folders_left_by_killed_runs(run_cli, media, tmp_path, owner, removed):
    name = {"dead": f"{_dead_pid()}-abcd", "alive": f"{os.getpid()}-abcd", "old": "k2j3h4g5", "new": "z9y8x7w6"}[owner]
    staging = tmp_path / f".vidinterp-frames-{name}.partial"
    staging.mkdir()
    (staging / "0001.png").write_bytes(b"half")
    if owner == "old":
        os.utime(staging, (0, 0))
    assert upsample(run_cli, media["a.ts"], tmp_path / "%04d.png").rc == 0
    assert staging.exists() != removed
    assert len(list(tmp_path.glob("*.png"))) == 60


def test_a_sigkilled_image_sequence_run_is_cleaned_up_by_the_next(start_cli, run_cli, media, tmp_path):
    marker = tmp_path / "reached"
    prelude = (f"import pathlib, time\nimport vidinterp.io.sequence_writer as m; f = m.ImageSequenceWriter.write\n"
               f"def hook(self, frame):\n    f(self, frame)\n"
               f"    (pathlib.Path({str(marker)!r}).touch(), time.sleep(30)) if self.frames_written == 3 else None\n"
               "m.ImageSequenceWriter.write = hook\n")
    run = start_cli("upsample", media["a.ts"], "%04d.png", "--method", "blend", prelude=prelude)
    run.wait_for(marker)
    run.proc.kill()
    run.finish()
    assert len(leftovers(tmp_path)) >= 1  # the killed run could not clean up
    assert run_cli("upsample", media["a.ts"], "%04d.png", "--method", "blend", process=True).rc == 0
    assert leftovers(tmp_path) == [] and len(list(tmp_path.glob("*.png"))) == 60


# -- damaged and unreadable inputs --------------------------------------------------------------------------------
def _damage(media, tmp_path, kind):
    path = tmp_path / "in.mp4"
    data = media["faststart.mp4"].read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(os.urandom(5000))
    elif kind == "text":
        path.write_bytes(b"hello\n" * 100)
    elif kind == "header-only":
        path.write_bytes(data[:2000])
    elif kind == "moov-at-end-cut":
        path.write_bytes(media["clip.mp4"].read_bytes()[: len(media["clip.mp4"].read_bytes()) // 10])
    elif kind == "one-frame":
        path = tmp_path / "in.y4m"
        y4m = media["clip.y4m"].read_bytes()
        frame = y4m.index(b"FRAME", y4m.index(b"FRAME") + 5)
        path.write_bytes(y4m[:frame])
    elif kind == "folder":
        path = tmp_path / "in.mp4"
        path.mkdir()
    return path


@pytest.mark.parametrize("kind, word", [
    ("empty", "not a video ffmpeg can read"), ("garbage", "not a video ffmpeg can read"),
    ("text", "not a video ffmpeg can read"), ("header-only", "no frame"),
    ("moov-at-end-cut", "not a video ffmpeg can read"), ("one-frame", "has only 1 frame"),
    ("folder", "empty folder"),
])
def test_unreadable_inputs(run_cli, media, tmp_path, kind, word):
    src = _damage(media, tmp_path, kind)
    result = upsample(run_cli, src, tmp_path / "out.mkv")
    assert_clean_failure(result)
    assert not (tmp_path / "out.mkv").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_truncated_inputs_warn_and_keep_what_is_there(run_cli, media, tmp_path, fraction):
    data = media["faststart.mp4"].read_bytes()
    src = tmp_path / "in.mp4"
    src.write_bytes(data[: int(len(data) * fraction)])
    result = upsample(run_cli, src, tmp_path / "out.mkv")
    if result.rc == 0:
        assert "vidinterp: error" not in result.stderr and (tmp_path / "out.mkv").exists()
    else:  # too little left: one line, without a warning that contradicts it
        assert_clean_failure(result)
    assert leftovers(tmp_path) == []


def test_an_mp4_with_its_index_at_the_end_from_a_pipe(run_cli, media, tmp_path):
    result = run_cli("upsample", "-", "out.mkv", "--method", "blend", process=True,
                     stdin=media["moov_end.mp4"].read_bytes())
    assert_clean_failure(result, contains="faststart")
    assert not (tmp_path / "out.mkv").exists() and leftovers(tmp_path) == []
