"""Carry the source's audio into the output: stream copy when the container takes the codec, else re-encode.

The source file is opened a second time just for its audio, and audio packets are muxed as the video
advances (`feed_until(t)`), so the output stays interleaved and memory stays flat however long the video is.
"""

from __future__ import annotations

import logging
import queue
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av

from vidinterp.io.codecs import AUDIO_LESS_CONTAINERS

log = logging.getLogger("vidinterp.io")


#: (muxer, codec) pairs that ffmpeg's codec query accepts but whose muxer refuses them when it writes the header
#: ("opus only supported in MP4", likewise flac): copying would fail the whole run, so these are re-encoded.
_COPY_REFUSED = {("mov", "opus"), ("mov", "flac")}


class _Track:
    """One source audio stream and how it reaches the output (copied packets or re-encoded frames)."""

    def __init__(self, source: av.audio.stream.AudioStream, output: av.container.OutputContainer) -> None:
        self.source = source
        name = source.codec_context.name
        self.copy = name in output.supported_codecs and (output.format.name, name) not in _COPY_REFUSED
        if self.copy:
            self.stream = output.add_stream_from_template(source)
        else:
            codec = output.default_audio_codec
            if codec in (None, "none") or codec == "mp3" and "aac" in output.supported_codecs:
                codec = "aac"  # mp3 encoders are often absent; AAC is everywhere
            codec = {"opus": "libopus", "vorbis": "libvorbis"}.get(codec, codec)
            layout = source.codec_context.layout.name if source.codec_context.layout else "stereo"
            rate = source.codec_context.sample_rate or 48000
            if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
                rate = 48000
            self.stream = output.add_stream(codec, rate=rate, layout=layout)
            log.info("re-encoding audio %s → %s (the output container cannot hold %s)", source.codec_context.name, codec, source.codec_context.name)


class AudioCarrier:
    """Copies or re-encodes all audio streams of the source into `output`, shifted by `start` seconds.

    From a file (`source_path`), the file is opened a second time just for its audio. From a pipe, the reader
    puts audio packets on `reader.audio_queue` while it demuxes the video (`pipe_reader`), and they are taken
    from there. `start` is the source time of the first video frame: output time 0 is that instant, so audio
    that plays with frame k in the source plays with its interpolated counterpart in the output.
    """

    def __init__(
        self,
        output: av.container.OutputContainer,
        *,
        source_path: Path | None = None,
        pipe_reader=None,
        start: Fraction = Fraction(0),
    ) -> None:
        self._output = output
        self._start = start
        self._pipe = pipe_reader
        self._input = None
        if pipe_reader is not None:
            streams = pipe_reader.audio_streams()
            self._packets: Iterator[av.Packet] | None = None
        else:
            self._input = av.open(str(source_path))
            streams = list(self._input.streams.audio)
            self._packets = self._input.demux(*streams)
        self._tracks = {s.index: _Track(s, output) for s in streams}
        self._pending: av.Packet | None = None
        self._done = False

    @property
    def copying(self) -> list[str]:
        """Human summary of each track: 'aac (copied)' or 'pcm_s16le → aac'."""
        return [
            f"{t.source.codec_context.name} (copied)" if t.copy else f"{t.source.codec_context.name} → {t.stream.codec_context.name}"
            for t in self._tracks.values()
        ]

    def _next_packet(self) -> av.Packet | None:
        if self._pending is None and not self._done and self._pipe is not None:
            try:
                self._pending = self._pipe.audio_queue.get_nowait()
            except queue.Empty:
                # Nothing yet: the video demuxer has not got that far. Done only once it has finished.
                self._done = self._pipe.audio_finished and self._pipe.audio_queue.empty()
            return self._pending
        if self._pending is None and not self._done:
            try:
                self._pending = next(self._packets)
            except StopIteration:
                self._done = True
            except av.error.FFmpegError as exc:
                log.warning("stopped copying audio at damaged data (%s)", exc.strerror)
                self._done = True
        return self._pending

    def feed_until(self, time: Fraction | None) -> None:
        """Mux audio up to output time `time` (seconds); None = everything left."""
        while (packet := self._next_packet()) is not None:
            if packet.pts is not None and time is not None:
                if Fraction(packet.pts) * packet.time_base - self._start > time:
                    return
            self._pending = None
            self._mux(packet)

    def _mux(self, packet: av.Packet) -> None:
        track = self._tracks[packet.stream.index]
        shift = round(self._start / packet.time_base) if packet.time_base else 0
        if track.copy:
            if packet.dts is None and packet.pts is None:
                return  # flush packets carry no data
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = track.stream
            self._output.mux(packet)
            return
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            return  # a damaged audio packet: a few ms of silence beats failing the whole video
        for frame in frames:
            if frame.pts is not None:
                frame.pts -= shift
            self._output.mux(track.stream.encode(frame))

    def finish(self) -> None:
        """Mux the remaining audio and flush the re-encoders."""
        self.feed_until(None)
        for track in self._tracks.values():
            if not track.copy:
                self._output.mux(track.stream.encode(None))
        self.close()

    def close(self) -> None:
        if self._input is not None:
            self._input.close()


def can_carry_audio(container_format: str) -> bool:
    """False for containers that have no place for audio (y4m)."""
    return container_format not in AUDIO_LESS_CONTAINERS
