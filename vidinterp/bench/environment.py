"""What machine and software a benchmark or `vidinterp doctor` runs on (shared so both report the same facts)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys

import torch


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else platform.processor())."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The speed-relevant instruction-set flags of the CPU (Linux /proc/cpuinfo; empty elsewhere)."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_fp16", "fma")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in wanted if flag in present]
    except OSError:
        pass
    return []


def hardware_info() -> dict:
    """CPU model and cores, torch's thread count, and the visible GPUs."""
    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append({"index": index, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                         "capability": f"{props.major}.{props.minor}"})
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "gpus": gpus,
    }


def cupy_version() -> str | None:
    """CuPy's version, or None when it does not import."""
    try:
        import cupy
    except Exception:  # noqa: BLE001 - a broken CuPy install is "not available" too
        return None
    return cupy.__version__


def nvcc_info() -> dict:
    """Where nvcc is and which release it is (None when absent)."""
    path = shutil.which("nvcc")
    if path is None and os.path.exists("/usr/local/cuda/bin/nvcc"):
        path = "/usr/local/cuda/bin/nvcc"
    if path is None:
        return {"path": None, "version": None}
    try:
        text = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return {"path": path, "version": None}
    match = re.search(r"release ([\d.]+)", text)
    return {"path": path, "version": match.group(1) if match else None}


def software_versions() -> dict:
    """Python, torch (and the CUDA it was built with), CuPy, PyAV."""
    try:
        import av

        av_version = av.__version__
    except Exception:  # noqa: BLE001
        av_version = None
    try:
        import cv2

        opencv_version = cv2.__version__
    except Exception:  # noqa: BLE001
        opencv_version = None
    ffmpeg = shutil.which("ffmpeg")
    ffmpeg_version = None
    if ffmpeg is not None:
        try:
            first = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, timeout=20, check=False).stdout
            ffmpeg_version = first.splitlines()[0] if first else None
        except (OSError, subprocess.SubprocessError):
            pass
    return {
        "python": sys.version.split()[0],
        "opencv": opencv_version,
        "ffmpeg": ffmpeg_version,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cupy": cupy_version(),
        "pyav": av_version,
    }
