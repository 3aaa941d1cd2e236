"""Shared pieces of the fault and bad-input suite (`pytest -m faults`).

`run_cli` runs `vidinterp` as a real process (closed descriptors, signals, stalled pipes); `invoke` runs it in this
process (fast, for the many cases that need no process of their own). Both return a `CliResult`, and
`assert_clean_failure` checks the project's rule for a refused input: a non-zero exit below 126, exactly one
`vidinterp: error:` line (after warnings, where the case documents them), no traceback. `leftovers` lists what a
run must not leave behind (temporary files, .partial staging folders). `media` holds tiny synthetic clips made once
per session with the ffmpeg CLI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: a run of a tiny clip takes a few seconds (most of it importing torch); more means a hang
TIMEOUT = 90


@dataclass
class CliResult:
    rc: int
    stdout: bytes
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def assert_clean_failure(result: CliResult, rc: int | None = None, *, contains: str | None = None,
                         warnings: bool = False, progress: bool = False) -> str:
    """A refused run: exit status `rc` (default: any from 1 to 125; a signal's 128 + n when given), one
    `vidinterp: error:` line, last, and nothing else on stderr, no traceback. With `warnings`, `vidinterp: warning:`
    lines may come before it; with `progress`, the run's own log lines too (a run stopped part-way by a signal).
    Returns the error line."""
    assert "Traceback" not in result.stderr and "Fatal Python error" not in result.stderr, result.stderr
    if rc is None:
        assert 0 < result.rc < 126, (result.rc, result.stderr)
    else:
        assert result.rc == rc, (result.rc, result.stderr)
    lines = result.lines
    assert lines and lines[-1].startswith("vidinterp: error: "), result.stderr
    assert sum(line.startswith("vidinterp: error: ") for line in lines) == 1, result.stderr
    for line in lines[:-1]:
        allowed = ((warnings or progress) and line.startswith("vidinterp: warning: ")) or (
            progress and line.startswith("vidinterp: "))
        assert allowed, result.stderr
    if contains is not None:
        assert contains in lines[-1], lines[-1]
    return lines[-1]


def assert_no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stderr and "Fatal Python error" not in result.stderr, result.stderr


def leftovers(folder: Path) -> list[str]:
    """Temporary files and staging folders of vidinterp anywhere under `folder`."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*")
                  if ".partial" in p.name or p.name.startswith(".vidinterp-"))


def _command(args, prelude: str | None) -> list[str]:
    """`vidinterp ARGS`, after `prelude` (test-only Python run first, e.g. to signal at a chosen stage)."""
    code = (prelude or "") + "\nfrom vidinterp.cli import main\nmain()\n"
    return [sys.executable, "-c", code, *[str(a) for a in args]]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _closing(close: tuple[int, ...]):
    def child() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background test runner may ignore it; the CLI must not
        for fd in close:
            os.close(fd)
    return child


@pytest.fixture
def run_cli(tmp_path):
    """Run `vidinterp ARGS` as a process: run_cli(*args, stdin=bytes|None, close=(fds...), prelude=code,
    timeout=s, cwd=folder) -> CliResult. `close` closes standard descriptors in the child (`<&-`, `>&-`, `2>&-`)."""

    def run(*args, stdin: bytes | None = None, close: tuple[int, ...] = (), prelude: str | None = None,
            timeout: float = TIMEOUT, cwd: Path | None = None) -> CliResult:
        proc = subprocess.run(_command(args, prelude), input=stdin if stdin is not None else None,
                              stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, cwd=cwd or tmp_path, env=_env(), preexec_fn=_closing(close))
        return CliResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))

    return run


class Running:
    """A `vidinterp` process started with pipes on all three descriptors; stderr is collected as it comes."""

    def __init__(self, args, prelude: str | None, cwd: Path, stdout=subprocess.PIPE) -> None:
        self.proc = subprocess.Popen(_command(args, prelude), stdin=subprocess.PIPE, stdout=stdout,
                                     stderr=subprocess.PIPE, cwd=cwd, env=_env(), preexec_fn=_closing(()))
        self._err: list[bytes] = []
        self._reader = threading.Thread(target=lambda: self._err.extend(iter(self.proc.stderr.readline, b"")),
                                        daemon=True)
        self._reader.start()

    def feed(self, data: bytes, close: bool = False) -> None:
        """Write `data` to the process's stdin from a thread (a stalled pipeline stops reading it), then leave
        stdin open (stalled) or `close` it (the end of the input)."""

        def write() -> None:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
                if close:
                    self.proc.stdin.close()
            except (OSError, ValueError):  # the process ended first
                pass

        threading.Thread(target=write, daemon=True).start()

    def wait_for(self, marker: Path, timeout: float = TIMEOUT) -> None:
        """Wait until the process has created `marker` (the prelude touches it at the stage under test)."""
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert self.proc.poll() is None, b"".join(self._err).decode()
            assert time.monotonic() < deadline, "the process never reached the stage under test"
            time.sleep(0.05)

    def finish(self, timeout: float = TIMEOUT) -> CliResult:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        for stream in (self.proc.stdout,):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        return CliResult(self.proc.returncode, b"", b"".join(self._err).decode(errors="replace"))


@pytest.fixture
def start_cli(tmp_path):
    """Start `vidinterp ARGS` without waiting: start_cli(*args, prelude=code) -> Running (killed at teardown)."""
    started: list[Running] = []

    def start(*args, prelude: str | None = None, stdout=subprocess.PIPE) -> Running:
        running = Running(args, prelude, tmp_path, stdout)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


@pytest.fixture(autouse=True)
def _restore_signal_handlers():
    """The CLI keeps its interrupt guard installed after an interrupt (the process is exiting); undo that here."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {sig: signal.getsignal(sig) for sig in handled}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def invoke(capsys):
    """Run `vidinterp ARGS` in this process (no interpreter start-up: for cases that need no process of their own)."""
    from _cli_api import run_main

    def run(*args) -> CliResult:
        rc, out, err = run_main(capsys, *args)
        return CliResult(rc, out.encode(), err)

    return run


def _ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *[str(a) for a in args]], check=True, timeout=120)


def _clip(path: Path, frames: int = 30, audio: bool = False, offset: float | None = None, codec: str = "libx264",
          size: str = "64x48") -> Path:
    seconds = frames / 30
    inputs = ["-f", "lavfi", "-t", seconds, "-i", f"testsrc=size={size}:rate=30"]
    if audio:
        inputs += ["-f", "lavfi", "-t", seconds, "-i", "sine=frequency=440:sample_rate=48000"]
    extra = ["-output_ts_offset", offset] if offset is not None else []
    audio_args = ["-c:a", "aac"] if audio else []
    _ffmpeg(*inputs, "-c:v", codec, "-pix_fmt", "yuv420p", *audio_args, *extra, path)
    return path


def _concat(path: Path, *parts: Path) -> Path:
    path.write_bytes(b"".join(part.read_bytes() for part in parts))
    return path


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """Tiny synthetic inputs (64×48, 30 fps), made once: plain, concatenated, jumping and damaged ones."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command-line tool")
    folder = tmp_path_factory.mktemp("media")
    m: dict[str, Path] = {}
    m["a.ts"] = _clip(folder / "a.ts")
    m["a_audio.ts"] = _clip(folder / "a_audio.ts", audio=True)
    m["ab.ts"] = _concat(folder / "ab.ts", m["a.ts"], m["a.ts"])
    m["abc.ts"] = _concat(folder / "abc.ts", m["a.ts"], m["a.ts"], m["a.ts"])
    m["ab_audio.ts"] = _concat(folder / "ab_audio.ts", m["a_audio.ts"], m["a_audio.ts"])
    m["later.ts"] = _clip(folder / "later.ts", offset=30)  # its clock starts 30 s later
    m["jump.ts"] = _concat(folder / "jump.ts", m["a.ts"], m["later.ts"])
    m["later_audio.ts"] = _clip(folder / "later_audio.ts", audio=True, offset=30)
    m["jump_audio.ts"] = _concat(folder / "jump_audio.ts", m["a_audio.ts"], m["later_audio.ts"])
    # A second segment that starts 0.05 s before the first one ends: two frames with times that go back.
    m["overlap.ts"] = _concat(folder / "overlap.ts", m["a.ts"], _clip(folder / "o.ts", offset=0.95))
    m["clip.mp4"] = _clip(folder / "clip.mp4", audio=True)
    m["clip.mkv"] = _clip(folder / "clip.mkv")
    m["clip.y4m"] = folder / "clip.y4m"
    _ffmpeg("-i", m["a.ts"], "-pix_fmt", "yuv420p", m["clip.y4m"])
    # Every second frame repeats the time of the one before (lossless intra-only video, so each frame is whole).
    m["dup.mkv"] = folder / "dup.mkv"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=30", "-frames:v", 30, "-vf",
            "setpts=floor(N/2)*2/(30*TB)", "-fps_mode", "passthrough", "-c:v", "ffv1", m["dup.mkv"])
    # Bigger than ffmpeg's probe size, with its index (moov) at the end: not readable from a pipe.
    m["moov_end.mp4"] = folder / "moov_end.mp4"
    _ffmpeg("-f", "lavfi", "-i", "nullsrc=size=320x240:rate=30,geq=random(1)*255:128:128", "-frames:v", 30,
            "-c:v", "libx264", "-qp", 0, "-pix_fmt", "yuv420p", m["moov_end.mp4"])
    m["faststart.mp4"] = folder / "faststart.mp4"
    _ffmpeg("-i", m["clip.mp4"], "-c", "copy", "-movflags", "+faststart", m["faststart.mp4"])
    return m
