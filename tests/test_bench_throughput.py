"""The throughput benchmark's process measurements: each contender's own figures, not its parent's."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vidinterp.bench.throughput import run_once


def test_peak_memory_is_the_contenders_own_not_the_benchmarks():
    ballast = np.ones(300 * 2**20 // 8)  # this process holds 300 MB, as a benchmark with a model loaded does
    small = run_once([sys.executable, "-c", "pass"])
    large = run_once([sys.executable, "-c", "import numpy; a = numpy.ones(200 * 2**20 // 8)"])
    assert ballast.sum() > 0
    assert small["peak_rss_mb"] < 100 and 200 < large["peak_rss_mb"] < 300
    assert small["seconds"] > 0 and large["user_s"] + large["sys_s"] > 0


def test_a_failing_contender_is_one_error_with_its_message():
    with pytest.raises(RuntimeError, match="exited 3: .*bad input"):
        run_once([sys.executable, "-c", "import sys; sys.stderr.write('bad input'); sys.exit(3)"])
