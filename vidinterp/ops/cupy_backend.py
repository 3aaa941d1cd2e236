"""The CuPy backend: the kernels of csrc/kernels compiled at run time with NVRTC (no compiler needed).

Tensors are shared with CuPy zero-copy through DLPack (viewed as bytes, so bfloat16 works although CuPy has no
bfloat16 dtype) and kernels run on torch's current stream of the tensor's device. Wrapped in autograd Functions;
float64 tensors have no kernel and use the PyTorch backend.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

from vidinterp.ops import torch_backend
from vidinterp.ops._validate import PADDING_CODES
from vidinterp.ops.sources import kernel_dir

NAME = "cupy"
_KERNEL_TYPES = {torch.float32: "float", torch.float16: "__half", torch.bfloat16: "__nv_bfloat16"}
_KERNELS = ("warp_forward_kernel", "warp_backward_kernel", "correlation_forward_kernel", "correlation_backward_kernel")
# The launch shapes of csrc/warp_cuda.cu (kernels/warp.cuh's constants).
_WARP_CHANNEL_GROUP, _WARP_TILE = 8, (32, 8)
# csrc/correlation_cuda.cu's tiled correlation kernels (d ≤ 4, d a template parameter) and their 32×8 tiles.
_CORR_TILED_MAX_D, _CORR_TILE = 4, (32, 8)
_TILED = tuple(f"correlation_forward_tiled_kernel<{{t}}, {d}>" for d in range(_CORR_TILED_MAX_D + 1)) + tuple(
    f"correlation_backward_tiled_kernel<{{t}}, {d}, {side}>" for d in range(_CORR_TILED_MAX_D + 1)
    for side in ("false", "true"))
_THREADS = 256
_MAX_BLOCKS = 65535 * 32  # the kernels use grid-stride loops

_lock = threading.Lock()
_modules: dict[int, object] = {}


def availability() -> tuple[bool, str]:
    """Available when CuPy imports and torch sees a CUDA GPU."""
    if not torch.cuda.is_available():
        return False, "no CUDA GPU visible to torch"
    try:
        import cupy
    except ImportError as exc:
        return False, f"CuPy is not installed ({exc}); pip install cupy-cuda12x"
    return True, f"CuPy {cupy.__version__}"


def _name(kernel: str, dtype: torch.dtype) -> str:
    """The C++ name of `kernel` for `dtype`: "warp_forward_kernel" or a tiled one with its other template
    arguments and a {t} where the type goes ("correlation_forward_tiled_kernel<{t}, 3>")."""
    if "{t}" in kernel:
        return "vidinterp::" + kernel.format(t=_KERNEL_TYPES[dtype])
    return f"vidinterp::{kernel}<{_KERNEL_TYPES[dtype]}>"


def _function(kernel: str, dtype: torch.dtype, device: torch.device):
    """The compiled kernel for `dtype` on `device` (NVRTC compiles once per device; CuPy caches on disk)."""
    import cupy

    index = device.index if device.index is not None else torch.cuda.current_device()
    with _lock:
        module = _modules.get(index)
        if module is None:
            options = ["--std=c++17", f"-I{kernel_dir()}"]
            # cuda_fp16.h / cuda_bf16.h: NVRTC has them built in on recent CUDA; older ones need the toolkit's.
            cuda_path = cupy.cuda.get_cuda_path()
            if cuda_path and (Path(cuda_path) / "include" / "cuda_fp16.h").is_file():
                options.append(f"-I{Path(cuda_path) / 'include'}")
            with cupy.cuda.Device(index):
                module = cupy.RawModule(
                    code='#include "warp.cuh"\n#include "correlation.cuh"\n',
                    options=tuple(options),
                    name_expressions=[_name(k, t) for k in _KERNELS + _TILED for t in _KERNEL_TYPES],
                )
            _modules[index] = module
    return module.get_function(_name(kernel, dtype))


def _pointer(tensor: torch.Tensor):
    """A CuPy view of a contiguous tensor's memory (bytes: the kernel's parameter type gives the element type)."""
    import cupy

    return cupy.from_dlpack(tensor.view(torch.uint8))


def _launch(kernel: str, dtype: torch.dtype, device: torch.device, total: int, args: tuple) -> None:
    import cupy
    import numpy as np

    function = _function(kernel, dtype, device)
    blocks = max(1, min((total + _THREADS - 1) // _THREADS, _MAX_BLOCKS))
    # None is a null pointer: an output nobody asked for (the kernel skips it).
    converted = tuple(np.int32(a) if isinstance(a, int) else np.uint64(0) if a is None else _pointer(a) for a in args)
    grid, block = (blocks,), (_THREADS,)
    if kernel == "warp_forward_kernel":  # one row of blocks per channel group, as csrc/warp_cuda.cu launches it
        grid = (blocks, max(1, min(65535, -(-args[4] // _WARP_CHANNEL_GROUP))))
    elif kernel == "warp_backward_kernel":  # one block per 32×8 tile
        n, h, w = args[5], args[7], args[8]
        tiles = n * -(-h // _WARP_TILE[1]) * -(-w // _WARP_TILE[0])
        grid, block = (max(1, min(tiles, _MAX_BLOCKS)),), _WARP_TILE
    elif kernel.startswith("correlation") and "tiled" in kernel:  # one block per 32×8 tile
        n, h, w = args[-4], args[-2], args[-1]
        tiles = n * -(-h // _CORR_TILE[1]) * -(-w // _CORR_TILE[0])
        grid, block = (max(1, min(tiles, _MAX_BLOCKS)),), _CORR_TILE
    if kernel.startswith("warp"):  # the strides (NCHW-contiguous tensors here) are 64-bit
        converted = converted[:-6] + tuple(np.int64(a) for a in args[-6:])
    with cupy.cuda.Device(device.index), cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream):
        function(grid, block, converted)


def _nchw_strides(tensor: torch.Tensor) -> tuple[int, int, int]:
    """kernels/common.cuh's (batch, channel, pixel) strides of an NCHW-contiguous tensor."""
    _, c, h, w = tensor.shape
    return c * h * w, h * w, 1


def alert_not_deterministic(caller: str) -> None:
    """PyTorch's nondeterminism alert for an op whose result depends on the order of atomic additions: an error
    under `torch.use_deterministic_algorithms(True)`, a warning with `warn_only=True`, nothing otherwise."""
    if not torch.are_deterministic_algorithms_enabled():
        return
    message = (f"{caller} does not have a deterministic implementation (float atomics), but you set "
               f"torch.use_deterministic_algorithms(True)")
    if torch.is_deterministic_algorithms_warn_only_enabled():
        warnings.warn(message, stacklevel=3)
    else:
        raise RuntimeError(message + "; use the torch backend (VIDINTERP_BACKEND=torch) for deterministic gradients")


class _CupyWarp(torch.autograd.Function):
    """Backward warp with NVRTC-compiled kernels."""

    @staticmethod
    def forward(ctx, image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
        # One kernel instantiation reads both tensors' bytes: they must share the image's element type.
        ctx.flow_dtype = flow.dtype
        image, flow = image.contiguous(), flow.to(image.dtype).contiguous()
        ctx.save_for_backward(image, flow)
        ctx.padding = padding
        n, c, h, w = image.shape
        out = torch.empty_like(image, memory_format=torch.contiguous_format)
        if out.numel() == 0:
            return out
        _launch("warp_forward_kernel", image.dtype, image.device, n * h * w,
                (image, flow, out, n, c, h, w, PADDING_CODES[padding], *_nchw_strides(image), *_nchw_strides(flow)))
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        image, flow = ctx.saved_tensors
        need_image, need_flow = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad = grad_output.to(image.dtype).contiguous()
        n, c, h, w = image.shape
        # float accumulation buffer for the atomics whatever the storage type; None: not asked for, not computed.
        grad_image = torch.zeros(image.shape, dtype=torch.float32, device=image.device) if need_image else None
        grad_flow = torch.empty_like(flow, memory_format=torch.contiguous_format) if need_flow else None
        if need_image and image.numel() > 0:
            alert_not_deterministic("vidinterp backward_warp backward (CuPy, image gradient)")
        if (need_image or need_flow) and n * h * w > 0:
            _launch("warp_backward_kernel", image.dtype, image.device, n * h * w,
                    (grad, image, flow, grad_image, grad_flow, n, c, h, w, PADDING_CODES[ctx.padding],
                     *_nchw_strides(image), *_nchw_strides(flow)))
        elif grad_flow is not None:
            grad_flow.zero_()
        return (grad_image.to(image.dtype) if need_image else None,
                grad_flow.to(ctx.flow_dtype) if need_flow else None, None)


class _CupyCorrelation(torch.autograd.Function):
    """Local correlation with NVRTC-compiled kernels."""

    @staticmethod
    def forward(ctx, f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
        ctx.f1_dtype = f1.dtype
        f0, f1 = f0.contiguous(), f1.to(f0.dtype).contiguous()
        ctx.save_for_backward(f0, f1)
        ctx.max_displacement = max_displacement
        n, c, h, w = f0.shape
        k = 2 * max_displacement + 1
        out = f0.new_empty(n, k * k, h, w)
        if out.numel() > 0 and max_displacement <= _CORR_TILED_MAX_D:
            _launch(f"correlation_forward_tiled_kernel<{{t}}, {max_displacement}>", f0.dtype, f0.device,
                    out.numel(), (f0, f1, out, n, c, h, w))
        elif out.numel() > 0:
            _launch("correlation_forward_kernel", f0.dtype, f0.device, out.numel(),
                    (f0, f1, out, n, c, h, w, max_displacement))
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        f0, f1 = ctx.saved_tensors
        grad = grad_output.to(f0.dtype).contiguous()
        n, c, h, w = f0.shape
        d = ctx.max_displacement
        # Only the gradients asked for are computed (None: not asked for).
        grad_f0 = torch.empty_like(f0) if ctx.needs_input_grad[0] else None
        grad_f1 = torch.empty_like(f1) if ctx.needs_input_grad[1] else None
        if f0.numel() > 0 and d <= _CORR_TILED_MAX_D:
            for side, target in (("false", grad_f0), ("true", grad_f1)):
                if target is not None:
                    _launch(f"correlation_backward_tiled_kernel<{{t}}, {d}, {side}>", f0.dtype, f0.device,
                            f0.numel(), (grad, f0, f1, target, n, c, h, w))
        elif f0.numel() > 0 and (grad_f0 is not None or grad_f1 is not None):
            _launch("correlation_backward_kernel", f0.dtype, f0.device, f0.numel(),
                    (grad, f0, f1, grad_f0, grad_f1, n, c, h, w, d))
        return grad_f0, None if grad_f1 is None else grad_f1.to(ctx.f1_dtype), None


def backward_warp(image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
    """Warp with the NVRTC kernels (float64 falls back to the PyTorch backend)."""
    if image.dtype == torch.float64:
        return torch_backend.backward_warp(image, flow, padding)
    return _CupyWarp.apply(image, flow, padding)


def correlation(f0: torch.Tensor, f1: torch.Tensor, max_displacement: int) -> torch.Tensor:
    """Correlation with the NVRTC kernels (float64 falls back to the PyTorch backend)."""
    if f0.dtype == torch.float64:
        return torch_backend.correlation(f0, f1, max_displacement)
    return _CupyCorrelation.apply(f0, f1, max_displacement)
