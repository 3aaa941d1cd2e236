"""`vidinterp upsample` as a separate process: stdin/stdout with y4m and nut, the ffmpeg pipe chain, SIGINT and
a closed stdout. Few and small on purpose: each process imports torch (about 2 s)."""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from fractions import Fraction

import pytest

from synthetic import make_clip


@pytest.mark.parametrize(
    "in_format, audio, out_args",
    [("yuv4mpegpipe", False, []), ("nut", True, ["--format", "nut"])],
)
def test_stdin_to_stdout(tmp_path, run_cli, read_video, in_format, audio, out_args):
    """y4m in → y4m out; nut with AAC audio in → nut out, the audio carried through the pipe."""
    source = make_clip(tmp_path / "in.bin", n_frames=6, width=32, height=24, fps=Fraction(30000, 1001),
                       codec="rawvideo", pix_fmt="yuv420p", container_format=in_format, audio=audio)
    result = run_cli("upsample", "--method", "blend", "-", "-", "--factor", "2", *out_args, process=True,
                     stdin=source.read_bytes(), timeout=120)
    assert result.rc == 0, result.stderr
    video = read_video(result.stdout)
    seconds = video.audio_seconds
    assert (len(video), video.rate, video.codec) == (12, Fraction(60000, 1001), "rawvideo")
    if audio:
        source_seconds = read_video(source.read_bytes()).audio_seconds
        assert seconds is not None and abs(seconds - source_seconds) <= 1001 / 60000  # within one output frame
    else:
        assert seconds is None
    assert "Traceback" not in result.stderr


@pytest.mark.ffmpeg
def test_ffmpeg_pipe_chain(tmp_path, run_cli, read_video):
    source = make_clip(tmp_path / "in.mp4", n_frames=6, width=32, height=24, audio=True)
    out = tmp_path / "out.mp4"
    script = (
        f"ffmpeg -v error -i '{source}' -f yuv4mpegpipe - "
        f"| {shlex.join(run_cli.command(['upsample', '--method', 'blend', '-', '-', '--factor', '2']))} "
        f"| ffmpeg -v error -y -i - -c:v libx264 -preset ultrafast '{out}'"
    )
    result = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, env=run_cli.environment(),
                            timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    video = read_video(out)
    assert len(video) == 12 and video.rate == 48


def test_closed_stdout_exits_quietly(tmp_path, start_cli):
    source = make_clip(tmp_path / "in.mp4", n_frames=24, width=64, height=48)
    run = start_cli("upsample", "--method", "blend", source, "-")
    run.proc.stdout.read(100)
    run.proc.stdout.close()  # the downstream reader goes away (like `| head -c 100`)
    result = run.finish(timeout=120)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    assert result.rc in (0, 1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_no_output_and_no_temp_file(tmp_path, start_cli, signum):
    source = make_clip(tmp_path / "in.mkv", n_frames=120, width=128, height=96, codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "out.mp4"
    run = start_cli("upsample", "--method", "blend", source, out, "--factor", "4")
    deadline = time.monotonic() + 60
    # Wait until it is writing (its temporary file is there), then press Ctrl-C.
    while time.monotonic() < deadline and not any(".partial" in p.name for p in tmp_path.iterdir()):
        if run.proc.poll() is not None:
            break
        time.sleep(0.02)
    if run.proc.poll() is not None:
        result = run.finish()
        assert result.rc == 0, result.stderr
        pytest.skip("the run finished before it could be interrupted (a fast machine): nothing to test")
    run.proc.send_signal(signum)  # Ctrl-C, or `kill` / `timeout`
    result = run.finish(timeout=60)
    # the shell's convention, 128 + the signal: 130 after Ctrl-C, 143 after SIGTERM
    assert result.rc == 128 + signum, result.stderr
    word = "terminated" if signum == signal.SIGTERM else "interrupted"
    assert word in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.mkv"]
