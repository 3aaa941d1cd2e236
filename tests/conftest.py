"""Shared fixtures and the GPU/ffmpeg skips that let the suite run on a CPU-only machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU")
    skip_ffmpeg = pytest.mark.skip(reason="needs the ffmpeg command-line tool")
    has_cuda = torch.cuda.is_available()
    has_ffmpeg = shutil.which("ffmpeg") is not None
    for item in items:
        if ("cuda" in item.keywords or "cupy" in item.keywords) and not has_cuda:
            item.add_marker(skip_cuda)
        if "ffmpeg" in item.keywords and not has_ffmpeg:
            item.add_marker(skip_ffmpeg)


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
