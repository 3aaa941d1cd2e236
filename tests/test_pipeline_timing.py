"""RetimeOptions validation, output rates and the interval planner (which output time comes from which pair)."""

from fractions import Fraction

import numpy as np
import pytest

from vidinterp.errors import UsageError
from vidinterp.io.frames import VideoFrame
from vidinterp.pipeline import RetimeOptions, output_rate, parse_rate
from vidinterp.pipeline.timing import plan_intervals

NTSC = Fraction(30000, 1001)


def frames_at(times):
    image = np.zeros((4, 4, 3), np.uint8)
    return [VideoFrame(image, Fraction(time), i) for i, time in enumerate(times)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"factor": 2, "fps": Fraction(60)},
        {"factor": 1},
        {"factor": 0},
        {"factor": 2.5},
        {"factor": True},
        {"fps": 0},
        {"fps": Fraction(-24)},
        {"factor": 2, "batch_size": 0},
        {"factor": 2, "scene_cut": "cut"},
        {"factor": 2, "scene_threshold": 0},
        {"fps": "fast"},
    ],
)
def test_bad_options_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        RetimeOptions(**kwargs)


def test_parse_rate():
    assert parse_rate("60") == 60
    assert parse_rate("30000/1001") == NTSC
    assert parse_rate("59.94") == Fraction(60000, 1001)
    assert parse_rate("23.976") == Fraction(24000, 1001)
    assert parse_rate("12.5") == Fraction(25, 2)
    assert RetimeOptions(fps="59.94").fps == Fraction(60000, 1001)


def test_output_rate_is_exact():
    assert output_rate(RetimeOptions(factor=4), NTSC) == Fraction(120000, 1001)
    assert output_rate(RetimeOptions(factor=2), Fraction(24)) == 48
    assert output_rate(RetimeOptions(fps=Fraction(60000, 1001)), Fraction(24)) == Fraction(60000, 1001)


def test_factor_plan_holds_last_frame():
    plan = list(plan_intervals(frames_at([0, Fraction(1, 10), Fraction(3, 10)]), RetimeOptions(factor=2)))
    assert [(iv.frame0.index, iv.frame1 and iv.frame1.index) for iv in plan] == [(0, 1), (1, 2), (2, None)]
    assert [[(s.time, s.t) for s in iv.slots] for iv in plan] == [
        [(0, 0), (Fraction(1, 20), Fraction(1, 2))],
        [(Fraction(1, 10), 0), (Fraction(2, 10), Fraction(1, 2))],
        # held with the last interval (0.2 s)
        [(Fraction(3, 10), 0), (Fraction(4, 10), 0)],
    ]


def test_fps_plan_snaps_millisecond_timestamps():
    # 29.97 fps stored with a 1 ms time base (Matroska): PTS are rounded, yet the 29.97 output grid should hit
    # every input frame and interpolate nothing.
    times = [Fraction(round(i * 1000 / NTSC), 1000) for i in range(30)]
    slots = [s for iv in plan_intervals(frames_at(times), RetimeOptions(fps=NTSC)) for s in iv.slots]
    assert len(slots) == 30
    assert all(s.t in (0, 1) for s in slots)


def test_broken_timestamps_are_skipped():
    times = [0, Fraction(1, 10), Fraction(1, 10), Fraction(1, 20), Fraction(2, 10)]
    plan = list(plan_intervals(frames_at(times), RetimeOptions(factor=2)))
    assert [iv.frame0.index for iv in plan] == [0, 1, 4]


def test_single_frame_uses_input_rate():
    plan = list(plan_intervals(frames_at([0]), RetimeOptions(factor=3), input_rate=Fraction(25)))
    assert [s.time for s in plan[0].slots] == [0, Fraction(1, 75), Fraction(2, 75)]
    plan = list(plan_intervals(frames_at([0]), RetimeOptions(fps=Fraction(100)), input_rate=Fraction(25)))
    assert [s.time for s in plan[0].slots] == [0, Fraction(1, 100), Fraction(2, 100), Fraction(3, 100)]


def test_empty_input_plans_nothing():
    assert list(plan_intervals([], RetimeOptions(factor=2))) == []
