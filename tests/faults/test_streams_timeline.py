"""Timestamp restarts, jumps and duplicates: no frame lost without a word, audio kept with its video."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from vidinterp.io.timeline import Timeline

pytestmark = pytest.mark.faults

RESTART = "restart or jump after frame 30"


def durations(path) -> dict[str, float]:
    """Where each stream ends (seconds), from its packets: not every container stores stream durations."""
    ends: dict[str, float] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                ends[packet.stream.type] = max(ends.get(packet.stream.type, 0.0), end)
    return ends


@pytest.mark.parametrize("suffix", [".mkv", ".mp4", ".ts"])
@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("name", ["ab.ts", "ab_audio.ts"])
def test_concatenated_segments_keep_every_frame(run_cli, media, tmp_path, name, factor, suffix, read_video):
    out = tmp_path / f"out{suffix}"
    result = run_cli("upsample", media[name], out, "--method", "blend", "--factor", factor)
    assert result.rc == 0, result.stderr
    assert RESTART in result.stderr and "Traceback" not in result.stderr and "dropped" not in result.stderr
    assert len(read_video(out)) == 60 * factor
    if "audio" in name:
        lengths = durations(out)
        assert abs(lengths["audio"] - lengths["video"]) < 0.1, lengths
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_three_segments(run_cli, media, tmp_path, read_video):
    out = tmp_path / "out.mkv"
    result = run_cli("upsample", media["abc.ts"], out, "--method", "blend")
    assert result.rc == 0 and result.stderr.count("restart or jump") == 1, result.stderr
    assert len(read_video(out)) == 180


@pytest.mark.parametrize("name", ["jump.ts", "jump_audio.ts"])
def test_a_jump_ahead_is_closed_up(run_cli, media, tmp_path, name, read_video):
    out = tmp_path / "out.mkv"
    result = run_cli("upsample", media[name], out, "--method", "blend")
    assert result.rc == 0 and RESTART in result.stderr, result.stderr
    assert "input ended" not in result.stderr  # the container's duration spans the jump: no false shortfall
    assert len(read_video(out)) == 120
    lengths = durations(out)
    assert lengths["video"] == pytest.approx(2.0, abs=0.05)
    if "audio" in name:
        assert abs(lengths["audio"] - lengths["video"]) < 0.1, lengths


@pytest.mark.parametrize("name", ["ab.ts", "ab_audio.ts"])
def test_concatenated_segments_from_a_pipe(run_cli, media, tmp_path, name, read_video):
    result = run_cli("upsample", "-", "out.mkv", "--method", "blend", "--input-format", "mpegts",
                     process=True, stdin=media[name].read_bytes())
    assert result.rc == 0 and RESTART in result.stderr, result.stderr
    assert len(read_video(tmp_path / "out.mkv")) == 120


def test_concatenated_segments_at_a_target_rate(run_cli, media, tmp_path, read_video):
    out = tmp_path / "out.mkv"
    result = run_cli("upsample", media["ab.ts"], out, "--method", "blend", "--fps", 60)
    assert result.rc == 0, result.stderr
    assert len(read_video(out)) == 120


def test_concatenated_segments_to_an_image_sequence(run_cli, media, tmp_path):
    result = run_cli("upsample", media["ab.ts"], tmp_path / "seq" / "%04d.png", "--method", "blend")
    assert result.rc == 0, result.stderr
    assert len(list((tmp_path / "seq").glob("*.png"))) == 120
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_duplicated_timestamps_are_dropped_with_a_count(run_cli, media, tmp_path, read_video):
    out = tmp_path / "out.mkv"
    result = run_cli("upsample", media["dup.mkv"], out, "--method", "blend")
    assert result.rc == 0, result.stderr
    assert "vidinterp: warning: 15 frames dropped: their time did not move forward" in result.stderr
    assert "input ended" not in result.stderr  # dropped frames were read, not missing
    assert len(read_video(out)) == 30


def test_a_small_step_back_is_not_a_restart_but_is_reported(run_cli, media, tmp_path, read_video):
    out = tmp_path / "out.mkv"
    result = run_cli("upsample", media["overlap.ts"], out, "--method", "blend")
    assert result.rc == 0, result.stderr
    assert "restart" not in result.stderr and "dropped: their time did not move forward" in result.stderr
    dropped = int(result.stderr.split("warning: ")[1].split(" frame")[0])
    assert len(read_video(out)) == 2 * (60 - dropped)


# -- the timeline on its own ------------------------------------------------------------------------------------
STEP = Fraction(1, 30)


def _times(start: float, count: int) -> list[Fraction]:
    return [Fraction(start) + k * STEP for k in range(count)]


@pytest.mark.parametrize(
    "times, discontinuous, placed, dropped, restarts",
    [
        (_times(0, 5), True, _times(0, 5), 0, 0),  # a plain clock
        (_times(0, 5) + _times(0, 3), True, _times(0, 8), 0, 1),  # restart: follows on
        (_times(0, 5) + _times(0, 3), False, _times(0, 5), 3, 0),  # not an MPEG-TS: dropped, counted
        (_times(0, 3) + _times(20, 2), True, _times(0, 5), 0, 1),  # a jump of 20 s ahead: closed up
        (_times(0, 3) + _times(5, 2), True, _times(0, 3) + _times(5, 2), 0, 0),  # 5 s ahead: a real gap
        (_times(0, 3) + [Fraction(1, 30)], True, _times(0, 3), 1, 0),  # a step back under 0.1 s: dropped
        ([Fraction(0), Fraction(0), STEP], True, [Fraction(0), STEP], 1, 0),  # a duplicate
        (_times(0, 5) + _times(0, 5) + _times(0, 5), True, _times(0, 15), 0, 2),  # two restarts
    ],
    ids=["plain", "restart", "restart-not-ts", "jump", "gap", "small-step-back", "duplicate", "two-restarts"],
)
def test_timeline(times, discontinuous, placed, dropped, restarts):
    timeline = Timeline(discontinuous)
    out = [t for t in (timeline.place(time, STEP) for time in times) if t is not None]
    assert out == placed and timeline.dropped == dropped and timeline.restarts == restarts


def test_timeline_leaves_long_gaps_of_sparse_streams():
    timeline = Timeline(True, follow_jumps=False)
    assert [timeline.place(Fraction(t), Fraction(1)) for t in (0, 30, 60)] == [0, 30, 60]
