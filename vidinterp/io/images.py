"""Read and write single still images (image sequences, triplet datasets, side-by-side pictures) with PyAV.

PyAV is already a dependency, so no imaging library is needed. PNGs are decoded and encoded with the codec
directly (a PNG file is exactly one PNG packet), which also keeps ffmpeg's image2 demuxer from reading '%' in a
file name as a sequence pattern. Other still formats go through the demuxer with patterns switched off.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from vidinterp.errors import VidinterpError
from vidinterp.io.atomic import write_atomically


def _decode_png(path: Path) -> av.VideoFrame:
    codec = av.CodecContext.create("png", "r")
    frames = codec.decode(av.Packet(path.read_bytes()))
    if not frames:
        raise ValueError("no picture in the file")
    return frames[0]


def _decode_other(path: Path) -> av.VideoFrame:
    with av.open(str(path), "r", format="image2", options={"pattern_type": "none"}) as container:
        return next(container.decode(video=0))


def read_image(path: str | Path) -> np.ndarray:
    """An image file as H×W×3 RGB: uint8, or uint16 (0..65535) when the file has more than 8 bits per sample.

    Grey images are repeated into three channels; an alpha channel is dropped (not composited), as frame
    interpolation benchmarks do. Float images (OpenEXR) are clipped to 0..1 and read as uint16, values as
    stored (no tone mapping).
    """
    path = Path(path)
    try:
        frame = _decode_png(path) if path.suffix.lower() == ".png" else _decode_other(path)
    except FileNotFoundError:
        raise VidinterpError(f"image not found: {path}") from None
    except OSError as exc:  # a folder, no permission
        raise VidinterpError(f"cannot read the image '{path}' ({exc.strerror})") from None
    except (av.error.FFmpegError, ValueError, StopIteration) as exc:
        raise VidinterpError(f"cannot read the image '{path}' ({exc})") from None
    deep = max(component.bits for component in frame.format.components) > 8
    return np.ascontiguousarray(frame.to_ndarray(format="rgb48le" if deep else "rgb24"))


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an H×W×3 RGB image (uint8 → 8-bit PNG, uint16 → 16-bit PNG)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an H×W×3 uint8 or uint16 image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    deep = image.dtype == np.uint16
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb48le" if deep else "rgb24")
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "rgb48be" if deep else "rgb24"
    if deep:
        frame = frame.reformat(format="rgb48be")
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    return b"".join(bytes(packet) for packet in packets)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write `image` as a PNG atomically (a temporary file beside `path`, then renamed); replaces `path`."""
    path = Path(path)
    data = encode_png(image)
    write_atomically(path, lambda tmp: tmp.write_bytes(data))
    return path
