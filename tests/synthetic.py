"""Small synthetic clips for tests: a textured pattern in smooth motion, optionally with a sine-tone audio track.

Made with PyAV so the tests never need ../shared or network access. `pattern_frame(i)` gives the exact picture of
frame i (before encoding), so tests can build ground truth for in-between times: frame i + t has the pattern moved
by t · speed pixels.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def pattern_frame(
    position: float, width: int = 96, height: int = 64, speed: tuple[float, float] = (2.0, 1.0)
) -> np.ndarray:
    """H×W×3 uint8 RGB: smooth colour bands and a bright square, shifted by position·speed pixels (x, y)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    dx, dy = position * speed[0], position * speed[1]
    u, v = xs - dx, ys - dy
    r = 128 + 100 * np.sin(u / 7.0) * np.cos(v / 11.0)
    g = 128 + 100 * np.sin((u + v) / 9.0)
    b = 128 + 100 * np.cos(u / 13.0 - v / 5.0)
    image = np.stack([r, g, b], axis=-1)
    # A square with soft edges that moves twice as fast as the background.
    cx, cy = width / 3 + 2 * dx, height / 2 + 2 * dy
    inside = np.clip(8 - np.maximum(np.abs(xs - cx), np.abs(ys - cy)), 0, 1)[..., None]
    image = image * (1 - inside) + 235 * inside
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def write_clip(
    path: str | Path,
    frames: list[np.ndarray],
    fps: Fraction | int = 24,
    codec: str = "libx264",
    pix_fmt: str | None = None,
    audio: bool = False,
    audio_rate: int = 48000,
    container_format: str | None = None,
    times: list[Fraction] | None = None,
) -> Path:
    """Encode RGB frames (uint8, or uint16 0..65535 for high bit depth) to `path`.

    `times` (seconds) makes a variable-frame-rate clip; otherwise frames are 1/fps apart. With `audio`, a 440 Hz
    stereo AAC tone (Opus for webm/ogg, PCM for others that do not take AAC) as long as the video.
    """
    path = Path(path)
    fps = Fraction(fps)
    height, width = frames[0].shape[:2]
    options = {"crf": "10", "preset": "ultrafast"} if codec == "libx264" else {}
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height = width, height
        if pix_fmt is None:
            pix_fmt = (
                "yuv420p"
                if codec in ("libx264", "mpeg4", "mjpeg")
                else stream.codec_context.codec.video_formats[0].name
            )
        stream.pix_fmt = pix_fmt
        time_base = Fraction(1, 1000) if times is not None else 1 / fps
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        audio_stream = None
        if audio:
            audio_stream = container.add_stream("aac", rate=audio_rate, layout="stereo")
        for i, image in enumerate(frames):
            rgb_format = "rgb24" if image.dtype == np.uint8 else "rgb48le"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=rgb_format)
            frame.pts = int((times[i] if times is not None else i / fps) / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None:
            duration = times[-1] + (times[-1] - times[-2]) if times is not None else Fraction(len(frames)) / fps
            total = int(duration * audio_rate)
            chunk = 1024
            for start in range(0, total, chunk):
                n = min(chunk, total - start)
                tt = (np.arange(start, start + n) / audio_rate).astype(np.float32)
                tone = (0.2 * np.sin(2 * np.pi * 440 * tt)).astype(np.float32)
                samples = np.stack([tone, tone])  # planar stereo
                aframe = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
                aframe.sample_rate = audio_rate
                aframe.pts = start
                for packet in audio_stream.encode(aframe):
                    container.mux(packet)
            for packet in audio_stream.encode():
                container.mux(packet)
    return path


def make_clip(
    path: str | Path,
    n_frames: int = 12,
    width: int = 96,
    height: int = 64,
    fps: Fraction | int = 24,
    speed: tuple[float, float] = (2.0, 1.0),
    **kwargs,
) -> Path:
    """A moving-pattern clip of n_frames frames; kwargs go to `write_clip` (codec, pix_fmt, audio, ...)."""
    frames = [pattern_frame(i, width, height, speed) for i in range(n_frames)]
    return write_clip(path, frames, fps=fps, **kwargs)
