"""The compiled CUDA backend: `torch.ops.vidinterp.*` with the kernels of csrc/ registered for CUDA.

The kernels come from the extension built by setup.py (`vidinterp._C`) or, when that was not built, from a
just-in-time build with `torch.utils.cpp_extension.load` (ninja + nvcc) on first use, cached under
`$VIDINTERP_CACHE_DIR` or `~/.cache/vidinterp` per torch, CUDA and GPU architecture. Builds are serialised
between processes by `vidinterp.ops.build_lock` (a lock left by a killed build is removed, not waited on
forever). float64 CUDA tensors have no kernel and use the PyTorch backend.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

import torch

from vidinterp.execution.settings import op_cache_root
from vidinterp.ops import library, torch_backend
from vidinterp.ops.build_lock import build_lock
from vidinterp.ops.sources import csrc_dir

NAME = "cuda"
JIT_SOURCES = ("warp_cuda.cu", "correlation_cuda.cu")  # the schemas come from library.py on this path
JIT_NAME = "vidinterp_cuda_kernels"

log = logging.getLogger(__name__)

_lock = threading.Lock()
_jit: dict[str, object] = {"loaded": False, "error": None}


def arch_tag() -> str:
    """The GPU architectures a just-in-time build targets: TORCH_CUDA_ARCH_LIST when set, else what torch compiles
    for by default (the visible GPUs' compute capabilities). A build for sm_80 must not be reused on sm_90."""
    requested = os.environ.get("TORCH_CUDA_ARCH_LIST", "").strip()
    if requested:
        return "arch" + re.sub(r"[^0-9A-Za-z.+]+", "_", requested)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    capabilities = sorted({torch.cuda.get_device_capability(i) for i in range(count)})
    return "sm" + "_".join(f"{major}{minor}" for major, minor in capabilities) if capabilities else "sm_none"


def cache_dir() -> Path:
    """Where just-in-time builds are kept between runs: one folder per torch, CUDA and GPU architecture set."""
    tag = f"torch{torch.__version__}-cuda{torch.version.cuda}-{arch_tag()}".replace("+", "_")
    return op_cache_root() / "extensions" / tag


def toolkit_status() -> tuple[bool, str]:
    """Whether a just-in-time build is possible here (CUDA build of torch, nvcc, ninja), and why not."""
    if torch.version.cuda is None:
        return False, f"torch {torch.__version__} is a CPU-only build"
    from torch.utils import cpp_extension

    if cpp_extension.CUDA_HOME is None:
        return False, "no CUDA toolkit found (set CUDA_HOME or put nvcc on PATH)"
    if shutil.which("ninja") is None:
        return False, "ninja is not installed (pip install ninja)"
    return True, f"nvcc in {cpp_extension.CUDA_HOME}"


def _kernels_registered() -> bool:
    return torch._C._dispatch_has_kernel_for_dispatch_key("vidinterp::backward_warp", "CUDA")


def load_kernels() -> None:
    """Make sure the CUDA kernels are registered: prebuilt extension, else a cached just-in-time build."""
    if _jit["loaded"]:  # the per-call fast path: no lock once the kernels are in
        return
    library.ensure_registered()
    with _lock:
        if _kernels_registered():
            _jit["loaded"] = True
            return
        if _jit["error"] is not None:
            raise RuntimeError(str(_jit["error"]))
        ok, reason = toolkit_status()
        if not ok:
            _jit["error"] = f"extension not prebuilt and cannot be built here: {reason}"
            raise RuntimeError(str(_jit["error"]))
        from torch.utils import cpp_extension

        build_dir = cache_dir()
        try:
            with build_lock(build_dir):
                _build_and_load(cpp_extension, build_dir)
        except Exception as exc:  # noqa: BLE001 - recorded so doctor and later calls can say why
            _jit["error"] = f"just-in-time build failed: {exc}"
            raise RuntimeError(str(_jit["error"])) from exc
        _jit["loaded"] = True


def _build_and_load(cpp_extension, build_dir: Path) -> None:
    """cpp_extension.load, saying at info level when it compiles (a minute of silence looks like a hang)."""
    compiled_before = any(build_dir.glob(f"{JIT_NAME}*.so"))
    if not compiled_before:
        log.info("building the CUDA kernels (first use with this torch and GPU; a minute or two) in %s", build_dir)
    start = time.monotonic()
    cpp_extension.load(
        name=JIT_NAME,
        sources=[str(csrc_dir() / name) for name in JIT_SOURCES],
        extra_include_paths=[str(csrc_dir())],
        build_directory=str(build_dir),
        is_python_module=False,
        verbose=False,
    )
    if not compiled_before:
        log.info("built the CUDA kernels in %.0f s", time.monotonic() - start)


def availability() -> tuple[bool, str]:
    """Available when a GPU is visible and the kernels are prebuilt or buildable (no build is started here)."""
    if not torch.cuda.is_available():
        return False, "no CUDA GPU visible to torch"
    library.ensure_registered()
    if _kernels_registered():
        return True, "kernels loaded"
    prebuilt, why = library.prebuilt_status()
    ok, reason = toolkit_status()
    if not ok:
        return False, f"extension not prebuilt ({why}) and no just-in-time build: {reason}"
    if _jit["error"] is not None:
        return False, str(_jit["error"])
    return True, "will build just in time on first use"


def backward_warp(image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
    """Warp with the CUDA kernels (float64 falls back to the PyTorch backend)."""
    if image.dtype == torch.float64:
        return torch_backend.backward_warp(image, flow, padding)
    load_kernels()
    return library.backward_warp(image, flow, padding)


def correlation(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
    """Correlation with the CUDA kernels (float64 falls back to the PyTorch backend)."""
    if f0.dtype == torch.float64:
        return torch_backend.correlation(f0, f1, max_displacement)
    load_kernels()
    return library.correlation(f0, f1, max_displacement)
