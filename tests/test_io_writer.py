"""Encoding: exact rates, lossless RGB round trips, bit depth, odd sizes, audio, colour tags, rotation, atomic
writes."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from synthetic import pattern_frame
from vidinterp.errors import UsageError, VidinterpError
from vidinterp.io.codecs import X264_LOOKAHEAD, choose_encoder
from vidinterp.io.frames import VideoFrame
from vidinterp.io.reader import open_video
from vidinterp.io.writer import VideoWriter


def write_frames(path, images, rate, **kwargs):
    height, width = images[0].shape[:2]
    with VideoWriter(path, width=width, height=height, rate=rate, **kwargs) as writer:
        for i, image in enumerate(images):
            writer.write(VideoFrame(image, Fraction(i) / rate, i))
    return path


def read_all(path):
    with open_video(path) as reader:
        return reader.info, list(reader.frames())


def leftovers(folder):
    """Temporary files the writer may have left behind."""
    return [p.name for p in folder.iterdir() if ".partial" in p.name or p.name.startswith(".vidinterp")]


# -- exactness --------------------------------------------------------------------------------------------
def test_ffv1_8bit_rgb_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (24, 40, 3), dtype=np.uint8) for _ in range(3)]
    path = write_frames(tmp_path / "lossless.mkv", images, Fraction(24), codec="ffv1")
    info, frames = read_all(path)
    assert info.codec == "ffv1"
    assert [f.image.dtype for f in frames] == [np.uint8] * 3
    for image, frame in zip(images, frames):
        np.testing.assert_array_equal(frame.image, image)


def test_ffv1_16bit_rgb_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 65536, (16, 20, 3), dtype=np.uint16) for _ in range(2)]
    path = write_frames(tmp_path / "lossless16.mkv", images, Fraction(24), codec="ffv1", bit_depth=16)
    info, frames = read_all(path)
    assert info.pix_fmt == "gbrp16le"
    for image, frame in zip(images, frames):
        np.testing.assert_array_equal(frame.image, image)


@pytest.mark.parametrize("rate", [Fraction(48), Fraction(120000, 1001), Fraction(60000, 1001)])
def test_output_rate_and_times_are_exact(tmp_path, rate):
    images = [pattern_frame(i, 32, 24) for i in range(6)]
    info, frames = read_all(write_frames(tmp_path / "rate.mp4", images, rate))
    assert info.frame_rate == rate
    assert [f.time for f in frames] == [Fraction(i) / rate for i in range(6)]
    # mp4 states the track length in its 1 ms movie time scale (edit list), so only to within a millisecond.
    assert abs(info.duration - Fraction(6) / rate) <= Fraction(1, 1000)


def test_ten_bit_stays_ten_bit(tmp_path):
    images = [pattern_frame(i, 32, 24).astype(np.uint16) * 257 for i in range(3)]
    path = write_frames(tmp_path / "ten.mp4", images, Fraction(24), bit_depth=10)
    info, frames = read_all(path)
    assert info.pix_fmt == "yuv420p10le" and info.bit_depth == 10
    assert frames[0].image.dtype == np.uint16
    assert np.abs(frames[1].image / 257.0 - pattern_frame(1, 32, 24)).mean() < 8


def test_odd_size_keeps_every_pixel_with_444(tmp_path):
    images = [pattern_frame(i, 33, 21) for i in range(3)]
    path = write_frames(tmp_path / "odd.mp4", images, Fraction(24))
    info, frames = read_all(path)
    assert (info.width, info.height, info.pix_fmt) == (33, 21, "yuv444p")
    assert np.abs(frames[0].image.astype(float) - images[0]).mean() < 4


@pytest.mark.parametrize("width", [64, 33])  # rows swscale can read in place (64 × 3 bytes) and rows it cannot
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("codec", ["libx264", "png"])
def test_pictures_are_encoded_as_they_were_when_written(tmp_path, width, depth, codec):
    # The writer hands aligned pictures to swscale (or, for an RGB codec such as png, to the encoder) without
    # copying them. x264 holds frames back (lookahead, B-frames), so a caller that reuses its array right after
    # write() must still get what it wrote.
    rng = np.random.default_rng(width + depth)
    dtype, scale = (np.uint16, 257) if depth == 16 else (np.uint8, 1)
    shown = [pattern_frame(i, width, 24).astype(dtype) * scale for i in range(5)]
    options = {"pix_fmt": "yuv444p", "crf": 0} if codec == "libx264" else {}
    path = tmp_path / f"reuse_{codec}_{width}_{depth}.{'mkv' if codec == 'libx264' else 'mov'}"
    buffer = np.empty_like(shown[0])
    with VideoWriter(path, width=width, height=24, rate=Fraction(24), codec=codec, bit_depth=depth,
                     **options) as writer:
        for i, image in enumerate(shown):
            buffer[...] = image
            writer.write(VideoFrame(buffer, Fraction(i, 24), i))
            buffer[...] = rng.integers(0, 256, buffer.shape).astype(dtype) * scale  # scribble over it at once
    _, frames = read_all(path)
    assert len(frames) == len(shown)
    for image, frame in zip(shown, frames):
        got = frame.image.astype(float) / (257 if frame.image.dtype == np.uint16 else 1)
        error = np.abs(got - image / scale)
        if codec == "libx264":
            assert error.mean() < 2
        else:  # png is lossless; 16-bit input is written as rgb24, where swscale may round a level the other way
            assert error.max() <= (0 if depth == 8 else 1)


# -- audio, colour, rotation -------------------------------------------------------------------------------
def audio_durations(path):
    with av.open(str(path)) as container:
        return [(s.codec_context.name, float(s.duration * s.time_base) if s.duration else None)
                for s in container.streams.audio]


@pytest.mark.parametrize("suffix, codec", [(".mp4", "aac"), (".mkv", "aac"), (".webm", "opus")])
def test_audio_is_carried_over(tmp_path, clip, suffix, codec, read_video):
    out = tmp_path / f"out{suffix}"
    with open_video(clip) as reader:
        frames = list(reader.frames())
        with VideoWriter(out, width=96, height=64, rate=Fraction(48), source=reader) as writer:
            for frame in frames:
                writer.write(frame)
                writer.write(VideoFrame(frame.image, frame.time + Fraction(1, 48), 0))
    (name, _), = audio_durations(out)
    assert name == codec
    # Same amount of sound as the source, to within one output frame (opus/aac priming aside).
    assert abs(read_video(out).audio_seconds - read_video(clip).audio_seconds) <= 1 / 24 + 0.02
    info, out_frames = read_all(out)
    assert len(out_frames) == 24 and info.frame_rate == 48


def test_y4m_drops_audio_with_a_warning(tmp_path, clip, caplog):
    with open_video(clip) as reader:
        with caplog.at_level("WARNING", logger="vidinterp.io"):
            write_frames(tmp_path / "out.y4m", [f.image for f in reader.frames()], Fraction(24), source=reader)
    assert "audio is dropped" in caplog.text
    info, frames = read_all(tmp_path / "out.y4m")
    assert len(frames) == 12 and not info.has_audio


def tagged_source(path):
    """A clip tagged BT.709 / limited range and rotated 90° for display."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        cc = stream.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = 1, 1, 1, 1
        stream.set_display_rotation(90)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, 48, 32), format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
            frame.pts, frame.time_base = i, Fraction(1, 24)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_colour_tags_and_rotation_are_preserved(tmp_path, suffix):
    source = tagged_source(tmp_path / "tagged.mp4")
    with open_video(source) as reader:
        colour = reader.info.colour
        assert (colour.primaries, colour.transfer, colour.matrix, colour.range) == (1, 1, 1, 1)
        assert reader.info.rotation == 90
        write_frames(tmp_path / f"out{suffix}", [f.image for f in reader.frames()], Fraction(48), source=reader)
    info, frames = read_all(tmp_path / f"out{suffix}")
    assert (info.colour.primaries, info.colour.transfer, info.colour.matrix, info.colour.range) == (1, 1, 1, 1)
    assert info.rotation == 90
    # BT.709 in, BT.709 out: the picture survives the RGB round trip (no BT.601/709 colour shift).
    assert np.abs(frames[0].image.astype(float) - pattern_frame(0, 48, 32)).mean() < 8


# -- atomic writes and refusals ----------------------------------------------------------------------------
def test_failure_mid_stream_leaves_nothing(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, width=32, height=24, rate=Fraction(24)) as writer:
            writer.write(VideoFrame(pattern_frame(0, 32, 24), Fraction(0), 0))
            raise RuntimeError("interpolator failed")
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_keyboard_interrupt_leaves_existing_output_untouched(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(out, width=32, height=24, rate=Fraction(24), overwrite=True) as writer:
            writer.write(VideoFrame(pattern_frame(0, 32, 24), Fraction(0), 0))
            raise KeyboardInterrupt
    assert out.read_bytes() == b"previous result"
    assert leftovers(tmp_path) == []


def test_temp_file_is_beside_the_target_until_commit(tmp_path):
    out = tmp_path / "out.mkv"
    with VideoWriter(out, width=32, height=24, rate=Fraction(24), codec="ffv1") as writer:
        writer.write(VideoFrame(pattern_frame(0, 32, 24), Fraction(0), 0))
        assert not out.exists()
        assert len(leftovers(tmp_path)) == 1
    assert out.exists() and leftovers(tmp_path) == []
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not mkstemp's private 0600


def test_existing_output_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(VidinterpError, match="already exists"):
        VideoWriter(out, width=32, height=24, rate=Fraction(24))
    assert out.read_bytes() == b"keep me"


def test_input_is_never_overwritten(tmp_path, clip):
    with open_video(clip) as reader:
        alias = clip.parent / "." / clip.name
        with pytest.raises(VidinterpError, match="is the input"):
            VideoWriter(alias, width=96, height=64, rate=Fraction(48), source=reader, overwrite=True)
    assert read_all(clip)[0].frame_count == 12


# -- encoder choices ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, depth, codec, pix_fmt",
    [
        ("a.mp4", 8, "libx264", "yuv420p"),
        ("a.mov", 10, "libx264", "yuv420p10le"),
        ("a.mkv", 8, "libx264", "yuv420p"),
        ("a.y4m", 8, "rawvideo", "yuv420p"),
        ("-", 10, "rawvideo", "yuv420p10le"),
    ],
)
def test_defaults_by_extension(path, depth, codec, pix_fmt):
    choice = choose_encoder(path, width=64, height=48, bit_depth=depth)
    assert (choice.codec, choice.pix_fmt) == (codec, pix_fmt)
    if codec == "libx264":
        assert choice.options["crf"] == "18"


def test_x264_settings_reach_the_encoder(tmp_path):
    """x264 writes the settings it encoded with into the stream: preset medium's, with the shorter lookahead."""
    images = [pattern_frame(i, 64, 48) for i in range(4)]
    data = write_frames(tmp_path / "settings.mp4", images, Fraction(24)).read_bytes()
    settings = data[data.index(b"x264 - core"):].split(b"\x00")[0].decode()
    assert f"rc_lookahead={X264_LOOKAHEAD} " in settings and " crf=18.0 " in settings
    assert " subme=7 " in settings and " me=hex " in settings  # the rest is preset medium


def test_ffv1_is_rgb_without_subsampling():
    assert choose_encoder("a.mkv", width=64, height=48, codec="ffv1").pix_fmt == "bgr0"
    assert choose_encoder("a.mkv", width=64, height=48, codec="ffv1", bit_depth=10).pix_fmt == "gbrp10le"
    assert choose_encoder("a.mkv", width=64, height=48, codec="ffv1", bit_depth=12).pix_fmt == "gbrp12le"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"path": "a.mp4", "codec": "no-such-codec"}, "unknown video codec"),
        ({"path": "a.mp4", "codec": "aac"}, "not a video codec"),
        ({"path": "a.y4m", "codec": "libx264"}, "raw frames only"),
        ({"path": "a.xyz"}, "cannot tell the output format"),
        ({"path": "a.mp4", "pix_fmt": "nonsense"}, "unknown pixel format"),
        ({"path": "a.mp4", "pix_fmt": "yuv420p", "width": 33}, "even width"),
    ],
)
def test_bad_encoder_choices(kwargs, message):
    kwargs = {"width": 64, "height": 48, **kwargs}
    path = kwargs.pop("path")
    with pytest.raises(UsageError, match=message):
        choose_encoder(path, **kwargs)


def test_webm_default_codec():
    choice = choose_encoder("a.webm", width=64, height=48)
    assert choice.codec in ("libvpx-vp9", "libsvtav1")


def test_ten_bit_y4m(tmp_path):
    """y4m refuses 10-bit unless the muxer is lenient; the writer is, so 10-bit pipes stay 10-bit."""
    images = [pattern_frame(i, 32, 24).astype(np.uint16) * 257 for i in range(2)]
    info, frames = read_all(write_frames(tmp_path / "ten.y4m", images, Fraction(24), bit_depth=10))
    assert info.pix_fmt == "yuv420p10le" and len(frames) == 2


def test_codec_the_container_cannot_hold_is_one_error_and_no_file(tmp_path):
    # PyAV raises a bare ValueError from add_stream here; it must reach the user as a VidinterpError line.
    with pytest.raises(VidinterpError, match="png"):
        VideoWriter(tmp_path / "out.mkv", width=32, height=32, rate=Fraction(25), codec="png")
    assert list(tmp_path.iterdir()) == []


def test_piped_audio_that_y4m_drops_is_not_kept_in_memory(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from synthetic import make_clip

    source = make_clip(tmp_path / "clip.mkv", audio=True)
    with open(source, "rb") as stdin:
        monkeypatch.setattr("sys.stdin", SimpleNamespace(buffer=stdin))
        with open_video("-", "matroska") as reader:
            assert reader.info.has_audio
            write_frames(tmp_path / "out.y4m", [f.image for f in reader.frames()], Fraction(24), source=reader)
            # Nothing takes the audio of a y4m output: the reader must not have queued the whole track.
            assert reader.audio_queue.qsize() == 0


def test_opus_audio_into_mov_is_reencoded_not_copied(tmp_path, clip, read_video):
    # ffmpeg lists opus (and flac) as codecs mov takes, but its mov muxer refuses them ("opus only supported in
    # MP4"): a stream copy would fail the whole run when the header is written.
    webm = tmp_path / "opus.webm"
    with open_video(clip) as reader:
        write_frames(webm, [f.image for f in reader.frames()], Fraction(24), source=reader)
    assert [name for name, _ in audio_durations(webm)] == ["opus"]
    out = tmp_path / "out.mov"
    with open_video(webm) as reader:
        write_frames(out, [f.image for f in reader.frames()], Fraction(24), source=reader)
    assert [name for name, _ in audio_durations(out)] == ["aac"]
    assert abs(read_video(out).audio_seconds - read_video(webm).audio_seconds) <= 0.1
