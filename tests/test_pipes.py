"""`vidinterp upsample` as a separate process: stdin/stdout with y4m and nut, the ffmpeg pipe chain, SIGINT and
a closed stdout. Few and small on purpose: each process imports torch (about 2 s)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from synthetic import make_clip

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "vidinterp", "upsample", "--method", "blend"]


def env():
    variables = dict(os.environ, OMP_NUM_THREADS="1")
    variables["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), variables.get("PYTHONPATH")]))
    return variables


def stream_info(data: bytes):
    """(frame count, rate, codec, seconds of audio or None) of a video held in memory."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        rate, codec = Fraction(stream.average_rate), stream.codec_context.name
    with av.open(io.BytesIO(data)) as container:
        audio = None
        if container.streams.audio:
            audio_stream = container.streams.audio[0]
            audio = sum(f.samples for f in container.decode(audio_stream)) / audio_stream.codec_context.sample_rate
    return count, rate, codec, audio


@pytest.mark.parametrize(
    "in_format, audio, out_args",
    [("yuv4mpegpipe", False, []), ("nut", True, ["--format", "nut"])],
)
def test_stdin_to_stdout(tmp_path, in_format, audio, out_args):
    """y4m in → y4m out; nut with AAC audio in → nut out, the audio carried through the pipe."""
    source = make_clip(tmp_path / "in.bin", n_frames=6, width=32, height=24, fps=Fraction(30000, 1001), codec="rawvideo",
                       pix_fmt="yuv420p", container_format=in_format, audio=audio)
    result = subprocess.run([*COMMAND, "-", "-", "--factor", "2", *out_args], input=source.read_bytes(), capture_output=True,
                            env=env(), timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    count, rate, codec, seconds = stream_info(result.stdout)
    assert (count, rate, codec) == (12, Fraction(60000, 1001), "rawvideo")
    if audio:
        source_seconds = stream_info(source.read_bytes())[3]
        assert seconds is not None and abs(seconds - source_seconds) <= 1001 / 60000  # within one output frame
    else:
        assert seconds is None
    assert b"Traceback" not in result.stderr


@pytest.mark.ffmpeg
def test_ffmpeg_pipe_chain(tmp_path):
    source = make_clip(tmp_path / "in.mp4", n_frames=6, width=32, height=24, audio=True)
    out = tmp_path / "out.mp4"
    script = (
        f"ffmpeg -v error -i '{source}' -f yuv4mpegpipe - "
        f"| {' '.join(COMMAND)} - - --factor 2 "
        f"| ffmpeg -v error -y -i - -c:v libx264 -preset ultrafast '{out}'"
    )
    result = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, env=env(), timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert sum(1 for _ in container.decode(stream)) == 12
        assert stream.average_rate == 48


def test_closed_stdout_exits_quietly(tmp_path):
    source = make_clip(tmp_path / "in.mp4", n_frames=24, width=64, height=48)
    process = subprocess.Popen([*COMMAND, str(source), "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    process.stdout.read(100)
    process.stdout.close()  # the downstream reader goes away (like `| head -c 100`)
    _, stderr = process.communicate(timeout=120)
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr, stderr.decode()
    assert process.returncode in (0, 1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_no_output_and_no_temp_file(tmp_path, signum):
    source = make_clip(tmp_path / "in.mkv", n_frames=120, width=128, height=96, codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "out.mp4"
    process = subprocess.Popen([*COMMAND, str(source), str(out), "--factor", "4"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env())
    deadline = time.monotonic() + 60
    # Wait until it is writing (its temporary file is there), then press Ctrl-C.
    while time.monotonic() < deadline and not any(".partial" in p.name for p in tmp_path.iterdir()):
        if process.poll() is not None:
            break
        time.sleep(0.02)
    if process.poll() is not None:
        _, stderr = process.communicate()
        assert process.returncode == 0, stderr.decode()
        pytest.skip("the run finished before it could be interrupted (a fast machine): nothing to test")
    process.send_signal(signum)  # Ctrl-C, or `kill` / `timeout`
    _, stderr = process.communicate(timeout=60)
    # the shell's convention, 128 + the signal: 130 after Ctrl-C, 143 after SIGTERM
    assert process.returncode == 128 + signum, stderr.decode()
    word = b"terminated" if signum == signal.SIGTERM else b"interrupted"
    assert word in stderr and b"Traceback" not in stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.mkv"]
