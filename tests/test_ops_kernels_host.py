"""The CUDA kernel bodies, compiled for the host (csrc/kernel_host_check.cpp), against the PyTorch reference.

No GPU is needed: the kernels run one emulated thread at a time. This checks their arithmetic (corners,
padding, NaN/inf handling, gradients, half conversions); launch configuration and atomics are GPU-only.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from vidinterp.ops import reference

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "csrc" / "kernels"
HARNESS = ROOT / "csrc" / "kernel_host_check.cpp"
CUDA_INCLUDE = next((p for p in (Path("/usr/local/cuda/include"), Path("/usr/include")) if (p / "cuda_fp16.h").is_file()), None)
SUFFIX = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}
TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None or CUDA_INCLUDE is None:
        pytest.skip("needs a C++ compiler and the CUDA headers (cuda_fp16.h)")
    lib = tmp_path_factory.mktemp("kernels") / "kernel_host_check.so"
    subprocess.run([compiler, "-std=c++17", "-O1", "-shared", "-fPIC", f"-I{CUDA_INCLUDE}", f"-I{KERNELS}",
                    str(HARNESS), "-o", str(lib)], check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


def _p(t: torch.Tensor):
    return ctypes.c_void_p(t.data_ptr())


def _run_warp(kernels, image, flow, grad, padding):
    n, c, h, w = image.shape
    code = 0 if padding == "border" else 1
    sfx = SUFFIX[image.dtype]
    out = torch.empty_like(image)
    getattr(kernels, f"warp_forward_{sfx}")(_p(image), _p(flow), _p(out), n, c, h, w, code)
    grad_image = torch.zeros(image.shape, dtype=torch.float32)
    grad_flow = torch.empty_like(flow)
    getattr(kernels, f"warp_backward_{sfx}")(_p(grad), _p(image), _p(flow), _p(grad_image), _p(grad_flow),
                                             n, c, h, w, code)
    return out, grad_image, grad_flow


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("dtype", list(SUFFIX))
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 2, 1, 5), (1, 1, 4, 1)])
def test_warp_kernels_match_reference(kernels, dtype, padding, shape):
    gen = torch.Generator().manual_seed(11)
    n, c, h, w = shape
    image = torch.randn(*shape, generator=gen).to(dtype)
    flow = (torch.randn(n, 2, h, w, generator=gen) * 4 + 0.3)
    flow.view(-1)[0] = float("nan")
    if flow.numel() > 6:
        flow.view(-1)[3] = float("inf")
        flow.view(-1)[5] = -1e30
    flow = flow.to(dtype)
    grad = torch.randn(*shape, generator=gen).to(dtype)
    out, grad_image, grad_flow = _run_warp(kernels, image, flow, grad, padding)
    want = reference.warp_forward(image.double(), flow.double(), padding)
    want_i, want_f = reference.warp_backward(grad.double(), image.double(), flow.double(), padding)
    tol = TOL[dtype]
    torch.testing.assert_close(out.double(), want, atol=tol, rtol=tol)
    torch.testing.assert_close(grad_image.double(), want_i, atol=tol * 4, rtol=tol)
    torch.testing.assert_close(grad_flow.double(), want_f, atol=tol * 8, rtol=tol * 2)


@pytest.mark.parametrize("dtype", list(SUFFIX))
@pytest.mark.parametrize("d", [0, 2, 4])
def test_correlation_kernels_match_reference(kernels, dtype, d):
    gen = torch.Generator().manual_seed(12)
    n, c, h, w = 2, 5, 6, 7
    f0 = torch.randn(n, c, h, w, generator=gen).to(dtype)
    f1 = torch.randn(n, c, h, w, generator=gen).to(dtype)
    k2 = (2 * d + 1) ** 2
    grad = torch.randn(n, k2, h, w, generator=gen).to(dtype)
    sfx = SUFFIX[dtype]
    out = torch.empty(n, k2, h, w, dtype=dtype)
    getattr(kernels, f"correlation_forward_{sfx}")(_p(f0), _p(f1), _p(out), n, c, h, w, d)
    g0, g1 = torch.empty_like(f0), torch.empty_like(f1)
    getattr(kernels, f"correlation_backward_{sfx}")(_p(grad), _p(f0), _p(f1), _p(g0), _p(g1), n, c, h, w, d)
    tol = TOL[dtype]
    torch.testing.assert_close(out.double(), reference.correlation_forward(f0.double(), f1.double(), d),
                               atol=tol * 2, rtol=tol)
    want0, want1 = reference.correlation_backward(grad.double(), f0.double(), f1.double(), d)
    torch.testing.assert_close(g0.double(), want0, atol=tol * 4, rtol=tol)
    torch.testing.assert_close(g1.double(), want1, atol=tol * 4, rtol=tol)


def test_fp16_warp_kernel_positions_stay_exact_at_4k(kernels):
    image = torch.rand(1, 2, 2, 3840).half()
    flow = torch.zeros(1, 2, 2, 3840).half()
    flow[:, 0] = 0.5
    out, _, _ = _run_warp(kernels, image, flow, torch.zeros_like(image), "border")
    want = ((image[..., 3800].float() + image[..., 3801].float()) / 2).half()
    assert torch.equal(out[..., 3800], want)


@pytest.mark.parametrize("wanted", [(True, False), (False, True)])
def test_warp_backward_kernel_skips_the_gradient_not_asked_for(kernels, wanted):
    """A null output pointer is a gradient nobody asked for: the kernel neither computes nor writes it."""
    gen = torch.Generator().manual_seed(5)
    image = torch.randn(1, 3, 6, 7, generator=gen)
    flow = torch.randn(1, 2, 6, 7, generator=gen) * 2
    grad = torch.randn(1, 3, 6, 7, generator=gen)
    want_i, want_f = reference.warp_backward(grad.double(), image.double(), flow.double(), "zeros")
    grad_image = torch.zeros(image.shape) if wanted[0] else None
    grad_flow = torch.full_like(flow, 7.0) if wanted[1] else None
    null = ctypes.c_void_p(0)
    kernels.warp_backward_f32(_p(grad), _p(image), _p(flow), _p(grad_image) if wanted[0] else null,
                              _p(grad_flow) if wanted[1] else null, 1, 3, 6, 7, 1)
    if wanted[0]:
        torch.testing.assert_close(grad_image.double(), want_i, atol=1e-5, rtol=1e-5)
    else:
        torch.testing.assert_close(grad_flow.double(), want_f, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("flow_kind", ["zero", "integer", "edges"])
def test_warp_kernel_gradients_follow_the_convention_at_integer_positions(kernels, padding, flow_kind):
    """The one gradient convention of vidinterp.ops.reference (integer positions, border lines), kernel side."""
    gen = torch.Generator().manual_seed(8)
    n, c, h, w = 2, 3, 6, 8
    image = torch.randn(n, c, h, w, generator=gen) * 4
    grad = torch.randn(n, c, h, w, generator=gen)
    if flow_kind == "zero":
        flow = torch.zeros(n, 2, h, w)
    elif flow_kind == "integer":
        flow = torch.randint(-3, 4, (n, 2, h, w), generator=gen).float()
    else:
        flow = torch.zeros(n, 2, h, w)
        flow[0, 0, 1] = -torch.arange(w).float()  # x = 0 along a row
        flow[0, 0, 2] = (w - 1) - torch.arange(w).float()  # x = W − 1 along a row
        flow[1, 1, :, 3] = (h - 1) - torch.arange(h).float()  # y = H − 1 along a column
    _, grad_image, grad_flow = _run_warp(kernels, image, flow, grad, padding)
    want_i, want_f = reference.warp_backward(grad.double(), image.double(), flow.double(), padding)
    torch.testing.assert_close(grad_image.double(), want_i, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(grad_flow.double(), want_f, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("dtype", list(SUFFIX))
@pytest.mark.parametrize("d", [0, 1, 4])
@pytest.mark.parametrize("channels", [1, 8, 11])  # one channel chunk, exactly one, and a partial second
def test_tiled_correlation_kernel_matches_reference(kernels, dtype, d, channels):
    """The shared-memory tiled forward (emulated with one-thread blocks: a 1×1 tile with its d-pixel halo)."""
    gen = torch.Generator().manual_seed(d + channels)
    f0 = torch.randn(2, channels, 6, 7, generator=gen).to(dtype)
    f1 = torch.randn(2, channels, 6, 7, generator=gen).to(dtype)
    k = 2 * d + 1
    out = torch.full((2, k * k, 6, 7), float("nan")).to(dtype)
    assert getattr(kernels, f"correlation_forward_tiled_{SUFFIX[dtype]}")(_p(f0), _p(f1), _p(out), 2, channels, 6,
                                                                          7, d) == 0
    want = reference.correlation_forward(f0.double(), f1.double(), d)
    torch.testing.assert_close(out.double(), want, atol=TOL[dtype] * 4, rtol=TOL[dtype])
