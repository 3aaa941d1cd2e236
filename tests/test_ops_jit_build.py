"""The just-in-time build of the CUDA kernels, without a GPU: its lock, its messages and its cache key."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import torch

from vidinterp.execution.settings import build_lock_timeout
from vidinterp.ops import build_lock, cuda_backend


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_left_by_a_killed_build_is_removed_not_waited_on(tmp_path, caplog):
    owner = tmp_path / build_lock.OWNER_FILE
    owner.write_text(f"{socket.gethostname()} {_dead_pid()} {time.time()}\n")
    (tmp_path / build_lock.TORCH_LOCK_FILE).write_text("")  # torch's FileBaton lock, which it waits on forever
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="vidinterp.ops.build_lock"):
        with build_lock.build_lock(tmp_path, timeout_s=30):
            assert not (tmp_path / build_lock.TORCH_LOCK_FILE).exists()
            assert owner.read_text().split()[1] == str(os.getpid())
    assert time.monotonic() - start < 5
    assert not owner.exists()
    assert any("stale" in r.getMessage() for r in caplog.records)


def test_a_lock_held_too_long_fails_with_a_clear_message(tmp_path):
    owner = tmp_path / build_lock.OWNER_FILE
    owner.write_text(f"{socket.gethostname()} {os.getppid()} {time.time()}\n")  # a live process
    start = time.monotonic()
    with pytest.raises(build_lock.BuildLockTimeout, match=r"delete that file") as caught:
        with build_lock.build_lock(tmp_path, timeout_s=0.3, poll_s=0.05):
            pass
    assert str(owner) in str(caught.value) and f"pid {os.getppid()}" in str(caught.value)
    assert time.monotonic() - start < 5
    assert owner.exists()  # a live owner's lock is never taken away


def test_an_unreadable_lock_counts_as_stale_only_once_old(tmp_path):
    owner = tmp_path / build_lock.OWNER_FILE
    owner.write_text("")
    with pytest.raises(build_lock.BuildLockTimeout):
        with build_lock.build_lock(tmp_path, timeout_s=0.2, poll_s=0.05):
            pass
    old = time.time() - 3600
    os.utime(owner, (old, old))
    with build_lock.build_lock(tmp_path, timeout_s=60):
        pass


def test_two_builders_take_turns(tmp_path):
    inside, overlaps = [], []

    def build():
        with build_lock.build_lock(tmp_path, timeout_s=30, poll_s=0.01):
            if inside:
                overlaps.append(True)
            inside.append(True)
            time.sleep(0.1)
            inside.pop()

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlaps


def test_bad_timeout_setting_is_reported(monkeypatch):
    monkeypatch.setenv("VIDINTERP_BUILD_LOCK_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="VIDINTERP_BUILD_LOCK_TIMEOUT"):
        build_lock_timeout()


def test_the_cache_key_includes_gpu_architecture_and_versions(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDINTERP_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (9, 0))
    hopper = cuda_backend.cache_dir()
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (8, 6))
    ampere = cuda_backend.cache_dir()
    assert hopper != ampere and "sm90" in hopper.name and "sm86" in ampere.name
    assert torch.__version__.replace("+", "_") in hopper.name and f"cuda{torch.version.cuda}" in hopper.name
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.0;9.0+PTX")
    assert cuda_backend.cache_dir().name.endswith("-arch8.0_9.0_PTX")


def test_a_build_is_announced_once_with_its_duration(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("VIDINTERP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cuda_backend, "_jit", {"loaded": False, "error": None})
    monkeypatch.setattr(cuda_backend, "_kernels_registered", lambda: False)
    monkeypatch.setattr(cuda_backend, "toolkit_status", lambda: (True, "stub"))
    from torch.utils import cpp_extension

    builds = []

    def fake_load(name, build_directory, **kwargs):
        builds.append(build_directory)
        (tmp_path / "marker").write_text("")
        (cuda_backend.cache_dir() / f"{name}.so").write_text("")

    monkeypatch.setattr(cpp_extension, "load", fake_load)
    with caplog.at_level(logging.INFO, logger="vidinterp.ops.cuda_backend"):
        cuda_backend.load_kernels()
        cuda_backend.load_kernels()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(builds) == 1
    assert len([m for m in messages if m.startswith("building the CUDA kernels")]) == 1
    assert len([m for m in messages if m.startswith("built the CUDA kernels in")]) == 1
    assert not (cuda_backend.cache_dir() / build_lock.OWNER_FILE).exists()
