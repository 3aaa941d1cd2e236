"""Shared pieces of the fault and bad-input suite (`pytest -m faults`).

`vidinterp` runs through the suite's `run_cli` (tests/conftest.py): in this process (fast, for the many cases that
need no process of their own), or as a real process with `process=True` (closed descriptors, signals, stalled
pipes); `start_cli` starts a process without waiting. `assert_clean_failure` checks the project's rule for a
refused input: a non-zero exit below 126, exactly one `vidinterp: error:` line (after warnings, where the case
documents them), no traceback. `leftovers` lists what a
run must not leave behind (temporary files, .partial staging folders). `media` holds tiny synthetic clips made once
per session with the ffmpeg CLI.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def assert_clean_failure(result, rc: int | None = None, *, contains: str | None = None,
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


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.stderr and "Fatal Python error" not in result.stderr, result.stderr


def leftovers(folder: Path) -> list[str]:
    """Temporary files and staging folders of vidinterp anywhere under `folder`."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*")
                  if ".partial" in p.name or p.name.startswith(".vidinterp-"))


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
