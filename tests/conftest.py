"""Shared fixtures and the GPU/ffmpeg skips that let the suite run on a CPU-only machine.

One of each thing the tests need around the code under test:

- `run_cli`: `vidinterp ARGS` in this process (fast) or, with `process=True`, as a real process (closed
  descriptors, signals, stdin/stdout pipes); `start_cli` starts such a process without waiting for it.
- `recording_interpolator`: a blend interpolator that records the pairs, t and padded sizes it is asked for.
- `read_video`: a video's frames, rate, streams and audio length, read back with PyAV (not with the project's own
  reader, so a reader bug cannot hide a writer bug).
- `device` and `dtype`: what model, interpolator and pipeline tests run on, chosen on the command line
  (`pytest --device cpu,cuda --dtype float32,float16`; cpu and float32 by default). A test that is CPU-only by
  nature (an OpenCV path) carries `@pytest.mark.cpu_only` and is reported as skipped on the other devices.
- A check that no test leaves SIGINT/SIGTERM/SIGHUP handlers changed (a stale interrupt guard changes how a later
  test's Ctrl-C or SIGTERM is handled).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
import pytest
import torch

from vidinterp.interpolators.base import Interpolator

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
#: a run of a tiny clip as a process takes a few seconds (most of it importing torch); more means a hang
CLI_TIMEOUT = 90
#: the signals the CLI's interrupt guard takes over while a command runs
GUARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


# -- command line, markers, device and dtype -----------------------------------------------------------------------
def pytest_addoption(parser):
    parser.addoption("--device", default="cpu",
                     help="comma-separated devices the device-parametrized tests run on: cpu, cuda (default cpu)")
    parser.addoption("--dtype", default="float32",
                     help=f"comma-separated dtypes the dtype-parametrized tests run in: {', '.join(DTYPES)} "
                          "(default float32)")


def _listed(config, option: str, known) -> list[str]:
    names = [name.strip() for name in config.getoption(option).split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise pytest.UsageError(f"{option} {','.join(unknown) or '(empty)'}: choose from {', '.join(known)}")
    return names


def _parametrized_in_test(metafunc, name: str) -> bool:
    """The test parametrizes `name` itself (e.g. a test that is about fp64): the command line does not apply."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return True
    return False


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "device" in metafunc.fixturenames and not _parametrized_in_test(metafunc, "device"):
        names = _listed(config, "--device", ("cpu", "cuda"))
        metafunc.parametrize("device", [pytest.param(name, id=name) for name in names], indirect=True)
    if "dtype" in metafunc.fixturenames and not _parametrized_in_test(metafunc, "dtype"):
        names = _listed(config, "--dtype", DTYPES)
        metafunc.parametrize("dtype", [pytest.param(name, id=name) for name in names], indirect=True)


def _device_skip(item, devices: list[str], has_cuda: bool) -> str | None:
    """Why a test cannot run on the device it is for (None when it can). A test marked cpu_only (the whole test or
    one of its parameters) says so for every other device; one that does not take the `device` fixture is skipped
    when --device leaves the CPU out. cuda needs a GPU."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    device = params.get("device")
    cpu_only = item.get_closest_marker("cpu_only")
    if cpu_only is not None and (device or "cpu" not in devices) and device != "cpu":
        reason = cpu_only.kwargs.get("reason") or (cpu_only.args[0] if cpu_only.args else "an OpenCV path")
        return f"CPU only by nature: {reason}"
    if device == "cuda" and not has_cuda:
        return "--device cuda: needs a CUDA GPU"
    return None


@pytest.fixture
def device(request) -> torch.device:
    """The device this test runs on (from --device; cpu by default)."""
    return torch.device(getattr(request, "param", "cpu"))


@pytest.fixture
def dtype(request) -> torch.dtype:
    """The float dtype this test runs in (from --dtype; float32 by default)."""
    return DTYPES[getattr(request, "param", "float32")]


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU")
    skip_ffmpeg = pytest.mark.skip(reason="needs the ffmpeg command-line tool")
    has_cuda = torch.cuda.is_available()
    has_ffmpeg = shutil.which("ffmpeg") is not None
    devices = _listed(config, "--device", ("cpu", "cuda"))
    for item in items:
        reason = _device_skip(item, devices, has_cuda)  # first: a "cuda" parameter id is a keyword too
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
        elif ("cuda" in item.keywords or "cupy" in item.keywords) and not has_cuda:
            item.add_marker(skip_cuda)
        if "ffmpeg" in item.keywords and not has_ffmpeg:
            item.add_marker(skip_ffmpeg)


# -- signal handlers -------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _signal_handlers_unchanged():
    """Fail a test that leaves a SIGINT/SIGTERM/SIGHUP handler changed (and put the handler back, so that only
    this test fails): the CLI's interrupt guard stays installed after an interrupt, as the process is exiting, and
    in this process it would change how every later test's signals are handled."""
    before = {sig: signal.getsignal(sig) for sig in GUARDED_SIGNALS}
    yield
    changed = [signal.Signals(sig).name for sig, handler in before.items() if signal.getsignal(sig) != handler]
    for sig, handler in before.items():
        signal.signal(sig, handler)
    if changed:
        pytest.fail(f"the test left the {', '.join(changed)} handler(s) changed (use run_cli to run the CLI here)")


# -- the command line ------------------------------------------------------------------------------------------------
class CliResult(NamedTuple):
    """What a `vidinterp` run gave: exit status, stdout (str in this process, bytes from a process), stderr."""

    rc: int
    stdout: str | bytes
    stderr: str

    @property
    def lines(self) -> list[str]:
        """The non-blank lines of stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def _exit_status(code) -> int:
    """The status a process gets from SystemExit(code): None is 0, a number itself, anything else (a message) 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


class Running:
    """A `vidinterp` process started with pipes on all three descriptors; stderr is collected as it comes."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], stdout=subprocess.PIPE) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd,
                                     env=env, preexec_fn=_child_setup(()))
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

    def wait_for(self, marker: Path, timeout: float = CLI_TIMEOUT) -> None:
        """Wait until the process has created `marker` (the prelude touches it at the stage under test)."""
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert self.proc.poll() is None, b"".join(self._err).decode()
            assert time.monotonic() < deadline, "the process never reached the stage under test"
            time.sleep(0.05)

    def finish(self, timeout: float = CLI_TIMEOUT) -> CliResult:
        """Wait for the end (killing the process after `timeout`); stdout is not collected (b"")."""
        try:
            self.proc.wait(timeout)
        finally:
            self.kill()
        self._reader.join(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        return CliResult(self.proc.returncode, b"", b"".join(self._err).decode(errors="replace"))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _child_setup(close: tuple[int, ...]):
    def child() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background test runner may ignore it; the CLI must not
        for fd in close:
            os.close(fd)
    return child


class CliRunner:
    """`vidinterp ARGS`, in this process or as a process (see `run_cli`)."""

    def __init__(self, request, cwd: Path) -> None:
        self._request, self._cwd = request, cwd
        self._started: list[Running] = []

    def __call__(self, *args, process: bool = False, stdin: bytes | None = None, close: tuple[int, ...] = (),
                 prelude: str | None = None, env: dict[str, str] | None = None, timeout: float = CLI_TIMEOUT,
                 cwd: Path | None = None) -> CliResult:
        if not process:
            if stdin is not None or close or prelude or env or cwd:
                raise TypeError("stdin, close, prelude, env and cwd need process=True")
            return self._in_process(args)
        proc = subprocess.run(self.command(args, prelude), input=stdin, capture_output=True, timeout=timeout,
                              stdin=None if stdin is not None else subprocess.DEVNULL, cwd=cwd or self._cwd,
                              env=self.environment(env), preexec_fn=_child_setup(close))
        return CliResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))

    def _in_process(self, args) -> CliResult:
        from vidinterp.cli import main

        # capfd where the test asked for it (what is written straight to descriptor 2), else capsys
        capture = self._request.getfixturevalue("capfd" if "capfd" in self._request.fixturenames else "capsys")
        capture.readouterr()  # drop what earlier steps printed
        handlers = {sig: signal.getsignal(sig) for sig in GUARDED_SIGNALS}
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as exited:
            code = _exit_status(exited.code)
        finally:
            # After an interrupt the CLI leaves its guard installed for the process's exit; this "process" goes on.
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        captured = capture.readouterr()
        return CliResult(code, captured.out, captured.err)

    def start(self, *args, prelude: str | None = None, stdout=subprocess.PIPE,
              env: dict[str, str] | None = None) -> Running:
        """Start `vidinterp ARGS` as a process without waiting (killed at the end of the test)."""
        running = Running(self.command(args, prelude), self._cwd, self.environment(env), stdout)
        self._started.append(running)
        return running

    @staticmethod
    def command(args, prelude: str | None = None) -> list[str]:
        """The argv of `python -m vidinterp ARGS`, or of `vidinterp ARGS` run after `prelude` (test-only Python, e.g.
        to signal at a chosen stage)."""
        if prelude is None:
            return [sys.executable, "-m", "vidinterp", *[str(a) for a in args]]
        code = prelude + "\nfrom vidinterp.cli import main\nmain()\n"
        return [sys.executable, "-c", code, *[str(a) for a in args]]

    @staticmethod
    def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
        """A child's environment: this checkout's code first on the path, one OpenMP thread unless the caller
        set a number (the suite runs on small shared machines), then `extra`."""
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        return {"OMP_NUM_THREADS": "1", **os.environ, "PYTHONPATH": path, **(extra or {})}

    def kill_started(self) -> None:
        for running in self._started:
            running.kill()


@pytest.fixture
def run_cli(request, tmp_path):
    """`vidinterp ARGS` -> CliResult (unpacks as rc, stdout, stderr).

    In this process by default (no interpreter start-up; output taken with capsys, or capfd where the test asks
    for it; signal handlers are put back afterwards). With
    `process=True` as a real process, for what needs one: `stdin=bytes`, `close=(fds...)` (`<&-`, `>&-`, `2>&-`),
    `prelude=code` run before the CLI, `env={...}` added to the environment, `timeout`, `cwd` (default tmp_path).
    `run_cli.start(*args, prelude=, stdout=)` starts a process without waiting (a `Running`)."""
    runner = CliRunner(request, tmp_path)
    yield runner
    runner.kill_started()


@pytest.fixture
def start_cli(run_cli):
    """Start `vidinterp ARGS` without waiting: start_cli(*args, prelude=code) -> Running (killed at teardown)."""
    return run_cli.start


# -- a recording interpolator ----------------------------------------------------------------------------------------
class RecordingInterpolator(Interpolator):
    """(1 − t)·frame0 + t·frame1 that records what it is asked: the pairs of each prepare call (by the frame number
    painted into pixel (0, 0), see `numbered_frames` in test_pipeline_engine.py), the (pair, t) requests and the
    padded sizes it saw. The record says which input pair each request came from without trusting the caller's
    bookkeeping."""

    name = "recording"

    def __init__(self, pad_multiple: int = 1, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = "cpu") -> None:
        super().__init__(device, dtype)
        self.pad_multiple = pad_multiple
        self.prepared_pairs: list[list[tuple[int, int]]] = []  # one list per prepare call
        self.requests: list[tuple[tuple[int, int], float]] = []
        self.padded_sizes: list[tuple[int, int]] = []

    @property
    def times(self) -> list[float]:
        """The t of every request, in order."""
        return [t for _, t in self.requests]

    def _prepare(self, frame0, frame1):
        pairs = [(self._number(a), self._number(b)) for a, b in zip(frame0, frame1)]
        self.prepared_pairs.append(pairs)
        self.padded_sizes.append(tuple(frame0.shape[-2:]))
        return frame0, frame1, pairs

    def _synthesize(self, state, pair_index, t):
        frame0, frame1, pairs = state
        self.requests.extend((pairs[i], float(ti)) for i, ti in zip(pair_index.tolist(), t.tolist()))
        return torch.lerp(frame0[pair_index], frame1[pair_index], t.to(frame0.dtype).view(-1, 1, 1, 1))

    @staticmethod
    def _number(frame: torch.Tensor) -> int:
        return round(float(frame[0, 0, 0]) * 255)


@pytest.fixture
def recording_interpolator():
    """The `RecordingInterpolator` class: recording_interpolator(pad_multiple=1, dtype=float32, device="cpu")."""
    return RecordingInterpolator


# -- reading a video back ----------------------------------------------------------------------------------------------
@dataclass
class DecodedVideo:
    """A video as PyAV reads it: the first video stream's frames (as `pixel_format` arrays), its average rate,
    codec name, and the decoded frames' format and colour matrix; every stream's (type, codec); the container's
    format name; the seconds of decoded audio (None without audio)."""

    frames: list[np.ndarray]
    rate: Fraction | None
    codec: str
    decoded_format: str | None
    colorspace: int | None
    streams: list[tuple[str, str]] = field(default_factory=list)
    container: str = ""
    audio_seconds: float | None = None

    def __len__(self) -> int:
        return len(self.frames)


def decode_video(source: Path | bytes, pixel_format: str = "rgb24") -> DecodedVideo:
    def open_():
        return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))

    frames, decoded_format, colorspace = [], None, None
    with open_() as container:
        streams = [(s.type, s.codec_context.name) for s in container.streams]
        video = container.streams.video[0]
        rate = Fraction(video.average_rate) if video.average_rate else None
        codec, container_format = video.codec_context.name, container.format.name
        for frame in container.decode(video):
            if decoded_format is None:
                decoded_format, colorspace = frame.format.name, int(frame.colorspace)
            frames.append(frame.to_ndarray(format=pixel_format))
    audio_seconds = None
    if any(kind == "audio" for kind, _ in streams):
        with open_() as container:  # a second pass: interleaved decoding of both streams would need a demuxer loop
            audio = container.streams.audio[0]
            audio_seconds = sum(f.samples for f in container.decode(audio)) / audio.codec_context.sample_rate
    return DecodedVideo(frames, rate, codec, decoded_format, colorspace, streams, container_format,
                        audio_seconds)


@pytest.fixture
def read_video():
    """read_video(path or bytes, pixel_format="rgb24") -> DecodedVideo, with PyAV. Every frame is held in memory:
    for the suite's small clips."""
    return decode_video


# -- inputs ------------------------------------------------------------------------------------------------------------
@pytest.fixture
def clip(tmp_path):
    """A 12-frame 96×64 24 fps H.264 clip of a moving pattern, with an AAC audio track."""
    from synthetic import make_clip

    return make_clip(tmp_path / "clip.mp4", audio=True)


@pytest.fixture
def shared_data():
    """../shared/data, or skip: real-data tests are optional and marked slow."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA
