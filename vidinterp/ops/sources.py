"""Where the C++/CUDA sources are: the repository's top-level csrc/, or the copy that setup.py puts in the wheel.

The just-in-time CUDA build and the CuPy backend compile these files at run time, so an installed package carries
them under vidinterp/ops/csrc (copied there by setup.py's build step); a source checkout uses csrc/ directly.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "csrc"
_CHECKOUT = Path(__file__).resolve().parents[2] / "csrc"


def csrc_dir() -> Path:
    """The folder holding ops.cpp, the .cu glue and kernels/*.cuh (packaged copy first, then the checkout)."""
    for candidate in (_PACKAGED, _CHECKOUT):
        if (candidate / "kernels").is_dir():
            return candidate
    return _PACKAGED  # callers report the missing files with this path


def kernel_dir() -> Path:
    """The torch-free kernel headers (*.cuh)."""
    return csrc_dir() / "kernels"
