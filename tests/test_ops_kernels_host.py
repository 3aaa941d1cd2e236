"""The CUDA kernel bodies, compiled for the host (csrc/kernel_host_check.cpp), against the PyTorch reference.

No GPU is needed: each emulated block runs its threads as real threads that meet at __syncthreads and share their
__shared__ arrays, with the block and grid sizes set here. So the tiled kernels run with real tiles, halos,
partial edge tiles, several tiles per block (grid-stride) and the shared-memory atomics of the warp backward. What
is GPU-only: speed, warp scheduling, and the hardware's own atomics (emulated with std::atomic_ref).
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
CUDA_INCLUDE = next(
    (p for p in (Path("/usr/local/cuda/include"), Path("/usr/include")) if (p / "cuda_fp16.h").is_file()), None)
SUFFIX = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}
TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}
# The launch shapes of csrc/warp_cuda.cu and csrc/correlation_cuda.cu (and the CuPy backend).
WARP_THREADS, WARP_CHANNEL_GROUP = 256, 8
TILE = (32, 8)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None or CUDA_INCLUDE is None:
        pytest.skip("needs a C++ compiler and the CUDA headers (cuda_fp16.h)")
    lib = tmp_path_factory.mktemp("kernels") / "kernel_host_check.so"
    done = subprocess.run([compiler, "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", f"-I{CUDA_INCLUDE}",
                           f"-I{KERNELS}", str(HARNESS), "-o", str(lib)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    return ctypes.CDLL(str(lib))


def _p(t: torch.Tensor | None):
    return ctypes.c_void_p(0 if t is None else t.data_ptr())


def _strides(t: torch.Tensor):
    """(batch, channel, pixel) strides as csrc/launch.h's strides_of passes them (NCHW first, then channels-last)."""
    n, c, h, w = t.shape
    if t.is_contiguous():
        values = (c * h * w, h * w, 1)
    else:
        assert t.is_contiguous(memory_format=torch.channels_last)
        values = (h * w * c, 1, c)
    return (ctypes.c_longlong * 3)(*values)


def _launch(kernels, grid=(1, 1), block=(1, 1)):
    kernels.vidinterp_set_launch(grid[0], grid[1], block[0], block[1])


def _warp_forward(kernels, image, flow, padding, grid=None, block=(WARP_THREADS, 1)):
    n, c, h, w = image.shape
    out = torch.full((n, c, h, w), float("nan"), dtype=image.dtype)
    _launch(kernels, grid or (2, -(-c // WARP_CHANNEL_GROUP)), block)
    getattr(kernels, f"warp_forward_{SUFFIX[image.dtype]}")(
        _p(image), _p(flow), _p(out), n, c, h, w, 0 if padding == "border" else 1, _strides(image), _strides(flow))
    return out


def _warp_backward(kernels, grad, image, flow, padding, want=(True, True), grid=(3, 1), block=TILE):
    n, c, h, w = image.shape
    grad_image = torch.zeros(image.shape, dtype=torch.float32) if want[0] else None
    grad_flow = torch.full((n, 2, h, w), float("nan"), dtype=flow.dtype) if want[1] else None
    _launch(kernels, grid, block)
    getattr(kernels, f"warp_backward_{SUFFIX[image.dtype]}")(
        _p(grad.contiguous()), _p(image), _p(flow), _p(grad_image), _p(grad_flow), n, c, h, w,
        0 if padding == "border" else 1, _strides(image), _strides(flow))
    return grad_image, grad_flow


def _run_warp(kernels, image, flow, grad, padding, **launch):
    out = _warp_forward(kernels, image, flow, padding)
    grad_image, grad_flow = _warp_backward(kernels, grad, image, flow, padding, **launch)
    return out, grad_image, grad_flow


def _nasty_flow(n, h, w, gen, scale=4.0):
    flow = torch.randn(n, 2, h, w, generator=gen) * scale + 0.3
    flow.view(-1)[0] = float("nan")
    if flow.numel() > 6:
        flow.view(-1)[3] = float("inf")
        flow.view(-1)[5] = -1e30
    return flow


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("dtype", list(SUFFIX))
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 2, 1, 5), (1, 1, 4, 1)])
def test_warp_kernels_match_reference(kernels, dtype, padding, shape):
    gen = torch.Generator().manual_seed(11)
    n, c, h, w = shape
    image = torch.randn(*shape, generator=gen).to(dtype)
    flow = _nasty_flow(n, h, w, gen).to(dtype)
    grad = torch.randn(*shape, generator=gen).to(dtype)
    out, grad_image, grad_flow = _run_warp(kernels, image, flow, grad, padding)
    want = reference.warp_forward(image.double(), flow.double(), padding)
    want_i, want_f = reference.warp_backward(grad.double(), image.double(), flow.double(), padding)
    tol = TOL[dtype]
    torch.testing.assert_close(out.double(), want, atol=tol, rtol=tol)
    torch.testing.assert_close(grad_image.double(), want_i, atol=tol * 4, rtol=tol)
    torch.testing.assert_close(grad_flow.double(), want_f, atol=tol * 8, rtol=tol * 2)


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("channels", [3, 4, 11, 16])  # 4 and 16: channels-last reads in vector loads of 4
@pytest.mark.parametrize("dtype", list(SUFFIX))
def test_warp_kernels_read_channels_last_in_place_and_split_channels(kernels, layout, channels, dtype):
    """Image and flow read with their own strides (no copy); channel groups spread over blockIdx.y, grid-stride in
    both grid dimensions (a 2×1 grid of 32-thread blocks for 9×13 pixels and up to 2 channel groups)."""
    gen = torch.Generator().manual_seed(channels)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    image = torch.randn(2, channels, 9, 13, generator=gen).to(dtype).contiguous(memory_format=fmt)
    flow = _nasty_flow(2, 9, 13, gen, scale=3.0).to(dtype).contiguous(memory_format=fmt)
    grad = torch.randn(2, channels, 9, 13, generator=gen).to(dtype)
    tol = TOL[dtype]
    for padding in ("border", "zeros"):
        out = _warp_forward(kernels, image, flow, padding, grid=(2, 1), block=(32, 1))
        torch.testing.assert_close(out.double(), reference.warp_forward(image.double(), flow.double(), padding),
                                   atol=tol, rtol=tol)
        assert out.is_contiguous()
        grad_image, grad_flow = _warp_backward(kernels, grad, image, flow, padding)
        want_i, want_f = reference.warp_backward(grad.double(), image.double(), flow.double(), padding)
        torch.testing.assert_close(grad_image.double(), want_i, atol=tol * 4, rtol=tol)
        torch.testing.assert_close(grad_flow.double(), want_f, atol=tol * 8, rtol=tol * 2)


def test_vector_loads_leave_an_unaligned_image_to_the_scalar_path(kernels):
    """A channels-last image one element past an aligned address is read element by element (same values)."""
    gen = torch.Generator().manual_seed(2)
    storage = torch.randn(1 + 2 * 8 * 6 * 4, generator=gen)
    image = storage[1:].view(2, 6, 4, 8).permute(0, 3, 1, 2)  # channels-last, 8 channels, misaligned by 4 bytes
    assert image.is_contiguous(memory_format=torch.channels_last) and image.data_ptr() % 16 != 0
    flow = torch.randn(2, 2, 6, 4, generator=gen) * 2
    out = _warp_forward(kernels, image, flow, "zeros")
    torch.testing.assert_close(out.double(), reference.warp_forward(image.double(), flow.double(), "zeros"),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("motion", ["smooth", "large", "mixed"])
@pytest.mark.parametrize("block", [TILE, (8, 4), (5, 3)])  # the launcher's tile, smaller ones, one not a power of 2
def test_warp_backward_tiles_gather_the_image_gradient_in_shared_memory(kernels, motion, block):
    """Corners inside the block's area (tile + margin) add up in shared memory, the others go to global atomics;
    the total must be the reference's whatever the mix, across partial edge tiles and several tiles per block."""
    gen = torch.Generator().manual_seed(len(motion) + block[0])
    n, c, h, w = 2, 5, 19, 45
    image = torch.randn(n, c, h, w, generator=gen)
    grad = torch.randn(n, c, h, w, generator=gen)
    if motion == "smooth":  # within the margin everywhere: no global atomic before the flush
        flow = torch.nn.functional.interpolate(torch.randn(n, 2, 3, 4, generator=gen) * 2.5, size=(h, w),
                                               mode="bilinear", align_corners=True)
    elif motion == "large":  # mostly beyond the margin
        flow = torch.randn(n, 2, h, w, generator=gen) * 20
    else:
        flow = torch.randn(n, 2, h, w, generator=gen) * 5
    for padding in ("border", "zeros"):
        grad_image, grad_flow = _warp_backward(kernels, grad, image, flow, padding, grid=(3, 1), block=block)
        # Positions in float32 as the kernel has them: an interpolated flow puts some exactly on the last column
        # in float32 and just inside it in float64, where the convention's gradient differs.
        want_i, want_f = reference.warp_backward(grad, image, flow, padding)
        torch.testing.assert_close(grad_image, want_i, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(grad_flow, want_f, atol=1e-4, rtol=1e-5)


def test_fp16_warp_kernel_positions_stay_exact_at_4k(kernels):
    image = torch.rand(1, 2, 2, 3840).half()
    flow = torch.zeros(1, 2, 2, 3840).half()
    flow[:, 0] = 0.5
    out = _warp_forward(kernels, image, flow, "border")
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
    grad_image, grad_flow = _warp_backward(kernels, grad, image, flow, "zeros", want=wanted)
    if wanted[0]:
        assert grad_flow is None
        torch.testing.assert_close(grad_image.double(), want_i, atol=1e-5, rtol=1e-5)
    else:
        assert grad_image is None
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


def _assert_correlation_matches_reference(out, g0, g1, f0, f1, grad, d, tol, scale):
    """The kernels' forward `out` and gradients `g0`, `g1` against the reference: atol `scale` × tol for the
    forward, twice that for the gradients."""
    torch.testing.assert_close(out.double(), reference.correlation_forward(f0.double(), f1.double(), d),
                               atol=tol * scale, rtol=tol)
    want0, want1 = reference.correlation_backward(grad.double(), f0.double(), f1.double(), d)
    torch.testing.assert_close(g0.double(), want0, atol=tol * 2 * scale, rtol=tol)
    torch.testing.assert_close(g1.double(), want1, atol=tol * 2 * scale, rtol=tol)


@pytest.mark.parametrize("dtype", list(SUFFIX))
@pytest.mark.parametrize("d", [0, 2, 5])
def test_untiled_correlation_kernels_match_reference(kernels, dtype, d):
    """The kernels for windows larger than the tiled ones cover (d > 4), here also run for small d."""
    gen = torch.Generator().manual_seed(12)
    n, c, h, w = 2, 5, 6, 7
    f0 = torch.randn(n, c, h, w, generator=gen).to(dtype)
    f1 = torch.randn(n, c, h, w, generator=gen).to(dtype)
    k2 = (2 * d + 1) ** 2
    grad = torch.randn(n, k2, h, w, generator=gen).to(dtype)
    sfx = SUFFIX[dtype]
    out = torch.empty(n, k2, h, w, dtype=dtype)
    _launch(kernels, (3, 1), (64, 1))
    getattr(kernels, f"correlation_forward_{sfx}")(_p(f0), _p(f1), _p(out), n, c, h, w, d)
    g0, g1 = torch.empty_like(f0), torch.empty_like(f1)
    getattr(kernels, f"correlation_backward_{sfx}")(_p(grad), _p(f0), _p(f1), _p(g0), _p(g1), n, c, h, w, d)
    _assert_correlation_matches_reference(out, g0, g1, f0, f1, grad, d, TOL[dtype], scale=2)


CORRELATION_CASES = [
    # (channels, height, width, block): one channel chunk, exactly one, a partial second; real tiles with partial
    # edge tiles and several tiles per block; a small block; a map smaller than one tile
    (1, 6, 7, (8, 4)),
    (8, 19, 45, TILE),
    (11, 13, 21, (8, 4)),
    (16, 5, 3, TILE),
]


@pytest.mark.parametrize("dtype", list(SUFFIX))
@pytest.mark.parametrize("d", [0, 1, 3, 4])
@pytest.mark.parametrize("case", CORRELATION_CASES, ids=lambda case: f"c{case[0]}-{case[1]}x{case[2]}-b{case[3]}")
def test_tiled_correlation_kernels_match_reference(kernels, dtype, d, case):
    """The shared-memory tiled forward and backward (the CUDA launcher's paths for d ≤ 4)."""
    channels, h, w, block = case
    gen = torch.Generator().manual_seed(d + channels)
    f0 = torch.randn(2, channels, h, w, generator=gen).to(dtype)
    f1 = torch.randn(2, channels, h, w, generator=gen).to(dtype)
    k = 2 * d + 1
    grad = torch.randn(2, k * k, h, w, generator=gen).to(dtype)
    sfx = SUFFIX[dtype]
    _launch(kernels, (3, 1), block)
    out = torch.full((2, k * k, h, w), float("nan")).to(dtype)
    assert getattr(kernels, f"correlation_forward_tiled_{sfx}")(_p(f0), _p(f1), _p(out), 2, channels, h, w, d) == 0
    g0 = torch.full_like(f0, float("nan"))
    g1 = torch.full_like(f1, float("nan"))
    assert getattr(kernels, f"correlation_backward_tiled_{sfx}")(_p(grad), _p(f0), _p(f1), _p(g0), _p(g1), 2,
                                                                 channels, h, w, d) == 0
    _assert_correlation_matches_reference(out, g0, g1, f0, f1, grad, d, TOL[dtype], scale=4)


@pytest.mark.parametrize("wanted", [(True, False), (False, True)])
def test_tiled_correlation_backward_computes_only_the_gradient_asked_for(kernels, wanted):
    gen = torch.Generator().manual_seed(6)
    f0, f1 = torch.randn(2, 1, 4, 9, 11, generator=gen)
    grad = torch.randn(1, 49, 9, 11, generator=gen)
    outs = [torch.full_like(f0, 7.0) if want else None for want in wanted]
    _launch(kernels, (2, 1), TILE)
    assert kernels.correlation_backward_tiled_f32(_p(grad), _p(f0), _p(f1), _p(outs[0]), _p(outs[1]), 1, 4, 9, 11,
                                                  3) == 0
    want = reference.correlation_backward(grad.double(), f0.double(), f1.double(), 3)
    index = 0 if wanted[0] else 1
    torch.testing.assert_close(outs[index].double(), want[index], atol=1e-5, rtol=1e-5)
