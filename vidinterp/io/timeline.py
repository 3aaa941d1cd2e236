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


def has_discontinuous_timestamps(container) -> bool:
    """True for formats whose timestamps may restart or jump (ffmpeg's AVFMT_TS_DISCONT: MPEG-TS and kin)."""
    return bool(container.format.flags & av.format.Flags.ts_discont.value)


class Timeline:
    """Maps a stream's timestamps (seconds) onto one timeline that only moves forward.

    discontinuous: follow restarts and big jumps (see the module docstring) instead of dropping what follows.
    follow_jumps: also close up jumps ahead (video and audio; sparse subtitle streams have real long gaps).
    """

    def __init__(self, discontinuous: bool, follow_jumps: bool = True) -> None:
        self.discontinuous = discontinuous
        self.follow_jumps = follow_jumps
        #: seconds added to every timestamp since the last restart
        self.offset = Fraction(0)
        #: how many times the clock restarted or jumped, and the (continuous) time of the first restart
        self.restarts = 0
        self.first_restart: Fraction | None = None
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
            jumped = delta < -BACKWARD_TOLERANCE or (self.follow_jumps and delta > FORWARD_JUMP)
            if self.discontinuous and jumped:
                resumed = self._last + self._step
                self.offset += resumed - placed
                placed = resumed
                self.restarts += 1
                if self.first_restart is None:
                    self.first_restart = placed
            elif placed <= self._last:
                self.dropped += 1
                return None
        if duration:
            self._step = Fraction(duration)
        self._last = placed
        return placed
