"""How a model runs on its device: precision, memory layout and (optionally) torch.compile, decided once.

Each choice is detected once per process, logged at debug level and can be overridden:

* precision (`precision=` or `VIDINTERP_PRECISION=auto|fp32|bf16|fp16`): "auto" is bf16 on CPUs with AMX,
  fp16 on CUDA when `--fp16` asks for it, and fp32 everywhere else. "bf16" runs the model under bfloat16
  autocast (oneDNN kernels on CPUs with AMX or AVX512-BF16; refused elsewhere, where it would be slower);
  "fp16" casts the model to half precision (CUDA only). The README gives bf16's measured cost in dB (within
  0.01 dB of fp32 on every eval set with the shipped model) and gain in speed.
* channels_last (`VIDINTERP_CHANNELS_LAST=auto|0|1`): NHWC weights and frames. "auto" turns it on for bf16 on
  the CPU, where oneDNN's bf16 convolutions measured faster with it; fp32 and CUDA stay NCHW.
* compile (`VIDINTERP_COMPILE=0|1`, off by default): `torch.compile` of motion estimation and synthesis.
  Inductor needs a C++ compiler on the CPU: without one, or when compiling fails, the model runs eagerly (said
  once at debug level). Compiled kernels are cached under `~/.cache/vidinterp/inductor` between runs.
* render (`VIDINTERP_RENDER=auto|opencv|torch`): how a frame made at a reduced working size is applied to the
  full-size frames. "auto" is OpenCV's resize and remap on the CPU (`vidinterp.models.render`, 0.35-0.4× the
  time of the PyTorch ops at 720p and 1080p, within 0.005 of an 8-bit level of them) and the model's own PyTorch
  `FrameSynthesizer.render` on CUDA, where the frames already are.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vidinterp.errors import UsageError
from vidinterp.methods import PRECISIONS

log = logging.getLogger(__name__)

_SWITCHES = {"auto": None, "": None, "0": False, "off": False, "false": False, "1": True, "on": True, "true": True}


@functools.cache
def cpu_bf16_hardware() -> str | None:
    """The bfloat16 matrix hardware of this CPU that oneDNN uses: "amx", "avx512_bf16", or None."""
    cpu = getattr(torch, "cpu", None)

    def has(probe: str) -> bool:
        return bool(getattr(cpu, probe, lambda: False)())

    found = None
    if torch.backends.mkldnn.is_available():
        if has("_is_amx_tile_supported"):
            found = "amx"
        elif has("_is_avx512_bf16_supported"):
            found = "avx512_bf16"
    log.debug("CPU bfloat16 hardware: %s", found or "none")
    return found


def cpu_has_fast_bf16() -> bool:
    """Whether bf16 can run on this CPU's matrix hardware (AMX tiles or AVX512-BF16)."""
    return cpu_bf16_hardware() is not None


@functools.cache
def cpp_compiler() -> str | None:
    """The C++ compiler inductor would use on the CPU, or None when there is none."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _switch(variable: str) -> bool | None:
    value = os.environ.get(variable, "auto").strip().lower()
    if value not in _SWITCHES:
        raise UsageError(f"{variable}={value!r} is not understood; use auto, 0 or 1")
    return _SWITCHES[value]


def resolve_precision(device: torch.device, precision: str | None = None, fp16: bool = False) -> str:
    """The precision the model runs in on `device`: "fp32", "bf16" or "fp16" (see the module docstring)."""
    requested = (precision or os.environ.get("VIDINTERP_PRECISION") or "auto").strip().lower()
    if requested not in PRECISIONS:
        raise UsageError(f"unknown precision {requested!r}; choose one of: {', '.join(PRECISIONS)}")
    if requested == "auto":
        if device.type == "cuda":
            return "fp16" if fp16 else "fp32"
        # bf16 costs at most 0.01 dB on the eval sets with the shipped model (within the 0.1 dB bound, see the
        # README); on by default only where it was measured faster: AMX. AVX512-BF16 alone: opt-in.
        return "bf16" if device.type == "cpu" and cpu_bf16_hardware() == "amx" else "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise UsageError("fp16 runs only on CUDA (CPU half-precision convolutions are slow); use bf16 or fp32")
    if requested == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        raise UsageError("bf16 needs a CPU with AMX or AVX512-BF16 to be faster; this one has neither, use fp32")
    return requested


@dataclass(frozen=True)
class Runtime:
    """The decided settings for one model on one device; `prepare` the model once, run calls in `context()`."""

    device: torch.device
    precision: str
    channels_last: bool
    compile: bool
    #: render full-size frames with OpenCV (CPU only) rather than with the model's PyTorch ops
    opencv_render: bool = False

    @classmethod
    def decide(cls, device: torch.device, precision: str | None = None, fp16: bool = False) -> Runtime:
        """Detect and apply the overrides for `device` (see the module docstring), and log the result."""
        device = torch.device(device)
        chosen = resolve_precision(device, precision, fp16)
        layout = _switch("VIDINTERP_CHANNELS_LAST")
        compile_ = bool(_switch("VIDINTERP_COMPILE"))
        if compile_ and device.type == "cpu" and cpp_compiler() is None:
            log.debug("torch.compile asked for, but there is no C++ compiler for inductor: running eagerly")
            compile_ = False
        # channels_last by default only where it measured faster: bf16 on the CPU (oneDNN's bf16 convolutions
        # want NHWC; in fp32 it was no faster than NCHW on our machine).
        default_layout = device.type == "cpu" and chosen == "bf16"
        render = os.environ.get("VIDINTERP_RENDER", "auto").strip().lower() or "auto"
        if render not in ("auto", "opencv", "torch"):
            raise UsageError(f"VIDINTERP_RENDER={render!r} is not understood; use auto, opencv or torch")
        if render == "opencv" and device.type != "cpu":
            raise UsageError("VIDINTERP_RENDER=opencv renders on the CPU only; use auto or torch on CUDA")
        opencv_render = device.type == "cpu" and render != "torch"
        runtime = cls(device, chosen, default_layout if layout is None else layout, compile_, opencv_render)
        log.debug("model runtime on %s: %s, channels_last %s, compile %s, render %s", device, runtime.precision,
                  runtime.channels_last, runtime.compile, "opencv" if opencv_render else "torch")
        return runtime

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the model's weights and input frames are kept in (autocast handles bf16)."""
        return torch.float16 if self.precision == "fp16" else torch.float32

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move `model` to the device, dtype and memory layout of this runtime, in eval mode."""
        model = model.to(device=self.device, dtype=self.dtype).eval()
        if self.channels_last:
            # Only 4-D tensors have a channels-last layout (nn.Module.to would refuse the other buffers).
            for tensor in (*model.parameters(), *model.buffers()):
                if tensor.dim() == 4:
                    tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        return model

    def frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Input frames in the runtime's layout."""
        return frames.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)

    def context(self) -> contextlib.AbstractContextManager:
        """Autocast for bf16, nothing otherwise."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def compiled(self, function: Callable) -> Callable:
        """`function` through torch.compile when this runtime compiles, falling back to eager on any failure."""
        if not self.compile:
            return function
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path.home() / ".cache" / "vidinterp" / "inductor"))
        compiled = torch.compile(function, dynamic=False)
        state = {"call": compiled}

        @functools.wraps(function)
        def call(*args, **kwargs):
            try:
                return state["call"](*args, **kwargs)
            except Exception as exc:
                if state["call"] is function:
                    raise
                log.debug("torch.compile failed (%s: %s); running eagerly", type(exc).__name__, exc)
                state["call"] = function
                return function(*args, **kwargs)

        return call
