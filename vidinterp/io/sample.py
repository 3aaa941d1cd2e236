"""The short real clip shipped with the package, so a newcomer can try the tool without a video of their own."""

from __future__ import annotations

from pathlib import Path

from vidinterp.errors import VidinterpError

_SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "sample" / "airplane.mp4"


def sample_clip_path() -> Path:
    """Path of the packaged sample clip (3.2 s, 480×270, 25 fps, H.264 + AAC; MIT, see assets/sample/README.md)."""
    if not _SAMPLE.is_file():
        raise VidinterpError(
            f"the sample clip is missing from this installation (expected {_SAMPLE}); reinstall vidinterp"
        )
    return _SAMPLE
