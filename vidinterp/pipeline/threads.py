"""Overlapping decode, interpolation and encode: three stages joined by bounded queues.

Decoding and encoding (PyAV) release the GIL, so running them on their own threads hides most of their cost
behind the interpolator. The queues are bounded so a fast decoder cannot fill memory ahead of a slow model.

Failure rules: the first exception in any stage stops every stage and is re-raised in the caller as it was raised
(not wrapped), so `VidinterpError`s keep their one-line messages. When the decoder fails, the processing stage sees
an abort, not a normal end of input, so nothing downstream mistakes a truncated stream for a finished one.
Worker threads are daemons and poll a stop event, so Ctrl-C in the caller cannot leave the process hanging.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import sys
import threading
import time
from typing import Callable, Iterable, Iterator, TypeVar

import torch

from vidinterp.execution.settings import MALLOC_ARENAS, Settings, usable_cores

log = logging.getLogger(__name__)

__all__ = ["MALLOC_ARENAS", "configure_torch_threads", "limit_malloc_arenas", "run_threaded", "usable_cores"]

A = TypeVar("A")
B = TypeVar("B")

_POLL_SECONDS = 0.05
_JOIN_SECONDS = 2.0  # how long the caller waits, in all, for stuck stages after a failure
_END = object()  # end-of-stream marker on a queue


class _Aborted(Exception):
    """Raised into the processing stage when another stage failed; never reaches the caller."""


class _Stages:
    """Shared state of one `run_threaded` call: the stop event and the first error."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop.set()

    def put(self, q: queue.Queue, item: object) -> bool:
        """Put unless stopped; False if the run was stopped first."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue) -> object:
        """Next item, or raise _Aborted once the run is stopped."""
        while not self.stop.is_set():
            try:
                return q.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
        raise _Aborted


def run_threaded(
    source: Iterable[A],
    process: Callable[[Iterable[A]], Iterable[B]],
    sink: Callable[[B], None],
    queue_size: int = 8,
) -> None:
    """Run `sink(result)` for every result of `process(source)`, with `source` and `sink` on their own threads.

    source: iterated on a reader thread (decoding). process: runs on the calling thread, pulling inputs lazily.
    sink: called on a writer thread, in order (encoding). Returns when the sink has taken the last result.
    """
    if queue_size < 1:
        raise ValueError("queue_size must be at least 1")
    stages = _Stages()
    inputs: queue.Queue = queue.Queue(queue_size)
    results: queue.Queue = queue.Queue(queue_size)

    def read() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not stages.put(inputs, item):
                    return
            stages.put(inputs, _END)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller unchanged
            stages.fail(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - the run's outcome is decided already
                    pass

    def write() -> None:
        try:
            while (item := stages.get(results)) is not _END:
                sink(item)
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001
            stages.fail(exc)

    def pulled() -> Iterator[A]:
        while (item := stages.get(inputs)) is not _END:
            yield item

    reader = threading.Thread(target=read, name="vidinterp-decode", daemon=True)
    writer = threading.Thread(target=write, name="vidinterp-encode", daemon=True)
    try:
        # Started inside the try: a Ctrl-C landing between the two starts must still stop the first thread
        # (a decoder left running would read a container the caller is about to close).
        reader.start()
        writer.start()
        for result in process(pulled()):
            if not stages.put(results, result):
                raise _Aborted
        if stages.put(results, _END):
            while writer.is_alive():  # join in slices so Ctrl-C is still delivered
                writer.join(_POLL_SECONDS)
    except _Aborted:
        pass
    except BaseException as exc:
        stages.fail(exc)
    finally:
        if stages.error is not None:
            stages.stop.set()
        # The writer ends on its own after _END; otherwise the stop event releases both within one poll.
        deadline = time.monotonic() + _JOIN_SECONDS
        for thread in (reader, writer):
            if thread.ident is not None:  # started
                thread.join(max(0.0, deadline - time.monotonic()))
    if stages.error is not None:
        raise stages.error


_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def limit_malloc_arenas(count: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas at `count` (see `MALLOC_ARENAS`; before the decode/encode threads start); False
    where not glibc, for 0, or when the user set glibc's own MALLOC_ARENA_MAX."""
    if count <= 0 or "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError on musl and other C libraries
        done = libc.mallopt(_M_ARENA_MAX, count) == 1
    except (OSError, AttributeError):
        return False
    log.debug("malloc arenas capped at %d: %s", count, "done" if done else "refused by the C library")
    return done


def configure_torch_threads(settings: Settings) -> int:
    """Give CPU inference the settings' threads (resolved: every core this process may run on unless set) and cap
    glibc's malloc arenas (`limit_malloc_arenas`), which bounds the memory the decoder, encoder and torch threads
    keep; returns the thread count (call once per run: the CLI does). Not done at import time: importing a library
    should not change the process's threading. On CUDA the model runs on the GPU, so the torch CPU pool is left
    alone."""
    if not settings.resolved:  # resolving is the interpolator layer's job, above this module
        raise ValueError("configure_torch_threads takes resolved settings (vidinterp.interpolators.runtime."
                         "resolve_settings)")
    if settings.device.type != "cpu":
        return torch.get_num_threads()
    limit_malloc_arenas(settings.malloc_arenas)
    torch.set_num_threads(settings.threads)
    return torch.get_num_threads()
