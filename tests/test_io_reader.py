"""Decoding: stream info, exact presentation times (CFR, NTSC, VFR), bit depth, and clear errors on bad input."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from synthetic import make_clip, pattern_frame, write_clip
from vidinterp.errors import VidinterpError
from vidinterp.io.reader import open_video


def test_info_and_frames_of_h264_aac_clip(clip):
    with open_video(clip) as reader:
        info = reader.info
        assert (info.width, info.height) == (96, 64)
        assert info.frame_rate == 24
        assert info.frame_count == 12
        assert info.bit_depth == 8 and info.rgb_format == "rgb24"
        assert info.has_audio
        frames = list(reader.frames())
    assert len(frames) == 12
    assert [f.index for f in frames] == list(range(12))
    assert [f.time for f in frames] == [Fraction(i, 24) for i in range(12)]
    for frame in frames:
        assert frame.image.shape == (64, 96, 3) and frame.image.dtype == np.uint8 and frame.image.flags.c_contiguous
    # Decoded pictures are the pattern that was encoded (lossy H.264 4:2:0, so only close).
    error = np.abs(frames[5].image.astype(float) - pattern_frame(5)).mean()
    assert error < 8


def test_frames_are_the_same_without_frame_threads(clip):
    with open_video(clip) as threaded, open_video(clip, frame_threads=False) as single:
        assert single._stream.thread_type.name == "SLICE" and threaded._stream.thread_type.name == "AUTO"
        for a, b in zip(threaded.frames(), single.frames(), strict=True):
            assert a.time == b.time
            np.testing.assert_array_equal(a.image, b.image)


def test_cpu_upsampling_decodes_without_frame_threads(clip, tmp_path, monkeypatch):
    """On the CPU the decoder waits for the interpolator anyway: frame threads would only cost memory."""
    import vidinterp.api.upsample as upsample_module
    from vidinterp import UpsampleOptions, upsample

    opened = []
    real_open = upsample_module.open_video
    monkeypatch.setattr(upsample_module, "open_video",
                        lambda *args, **kwargs: opened.append(kwargs) or real_open(*args, **kwargs))
    upsample(clip, tmp_path / "out.mp4", UpsampleOptions(method="blend", device="cpu"))
    assert opened == [{"frame_threads": False}]


def test_ntsc_rate_is_exact(tmp_path):
    path = make_clip(tmp_path / "ntsc.mp4", n_frames=4, fps=Fraction(30000, 1001))
    with open_video(path) as reader:
        assert reader.info.frame_rate == Fraction(30000, 1001)
        times = [f.time for f in reader.frames()]
    assert times == [Fraction(i * 1001, 30000) for i in range(4)]


def test_vfr_times_come_from_pts(tmp_path):
    times = [Fraction(0), Fraction(40, 1000), Fraction(50, 1000), Fraction(130, 1000), Fraction(200, 1000)]
    frames = [pattern_frame(i) for i in range(len(times))]
    path = write_clip(tmp_path / "vfr.mkv", frames, fps=25, times=times)
    with open_video(path) as reader:
        assert [f.time for f in reader.frames()] == times


def test_ten_bit_source_decodes_to_uint16(tmp_path):
    path = make_clip(tmp_path / "ten.mkv", n_frames=3, pix_fmt="yuv420p10le")
    with open_video(path) as reader:
        assert reader.info.bit_depth == 10
        assert reader.info.rgb_format == "rgb48le"
        frame = next(reader.frames())
    assert frame.image.dtype == np.uint16
    # On the full 16-bit scale: the 8-bit pattern × 257, roughly.
    assert np.abs(frame.image / 257.0 - pattern_frame(0)).mean() < 8


def test_odd_size(tmp_path):
    path = make_clip(tmp_path / "odd.mkv", n_frames=2, width=33, height=21, codec="ffv1", pix_fmt="yuv444p")
    with open_video(path) as reader:
        assert (reader.info.width, reader.info.height) == (33, 21)
        assert next(reader.frames()).image.shape == (21, 33, 3)


def test_frames_stream_without_reading_everything_first(tmp_path):
    """Peeking decodes only what it needs: the reader streams (memory flat in video length)."""
    path = make_clip(tmp_path / "long.mkv", n_frames=40, codec="ffv1", pix_fmt="yuv444p")
    with open_video(path) as reader:
        assert len(reader._peeked) == 1
        reader.require_frames(2)
        assert len(reader._peeked) == 2
        iterator = reader.frames()
        next(iterator)
        assert len(reader._peeked) <= 2


# -- bad input --------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(VidinterpError, match="not found"):
        open_video(tmp_path / "nope.mp4")


def test_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("just some text, not a video\n" * 20)
    with pytest.raises(VidinterpError, match="not a video"):
        open_video(path)


def test_folder_is_not_a_video(tmp_path):
    with pytest.raises(VidinterpError, match="folder"):
        open_video(tmp_path)


def test_no_video_stream(tmp_path):
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(VidinterpError, match="no video stream"):
        open_video(path)


def test_one_frame_video_is_refused(tmp_path):
    path = make_clip(tmp_path / "one.mp4", n_frames=1)
    with open_video(path) as reader:
        with pytest.raises(VidinterpError, match="only 1 frame"):
            reader.require_frames(2)


def corrupt_middle(path, tmp_path, size=3000):
    """A copy of `path` with `size` random bytes written over its middle third."""
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start : start + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    out = tmp_path / f"corrupt{path.suffix}"
    out.write_bytes(bytes(data))
    return out


def test_garbage_in_the_middle_is_skipped_not_fatal(tmp_path, caplog):
    source = make_clip(tmp_path / "long.mp4", n_frames=48)
    path = corrupt_middle(source, tmp_path)
    with open_video(path) as reader:
        frames = list(reader.frames())
    # Decoding went on past the damage: frames from after it were decoded, in increasing time.
    assert len(frames) > 30
    assert frames[-1].time > Fraction(40, 24)
    assert all(a.time < b.time for a, b in zip(frames, frames[1:]))
    assert reader.corrupt_packets > 0 or len(frames) < 48
