"""run_threaded: results in order, errors from any stage reach the caller unchanged, no thread outlives the call."""

from __future__ import annotations

import itertools
import os
import threading
import time

import pytest
import torch

from vidinterp.execution.settings import build_settings
from vidinterp.interpolators.runtime import resolve_settings
from vidinterp.pipeline import configure_torch_threads, run_threaded


def cpu_run(**changes):
    """Resolved settings for a CPU run that sets its threads (every usable core unless threads is given)."""
    return resolve_settings(build_settings(method="blend", device="cpu", **changes))


class StageError(Exception):
    """A failure planted in one stage."""


def worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("vidinterp-") and t.is_alive()]


@pytest.fixture(autouse=True)
def no_leftover_threads():
    yield
    # Generous: the threads end as soon as they see the stop; only a failing run waits this long.
    deadline = time.monotonic() + 60
    while worker_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker_threads() == []


def doubled(items):
    for item in items:
        yield 2 * item


def test_results_arrive_in_order():
    out = []
    run_threaded(range(500), doubled, out.append, queue_size=4)
    assert out == [2 * i for i in range(500)]


def test_source_does_not_run_far_ahead_of_a_slow_sink():
    pulled = []
    lead = []

    def source():
        for i in range(60):
            pulled.append(i)
            yield i

    def sink(item):
        lead.append(len(pulled) - item)
        time.sleep(0.002)

    run_threaded(source(), doubled, lambda x: sink(x // 2), queue_size=3)
    # bounded queues: decode stays at most two queues (plus the items in hand) ahead of encode
    assert max(lead) <= 2 * 3 + 4


def test_failing_source_raises_original_and_process_sees_no_normal_end():
    error = StageError("decoder broke")
    finished_normally = []

    def source():
        yield from range(5)
        raise error

    def process(items):
        for item in items:
            yield item
        finished_normally.append(True)  # a truncated input must not look like a complete one

    with pytest.raises(StageError) as caught:
        run_threaded(source(), process, lambda item: None)
    assert caught.value is error
    assert finished_normally == []


def test_failing_sink_stops_an_endless_source():
    error = StageError("encoder broke")
    calls = []
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield i

    def sink(item):
        calls.append(item)
        if len(calls) == 10:
            raise error

    with pytest.raises(StageError) as caught:
        run_threaded(endless(), doubled, sink, queue_size=2)
    assert caught.value is error
    # The source stopped soon after the failure: only what the two bounded queues and the stages hold was read.
    assert len(pulled) <= 10 + 2 * 2 + 4


def test_failing_process_raises_and_stops_workers():
    def process(items):
        for item in items:
            if item == 20:
                raise StageError("model broke")
            yield item

    with pytest.raises(StageError, match="model broke"):
        run_threaded(itertools.count(), process, lambda item: None)


def test_keyboard_interrupt_in_the_caller_stops_everything():
    def process(items):
        for item in items:
            if item == 50:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        run_threaded(itertools.count(), process, lambda item: time.sleep(0.001))


def test_stuck_sink_does_not_hang_the_caller_when_the_source_fails():
    release = threading.Event()
    sink_done = threading.Event()

    def sink(item):
        release.wait(600)  # a stuck encoder: freed below, once the caller has its error
        sink_done.set()

    def source():
        yield from range(3)
        raise StageError("decoder broke")

    try:
        with pytest.raises(StageError, match="decoder broke"):
            run_threaded(source(), doubled, sink, queue_size=1)
        assert not sink_done.is_set()  # the error came back while the sink was still stuck: nobody waited for it
    finally:
        release.set()  # let the daemon thread finish so the autouse check sees it gone


def test_configure_torch_threads_uses_every_core_the_process_may_run_on(monkeypatch):
    before = torch.get_num_threads()
    try:
        if hasattr(os, "sched_getaffinity"):
            monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})  # as under `taskset -c 0-2`
            assert configure_torch_threads(cpu_run()) == 3 and torch.get_num_threads() == 3
            monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5})
            assert configure_torch_threads(cpu_run()) == 1 and torch.get_num_threads() == 1
        assert configure_torch_threads(cpu_run(threads=2)) == 2  # the settings' own count
        torch.set_num_threads(2)
        meta = cpu_run().replace(device=torch.device("meta"), threads=1, resolved=True)
        assert configure_torch_threads(meta) == 2  # not the CPU: the pool is left alone
        with pytest.raises(ValueError, match="resolved"):
            configure_torch_threads(build_settings(method="blend", device="cpu"))
    finally:
        torch.set_num_threads(before)


def test_malloc_arenas_are_capped_unless_overridden(monkeypatch):
    import sys

    from vidinterp.pipeline import threads

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # the user's own glibc setting wins
    assert threads.limit_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setenv("VIDINTERP_MALLOC_ARENAS", "0")
    assert build_settings().malloc_arenas == 0
    assert threads.limit_malloc_arenas(build_settings().malloc_arenas) is False
    monkeypatch.delenv("VIDINTERP_MALLOC_ARENAS")
    if sys.platform.startswith("linux"):
        import platform

        expected = platform.libc_ver()[0] == "glibc"
        assert threads.limit_malloc_arenas() is expected
