"""Video input and output with PyAV: decoding with presentation times, encoding with audio and metadata."""

from vidinterp.io.frames import VideoFrame
from vidinterp.io.reader import VideoInfo, VideoReader, open_video
from vidinterp.io.sample import sample_clip_path
from vidinterp.io.writer import VideoWriter

__all__ = ["VideoFrame", "VideoInfo", "VideoReader", "VideoWriter", "open_video", "sample_clip_path"]
