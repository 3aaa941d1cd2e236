"""Keep one stream's timestamps moving forward through restarts and jumps, as ffmpeg does.

Containers made to be cut and joined (MPEG-TS: `cat a.ts b.ts > ab.ts`, broadcast and camera segments) may
restart their clock part-way. ffmpeg follows such a timeline instead of trusting it: a step back of more than
0.1 s, or a jump ahead of more than 10 s, in a format that declares discontinuous timestamps shifts everything
after it so that it continues one frame after what came before. `Timeline` does the same for one stream (the
video's frames, each audio track's packets), so no frame is lost at a restart and audio stays with its video.

Elsewhere (mp4, mkv, ...) a timestamp that does not move forward is broken or duplicated: `place` returns None
and the caller drops that frame or packet and counts it, so the loss is reported, never silent.
"""

from __future__ import annotations

from fractions import Fraction

import av

#: ffmpeg's thresholds for a discontinuity (fftools' 0.1 s step back and its default -dts_delta_threshold 10 s)
BACKWARD_TOLERANCE = Fraction(1, 10)
FORWARD_JUMP = Fraction(10)
#: where a restart places the next timestamp when nothing says how long the last one lasted
_MIN_STEP = Fraction(1, 1000)


def has_discontinuous_timestamps(container) -> bool:
    """True for formats whose timestamps may restart or jump (ffmpeg's AVFMT_TS_DISCONT: MPEG-TS and kin)."""
    return bool(container.format.flags & av.format.Flags.ts_discont.value)


class Timeline:
    """Maps a stream's timestamps (seconds) onto one timeline that only moves forward.

    discontinuous: follow restarts and big jumps (see the module docstring) instead of dropping what follows.
    follow_jumps: also close up jumps ahead (video and audio; sparse subtitle streams have real long gaps).
    leader: the video's timeline, for an audio or subtitle track. Like ffmpeg's one offset per file, the track's
        k-th restart takes the video's k-th offset, so it stays in sync with its picture (the track's own packet
        durations can be wrong: MPEG-TS often packs several AAC frames in one packet). A track steps back only
        at a restart (its packets are never reordered), so any step back counts.
    """

    def __init__(self, discontinuous: bool, follow_jumps: bool = True, leader: Timeline | None = None) -> None:
        self.discontinuous = discontinuous
        self.follow_jumps = follow_jumps
        self.leader = leader
        self._tolerance = Fraction(0) if leader is not None else BACKWARD_TOLERANCE
        #: the offset after each restart, in order (a follower track takes them)
        self.offsets: list[Fraction] = []
        #: seconds added to every timestamp since the last restart
        self.offset = Fraction(0)
        #: how many times the clock restarted or jumped
        self.restarts = 0
        #: timestamps dropped because they did not move forward
        self.dropped = 0
        self._last: Fraction | None = None
        self._step = Fraction(0)

    def place(self, time: Fraction, duration: Fraction | None = None) -> Fraction | None:
        """The continuous time of a timestamp, or None when it does not move forward (drop it).

        duration: how long this frame or packet lasts; a restart places the next one that far after it."""
        placed = time + self.offset
        if self._last is not None:
            delta = placed - self._last
            jumped = delta < -self._tolerance or (self.follow_jumps and delta > FORWARD_JUMP)
            if self.discontinuous and jumped:
                if self.leader is not None and len(self.leader.offsets) > self.restarts:
                    self.offset = self.leader.offsets[self.restarts]
                else:
                    self.offset += self._last + self._step - placed
                placed = time + self.offset
                if placed <= self._last:  # the video's offset would overlap what this track has muxed already
                    self.offset += self._last + (self._step or _MIN_STEP) - placed
                    placed = time + self.offset
                self.offsets.append(self.offset)
                self.restarts += 1
            elif placed <= self._last:
                self.dropped += 1
                return None
        if duration:
            self._step = Fraction(duration)
        self._last = placed
        return placed
