"""Build script: the pure-Python package always; the C++/CUDA operator extension `vidinterp._C` when it can be built.

pyproject.toml holds the metadata. The extension is built only when torch is importable at build time, is a CUDA
build, and a CUDA toolkit is found; `VIDINTERP_BUILD_CUDA=1` requires it (failing clearly otherwise) and
`VIDINTERP_BUILD_CUDA=0` skips it. With pip's default build isolation torch is not importable here, so
`pip install .` gives the pure-Python package; build the extension with
`VIDINTERP_BUILD_CUDA=1 pip install --no-build-isolation .` (or let vidinterp build it just in time on first use).
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CSRC = Path("csrc")
# What the run-time builds need (the JIT extension build and CuPy's NVRTC): shipped in the wheel as
# vidinterp/ops/csrc/, where vidinterp.ops.sources looks first.
RUNTIME_SOURCES = ("ops.cpp", "warp_cuda.cu", "correlation_cuda.cu", "launch.h", "kernels/*.cuh")
SOURCES = ["ops.cpp", "warp_cuda.cu", "correlation_cuda.cu"]


def cuda_build_wanted() -> bool:
    """Decide whether to build the CUDA extension; raise SystemExit when it was required but cannot be built."""
    flag = os.environ.get("VIDINTERP_BUILD_CUDA", "").strip()
    if flag == "0":
        return False
    required = flag == "1"
    try:
        import torch
        from torch.utils.cpp_extension import CUDA_HOME
    except ImportError:
        if required:
            raise SystemExit(
                "VIDINTERP_BUILD_CUDA=1 needs torch importable at build time: pip install --no-build-isolation ."
            ) from None
        return False
    problems = []
    if torch.version.cuda is None:
        problems.append(f"torch {torch.__version__} is a CPU-only build")
    if CUDA_HOME is None:
        problems.append("no CUDA toolkit found (set CUDA_HOME or put nvcc on PATH)")
    if problems and required:
        raise SystemExit("VIDINTERP_BUILD_CUDA=1 but the CUDA extension cannot be built: " + "; ".join(problems))
    return not problems


class BuildPyWithKernels(build_py):
    """build_py that also copies the C++/CUDA sources from csrc/ into the package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "vidinterp" / "ops" / "csrc"
        for pattern in RUNTIME_SOURCES:
            for source in sorted(CSRC.glob(pattern)):
                destination = target / source.relative_to(CSRC)
                self.mkpath(str(destination.parent))
                self.copy_file(str(source), str(destination))


def extension_kwargs() -> dict:
    if not cuda_build_wanted():
        return {"cmdclass": {"build_py": BuildPyWithKernels}}
    from torch.utils.cpp_extension import BuildExtension, CUDAExtension

    extension = CUDAExtension(
        name="vidinterp._C",
        sources=[str(CSRC / name) for name in SOURCES],
        include_dirs=[str(CSRC.resolve())],
        extra_compile_args={"cxx": ["-O3"], "nvcc": ["-O3", "--expt-relaxed-constexpr"]},
    )
    return {"ext_modules": [extension], "cmdclass": {"build_ext": BuildExtension, "build_py": BuildPyWithKernels}}


setup(**extension_kwargs())
