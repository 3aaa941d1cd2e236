"""Encoder defaults: which container, codec, pixel format and quality settings an output path gets.

The choices live here, apart from the writer, so they can be read and tested as a table:

| output                  | codec                 | pixel format (8-bit / deeper source)             |
|-------------------------|-----------------------|--------------------------------------------------|
| .mp4 .mov .mkv (.m4v)   | libx264, crf 18       | yuv420p / yuv420p10le                            |
| .webm                   | libvpx-vp9 (8-bit) or libsvtav1 (deeper, if built) | yuv420p / yuv420p10le |
| .y4m, stdout (default)  | rawvideo (y4m)        | yuv420p / yuv420p10le                            |
| .nut, stdout with nut   | rawvideo              | yuv420p / yuv420p10le                            |
| --codec ffv1            | ffv1 (lossless RGB)   | bgr0 / gbrp10le (10-bit) or gbrp16le (deeper)    |

Odd frame sizes: 4:2:0 chroma needs even width and height, so an odd-sized output switches to 4:4:4
(yuv444p / yuv444p10le) instead of cropping or padding: every pixel is kept and the output has exactly the
input's size. Some hardware players cannot play 4:4:4 H.264; pass an even-sized input (or crop it first
with ffmpeg) if that matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av

from vidinterp.errors import UsageError

#: container (ffmpeg muxer name) by file extension
CONTAINER_BY_EXTENSION = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".y4m": "yuv4mpegpipe",
    ".nut": "nut",
    ".avi": "avi",
}

#: short names users can give to --format for stdout
STDOUT_FORMATS = {"y4m": "yuv4mpegpipe", "yuv4mpegpipe": "yuv4mpegpipe", "nut": "nut"}

#: containers that cannot carry audio at all
AUDIO_LESS_CONTAINERS = {"yuv4mpegpipe", "rawvideo"}

#: lossless RGB pixel formats for ffv1, by source bit depth (ffv1 has no 8-bit planar gbrp; bgr0 is its
#: 8-bit RGB format, also lossless)
FFV1_RGB_FORMATS = {8: "bgr0", 10: "gbrp10le", 12: "gbrp12le", 16: "gbrp16le"}


@dataclass(frozen=True)
class EncoderChoice:
    """What the writer will encode with: container, codec, pixel format and encoder options."""

    container_format: str
    codec: str
    pix_fmt: str
    options: dict[str, str] = field(default_factory=dict)


def container_for(path: str | Path | None, container_format: str | None = None) -> str:
    """ffmpeg muxer name for an output path ('-' or None = stdout, y4m unless `container_format` says nut)."""
    if container_format:
        return STDOUT_FORMATS.get(container_format, container_format)
    if path is None or str(path) == "-":
        return "yuv4mpegpipe"
    suffix = Path(path).suffix.lower()
    if suffix not in CONTAINER_BY_EXTENSION:
        known = ", ".join(sorted(CONTAINER_BY_EXTENSION))
        raise UsageError(f"cannot tell the output format from '{Path(path).name}': use one of the extensions {known}")
    return CONTAINER_BY_EXTENSION[suffix]


def encoder_available(name: str) -> bool:
    """True if this ffmpeg build has an encoder called `name`."""
    try:
        av.Codec(name, "w")
    except Exception:
        return False
    return True


def default_codec(container_format: str, bit_depth: int = 8) -> str:
    """The codec an output gets when the user does not pass --codec."""
    if container_format in ("yuv4mpegpipe", "nut", "rawvideo"):
        return "rawvideo"
    if container_format == "webm":
        if bit_depth > 8 and encoder_available("libsvtav1"):
            return "libsvtav1"
        return "libvpx-vp9" if encoder_available("libvpx-vp9") else "libsvtav1"
    return "libx264"


def _supported_formats(codec: str) -> list[str] | None:
    """Pixel formats the encoder accepts, or None when it does not say (rawvideo takes anything)."""
    formats = av.Codec(codec, "w").video_formats
    return [f.name for f in formats] if formats else None


def _chroma_shift(pix_fmt: str) -> tuple[int, int]:
    """(log2 horizontal, log2 vertical) chroma subsampling of a pixel format, measured on a 64×64 picture."""
    fmt = av.VideoFormat(pix_fmt, 64, 64)
    widths = [c.width for c in fmt.components]
    heights = [c.height for c in fmt.components]
    return (int(max(widths) // min(widths)).bit_length() - 1, int(max(heights) // min(heights)).bit_length() - 1)


def default_pix_fmt(codec: str, bit_depth: int, width: int, height: int) -> str:
    """A pixel format for `codec` that keeps `bit_depth` where the codec allows and fits the frame size."""
    if codec == "ffv1":
        depth = min((d for d in FFV1_RGB_FORMATS if d >= bit_depth), default=16)
        return FFV1_RGB_FORMATS[depth]
    odd = width % 2 == 1 or height % 2 == 1
    chroma = "444" if odd else "420"
    preferred = [f"yuv{chroma}p10le", f"yuv{chroma}p"] if bit_depth > 8 else [f"yuv{chroma}p"]
    supported = _supported_formats(codec)
    for pix_fmt in preferred:
        if supported is None or pix_fmt in supported:
            return pix_fmt
    if odd and supported is not None and "yuv420p" in supported:
        return "yuv420p"  # the encoder has no 4:4:4; it will round odd chroma sizes up itself (vp9, av1)
    return supported[0] if supported else "yuv420p"


def encoder_options(codec: str, crf: int | None) -> dict[str, str]:
    """Quality and speed settings: visually lossless by default, at a speed a laptop can live with."""
    if codec == "libx264":
        return {"crf": str(18 if crf is None else crf), "preset": "medium"}
    if codec == "libvpx-vp9":
        return {"crf": str(31 if crf is None else crf), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
    if codec == "libsvtav1":
        return {"crf": str(30 if crf is None else crf), "preset": "8"}
    if codec in ("libx265",):
        return {"crf": str(20 if crf is None else crf), "preset": "medium"}
    if codec == "ffv1":
        return {"level": "3", "slicecrc": "1"}
    return {} if crf is None else {"crf": str(crf)}


def choose_encoder(
    path: str | Path | None,
    *,
    width: int,
    height: int,
    bit_depth: int = 8,
    codec: str | None = None,
    crf: int | None = None,
    pix_fmt: str | None = None,
    container_format: str | None = None,
) -> EncoderChoice:
    """Resolve the user's (possibly empty) codec/pix-fmt/crf wishes into a complete, checked choice."""
    container = container_for(path, container_format)
    codec = codec or default_codec(container, bit_depth)
    if not encoder_available(codec):
        raise UsageError(f"unknown video codec '{codec}': this ffmpeg build has no encoder by that name (try libx264, ffv1, libvpx-vp9, rawvideo)")
    if av.Codec(codec, "w").type != "video":
        raise UsageError(f"'{codec}' is not a video codec")
    if container == "yuv4mpegpipe" and codec not in ("rawvideo", "wrapped_avframe"):
        raise UsageError(f"y4m output holds raw frames only; --codec {codec} needs a container such as .mkv or .mp4 (or --format nut on stdout)")
    if pix_fmt is None:
        pix_fmt = default_pix_fmt(codec, bit_depth, width, height)
    else:
        try:
            av.VideoFormat(pix_fmt)
        except Exception:
            raise UsageError(f"unknown pixel format '{pix_fmt}' (e.g. yuv420p, yuv444p, yuv420p10le, gbrp10le)") from None
        supported = _supported_formats(codec)
        if supported is not None and pix_fmt not in supported:
            raise UsageError(f"{codec} cannot encode pixel format '{pix_fmt}'; it takes: {', '.join(supported)}")
        shift_x, shift_y = _chroma_shift(pix_fmt)
        if (shift_x and width % 2) or (shift_y and height % 2):
            raise UsageError(f"pixel format {pix_fmt} needs an even width and height, but frames are {width}×{height}; use yuv444p")
    return EncoderChoice(container, codec, pix_fmt, encoder_options(codec, crf))
