"""`vidinterp upsample` end to end, in-process: frame counts and exact rates, --fps on VFR input, audio, the
sample clip, every bad-input case (one line on stderr, no traceback, non-zero exit) and atomic output."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from synthetic import make_clip, pattern_frame, write_clip
from vidinterp.io.reader import open_video


def run(args, run_cli):
    return run_cli("upsample", "--method", "blend", *args)


def probe(path):
    with open_video(path) as reader:
        info = reader.info
        frames = list(reader.frames())
    return info, frames


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name or p.name.startswith(".vidinterp"))


@pytest.mark.parametrize(
    "fps, factor, out_rate",
    [(24, 2, Fraction(48)), (25, 3, Fraction(75)), (Fraction(30000, 1001), 4, Fraction(120000, 1001))],
)
def test_factor_gives_n_times_the_frames_at_exactly_n_times_the_rate(tmp_path, run_cli, fps, factor, out_rate):
    source = make_clip(tmp_path / "in.mp4", n_frames=5, width=32, height=24, fps=fps)
    out = tmp_path / "out.mp4"  # mp4 keeps exact rational times (Matroska rounds them to milliseconds)
    code, stdout, stderr = run([source, out, "--factor", factor], run_cli)
    assert code == 0, stderr
    assert stdout == ""
    info, frames = probe(out)
    assert info.frame_rate == out_rate
    assert len(frames) == 5 * factor
    assert [f.time for f in frames] == [Fraction(k) / out_rate for k in range(5 * factor)]
    assert "5 frames" in stderr and f"{5 * factor} frames" in stderr  # the summary line


def test_blend_frame_is_exact_in_lossless_output(tmp_path, run_cli):
    """Lossless in and out: the in-between frame is exactly the blend of its neighbours (±1 for rounding)."""
    frames = [pattern_frame(i, 32, 24) for i in range(3)]
    source = write_clip(tmp_path / "in.mkv", frames, fps=24, codec="ffv1", pix_fmt="bgr0")
    out = tmp_path / "out.mkv"
    assert run([source, out, "--codec", "ffv1", "--scene-cut", "off"], run_cli)[0] == 0
    _, result = probe(out)
    expected = (frames[0].astype(float) + frames[1]) / 2
    assert np.abs(result[1].image - expected).max() <= 1
    np.testing.assert_array_equal(result[0].image, frames[0])
    np.testing.assert_array_equal(result[2].image, frames[1])


def test_ten_bit_odd_sized_input_stays_ten_bit_and_full_size(tmp_path, run_cli):
    images = [pattern_frame(i, 33, 21).astype(np.uint16) * 257 for i in range(3)]
    source = write_clip(tmp_path / "in.mkv", images, fps=24, codec="ffv1", pix_fmt="yuv444p10le")
    out = tmp_path / "out.mp4"
    code, _, stderr = run([source, out, "--factor", "2"], run_cli)
    assert code == 0, stderr
    info, frames = probe(out)
    assert (info.width, info.height, info.pix_fmt, info.bit_depth) == (33, 21, "yuv444p10le", 10)
    assert len(frames) == 6 and frames[0].image.dtype == np.uint16
    assert np.abs(frames[2].image / 257.0 - pattern_frame(1, 33, 21)).mean() < 8  # lossy H.264 of a busy 33×21 picture


def test_fps_on_variable_rate_input(tmp_path, run_cli):
    times = [Fraction(ms, 1000) for ms in (0, 40, 60, 150, 200, 240)]
    source = write_clip(tmp_path / "vfr.mkv", [pattern_frame(i, 32, 24) for i in range(6)], times=times)
    out = tmp_path / "out.mkv"
    code, _, stderr = run([source, out, "--fps", "50", "--codec", "ffv1"], run_cli)
    assert code == 0, stderr
    info, frames = probe(out)
    assert info.frame_rate == 50
    assert [f.time for f in frames] == [Fraction(k, 50) for k in range(len(frames))]  # 20 ms: exact in ms
    # The output covers the input's span (0 .. 240 ms + the last frame's 40 ms), on the 20 ms grid: 0 .. 260 ms.
    assert len(frames) == 14


def test_audio_and_duration_are_preserved(tmp_path, run_cli, clip, read_video):
    out = tmp_path / "out.mp4"
    code, _, stderr = run([clip, out, "--factor", "2"], run_cli)
    assert code == 0, stderr
    info, frames = probe(out)
    assert len(frames) == 24 and info.frame_rate == 48 and info.has_audio
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert abs(float(video.duration * video.time_base) - 0.5) <= 1 / 48
    assert abs(read_video(out).audio_seconds - read_video(clip).audio_seconds) <= 1 / 24


def test_sample_clip(tmp_path, run_cli):
    out = tmp_path / "sample.y4m"
    code, _, stderr = run(["--sample", out, "--factor", "2", "--quiet"], run_cli)
    assert code == 0, stderr
    assert stderr == ""  # --quiet
    info, frames = probe(out)
    assert (info.width, info.height, info.frame_rate) == (480, 270, 50)
    assert len(frames) == 160


def test_default_is_factor_2_and_overwrite_replaces(tmp_path, run_cli):
    source = make_clip(tmp_path / "in.mp4", n_frames=3, width=32, height=24)
    out = tmp_path / "out.y4m"
    out.write_bytes(b"old")
    assert run([source, out], run_cli)[0] == 1
    assert out.read_bytes() == b"old"
    assert run([source, out, "--overwrite"], run_cli)[0] == 0
    assert len(probe(out)[1]) == 6


# -- bad input: one line, no traceback, non-zero exit, no output ------------------------------------------
def _bad_inputs(tmp_path):
    good = make_clip(tmp_path / "good.mp4", n_frames=3, width=32, height=24)
    one = make_clip(tmp_path / "one.mp4", n_frames=1, width=32, height=24)
    text = tmp_path / "text.mp4"
    text.write_text("not a video\n" * 50)
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"x")
    out = tmp_path / "out.mp4"
    return {
        "missing file": ([tmp_path / "missing.mp4", out], 1, "not found"),
        "not a video": ([text, out], 1, "not a video"),
        "one frame": ([one, out], 1, "only 1 frame"),
        "out is in": ([good, tmp_path / "." / "good.mp4"], 1, "is the input"),
        "out exists": ([good, existing], 1, "already exists"),
        "no folder": ([good, tmp_path / "nowhere" / "out.mp4"], 1, "does not exist"),
        "factor 1": ([good, out, "--factor", "1"], 2, "from 2 to 256"),
        "factor 2.5": ([good, out, "--factor", "2.5"], 2, "whole number"),
        "factor text": ([good, out, "--factor", "two"], 2, "whole number"),
        "both": ([good, out, "--factor", "2", "--fps", "60"], 2, "either --factor or --fps"),
        "bad fps": ([good, out, "--fps", "fast"], 2, "frame rate"),
        "unknown codec": ([good, out, "--codec", "h266-please"], 2, "unknown video codec"),
        "unknown extension": ([good, tmp_path / "out.xyz"], 2, "output format"),
        "one path": ([good], 2, "input and an output"),
        "bad scene cut": ([good, out, "--scene-cut", "maybe"], 2, "scene-cut"),
    }


BAD_CASE_IDS = [
    "missing file", "not a video", "one frame", "out is in", "out exists", "no folder", "factor 1", "factor 2.5",
    "factor text", "both", "bad fps", "unknown codec", "unknown extension", "one path", "bad scene cut",
]


@pytest.mark.parametrize("case", BAD_CASE_IDS)
def test_bad_input_is_one_clear_line(tmp_path, run_cli, case):
    args, expected_code, message = _bad_inputs(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    code, stdout, stderr = run(args, run_cli)
    assert code == expected_code
    assert stdout == ""
    lines = [line for line in stderr.splitlines() if line.startswith("vidinterp: error:")]
    assert len(lines) == 1 and message in lines[0], stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, nothing left behind


def test_unwritable_folder(tmp_path, run_cli):
    import os

    good = make_clip(tmp_path / "good.mp4", n_frames=3, width=32, height=24)
    if os.geteuid() == 0:
        target = "/sys/vidinterp-out.mp4"  # root may write anywhere else; /sys refuses new files even to root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        target = locked / "out.mp4"
    code, _, stderr = run([good, target], run_cli)
    assert code == 1 and "cannot write to the output folder" in stderr and "Traceback" not in stderr


def test_corrupt_middle_is_skipped_with_a_warning(tmp_path, run_cli):
    source = make_clip(tmp_path / "long.mp4", n_frames=48, width=96, height=64)
    data = bytearray(source.read_bytes())
    start = len(data) // 3
    data[start : start + 3000] = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    source.write_bytes(bytes(data))
    out = tmp_path / "out.y4m"
    code, _, stderr = run([source, out], run_cli)
    assert code == 0, stderr
    assert "warning" in stderr and "Traceback" not in stderr
    assert len(probe(out)[1]) > 60


def test_failure_mid_stream_leaves_no_output(tmp_path, run_cli, monkeypatch):
    from vidinterp.io.writer import VideoWriter

    source = make_clip(tmp_path / "in.mp4", n_frames=6, width=32, height=24)
    original = VideoWriter.write

    def failing_write(self, frame):
        if self.frames_written == 3:
            raise RuntimeError("disk on fire")
        original(self, frame)

    monkeypatch.setattr(VideoWriter, "write", failing_write)
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="disk on fire"):
        run([source, out], run_cli)
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_interrupt_mid_stream_leaves_no_output(tmp_path, run_cli, monkeypatch):
    from vidinterp.io.writer import VideoWriter

    source = make_clip(tmp_path / "in.mp4", n_frames=6, width=32, height=24)
    original = VideoWriter.write

    def interrupted_write(self, frame):
        if self.frames_written == 3:
            raise KeyboardInterrupt
        original(self, frame)

    monkeypatch.setattr(VideoWriter, "write", interrupted_write)
    out = tmp_path / "out.mp4"
    code, stdout, stderr = run([source, out], run_cli)
    assert code == 130 and "interrupted" in stderr
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_help_has_examples(run_cli):
    code, out, err = run(["--help"], run_cli)
    assert code == 0
    text = out + err
    assert "--factor" in text and "--sample" in text and "Examples" in text


def test_out_of_memory_is_one_line_with_the_fix(tmp_path, run_cli, monkeypatch):
    import torch

    from vidinterp.interpolators.blend import BlendInterpolator

    def exhausted(self, state, pair_index, t):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(BlendInterpolator, "_synthesize", exhausted)
    source = make_clip(tmp_path / "in.mp4", n_frames=6, width=32, height=24)
    out = tmp_path / "out.mp4"
    code, stdout, stderr = run([source, out, "--batch-size", "4"], run_cli)
    assert code == 1 and stdout == ""
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("vidinterp: error: ran out of memory") and "--batch-size (now 4)" in lines[-1], stderr
    assert "Traceback" not in stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_model_settings_are_checked_before_any_work(tmp_path, run_cli):
    source = make_clip(tmp_path / "in.mp4", n_frames=3, width=32, height=24)
    code, _, stderr = run([source, tmp_path / "o.mp4", "--precision", "int8"], run_cli)
    assert code == 2 and stderr.count("\n") == 1 and "unknown precision (--precision) 'int8'" in stderr
    code, _, stderr = run([source, tmp_path / "o.mp4", "--max-side", "-4"], run_cli)
    assert code != 0 and "--max-side" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "o.mp4").exists()
