"""The `torch.ops.vidinterp` operator namespace: one schema per op, the path production code takes.

If the prebuilt extension `vidinterp._C` imports, its `TORCH_LIBRARY(vidinterp, ...)` declares the schemas;
otherwise they are declared here with the same strings (a test checks they match csrc/ops.cpp). Either way the
fast PyTorch implementations (`vidinterp.ops.vectorized`) are registered as CompositeExplicitAutograd
kernels: they run on the CPU and on any device without a compiled kernel, while the CUDA kernels of csrc/
(registered for the CUDA key when loaded) take precedence on CUDA tensors. Fake kernels serve torch.compile,
the autograd formulas call the `*_backward` ops with an output mask (only the gradients autograd needs are
computed; an unrequested one comes back as an empty tensor), and under autocast both ops run in float32 (their
math is float32 for half inputs anyway, and their inputs must share a dtype).
"""

from __future__ import annotations

import importlib
import logging
import threading

import torch

from vidinterp.ops import vectorized
from vidinterp.ops._validate import (
    PADDING_CODES,
    check_correlation_inputs,
    check_grad_output,
    check_warp_inputs,
    correlation_shape,
)
from vidinterp.ops.requirements import check_torch

SCHEMAS = {
    "backward_warp": "backward_warp(Tensor image, Tensor flow, int padding) -> Tensor",
    "backward_warp_backward": (
        "backward_warp_backward(Tensor grad_output, Tensor image, Tensor flow, int padding, bool[2] output_mask)"
        " -> (Tensor, Tensor)"
    ),
    "correlation": "correlation(Tensor f0, Tensor f1, int max_displacement) -> Tensor",
    "correlation_backward": (
        "correlation_backward(Tensor grad_output, Tensor f0, Tensor f1, int max_displacement, bool[2] output_mask)"
        " -> (Tensor, Tensor)"
    ),
}
_PADDING_NAMES = {code: name for name, code in PADDING_CODES.items()}
check_torch()

log = logging.getLogger(__name__)
_lock = threading.Lock()
_state: dict[str, object] = {"registered": False, "prebuilt": None, "prebuilt_error": None}
_library: torch.library.Library | None = None


def _padding_name(code: int) -> str:
    if code not in _PADDING_NAMES:
        raise ValueError(f"padding code must be 0 (border) or 1 (zeros), got {code}")
    return _PADDING_NAMES[code]


def _or_empty(grad: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """A gradient, or the empty tensor that stands for "not requested" in the backward ops' outputs."""
    return grad if grad is not None else like.new_empty(0)


# The CPU kernels validate their inputs like the op wrappers do (and the CUDA launchers with TORCH_CHECK): a direct
# `torch.ops.vidinterp.*` call with a wrong shape, dtype or padding code raises instead of reading out of bounds.
def _warp_impl(image: torch.Tensor, flow: torch.Tensor, padding: int) -> torch.Tensor:
    check_warp_inputs(image, flow, _padding_name(padding))
    return vectorized.warp_forward(image, flow, _padding_name(padding))


def _warp_backward_impl(grad, image, flow, padding: int, output_mask: list[bool]):
    check_warp_inputs(image, flow, _padding_name(padding))
    check_grad_output(grad, tuple(image.shape), image)
    mask = (bool(output_mask[0]), bool(output_mask[1]))
    gi, gf = vectorized.warp_backward(grad, image, flow, _padding_name(padding), mask)
    return _or_empty(gi, image), _or_empty(gf, flow)


def _correlation_impl(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
    check_correlation_inputs(f0, f1, max_displacement)
    return vectorized.correlation_forward(f0, f1, max_displacement)


def _correlation_backward_impl(grad, f0, f1, max_displacement: int, output_mask: list[bool]):
    check_correlation_inputs(f0, f1, max_displacement)
    check_grad_output(grad, correlation_shape(f0, max_displacement), f0)
    mask = (bool(output_mask[0]), bool(output_mask[1]))
    g0, g1 = vectorized.correlation_backward(grad, f0, f1, max_displacement, mask)
    return _or_empty(g0, f0), _or_empty(g1, f1)


def _grad_fake(wanted: bool, like: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(like, memory_format=torch.contiguous_format) if wanted else like.new_empty(0)


def _warp_fake(image, flow, padding):
    return torch.empty_like(image, memory_format=torch.contiguous_format)


def _warp_backward_fake(grad, image, flow, padding, output_mask):
    return _grad_fake(output_mask[0], image), _grad_fake(output_mask[1], flow)


def _correlation_fake(f0, f1, max_displacement):
    k = 2 * max_displacement + 1
    return f0.new_empty(f0.shape[0], k * k, f0.shape[2], f0.shape[3])


def _correlation_backward_fake(grad, f0, f1, max_displacement, output_mask):
    return _grad_fake(output_mask[0], f0), _grad_fake(output_mask[1], f1)


def _warp_setup(ctx, inputs, output):
    image, flow, padding = inputs
    ctx.save_for_backward(image, flow)
    ctx.padding = padding


def _warp_autograd(ctx, grad):
    image, flow = ctx.saved_tensors
    mask = [bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])]
    grad_image, grad_flow = torch.ops.vidinterp.backward_warp_backward(grad, image, flow, ctx.padding, mask)
    return (grad_image if mask[0] else None), (grad_flow if mask[1] else None), None


def _correlation_setup(ctx, inputs, output):
    f0, f1, max_displacement = inputs
    ctx.save_for_backward(f0, f1)
    ctx.max_displacement = max_displacement


def _correlation_autograd(ctx, grad):
    f0, f1 = ctx.saved_tensors
    mask = [bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])]
    g0, g1 = torch.ops.vidinterp.correlation_backward(grad, f0, f1, ctx.max_displacement, mask)
    return (g0 if mask[0] else None), (g1 if mask[1] else None), None


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
        for name, impl in (("backward_warp", _warp_impl), ("backward_warp_backward", _warp_backward_impl),
                           ("correlation", _correlation_impl), ("correlation_backward", _correlation_backward_impl)):
            _library.impl(name, impl, "CompositeExplicitAutograd")
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
        for name in ("backward_warp", "correlation"):
            for device_type in ("cpu", "cuda"):
                torch.library.register_autocast(f"vidinterp::{name}", device_type, torch.float32, lib=_library)
        _state["registered"] = True
        log.debug("torch.ops.vidinterp registered (schemas from %s); CPU tensors run the vectorised PyTorch kernels",
                  "the prebuilt extension" if prebuilt else "Python")


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
