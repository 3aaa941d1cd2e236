"""Bad input and special files: each case is a one-line error with a non-zero exit, or the right
behaviour. In-process and GPU-free; synthetic clips made with PyAV, no ffmpeg CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from synthetic import make_clip, pattern_frame, write_clip
from vidinterp.io.codecs import choose_encoder, default_codec
from vidinterp.io.frames import VideoFrame
from vidinterp.pipeline.timing import RetimeOptions, plan_intervals


def upsample(args, run_cli):
    return run_cli("upsample", "--method", "blend", *args)


def one_error_line(err: str) -> bool:
    lines = [line for line in err.splitlines() if not line.startswith("vidinterp: ") or "error" in line]
    return err.count("vidinterp: error: ") == 1 and "Traceback" not in err and len(lines) == 1


# -- 1. special files as output (and input) -------------------------------------------------------------------
def test_fifo_output_is_written_into_not_replaced(tmp_path, run_cli, clip):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(open(fifo, "rb").read()), daemon=True)
    reader.start()
    code, _, err = upsample([clip, fifo, "--overwrite"], run_cli)
    reader.join(10)
    assert code == 0, err
    assert fifo.is_fifo() and received.startswith(b"YUV4MPEG2")  # y4m, like stdout


def test_dev_null_is_an_output(run_cli, clip):
    code, _, err = upsample([clip, os.devnull], run_cli)
    assert code == 0, err
    assert Path(os.devnull).is_char_device()


def test_other_special_files_are_refused(tmp_path, run_cli, clip):
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        code, _, err = upsample([clip, path, "--overwrite"], run_cli)
    finally:
        server.close()
    assert code == 1 and one_error_line(err) and "socket" in err
    assert path.is_socket()


def test_mp4_cannot_stream_into_a_fifo(tmp_path, run_cli, clip):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    code, _, err = upsample([clip, fifo], run_cli)
    assert code == 1 and one_error_line(err) and "cannot be streamed" in err and fifo.is_fifo()


def test_fifo_input_is_read_once_like_stdin(tmp_path, run_cli, clip, read_video):
    fifo = tmp_path / "in.mkv"
    os.mkfifo(fifo)
    source = make_clip(tmp_path / "src.mkv", n_frames=6, audio=True).read_bytes()
    writer = threading.Thread(target=lambda: open(fifo, "wb").write(source), daemon=True)
    writer.start()
    code, _, err = upsample([fifo, tmp_path / "out.mkv"], run_cli)
    assert code == 0, err
    assert read_video(tmp_path / "out.mkv").streams == [("video", "h264"), ("audio", "aac")]


# -- 2. truncated and damaged inputs ----------------------------------------------------------------------------
def _faststart(source: Path, target: Path) -> Path:
    with av.open(str(source)) as inp, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    return target


@pytest.mark.parametrize("keep", [0.3, 0.45, 0.6])
def test_truncated_input_warns_with_numbers_and_keeps_audio_with_video(tmp_path, run_cli, keep, read_video):
    full = _faststart(
        make_clip(tmp_path / "full.mp4", n_frames=50, width=160, height=96, audio=True), tmp_path / "fast.mp4"
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    code, _, err = upsample([cut, tmp_path / "out.mp4"], run_cli)
    assert code == 0, err
    warning = next(line for line in err.splitlines() if "warning: input ended after" in line)
    read = int(warning.split("after ")[1].split(" of ")[0])
    assert 0 < read < 50 and " of 50 frames" in warning
    assert err.splitlines()[-1].endswith(f"input ended after {read} of 50 frames")  # the summary says so too
    out = read_video(tmp_path / "out.mp4")  # decodes every packet: nothing damaged was copied
    lengths = {"audio": out.audio_seconds, "video": len(out) / float(out.rate)}
    assert abs(lengths["audio"] - lengths["video"]) <= 1024 / 48000 + 1e-6, lengths  # within one AAC frame


def test_a_complete_input_has_no_shortfall_warning(tmp_path, run_cli):
    clip = make_clip(tmp_path / "in.mp4", n_frames=20, audio=True)
    code, _, err = upsample([clip, tmp_path / "out.mp4"], run_cli)
    assert code == 0 and "ended after" not in err and "padded" not in err


# -- 3. and 10. colour tags and what the source had --------------------------------------------------------------
def test_rgb_source_is_written_444_and_tagged_with_the_matrix_used(tmp_path, run_cli, read_video):
    source = write_clip(tmp_path / "rgb.mkv", [pattern_frame(i) for i in range(4)], codec="libx264rgb", pix_fmt="bgr0")
    assert read_video(source).colorspace == 0  # GBR
    code, _, err = upsample([source, tmp_path / "out.mp4"], run_cli)
    assert code == 0, err
    out = read_video(tmp_path / "out.mp4")
    pix_fmt, matrix = out.decoded_format, out.colorspace
    assert pix_fmt in ("yuv444p", "yuvj444p") and matrix == 1  # BT.709, not GBR on YUV


@pytest.mark.parametrize(
    "pix_fmt, want",
    [
        ("yuv444p", "yuv444p"),
        ("yuv422p", "yuv422p"),
        ("yuv444p10le", "yuv444p10le"),
        ("yuv420p", "yuv420p"),
        ("gbrp", "yuv444p"),
    ],
)
def test_default_pixel_format_keeps_the_sources_chroma_and_depth(pix_fmt, want):
    depth = 10 if "10" in pix_fmt else 8
    choice = choose_encoder("out.mp4", width=64, height=48, bit_depth=depth, source_pix_fmt=pix_fmt)
    assert choice.pix_fmt == want


def test_webm_default_is_vp9_unless_vp9_cannot_keep_the_depth():
    vp9_formats = [f.name for f in av.Codec("libvpx-vp9", "w").video_formats]
    assert default_codec("webm", 8) == "libvpx-vp9"
    deep_vp9 = any("10" in name for name in vp9_formats)
    assert default_codec("webm", 10) == ("libvpx-vp9" if deep_vp9 else "libsvtav1")
    assert default_codec("nut", 8) == "rawvideo"  # lossless, as the README says


def test_444_source_stays_444_end_to_end(tmp_path, run_cli, read_video):
    source = write_clip(tmp_path / "in.mkv", [pattern_frame(i) for i in range(4)], pix_fmt="yuv444p")
    code, _, err = upsample([source, tmp_path / "out.mkv"], run_cli)
    assert code == 0, err
    assert read_video(tmp_path / "out.mkv").decoded_format == "yuv444p"


# -- 4. mpegts ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix, extra", [(".ts", []), (".bin", ["--format", "mpegts"]), (".m2ts", [])])
def test_mpegts_copies_aac(tmp_path, run_cli, clip, suffix, extra, read_video):
    out = tmp_path / f"out{suffix}"
    code, _, err = upsample([clip, out, *extra], run_cli)
    assert code == 0, err
    assert read_video(out).streams == [("video", "h264"), ("audio", "aac")] and "re-encoding" not in err


# -- 5. Typer's own usage errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["upsample", "a.mp4", "b.mp4", "--batch-size", "abc"],
        ["upsample", "--no-such-option"],
        ["eval", "--drop", "1", "x"],
        ["eval"],
        ["no-such-command"],
        ["upsample", "a.mp4", "b.mp4", "--crf", "99"],
        ["train", "d", "--steps", "0"],
        ["upsample", "a.mp4", "b.mp4", "--scene-cut"],
    ],
)
def test_usage_errors_are_one_line(run_cli, args):
    code, out, err = run_cli(*args)
    assert code == 2 and out == "" and one_error_line(err) and err.endswith("--help')\n"), err


# -- 6. signals and stale temporary files -------------------------------------------------------------------------
def _signal_mid_stream(monkeypatch, signums):
    from vidinterp.io.writer import VideoWriter

    original = VideoWriter.write

    def write(self, frame):
        original(self, frame)
        if self.frames_written == 3:
            for signum in signums:
                os.kill(os.getpid(), signum)
                time.sleep(0.05)

    monkeypatch.setattr(VideoWriter, "write", write)


def test_sigterm_exits_143_and_leaves_nothing(tmp_path, run_cli, clip, monkeypatch):
    _signal_mid_stream(monkeypatch, [signal.SIGTERM])
    code, _, err = upsample([clip, tmp_path / "out.mp4"], run_cli)
    assert code == 143 and "terminated" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_second_ctrl_c_during_clean_up_is_absorbed(tmp_path, capfd, run_cli, clip, monkeypatch):
    from vidinterp.io.writer import VideoWriter

    original = VideoWriter._abort

    def abort(self):
        os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C, while the temporary file is removed
        time.sleep(0.05)
        original(self)

    monkeypatch.setattr(VideoWriter, "_abort", abort)
    _signal_mid_stream(monkeypatch, [signal.SIGINT])
    code, _, err = upsample([clip, tmp_path / "out.mp4"], run_cli)  # the note is written straight to fd 2
    assert code == 130 and "Traceback" not in err and "still cleaning up" in err
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_ctrl_c_during_interpreter_exit_prints_no_traceback(run_cli):
    """After an interrupted command, a Ctrl-C that lands in an atexit handler is absorbed too."""
    prelude = (
        "import atexit, os, signal, time\n"
        "import vidinterp.cli.doctor as doctor\n"
        "def interrupted():\n"
        "    os.kill(os.getpid(), signal.SIGINT); time.sleep(1)\n"
        "doctor.collect_report = interrupted\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))\n"
    )
    result = run_cli("doctor", process=True, prelude=prelude, timeout=120)
    assert result.rc == 130, result.stderr
    assert "Traceback" not in result.stderr and "interrupted" in result.stderr


def test_stale_partials_of_the_same_output_are_removed(tmp_path, run_cli, clip):
    out = tmp_path / "out.mp4"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.mp4.{dead.pid}.abcd1234.partial.mp4"
    old_format = tmp_path / ".out.mp4.k2j3h4g5.partial.mp4"
    live = tmp_path / f".out.mp4.{os.getppid()}.zzzz9999.partial.mp4"  # another run, still alive
    other = tmp_path / f".other.mp4.{dead.pid}.abcd1234.partial.mp4"  # not this output's
    for path in (stale, old_format, live, other):
        path.write_bytes(b"half")
    os.utime(old_format, (time.time() - 7200, time.time() - 7200))
    code, _, err = upsample([clip, out], run_cli)
    assert code == 0, err
    assert not stale.exists() and not old_format.exists() and live.exists() and other.exists()
    assert "removed 2 temporary files" in err


# -- 7. ranges --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["--crf", "-1"], "--crf"),
        (["--crf", "60"], "--crf for libx264 goes from 0"),
        (["--codec", "ffv1", "--crf", "10"], "--crf does not apply to ffv1"),
        (["--scene-threshold", "5"], "below 1"),
        (["--scene-threshold", "0"], "above 0"),
        (["--factor", "1000"], "from 2 to 256"),
        (["--fps", "1e-9"], "1/3600"),
        (["--fps", "1e6"], "10000 fps"),
        (["--fps", "nan"], "frame rate"),
        (["--fps", "inf"], "frame rate"),
        (["--batch-size", "0"], "--batch-size"),
    ],
)
def test_out_of_range_options_are_refused(tmp_path, run_cli, clip, args, message):
    code, _, err = upsample([clip, tmp_path / "out.mp4", *args], run_cli)
    assert code == 2 and one_error_line(err) and message in err, err
    assert not (tmp_path / "out.mp4").exists()


def test_unusual_values_warn(tmp_path, run_cli, clip):
    code, _, err = upsample([clip, tmp_path / "out.mkv", "--scene-threshold", "0.8", "--factor", "32"], run_cli)
    assert code == 0, err
    assert "warning: --scene-threshold 0.8 is outside the usual" in err and "warning: the output rate is 768 fps" in err


def test_rates_with_many_digits_work(tmp_path, run_cli, clip):
    code, _, err = upsample([clip, tmp_path / "out.mp4", "--fps", "47.95204795204795"], run_cli)
    assert code == 0, err


def test_help_shows_the_ranges(run_cli):
    code, out, _ = run_cli("upsample", "--help")
    text = " ".join(out.replace("│", " ").split())
    assert code == 0 and "2 to 256" in text and "0 to 51" in text and "below 1" in text and "1/3600 to 10000" in text


def test_help_says_what_the_scene_threshold_trades(run_cli):
    code, out, _ = run_cli("upsample", "--help")
    text = " ".join(out.replace("│", " ").split())
    assert code == 0 and "motion cannot explain" in text and "stutter" in text and "ghost" in text


# -- 8. --model that is not a weights file -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["folder", "text", "png", "empty"])
def test_model_that_is_not_safetensors_is_one_clear_line(tmp_path, run_cli, clip, kind):
    path = tmp_path / "weights.safetensors"
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes({"text": b"hello world\n" * 10, "png": b"\x89PNG\r\n\x1a\n" + bytes(64), "empty": b""}[kind])
    code, _, err = run_cli("upsample", clip, tmp_path / "out.mp4", "--method", "model", "--model", path)
    assert code == 1 and one_error_line(err)
    assert ("is a folder" if kind == "folder" else "is not a safetensors weights file") in err


# -- 9. subtitles, data streams, titles and languages ------------------------------------------------------------------
def _clip_with_subtitles(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        out.metadata["title"] = "Holiday"
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.metadata["language"] = "und"
        audio = out.add_stream("aac", rate=48000, layout="stereo")
        audio.metadata.update({"language": "fra", "title": "Commentaire"})
        subtitles = out.add_mux_stream("subrip")
        subtitles.time_base = Fraction(1, 1000)
        subtitles.metadata["language"] = "eng"
        out.start_encoding()
        cue = av.Packet(b"Hello")
        cue.stream, cue.pts, cue.dts, cue.duration, cue.time_base = subtitles, 0, 0, 200, Fraction(1, 1000)
        out.mux(cue)
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
            sound = av.AudioFrame.from_ndarray(np.zeros((2, 2000), dtype=np.float32), format="fltp", layout="stereo")
            sound.sample_rate, sound.pts = 48000, i * 2000
            out.mux(audio.encode(sound))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return path


def test_subtitles_titles_and_languages_are_carried(tmp_path, run_cli):
    source = _clip_with_subtitles(tmp_path / "in.mkv")
    code, _, err = upsample([source, tmp_path / "out.mkv"], run_cli)
    assert code == 0, err
    with av.open(str(tmp_path / "out.mkv")) as out:
        kinds = [(s.type, s.codec_context.name) for s in out.streams]
        assert kinds == [("video", "h264"), ("audio", "aac"), ("subtitle", "subrip")] or kinds[2][0] == "subtitle"
        assert out.metadata.get("title") == "Holiday"
        assert out.streams.audio[0].metadata.get("language") == "fra"
        assert out.streams.audio[0].metadata.get("title") == "Commentaire"
        assert out.streams.subtitles[0].metadata.get("language") == "eng"
        assert [bytes(p) for p in out.demux(out.streams.subtitles[0]) if p.size] == [b"Hello"]


def test_subtitles_the_container_cannot_hold_are_dropped_with_a_warning(tmp_path, run_cli, read_video):
    source = _clip_with_subtitles(tmp_path / "in.mkv")
    code, _, err = upsample([source, tmp_path / "out.mp4"], run_cli)
    assert code == 0, err
    assert "warning: mp4 cannot hold subtitle #2" in err and "dropped" in err
    assert [kind for kind, _ in read_video(tmp_path / "out.mp4").streams] == ["video", "audio"]


# -- 11. doctor's report on stdout -------------------------------------------------------------------------------------
def test_doctor_report_goes_to_stdout(run_cli):
    code, out, err = run_cli("doctor")
    assert code == 0 and "doctor" in out and "backend torch" in out and "backend" not in err
    code, out, err = run_cli("doctor", "--json")
    assert code == 0 and "backends" in json.loads(out) and "backend torch" in err


# -- 12. -f is ffmpeg's -f ---------------------------------------------------------------------------------------------
def test_dash_f_is_the_format(tmp_path, run_cli, clip, read_video):
    code, _, err = upsample([clip, tmp_path / "out.bin", "-f", "nut"], run_cli)
    assert code == 0, err
    out = read_video(tmp_path / "out.bin")
    assert out.container == "nut" and out.rate == 48  # factor 2, the default


# -- 13. --fps below the input rate follows ffmpeg's fps filter --------------------------------------------------------
def _ffmpeg_fps_filter(times: list[Fraction], fps: Fraction, count: int) -> list[int]:
    """Which input frame ffmpeg's fps filter (round=near) shows at each output tick: the latest whose rounded tick
    is ≤ n."""
    ticks = [int((t * fps + Fraction(1, 2)) // 1) for t in times]
    return [max(i for i, tick in enumerate(ticks) if tick <= n) for n in range(count)]


@pytest.mark.parametrize(
    "times, fps",
    [
        ([Fraction(i, 30) for i in range(30)], Fraction(12)),
        ([Fraction(i, 25) for i in range(25)], Fraction(24000, 1001)),
        (
            [Fraction(0), Fraction(1, 30), Fraction(3, 30), Fraction(4, 30), Fraction(9, 30), Fraction(10, 30)],
            Fraction(10),
        ),
    ],
)
def test_plan_below_the_input_rate_drops_and_repeats_by_timestamps(times, fps):
    frames = [VideoFrame(np.full((2, 2, 3), i, np.uint8), t, i) for i, t in enumerate(times)]
    options = RetimeOptions(fps=fps)
    rate = (len(times) - 1) / times[-1]
    shown = []
    for interval in plan_intervals(frames, options, input_rate=rate):
        for slot in interval.slots:
            assert slot.t in (0, 1)  # nothing is interpolated
            shown.append((interval.frame0 if slot.t == 0 or interval.frame1 is None else interval.frame1).index)
    assert shown[: len(shown) - 1] == _ffmpeg_fps_filter(times, fps, len(shown))[: len(shown) - 1]


def test_fps_below_the_input_rate_says_so_and_copies_frames(tmp_path, run_cli, read_video):
    source = make_clip(tmp_path / "in.mkv", n_frames=15, fps=30, codec="ffv1", pix_fmt="bgr0")
    code, _, err = upsample([source, tmp_path / "out.mkv", "--fps", "12", "--codec", "ffv1"], run_cli)
    assert code == 0, err
    assert "dropped or repeated by their timestamps" in err
    originals, written = read_video(source).frames, read_video(tmp_path / "out.mkv").frames
    expected = _ffmpeg_fps_filter([Fraction(i, 30) for i in range(15)], Fraction(12), len(written))
    assert len(written) == 6 and all(np.array_equal(w, originals[i]) for w, i in zip(written, expected))
