"""The PyTorch backend: `torch.ops.vidinterp.*` running the vectorised PyTorch kernels (`vidinterp.ops.vectorized`).

On the CPU, and on CUDA when no compiled kernel is registered, the ops themselves dispatch to those kernels, so
this backend is the torch.ops path users run. When the compiled CUDA kernels are registered, torch.ops would
run them instead; forcing this backend there (or a float64 CUDA tensor, which the kernels do not take) goes
through an autograd Function over the same vectorised functions.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from vidinterp.ops import library, vectorized

NAME = "torch"


def availability() -> tuple[bool, str]:
    """The PyTorch backend runs everywhere."""
    return True, f"PyTorch {torch.__version__}"


def _ops_run_pytorch(device: torch.device) -> bool:
    """Whether torch.ops.vidinterp reaches the vectorised kernels on `device` (no compiled kernel for it)."""
    if device.type != "cuda":
        return True
    library.ensure_registered()
    return not torch._C._dispatch_has_kernel_for_dispatch_key("vidinterp::backward_warp", "CUDA")


def _autograd_function(name: str, forward, backward) -> type[torch.autograd.Function]:
    """An autograd Function over `forward(a, b, arg)` and `backward(grad, a, b, arg, mask)` (mask: needed grads)."""

    def forward_(ctx, a: torch.Tensor, b: torch.Tensor, arg):
        ctx.save_for_backward(a, b)
        ctx.arg = arg
        return forward(a, b, arg)

    @once_differentiable
    def backward_(ctx, grad_output: torch.Tensor):
        a, b = ctx.saved_tensors
        mask = (ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return (*backward(grad_output, a, b, ctx.arg, mask), None)

    return type(name, (torch.autograd.Function,), {"forward": staticmethod(forward_),
                                                   "backward": staticmethod(backward_)})


_Warp = _autograd_function("_Warp", vectorized.warp_forward, vectorized.warp_backward)
_Correlation = _autograd_function("_Correlation", vectorized.correlation_forward, vectorized.correlation_backward)


def backward_warp(image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
    """Differentiable warp on any device (inputs already validated)."""
    if _ops_run_pytorch(image.device):
        return library.backward_warp(image, flow, padding)
    return _Warp.apply(image, flow, padding)


def correlation(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
    """Differentiable correlation on any device (inputs already validated)."""
    if _ops_run_pytorch(f0.device):
        return library.correlation(f0, f1, max_displacement)
    return _Correlation.apply(f0, f1, max_displacement)
