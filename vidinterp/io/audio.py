"""Carry the source's other streams into the output: audio (stream copy when the container takes the codec, else
re-encoded), subtitles and data streams (copied where the container takes them, else dropped with a warning),
with their titles and language tags.

The source file is opened a second time just for these streams, and their packets are muxed as the video
advances (`feed_until(t)`), so the output stays interleaved and memory stays flat however long the video is.
"""

from __future__ import annotations

import io
import logging
import queue
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vidinterp.io.codecs import AUDIO_LESS_CONTAINERS
from vidinterp.io.timeline import Timeline

log = logging.getLogger("vidinterp.io")

#: stream and container tags that describe the content and stay true after retiming (not encoder, durations,
#: statistics or creation times)
CARRIED_TAGS = (
    "title",
    "language",
    "comment",
    "description",
    "artist",
    "album_artist",
    "album",
    "composer",
    "copyright",
    "genre",
    "date",
    "year",
    "show",
    "episode_id",
    "network",
    "synopsis",
)

#: silence padding: encoders for the decoders of copied audio streams whose name differs
_ENCODER_NAMES = {"opus": "libopus", "vorbis": "libvorbis", "mp3": "libmp3lame"}

_accepts_cache: dict[tuple[str, str, str], bool] = {}


def carried_tags(metadata: dict) -> dict[str, str]:
    """The descriptive tags of a stream or container (case-insensitive names, as Matroska spells them upper)."""
    return {key.lower(): value for key, value in metadata.items() if key.lower() in CARRIED_TAGS and value}


def muxer_accepts(container_format: str, stream) -> bool:
    """True if `container_format` can hold a stream copy of `stream`: tried on an in-memory header, since ffmpeg's
    codec query says "unknown" for muxers without a codec list (mpegts) and "yes" for some it then refuses (mov
    takes no Opus)."""
    key = (container_format, stream.type, stream.codec_context.name)
    if key not in _accepts_cache:
        try:
            with av.open(io.BytesIO(), "w", format=container_format) as probe:
                probe.add_stream_from_template(stream)
                probe.start_encoding()
            _accepts_cache[key] = True
        except Exception:  # noqa: BLE001 - any refusal means "re-encode or drop", never a failed run
            _accepts_cache[key] = False
    return _accepts_cache[key]


class _Track:
    """One source stream and how it reaches the output (copied packets or re-encoded audio frames)."""

    def __init__(self, source, output: av.container.OutputContainer, video: Timeline | None) -> None:
        self.source = source
        self.kind = source.type
        #: the track's own timeline: a restarted clock (concatenated MPEG-TS) continues where the video does
        self.timeline = Timeline(video is not None and video.discontinuous, follow_jumps=source.type == "audio",
                                 leader=video)
        name = source.codec_context.name
        self.copy = muxer_accepts(output.format.name, source)
        #: output time (s) where the last muxed packet of this track ends
        self.end = Fraction(0)
        if self.copy:
            self.stream = output.add_stream_from_template(source)
        else:
            codec = output.default_audio_codec
            if codec in (None, "none") or codec == "mp3" and "aac" in output.supported_codecs:
                codec = "aac"  # mp3 encoders are often absent; AAC is everywhere
            codec = _ENCODER_NAMES.get(codec, codec)
            layout = source.codec_context.layout.name if source.codec_context.layout else "stereo"
            rate = source.codec_context.sample_rate or 48000
            if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
                rate = 48000
            self.stream = output.add_stream(codec, rate=rate, layout=layout)
            log.info("re-encoding audio %s → %s (%s cannot hold %s)", name, codec, output.format.name, name)
        tags = carried_tags(dict(source.metadata))
        if tags:
            self.stream.metadata.update(tags)


def _side_streams(container) -> list:
    """Audio, subtitle and data streams of an input, in their order."""
    return [s for s in container.streams if s.type in ("audio", "subtitle", "data")]


class AudioCarrier:
    """Copies (or re-encodes) the source's audio, subtitle and data streams into `output`, shifted by `start` s.

    From a file (`source_path`), the file is opened a second time for them. From a pipe, the reader puts their
    packets on `reader.audio_queue` while it demuxes the video (`pipe_reader`), and they are taken from there.
    `start` is the source time of the first video frame: output time 0 is that instant, so audio that plays with
    frame k in the source plays with its interpolated counterpart in the output. `video_timeline` (the reader's)
    leads the tracks through restarts of the clock (concatenated MPEG-TS). Streams the container cannot
    hold (subtitles in mp4, a data track in webm) are dropped with one warning.
    """

    def __init__(
        self,
        output: av.container.OutputContainer,
        *,
        source_path: Path | None = None,
        pipe_reader=None,
        start: Fraction = Fraction(0),
        video_timeline: Timeline | None = None,
    ) -> None:
        self._output = output
        self._start = start
        self._pipe = pipe_reader
        self._input = None
        if pipe_reader is not None:
            streams = pipe_reader.side_streams()
            self._packets: Iterator[av.Packet] | None = None
        else:
            self._input = av.open(str(source_path))
            streams = _side_streams(self._input)
        carried, dropped = [], []
        for stream in streams:
            (carried if stream.type == "audio" or muxer_accepts(output.format.name, stream) else dropped).append(stream)
        if dropped:
            names = ", ".join(f"{s.type} #{s.index} ({s.codec_context.name or 'unknown codec'})" for s in dropped)
            pronoun = "it is" if len(dropped) == 1 else "they are"
            log.warning("%s cannot hold %s; %s dropped", output.format.name, names, pronoun)
        self._tracks = {s.index: _Track(s, output, video_timeline) for s in carried}
        if self._input is not None:
            self._packets = self._input.demux(*carried) if carried else iter(())
        self._pending: av.Packet | None = None
        self._placed: av.Packet | None = None  # the pending packet, once its time is on its track's timeline
        self._done = False

    @property
    def copying(self) -> list[str]:
        """Human summary of each track: 'aac (copied)' or 'pcm_s16le → aac'."""
        return [
            f"{t.source.codec_context.name} (copied)"
            if t.copy
            else f"{t.source.codec_context.name} → {t.stream.codec_context.name}"
            for t in self._tracks.values()
        ]

    @property
    def dropped_packets(self) -> int:
        """Packets dropped because their time did not move forward (broken or duplicated timestamps)."""
        return sum(track.timeline.dropped for track in self._tracks.values())

    def _next_packet(self) -> av.Packet | None:
        while True:
            packet = self._next_any_packet()
            if packet is None:
                return None
            track = self._tracks.get(packet.stream.index)
            # (from a pipe, every side stream is queued, also those that are not carried)
            if track is not None and (packet is self._placed or self._place(track, packet)):
                self._placed = packet
                return packet
            self._pending = None

    @staticmethod
    def _place(track: _Track, packet: av.Packet) -> bool:
        """Shift the packet onto its track's timeline (past restarts of the clock); False to drop it."""
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None or not packet.time_base:
            return True
        time_base = Fraction(packet.time_base)
        duration = packet.duration * time_base if packet.duration else None
        if track.timeline.place(Fraction(stamp) * time_base, duration) is None:
            return False
        shift = round(track.timeline.offset / time_base)
        if shift:
            if packet.pts is not None:
                packet.pts += shift
            if packet.dts is not None:
                packet.dts += shift
        return True

    def _next_any_packet(self) -> av.Packet | None:
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
        """Mux packets up to output time `time` (seconds); None = everything left."""
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
            if packet.is_corrupt:
                return  # e.g. cut short by a truncated file: copied, it would break the output's decoder
            if packet.pts is not None:
                packet.pts -= shift
                if packet.pts < 0 and track.kind != "audio":
                    return  # a subtitle shown before the first frame: its time is not in the output
            if packet.dts is not None:
                packet.dts -= shift
            if packet.pts is not None and packet.time_base:
                track.end = max(track.end, Fraction(packet.pts + (packet.duration or 0)) * packet.time_base)
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
                if frame.time_base and frame.sample_rate:
                    ends = frame.pts * Fraction(frame.time_base) + Fraction(frame.samples, frame.sample_rate)
                    track.end = max(track.end, ends)
            self._output.mux(track.stream.encode(frame))

    def finish(self, end: Fraction | None = None) -> None:
        """Mux the remaining packets and flush the re-encoders. With `end` (output seconds, for an input that ended
        early), audio stops there and a track that stops short of it is padded with silence, so audio and video
        end together."""
        self.feed_until(end)
        if end is not None:
            for track in self._tracks.values():
                if track.kind == "audio" and end - track.end > Fraction(1, 100):
                    self._pad_with_silence(track, end)
        for track in self._tracks.values():
            if not track.copy:
                self._output.mux(track.stream.encode(None))
        dropped = self.dropped_packets
        if dropped:
            log.warning("%d audio/subtitle packet%s dropped: %s time did not move forward (broken or duplicated "
                        "timestamps)", dropped, *(("s", "their") if dropped > 1 else ("", "its")))
        self.close()

    def _pad_with_silence(self, track: _Track, end: Fraction) -> None:
        """Silence from where the track ends to `end`, encoded like the track (its own encoder, or a new encoder
        of the copied codec with the same sample rate and layout)."""
        rate = track.stream.codec_context.sample_rate or 48000
        layout = track.stream.codec_context.layout.name if track.stream.codec_context.layout else "stereo"
        missing = float(end - track.end)
        try:
            if track.copy:
                name = track.stream.codec_context.name
                encoder = av.CodecContext.create(_ENCODER_NAMES.get(name, name), "w")
                encoder.sample_rate, encoder.layout = rate, layout
                encoder.format = encoder.codec.audio_formats[0].name
                encoder.time_base = Fraction(1, rate)
                encoder.open()
            else:
                encoder = track.stream.codec_context
            frame_size = encoder.frame_size or 1024
            position = round(track.end * rate)
            stop = round(end * rate)
            # Encoders delay their packets (AAC primes with 1024 samples): place them ourselves, end to end.
            self._pad_next, self._pad_stop = position, stop
            while position < stop:
                count = frame_size if encoder.frame_size else min(frame_size, stop - position)
                frame = av.AudioFrame(format=encoder.format.name, layout=layout, samples=count)
                for plane in frame.planes:
                    plane.update(np.zeros(plane.buffer_size, dtype=np.uint8))
                frame.sample_rate, frame.pts, frame.time_base = rate, position, Fraction(1, rate)
                self._mux_encoded(track, encoder, encoder.encode(frame))
                position += count
            if track.copy:
                self._mux_encoded(track, encoder, encoder.encode(None))
            log.warning(
                "audio track #%d ended %.2f s before the video; padded with silence", track.source.index, missing
            )
        except Exception as exc:  # noqa: BLE001 - padding is a courtesy; say what is left instead of failing
            log.warning(
                "audio track #%d ends %.2f s before the video (could not pad it: %s)", track.source.index, missing, exc
            )

    def _mux_encoded(self, track: _Track, encoder, packets) -> None:
        rate = encoder.sample_rate
        for packet in packets:
            if self._pad_next >= self._pad_stop:
                continue  # the encoder's flush: more than the gap needs
            duration = packet.duration or encoder.frame_size or 1024
            if packet.time_base and packet.time_base != Fraction(1, rate):
                duration = round(duration * packet.time_base * rate)
            packet.time_base = Fraction(1, rate)
            packet.pts = packet.dts = self._pad_next
            packet.duration = duration
            self._pad_next += duration
            packet.stream = track.stream
            self._output.mux(packet)

    def close(self) -> None:
        if self._input is not None:
            self._input.close()


def can_carry_audio(container_format: str) -> bool:
    """False for containers that have no place for audio (y4m)."""
    return container_format not in AUDIO_LESS_CONTAINERS
