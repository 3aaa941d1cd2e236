"""Signals at every stage of a run, closed standard streams, stalled and broken pipes: exit 128 + the first signal's
number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), one line, no abort, nothing left behind."""

from __future__ import annotations

import signal
import time

import pytest
from conftest import assert_clean_failure, leftovers

pytestmark = pytest.mark.faults

SIGNALS = {"INT": (signal.SIGINT, 130, "interrupted"), "TERM": (signal.SIGTERM, 143, "terminated"),
           "HUP": (signal.SIGHUP, 129, "terminated (hangup)")}

#: test-only code run before the CLI: touch MARKER when the stage under test is reached, then wait there
STAGE_PRELUDE = {
    # before the input is opened
    "open": "import vidinterp.io.reader as m; C = m.VideoReader; f = C._open\n"
            "def hook(self, *a):\n    hold(); return f(self, *a)\nC._open = hook\n",
    # frames are decoded and written, then stdin stalls: the signal lands in the middle of the stream
    "decode": "import vidinterp.io.writer as m; C = m.VideoWriter; f = C._write\n"
              "def hook(self, frame):\n    f(self, frame)\n    touch() if self.frames_written == 3 else None\n"
              "C._write = hook\n",
    # while a frame is encoded
    "encode": "import vidinterp.io.writer as m; C = m.VideoWriter; f = C._write\n"
              "def hook(self, frame):\n    f(self, frame)\n    hold() if self.frames_written == 3 else None\n"
              "C._write = hook\n",
    # while the output is finished (flushed, moved into place)
    "finalize": "import vidinterp.io.writer as m; C = m.VideoWriter; f = C._finish\n"
                "def hook(self):\n    hold(); f(self)\nC._finish = hook\n",
}


def prelude(marker, stage: str) -> str:
    return (f"import pathlib, time\nMARKER = pathlib.Path({str(marker)!r})\n"
            "def touch():\n    MARKER.touch()\n"
            "def hold():\n    touch(); time.sleep(30)\n" + STAGE_PRELUDE[stage])


@pytest.mark.parametrize("stage", list(STAGE_PRELUDE))
@pytest.mark.parametrize("name", list(SIGNALS))
def test_a_signal_at_each_stage(start_cli, media, tmp_path, name, stage):
    signum, status, word = SIGNALS[name]
    marker = tmp_path / "reached"
    run = start_cli("upsample", "-", "out.mkv", "--method", "blend", prelude=prelude(marker, stage))
    if stage != "open":
        # then stdin stays open (stalled), except that finishing the output needs the end of the input
        run.feed(media["clip.y4m"].read_bytes(), close=stage == "finalize")
    run.wait_for(marker)
    run.proc.send_signal(signum)
    result = run.finish()
    assert_clean_failure(result, status, contains=word, progress=True)
    assert result.lines[-1] == f"vidinterp: error: {word}"
    assert not (tmp_path / "out.mkv").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("first, second", [("TERM", "INT"), ("INT", "TERM"), ("TERM", "TERM"), ("HUP", "INT")])
def test_a_second_signal_during_shutdown_keeps_the_first_status(start_cli, media, tmp_path, first, second):
    marker = tmp_path / "reached"
    slow_abort = ("import vidinterp.io.writer as w; g = w.VideoWriter._abort\n"
                  "def slow(self):\n    pathlib.Path(str(MARKER) + '.abort').touch(); time.sleep(1.5); g(self)\n"
                  "w.VideoWriter._abort = slow\n")
    run = start_cli("upsample", "-", "out.mkv", "--method", "blend", prelude=prelude(marker, "decode") + slow_abort)
    run.feed(media["clip.y4m"].read_bytes())
    run.wait_for(marker)
    run.proc.send_signal(SIGNALS[first][0])
    run.wait_for(tmp_path / "reached.abort")
    run.proc.send_signal(SIGNALS[second][0])
    result = run.finish()
    assert result.rc == SIGNALS[first][1], result.stderr
    assert "Traceback" not in result.stderr and "Fatal Python error" not in result.stderr
    assert [line for line in result.lines if "error" in line] == [f"vidinterp: error: {SIGNALS[first][2]}"]
    assert not (tmp_path / "out.mkv").exists() and leftovers(tmp_path) == []


def test_sigterm_while_stdout_is_full(start_cli, media, tmp_path):
    """Nobody reads stdout: the encoder blocks in write; SIGTERM still ends the run with 143, no abort."""
    marker = tmp_path / "reached"
    run = start_cli("upsample", media["ab.ts"], "-", "--method", "blend", "--factor", "8",
                    prelude=prelude(marker, "decode"))
    run.wait_for(marker)
    time.sleep(1.0)  # let the pipe fill up
    run.proc.send_signal(signal.SIGTERM)
    result = run.finish()
    assert_clean_failure(result, 143, contains="terminated", progress=True)


# -- closed and broken standard streams ---------------------------------------------------------------------------
@pytest.mark.parametrize("close", [(0,), (1,), (2,), (0, 1, 2)], ids=["<&-", ">&-", "2>&-", "all"])
def test_closed_streams_do_not_matter_to_a_file_run(run_cli, media, tmp_path, close):
    result = run_cli("upsample", media["a.ts"], "out.mkv", "--method", "blend", close=close, process=True)
    assert result.rc == 0, result.stderr
    assert (tmp_path / "out.mkv").stat().st_size > 0 and leftovers(tmp_path) == []


@pytest.mark.parametrize("args, close, word", [
    (("upsample", "-", "out.mkv"), (0,), "stdin is closed"),
    (("upsample", "{a}", "-"), (1,), "stdout is closed"),
    (("doctor",), (1,), "stdout is closed"),
    (("doctor", "--json"), (1,), "stdout is closed"),
], ids=["stdin-IN", "stdout-OUT", "doctor", "doctor-json"])
def test_a_closed_stream_that_is_needed_is_one_line(run_cli, media, tmp_path, args, close, word):
    args = [str(a).format(a=media["a.ts"]) for a in args]
    result = run_cli(*args, "--method", "blend" if args[0] == "upsample" else None, close=close, process=True) \
        if args[0] == "upsample" else run_cli(*args, close=close, process=True)
    assert_clean_failure(result, contains=word)
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize("close", [(2,), (0,)], ids=["2>&-", "<&-"])
def test_doctor_with_a_closed_stream_still_reports(run_cli, close):
    result = run_cli("doctor", close=close, process=True)
    assert result.rc == 0 and b"doctor" in result.stdout


def test_an_error_with_stderr_closed_still_exits_non_zero(run_cli, tmp_path):
    result = run_cli("upsample", "missing.mp4", "out.mkv", "--method", "blend", close=(2,), process=True)
    assert 0 < result.rc < 126 and leftovers(tmp_path) == []


def test_a_reader_that_stops_reading_stdout(run_cli, media, tmp_path):
    result = run_cli("upsample", media["a.ts"], "-", "--method", "blend",
                     prelude="import sys, os\nr, w = os.pipe(); os.close(r); os.dup2(w, 1)\n", process=True)
    assert_clean_failure(result, 1, contains="broken pipe", progress=True)
