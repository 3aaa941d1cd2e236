"""How a model runs on its device: the machine-dependent half of the settings, decided once, and applied.

`resolve_settings` turns the `Settings` a user asked for (`vidinterp.execution.settings`: options, then
`VIDINTERP_*` variables, then defaults) into the ones this machine runs, once per run, logged at debug level:

* device: "auto" is the first CUDA GPU if there is one, else the CPU.
* precision: "auto" is bf16 on CPUs with AMX and fp32 everywhere else. "bf16" runs the model under bfloat16
  autocast (oneDNN kernels on CPUs with AMX or AVX512-BF16; refused elsewhere, where it would be slower); "fp16"
  (also `--fp16`) casts the model, or the blend, to half precision (CUDA only, refused elsewhere). The README
  gives bf16's measured cost in dB (within 0.01 dB of fp32 on every eval set with the shipped model) and gain in
  speed.
* channels_last (auto): NHWC weights and frames for bf16 on the CPU, where oneDNN's bf16 convolutions measured
  faster with it; fp32 and CUDA stay NCHW.
* compile (off by default): `torch.compile` of motion estimation and synthesis. Inductor needs a C++ compiler on
  the CPU: without one, or when compiling fails, the model runs eagerly (said once at debug level). Compiled
  kernels are cached in `inductor/` under VIDINTERP_CACHE_DIR (`~/.cache/vidinterp`) between runs.
* render: how a frame made at a reduced working size is applied to the full-size frames. "auto" is OpenCV's
  resize and remap on the CPU (`vidinterp.execution.render`, 0.35-0.4× the time of the PyTorch ops at 720p and
  1080p, within 0.005 of an 8-bit level of them) and the model's own PyTorch `FrameSynthesizer.render` on CUDA,
  where the frames already are.
* batch size and working size: the device's and the method's defaults when not given.
* op backend: on CUDA, a backend named in the settings (not "auto") is the one the custom ops use.

`Runtime` then applies the resolved settings to one model: device, dtype, layout, autocast and compile.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vidinterp.errors import UsageError
from vidinterp.execution.settings import (
    DEFAULT_BACKEND,
    PRECISIONS,
    Settings,
    build_settings,
    default_batch_size,
    default_max_side,
    op_cache_root,
    usable_cores,
)
from vidinterp.interpolators.device import resolve_device

log = logging.getLogger(__name__)

__all__ = ["PRECISIONS", "Runtime", "resolve_settings"]


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


def _precision(device: torch.device, requested: str, method: str) -> str:
    """The precision `requested` ("auto", "fp32", "bf16", "fp16") runs in on `device`."""
    if requested == "fp16" and device.type != "cuda":
        raise UsageError("fp16 runs only on CUDA (CPU half-precision convolutions are slow; --fp16 is --precision "
                         "fp16); use --precision auto, bf16 or fp32")
    if method != "model":
        # blend and classical compute in float32, or float16 on CUDA: there is no autocast for them to use
        return "fp16" if requested == "fp16" else "fp32"
    if requested == "auto":
        # bf16 costs at most 0.01 dB on the eval sets with the shipped model (within the 0.1 dB bound, see the
        # README); on by default only where it was measured faster: AMX. AVX512-BF16 alone: opt-in.
        return "bf16" if device.type == "cpu" and cpu_bf16_hardware() == "amx" else "fp32"
    if requested == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        raise UsageError("bf16 needs a CPU with AMX or AVX512-BF16 to be faster; this one has neither, use fp32")
    return requested


def resolve_settings(settings: Settings) -> Settings:
    """`settings` with every machine-dependent value decided (see the module docstring), logged once at debug
    level; resolved settings come back as they are."""
    if settings.resolved:
        return settings
    return _decide(settings, resolve_device(settings.device))


def _force_op_backend(name: str) -> None:
    """Make the custom ops use backend `name` for CUDA tensors (process-wide, as VIDINTERP_BACKEND does)."""
    from vidinterp.ops import backends

    if backends.requested_backend() != name:
        try:
            backends.set_backend(name)
        except backends.BackendUnavailableError as exc:
            raise UsageError(str(exc)) from None


def _decide(settings: Settings, device: torch.device) -> Settings:
    method = settings.method
    if method is None:
        from vidinterp.interpolators import default_method

        method = "model" if settings.model is not None else default_method()
    precision = _precision(device, settings.precision, method)
    if settings.render == "opencv" and device.type != "cpu":
        raise UsageError("VIDINTERP_RENDER=opencv renders on the CPU only; use auto or torch on CUDA")
    if device.type == "cuda" and settings.backend != DEFAULT_BACKEND:
        _force_op_backend(settings.backend)
    compile_ = settings.compile
    if compile_ and device.type == "cpu" and cpp_compiler() is None:
        log.debug("torch.compile asked for, but there is no C++ compiler for inductor: running eagerly")
        compile_ = False
    # channels_last by default only where it measured faster: bf16 on the CPU (oneDNN's bf16 convolutions want
    # NHWC; in fp32 it was no faster than NCHW on our machine).
    channels_last = settings.channels_last
    if channels_last is None:
        channels_last = device.type == "cpu" and precision == "bf16"
    resolved = settings.replace(
        method=method, device=device, precision=precision,
        max_side=default_max_side(method) if settings.max_side is None else settings.max_side,
        batch_size=default_batch_size(device.type) if settings.batch_size is None else settings.batch_size,
        render="opencv" if device.type == "cpu" and settings.render != "torch" else "torch",
        compile=compile_, channels_last=channels_last,
        threads=usable_cores() if settings.threads is None else settings.threads, resolved=True,
    )
    log.debug("settings: %s", resolved.describe())
    return resolved


def storage_dtype(precision: str) -> torch.dtype:
    """The dtype frames and weights are kept in at a resolved precision: float16 for fp16, else float32."""
    return torch.float16 if precision == "fp16" else torch.float32


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
    def decide(cls, settings: Settings | torch.device | str, precision: str | None = None) -> Runtime:
        """The runtime of resolved `settings`; a device (and precision) alone are resolved with the environment's
        settings first (for tests and scripts)."""
        if isinstance(settings, Settings):
            settings = resolve_settings(settings)
        else:  # the device as it is (no check that it exists: tests decide for CUDA on machines without one)
            settings = _decide(build_settings(method="model", precision=precision), torch.device(settings))
        return cls(settings.device, settings.precision, settings.channels_last, settings.compile,
                   settings.render == "opencv")

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the model's weights and input frames are kept in (autocast handles bf16)."""
        return storage_dtype(self.precision)

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
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(op_cache_root() / "inductor"))
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
