"""The `torch.ops.vidinterp` operator namespace: one schema per op, CPU = PyTorch reference, CUDA = kernels.

If the prebuilt extension `vidinterp._C` imports, its `TORCH_LIBRARY(vidinterp, ...)` declares the schemas;
otherwise they are declared here with the same strings (a test checks they match csrc/ops.cpp). Either way the
reference is registered as the CPU implementation, plus fake (meta) kernels for torch.compile and autograd
formulas that call the `*_backward` ops, so the ops behave the same on every device.
"""

from __future__ import annotations

import importlib
import threading

import torch

from vidinterp.ops import reference
from vidinterp.ops._validate import PADDING_CODES

SCHEMAS = {
    "backward_warp": "backward_warp(Tensor image, Tensor flow, int padding) -> Tensor",
    "backward_warp_backward": (
        "backward_warp_backward(Tensor grad_output, Tensor image, Tensor flow, int padding) -> (Tensor, Tensor)"
    ),
    "correlation": "correlation(Tensor f0, Tensor f1, int max_displacement) -> Tensor",
    "correlation_backward": (
        "correlation_backward(Tensor grad_output, Tensor f0, Tensor f1, int max_displacement) -> (Tensor, Tensor)"
    ),
}
_PADDING_NAMES = {code: name for name, code in PADDING_CODES.items()}

_lock = threading.Lock()
_state: dict[str, object] = {"registered": False, "prebuilt": None, "prebuilt_error": None}
_library: torch.library.Library | None = None


def _padding_name(code: int) -> str:
    if code not in _PADDING_NAMES:
        raise ValueError(f"padding code must be 0 (border) or 1 (zeros), got {code}")
    return _PADDING_NAMES[code]


def _warp_cpu(image: torch.Tensor, flow: torch.Tensor, padding: int) -> torch.Tensor:
    return reference.warp_forward(image, flow, _padding_name(padding)).contiguous()


def _warp_backward_cpu(grad: torch.Tensor, image: torch.Tensor, flow: torch.Tensor, padding: int):
    gi, gf = reference.warp_backward(grad, image, flow, _padding_name(padding))
    return gi.contiguous(), gf.contiguous()


def _correlation_cpu(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
    return reference.correlation_forward(f0, f1, max_displacement).contiguous()


def _correlation_backward_cpu(grad: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor, max_displacement: int):
    g0, g1 = reference.correlation_backward(grad, f0, f1, max_displacement)
    return g0.contiguous(), g1.contiguous()


def _warp_fake(image, flow, padding):
    return torch.empty_like(image, memory_format=torch.contiguous_format)


def _warp_backward_fake(grad, image, flow, padding):
    return (torch.empty_like(image, memory_format=torch.contiguous_format),
            torch.empty_like(flow, memory_format=torch.contiguous_format))


def _correlation_fake(f0, f1, max_displacement):
    k = 2 * max_displacement + 1
    return f0.new_empty(f0.shape[0], k * k, f0.shape[2], f0.shape[3])


def _correlation_backward_fake(grad, f0, f1, max_displacement):
    return (torch.empty_like(f0, memory_format=torch.contiguous_format),
            torch.empty_like(f1, memory_format=torch.contiguous_format))


def _warp_setup(ctx, inputs, output):
    image, flow, padding = inputs
    ctx.save_for_backward(image, flow)
    ctx.padding = padding


def _warp_autograd(ctx, grad):
    image, flow = ctx.saved_tensors
    grad_image, grad_flow = torch.ops.vidinterp.backward_warp_backward(grad, image, flow, ctx.padding)
    return grad_image, grad_flow, None


def _correlation_setup(ctx, inputs, output):
    f0, f1, max_displacement = inputs
    ctx.save_for_backward(f0, f1)
    ctx.max_displacement = max_displacement


def _correlation_autograd(ctx, grad):
    f0, f1 = ctx.saved_tensors
    g0, g1 = torch.ops.vidinterp.correlation_backward(grad, f0, f1, ctx.max_displacement)
    return g0, g1, None


def _import_prebuilt() -> bool:
    try:
        importlib.import_module("vidinterp._C")
    except ImportError as exc:
        _state["prebuilt_error"] = str(exc)
        return False
    return True


def ensure_registered() -> None:
    """Declare (or adopt) the schemas and register CPU, fake and autograd implementations, once per process."""
    global _library
    if _state["registered"]:  # checked before the lock so torch.compile can trace through the op wrappers
        return
    with _lock:
        if _state["registered"]:
            return
        prebuilt = _import_prebuilt()
        _state["prebuilt"] = prebuilt
        _library = torch.library.Library("vidinterp", "FRAGMENT")
        if not prebuilt:
            for schema in SCHEMAS.values():
                _library.define(schema)
        _library.impl("backward_warp", _warp_cpu, "CPU")
        _library.impl("backward_warp_backward", _warp_backward_cpu, "CPU")
        _library.impl("correlation", _correlation_cpu, "CPU")
        _library.impl("correlation_backward", _correlation_backward_cpu, "CPU")
        torch.library.register_fake("vidinterp::backward_warp", _warp_fake, lib=_library)
        torch.library.register_fake("vidinterp::backward_warp_backward", _warp_backward_fake, lib=_library)
        torch.library.register_fake("vidinterp::correlation", _correlation_fake, lib=_library)
        torch.library.register_fake("vidinterp::correlation_backward", _correlation_backward_fake, lib=_library)
        torch.library.register_autograd(
            "vidinterp::backward_warp", _warp_autograd, setup_context=_warp_setup, lib=_library
        )
        torch.library.register_autograd(
            "vidinterp::correlation", _correlation_autograd, setup_context=_correlation_setup, lib=_library
        )
        _state["registered"] = True


def prebuilt_status() -> tuple[bool, str]:
    """(True, "") when `vidinterp._C` (the extension built by setup.py) was imported, else (False, why not)."""
    ensure_registered()
    if _state["prebuilt"]:
        return True, ""
    return False, str(_state["prebuilt_error"])


def backward_warp(image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
    """`torch.ops.vidinterp.backward_warp` with the padding name mapped to its code."""
    ensure_registered()
    return torch.ops.vidinterp.backward_warp(image, flow, PADDING_CODES[padding])


def correlation(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
    """`torch.ops.vidinterp.correlation`."""
    ensure_registered()
    return torch.ops.vidinterp.correlation(f0, f1, max_displacement)
